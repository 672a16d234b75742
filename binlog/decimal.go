package binlog

import (
	"errors"
	"strconv"
)

// errBadDecimal is wrapped when packed decimal digits are out of range.
var errBadDecimal = errors.New("decimal digit group out of range")

// decimalDigitBytes[n] is the number of bytes MySQL uses for n leftover
// decimal digits (decimal2bin's dig2bytes).
var decimalDigitBytes = [10]int{0, 1, 1, 2, 2, 3, 3, 4, 4, 4}

// decimalBinSize returns the size of a packed DECIMAL(prec,scale).
func decimalBinSize(prec, scale int) int {
	intg := prec - scale
	return intg/9*4 + decimalDigitBytes[intg%9] + scale/9*4 + decimalDigitBytes[scale%9]
}

// appendDecimal decodes a packed DECIMAL(prec,scale) from b (which must hold
// at least decimalBinSize bytes) and appends its exact text to dst: an
// optional '-', the integer digits without leading zeros (at least "0") and,
// when scale > 0, '.' and exactly scale fraction digits.
func appendDecimal(dst, b []byte, prec, scale int) ([]byte, error) {
	size := decimalBinSize(prec, scale)
	if len(b) < size {
		return dst, ErrTruncated
	}
	b = b[:size]
	intg := prec - scale
	intg0, intg0x := intg/9, intg%9
	frac0, frac0x := scale/9, scale%9
	var mask uint32
	neg := b[0]&0x80 == 0
	if neg {
		mask = 0xffffffff
		dst = append(dst, '-')
	}
	// read returns the next n-byte big-endian group with the sign handled.
	pos := 0
	first := true
	read := func(n int) uint32 {
		var v uint32
		for i := 0; i < n; i++ {
			c := b[pos+i]
			if first {
				c ^= 0x80
				first = false
			}
			v = v<<8 | uint32(c)
		}
		pos += n
		if n < 4 {
			return (v ^ mask) & (1<<(8*uint(n)) - 1)
		}
		return v ^ mask
	}
	start := len(dst)
	leading := true
	if n := decimalDigitBytes[intg0x]; n > 0 {
		v := read(n)
		if v >= pow10u32(intg0x) {
			return dst, errBadDecimal
		}
		if v != 0 {
			dst = strconv.AppendUint(dst, uint64(v), 10)
			leading = false
		}
	}
	for i := 0; i < intg0; i++ {
		v := read(4)
		if v >= 1e9 {
			return dst, errBadDecimal
		}
		if leading {
			if v != 0 {
				dst = strconv.AppendUint(dst, uint64(v), 10)
				leading = false
			}
			continue
		}
		dst = appendPadded(dst, uint64(v), 9)
	}
	if len(dst) == start {
		dst = append(dst, '0')
	}
	if scale == 0 {
		return dst, nil
	}
	dst = append(dst, '.')
	for i := 0; i < frac0; i++ {
		v := read(4)
		if v >= 1e9 {
			return dst, errBadDecimal
		}
		dst = appendPadded(dst, uint64(v), 9)
	}
	if n := decimalDigitBytes[frac0x]; n > 0 {
		v := read(n)
		if v >= pow10u32(frac0x) {
			return dst, errBadDecimal
		}
		dst = appendPadded(dst, uint64(v), frac0x)
	}
	return dst, nil
}

func pow10u32(n int) uint32 {
	p := uint32(1)
	for ; n > 0; n-- {
		p *= 10
	}
	return p
}

// appendPadded appends v in decimal, left-padded with zeros to width digits.
func appendPadded(dst []byte, v uint64, width int) []byte {
	var buf [20]byte
	i := len(buf)
	for v > 0 || i > len(buf)-width {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, buf[i:]...)
}
