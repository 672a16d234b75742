package binlog

import (
	"errors"
	"fmt"
	"math"

	"github.com/sluice-cdc/sluice/change"
	"golang.org/x/text/transform"
)

// decodeValue decodes one non-NULL value into *out. v is exactly the
// value's bytes, including its length prefix, as sized by valueSize.
// Writing through out (rather than returning a change.Value) saves copying
// the 112-byte struct several times per value.
func (r *RowsReader) decodeValue(c *colInfo, v []byte, out *change.Value) error {
	switch c.typ {
	case TypeTiny:
		if c.unsigned {
			*out = change.Uint(uint64(v[0]), 8)
			return nil
		}
		*out = change.Int(int64(int8(v[0])), 8)
		return nil
	case TypeShort:
		u := uint16(v[0]) | uint16(v[1])<<8
		if c.unsigned {
			*out = change.Uint(uint64(u), 16)
			return nil
		}
		*out = change.Int(int64(int16(u)), 16)
		return nil
	case TypeInt24:
		u := uint32(v[0]) | uint32(v[1])<<8 | uint32(v[2])<<16
		if c.unsigned {
			*out = change.Uint(uint64(u), 24)
			return nil
		}
		*out = change.Int(int64(int32(u<<8)>>8), 24)
		return nil
	case TypeLong:
		u := le32(v)
		if c.unsigned {
			*out = change.Uint(uint64(u), 32)
			return nil
		}
		*out = change.Int(int64(int32(u)), 32)
		return nil
	case TypeLongLong:
		u := le64(v)
		if c.unsigned {
			*out = change.Uint(u, 64)
			return nil
		}
		*out = change.Int(int64(u), 64)
		return nil
	case TypeFloat:
		*out = change.Float32(math.Float32frombits(le32(v)))
		return nil
	case TypeDouble:
		*out = change.Float64(math.Float64frombits(le64(v)))
		return nil
	case TypeNewDecimal:
		start := len(r.arena)
		var err error
		r.arena, err = appendDecimal(r.arena, v, c.prec, c.scale)
		if err != nil {
			return err
		}
		*out = change.Decimal(r.arena[start:len(r.arena):len(r.arena)])
		return nil
	case TypeBit:
		var u uint64
		for _, b := range v {
			u = u<<8 | uint64(b)
		}
		*out = change.Bit(u, uint8(c.bits))
		return nil
	case TypeTimestamp:
		if c.hires {
			*out = decodeHires(c, v)
			return nil
		}
		*out = change.Timestamp(int64(le32(v)), 0, 0)
		return nil
	case TypeTimestamp2:
		*out = decodeTimestamp2(v, c.scale)
		return nil
	case TypeDateTime:
		if c.hires {
			*out = decodeHires(c, v)
			return nil
		}
		*out = decodeDateTimeOld(v)
		return nil
	case TypeDateTime2:
		*out = decodeDateTime2(v, c.scale)
		return nil
	case TypeTime:
		if c.hires {
			*out = decodeHires(c, v)
			return nil
		}
		*out = decodeTimeOld(v)
		return nil
	case TypeTime2:
		*out = decodeTime2(v, c.scale)
		return nil
	case TypeDate, TypeNewDate:
		*out = decodeDate(v)
		return nil
	case TypeYear:
		if v[0] == 0 {
			*out = change.Year(0)
			return nil
		}
		*out = change.Year(1900 + int(v[0]))
		return nil
	case TypeNull:
		*out = change.Null()
		return nil
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
			*out = change.Enum(text, idx)
			return nil
		case TypeSet:
			var u uint64
			for i := len(v) - 1; i >= 0; i-- {
				u = u<<8 | uint64(v[i])
			}
			*out = change.Set(r.setText(c, u), u)
			return nil
		}
		if b := v[c.prefix:]; c.cs == csBinary && len(b) < c.length {
			// The server logs BINARY(n) without its trailing 0x00 bytes;
			// the value is n bytes (as SELECT returns it).
			start := len(r.arena)
			r.arena = append(r.arena, b...)
			for range c.length - len(b) {
				r.arena = append(r.arena, 0)
			}
			*out = change.Bytes(r.arena[start:len(r.arena):len(r.arena)])
			return nil
		}
		r.textValue(c, v[c.prefix:], out)
		return nil
	case TypeVarchar, TypeVarString, TypeBlob:
		r.textValue(c, v[c.prefix:], out)
		return nil
	case TypeJSON:
		start := len(r.arena)
		var err error
		r.arena, err = r.json.appendDocument(r.arena, v[c.prefix:])
		if err != nil {
			return err
		}
		*out = change.JSON(r.arena[start:len(r.arena):len(r.arena)])
		return nil
	case TypeGeometry:
		g := v[c.prefix:]
		if len(g) == 0 {
			*out = change.Geometry(0, g)
			return nil
		}
		if len(g) < 4 {
			return fmt.Errorf("%w: geometry of %d bytes lacks its SRID", ErrMalformed, len(g))
		}
		*out = change.Geometry(le32(g), g[4:])
		return nil
	case TypeVector:
		*out = change.Vector(v[c.prefix:])
		return nil
	}
	return fmt.Errorf("%w: column type %d", ErrUnsupported, c.typ)
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

// textValue sets *out to the value of a character column: KindString
// when text reports the bytes are text, else KindBytes.
func (r *RowsReader) textValue(c *colInfo, b []byte, out *change.Value) {
	if t, ok := r.text(c, b); ok {
		*out = change.String(t)
	} else {
		*out = change.Bytes(t)
	}
}

// text returns the bytes of a character value and whether they are UTF-8
// text: bytes for the binary charset, UTF-8 text otherwise, decoded from
// the column charset into the arena when needed. Without charset metadata,
// BLOB columns are bytes and CHAR/VARCHAR text.
func (r *RowsReader) text(c *colInfo, b []byte) ([]byte, bool) {
	cs := c.cs
	switch {
	case cs == csBinary:
		return b, false
	case cs == csUnknown:
		if c.typ == TypeBlob {
			return b, false
		}
		return b, true
	case cs.passThrough():
		return b, true
	}
	if cs.asciiCompatible() && isASCII(b) {
		return b, true
	}
	d := r.decoders[cs]
	if d == nil {
		enc := cs.encoding()
		if enc == nil {
			return b, false // no decoder for this charset: keep the bytes
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
		return b, false // undecodable text is kept as bytes
	}
	return r.arena[start:len(r.arena):len(r.arena)], true
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
