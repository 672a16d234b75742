package binlog

import (
	"encoding/binary"
	"fmt"
)

// cursor reads little-endian fields from an event body with bounds checks.
// The first failed read records an error naming the field; later reads
// return zero values, so a decoder checks c.err once at the end.
type cursor struct {
	b   []byte
	off int
	err error
}

func (c *cursor) fail(field string, n int) {
	if c.err == nil {
		c.err = fmt.Errorf("%w: %s needs %d bytes at body offset %d, %d left", ErrTruncated, field, n, c.off, len(c.b)-c.off)
	}
	c.off = len(c.b)
}

func (c *cursor) left() int { return len(c.b) - c.off }

func (c *cursor) take(n int, field string) []byte {
	if c.err != nil || n < 0 || n > len(c.b)-c.off {
		c.fail(field, n)
		return nil
	}
	p := c.b[c.off : c.off+n : c.off+n]
	c.off += n
	return p
}

func (c *cursor) skip(n int, field string) { c.take(n, field) }

func (c *cursor) u8(field string) uint8 {
	p := c.take(1, field)
	if p == nil {
		return 0
	}
	return p[0]
}

func (c *cursor) u16(field string) uint16 {
	p := c.take(2, field)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(p)
}

func (c *cursor) u24(field string) uint32 {
	p := c.take(3, field)
	if p == nil {
		return 0
	}
	return uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16
}

func (c *cursor) u32(field string) uint32 {
	p := c.take(4, field)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(p)
}

func (c *cursor) u56(field string) uint64 {
	p := c.take(7, field)
	if p == nil {
		return 0
	}
	var v uint64
	for i := 6; i >= 0; i-- {
		v = v<<8 | uint64(p[i])
	}
	return v
}

func (c *cursor) u64(field string) uint64 {
	p := c.take(8, field)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(p)
}

// lenenc reads a MySQL length-encoded integer (net_field_length_ll):
// < 0xfb is the value, 0xfc + 2 bytes, 0xfd + 3 bytes, 0xfe + 8 bytes.
// 0xfb (SQL NULL) and 0xff are errors here.
func (c *cursor) lenenc(field string) uint64 {
	b := c.u8(field)
	switch {
	case c.err != nil:
		return 0
	case b < 0xfb:
		return uint64(b)
	case b == 0xfc:
		return uint64(c.u16(field))
	case b == 0xfd:
		return uint64(c.u24(field))
	case b == 0xfe:
		return c.u64(field)
	}
	if c.err == nil {
		c.err = fmt.Errorf("%w: %s: bad length-encoded integer prefix %#x at body offset %d", ErrMalformed, field, b, c.off-1)
	}
	c.off = len(c.b)
	return 0
}

// str1 reads a string with a 1-byte length prefix.
func (c *cursor) str1(field string) string {
	n := int(c.u8(field))
	return string(c.take(n, field))
}

// rest returns the unread bytes.
func (c *cursor) rest() []byte {
	if c.err != nil {
		return nil
	}
	p := c.b[c.off:]
	c.off = len(c.b)
	return p
}

// AppendLenenc appends v as a MySQL length-encoded integer.
func AppendLenenc(dst []byte, v uint64) []byte {
	switch {
	case v < 0xfb:
		return append(dst, byte(v))
	case v <= 0xffff:
		return append(dst, 0xfc, byte(v), byte(v>>8))
	case v <= 0xffffff:
		return append(dst, 0xfd, byte(v), byte(v>>8), byte(v>>16))
	}
	return binary.LittleEndian.AppendUint64(append(dst, 0xfe), v)
}

// varUint reads an unsigned integer in MySQL's serialization varlen
// format (libs/mysql/serialization): the number of trailing one bits of
// the first byte, plus one, is the byte count n (9 for 0xff), and the
// value is the n bytes little-endian shifted right by n (the 8 bytes after
// the first when n is 9).
func (c *cursor) varUint(field string) uint64 {
	if c.err != nil || c.left() < 1 {
		c.fail(field, 1)
		return 0
	}
	first := c.b[c.off]
	n := 1
	for n < 9 && first&(1<<(n-1)) != 0 {
		n++
	}
	p := c.take(n, field)
	if p == nil {
		return 0
	}
	if n == 9 {
		return binary.LittleEndian.Uint64(p[1:])
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(p[i])
	}
	return v >> n
}

// varInt reads a signed varlen integer: the unsigned form holds the sign
// in its lowest bit (zigzag).
func (c *cursor) varInt(field string) int64 {
	u := c.varUint(field)
	return int64(u>>1) ^ -int64(u&1)
}

// appendVarUint appends v in MySQL's serialization varlen format.
func appendVarUint(dst []byte, v uint64) []byte {
	n := 1
	for n < 9 && v >= 1<<(7*n) {
		n++
	}
	if n == 9 {
		return binary.LittleEndian.AppendUint64(append(dst, 0xff), v)
	}
	w := v<<n | (1<<(n-1) - 1)
	for i := 0; i < n; i++ {
		dst = append(dst, byte(w>>(8*i)))
	}
	return dst
}

// appendVarInt appends a signed varlen integer (zigzag).
func appendVarInt(dst []byte, v int64) []byte {
	return appendVarUint(dst, uint64(v<<1)^uint64(v>>63))
}
