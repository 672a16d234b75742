package format

import (
	"encoding/binary"
	"math"
	"strconv"
)

// appendWKT appends the Well-Known Text of a 2D WKB geometry as JTS (and
// so Maxwell) writes it: "POINT (1.5 -2.25)", "POLYGON ((0 0, 10 0, …))",
// coordinates in the shortest decimal form that reads back exactly. It
// appends nothing for WKB it cannot read (3D, measured, truncated).
func appendWKT(dst, wkb []byte) []byte {
	r := wkbReader{b: wkb}
	out := r.geometry(dst, 0)
	if r.bad || r.off != len(wkb) {
		return dst
	}
	return out
}

type wkbReader struct {
	b   []byte
	off int
	bad bool
}

func (r *wkbReader) order() binary.ByteOrder {
	if r.off >= len(r.b) {
		r.bad = true
		return binary.LittleEndian
	}
	o := r.b[r.off]
	r.off++
	if o == 0 {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

func (r *wkbReader) u32(o binary.ByteOrder) uint32 {
	if r.off+4 > len(r.b) {
		r.bad = true
		return 0
	}
	v := o.Uint32(r.b[r.off:])
	r.off += 4
	return v
}

func (r *wkbReader) f64(o binary.ByteOrder) float64 {
	if r.off+8 > len(r.b) {
		r.bad = true
		return 0
	}
	v := math.Float64frombits(o.Uint64(r.b[r.off:]))
	r.off += 8
	return v
}

var wkbNames = [...]string{1: "POINT", 2: "LINESTRING", 3: "POLYGON", 4: "MULTIPOINT", 5: "MULTILINESTRING", 6: "MULTIPOLYGON", 7: "GEOMETRYCOLLECTION"}

// geometry appends one geometry with its type name.
func (r *wkbReader) geometry(dst []byte, depth int) []byte {
	if depth > 32 {
		r.bad = true
		return dst
	}
	o := r.order()
	typ := r.u32(o)
	if r.bad || typ < 1 || typ > 7 {
		r.bad = true
		return dst
	}
	dst = append(dst, wkbNames[typ]...)
	return r.body(dst, o, typ, depth)
}

// body appends a geometry's text after its name.
func (r *wkbReader) body(dst []byte, o binary.ByteOrder, typ uint32, depth int) []byte {
	switch typ {
	case 1:
		x, y := r.f64(o), r.f64(o)
		if math.IsNaN(x) && math.IsNaN(y) {
			return append(dst, " EMPTY"...)
		}
		dst = append(dst, " ("...)
		dst = appendCoord(dst, x, y)
		return append(dst, ')')
	case 2:
		return r.points(append(dst, ' '), o)
	case 3:
		return r.rings(append(dst, ' '), o)
	}
	n := r.u32(o)
	if r.bad || int(n) > len(r.b) {
		r.bad = true
		return dst
	}
	if n == 0 {
		return append(dst, " EMPTY"...)
	}
	dst = append(dst, " ("...)
	for i := uint32(0); i < n && !r.bad; i++ {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		if typ == 7 {
			dst = r.geometry(dst, depth+1)
			continue
		}
		mo := r.order()
		mt := r.u32(mo)
		if mt != typ-3 {
			r.bad = true
			return dst
		}
		if typ == 4 {
			x, y := r.f64(mo), r.f64(mo)
			dst = append(dst, '(')
			dst = appendCoord(dst, x, y)
			dst = append(dst, ')')
			continue
		}
		if mt == 2 {
			dst = r.points(dst, mo)
		} else {
			dst = r.rings(dst, mo)
		}
	}
	return append(dst, ')')
}

// points appends "(x y, x y, …)" or "EMPTY".
func (r *wkbReader) points(dst []byte, o binary.ByteOrder) []byte {
	n := r.u32(o)
	if r.bad || int(n) > len(r.b) {
		r.bad = true
		return dst
	}
	if n == 0 {
		return append(dst, "EMPTY"...)
	}
	dst = append(dst, '(')
	for i := uint32(0); i < n && !r.bad; i++ {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		x, y := r.f64(o), r.f64(o)
		dst = appendCoord(dst, x, y)
	}
	return append(dst, ')')
}

// rings appends "((…), (…))" or "EMPTY".
func (r *wkbReader) rings(dst []byte, o binary.ByteOrder) []byte {
	n := r.u32(o)
	if r.bad || int(n) > len(r.b) {
		r.bad = true
		return dst
	}
	if n == 0 {
		return append(dst, "EMPTY"...)
	}
	dst = append(dst, '(')
	for i := uint32(0); i < n && !r.bad; i++ {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = r.points(dst, o)
	}
	return append(dst, ')')
}

func appendCoord(dst []byte, x, y float64) []byte {
	dst = strconv.AppendFloat(dst, x, 'f', -1, 64)
	dst = append(dst, ' ')
	return strconv.AppendFloat(dst, y, 'f', -1, 64)
}
