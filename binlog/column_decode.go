package binlog

import (
	"errors"
	"fmt"
	"math"

	"github.com/sluice-cdc/sluice/change"
	"golang.org/x/text/transform"
)

// decodeValue decodes one non-NULL value. v is exactly the value's bytes,
// including its length prefix, as sized by valueSize.
func (r *RowsReader) decodeValue(c *colInfo, v []byte) (change.Value, error) {
	switch c.typ {
	case TypeTiny:
		if c.unsigned {
			return change.Uint(uint64(v[0]), 8), nil
		}
		return change.Int(int64(int8(v[0])), 8), nil
	case TypeShort:
		u := uint16(v[0]) | uint16(v[1])<<8
		if c.unsigned {
			return change.Uint(uint64(u), 16), nil
		}
		return change.Int(int64(int16(u)), 16), nil
	case TypeInt24:
		u := uint32(v[0]) | uint32(v[1])<<8 | uint32(v[2])<<16
		if c.unsigned {
			return change.Uint(uint64(u), 24), nil
		}
		return change.Int(int64(int32(u<<8)>>8), 24), nil
	case TypeLong:
		u := le32(v)
		if c.unsigned {
			return change.Uint(uint64(u), 32), nil
		}
		return change.Int(int64(int32(u)), 32), nil
	case TypeLongLong:
		u := le64(v)
		if c.unsigned {
			return change.Uint(u, 64), nil
		}
		return change.Int(int64(u), 64), nil
	case TypeFloat:
		return change.Float32(math.Float32frombits(le32(v))), nil
	case TypeDouble:
		return change.Float64(math.Float64frombits(le64(v))), nil
	case TypeNewDecimal:
		start := len(r.arena)
		var err error
		r.arena, err = appendDecimal(r.arena, v, c.prec, c.scale)
		if err != nil {
			return change.Value{}, err
		}
		return change.Decimal(r.arena[start:len(r.arena):len(r.arena)]), nil
	case TypeBit:
		var u uint64
		for _, b := range v {
			u = u<<8 | uint64(b)
		}
		return change.Bit(u, uint8(c.bits)), nil
	case TypeTimestamp:
		return change.Timestamp(int64(le32(v)), 0, 0), nil
	case TypeTimestamp2:
		return decodeTimestamp2(v, c.scale), nil
	case TypeDateTime:
		return decodeDateTimeOld(v), nil
	case TypeDateTime2:
		return decodeDateTime2(v, c.scale), nil
	case TypeTime:
		return decodeTimeOld(v), nil
	case TypeTime2:
		return decodeTime2(v, c.scale), nil
	case TypeDate, TypeNewDate:
		return decodeDate(v), nil
	case TypeYear:
		if v[0] == 0 {
			return change.Year(0), nil
		}
		return change.Year(1900 + int(v[0])), nil
	case TypeNull:
		return change.Null(), nil
	case TypeString:
		switch c.real {
		case TypeEnum:
			idx := uint64(v[0])
			if len(v) == 2 {
				idx |= uint64(v[1]) << 8
			}
			var text []byte
			if idx >= 1 && idx <= uint64(len(c.members)) {
				text = c.members[idx-1]
			}
			return change.Enum(text, idx), nil
		case TypeSet:
			var u uint64
			for i := len(v) - 1; i >= 0; i-- {
				u = u<<8 | uint64(v[i])
			}
			return change.Set(r.setText(c, u), u), nil
		}
		return r.text(c, v[c.prefix:]), nil
	case TypeVarchar, TypeVarString, TypeBlob:
		return r.text(c, v[c.prefix:]), nil
	case TypeJSON:
		start := len(r.arena)
		var err error
		r.arena, err = r.json.appendDocument(r.arena, v[c.prefix:])
		if err != nil {
			return change.Value{}, err
		}
		return change.JSON(r.arena[start:len(r.arena):len(r.arena)]), nil
	case TypeGeometry:
		g := v[c.prefix:]
		if len(g) == 0 {
			return change.Geometry(0, g), nil
		}
		if len(g) < 4 {
			return change.Value{}, fmt.Errorf("%w: geometry of %d bytes lacks its SRID", ErrMalformed, len(g))
		}
		return change.Geometry(le32(g), g[4:]), nil
	case TypeVector:
		return change.Vector(v[c.prefix:]), nil
	}
	return change.Value{}, fmt.Errorf("%w: column type %d", ErrUnsupported, c.typ)
}

func le32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// setText appends the members of a SET bitmap, joined by commas, to the
// arena. Without member names it returns nil.
func (r *RowsReader) setText(c *colInfo, u uint64) []byte {
	if c.members == nil {
		return nil
	}
	start := len(r.arena)
	for i := 0; i < len(c.members) && i < 64; i++ {
		if u&(1<<uint(i)) == 0 {
			continue
		}
		if len(r.arena) > start {
			r.arena = append(r.arena, ',')
		}
		r.arena = append(r.arena, c.members[i]...)
	}
	return r.arena[start:len(r.arena):len(r.arena)]
}

// text returns a character value: bytes for the binary charset, UTF-8 text
// otherwise, decoded from the column charset into the arena when needed.
// Without charset metadata, BLOB columns are bytes and CHAR/VARCHAR text.
func (r *RowsReader) text(c *colInfo, b []byte) change.Value {
	cs := c.cs
	switch {
	case cs == csBinary:
		return change.Bytes(b)
	case cs == csUnknown:
		if c.typ == TypeBlob {
			return change.Bytes(b)
		}
		return change.String(b)
	case cs.passThrough():
		return change.String(b)
	}
	if cs.asciiCompatible() && isASCII(b) {
		return change.String(b)
	}
	d := r.decoders[cs]
	if d == nil {
		enc := cs.encoding()
		if enc == nil {
			return change.Bytes(b) // no decoder for this charset: keep the bytes
		}
		d = enc.NewDecoder()
		r.decoders[cs] = d
	}
	d.Reset()
	start := len(r.arena)
	src := b
	for tries := 0; ; tries++ {
		dst := r.arena[len(r.arena):cap(r.arena)]
		nd, ns, err := d.Transform(dst, src, true)
		r.arena = r.arena[:len(r.arena)+nd]
		src = src[ns:]
		if err == nil {
			break
		}
		if errors.Is(err, transform.ErrShortDst) && tries < 64 {
			r.growArena(2*len(src) + 16)
			continue
		}
		r.arena = r.arena[:start]
		return change.Bytes(b) // undecodable text is kept as bytes
	}
	return change.String(r.arena[start:len(r.arena):len(r.arena)])
}

// growArena makes room for at least n more bytes in the arena. Values
// already decoded keep pointing at the old array, which stays valid.
func (r *RowsReader) growArena(n int) {
	if cap(r.arena)-len(r.arena) >= n {
		return
	}
	c := max(2*cap(r.arena), len(r.arena)+n, 256)
	a := make([]byte, len(r.arena), c)
	copy(a, r.arena)
	r.arena = a
}

func isASCII(b []byte) bool {
	for len(b) >= 8 {
		if le64(b)&0x8080808080808080 != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
