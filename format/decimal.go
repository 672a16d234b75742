package format

// decimal is the parsed text of a KindDecimal: the digits of its unscaled
// value, its scale, its sign, or a special value.
type decimal struct {
	neg     bool
	digits  []byte // without leading zeros; empty for zero
	scale   int    // digits after the point (negative: trailing zeros dropped)
	special string // "NaN", "Infinity", "-Infinity", or ""
}

// parseDecimal reads decimal text ("-12.50", "0.001", "1E+5", "NaN") into
// d, reusing d.digits. It returns false for text that is not a decimal.
func parseDecimal(d *decimal, text []byte) bool {
	d.neg, d.digits, d.scale, d.special = false, d.digits[:0], 0, ""
	switch string(text) {
	case "NaN", "nan":
		d.special = "NaN"
		return true
	case "Infinity", "+Infinity", "inf", "Inf":
		d.special = "Infinity"
		return true
	case "-Infinity", "-inf", "-Inf":
		d.special = "-Infinity"
		return true
	}
	i := 0
	if i < len(text) && (text[i] == '-' || text[i] == '+') {
		d.neg = text[i] == '-'
		i++
	}
	seen, point := false, false
	for ; i < len(text); i++ {
		c := text[i]
		switch {
		case c >= '0' && c <= '9':
			seen = true
			if point {
				d.scale++
			}
			if c != '0' || len(d.digits) > 0 {
				d.digits = append(d.digits, c)
			}
		case c == '.' && !point:
			point = true
		case c == 'e' || c == 'E':
			if !seen {
				return false
			}
			exp, ok := parseExp(text[i+1:])
			if !ok {
				return false
			}
			d.scale -= exp
			i = len(text)
		default:
			return false
		}
	}
	if !seen {
		return false
	}
	if len(d.digits) == 0 {
		d.neg = false
	}
	return true
}

// parseExp reads a signed decimal exponent.
func parseExp(b []byte) (int, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 6 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// twos holds the scratch space of unscaled-value conversions.
type twos struct {
	limbs []uint32 // little-endian base 2^32
	out   []byte
}

// unscaledBytes returns the unscaled value of d, multiplied by
// 10^extra (extra >= 0), as the minimal big-endian two's-complement bytes
// Java's BigInteger.toByteArray gives (what Kafka Connect's Decimal holds).
// The result is valid until the next call.
func (t *twos) unscaledBytes(d *decimal, extra int) []byte {
	t.limbs = t.limbs[:0]
	digits := d.digits
	mulAdd := func(mul, add uint32) {
		carry := uint64(add)
		for i := range t.limbs {
			v := uint64(t.limbs[i])*uint64(mul) + carry
			t.limbs[i] = uint32(v)
			carry = v >> 32
		}
		if carry != 0 {
			t.limbs = append(t.limbs, uint32(carry))
		}
	}
	for len(digits) > 0 {
		n := min(9, len(digits))
		var chunk uint32
		for _, c := range digits[:n] {
			chunk = chunk*10 + uint32(c-'0')
		}
		mulAdd(uint32(pow10[n]), chunk)
		digits = digits[n:]
	}
	for extra > 0 {
		n := min(9, extra)
		mulAdd(uint32(pow10[n]), 0)
		extra -= n
	}
	// Magnitude, big-endian, after one spare byte for a sign byte.
	buf := append(t.out[:0], 0)
	for i := len(t.limbs) - 1; i >= 0; i-- {
		l := t.limbs[i]
		buf = append(buf, byte(l>>24), byte(l>>16), byte(l>>8), byte(l))
	}
	t.out = buf
	start := 1
	for start < len(buf) && buf[start] == 0 {
		start++
	}
	out := buf[start:]
	switch {
	case len(out) == 0:
		out = buf[:1] // zero: one 0 byte
	case !d.neg && out[0]&0x80 != 0:
		out = buf[start-1:] // a 0 sign byte (buf[start-1] is 0)
	case d.neg:
		carry := byte(1)
		for i := len(out) - 1; i >= 0; i-- {
			b := ^out[i] + carry
			if carry == 1 && b != 0 {
				carry = 0
			}
			out[i] = b
		}
		if out[0]&0x80 == 0 {
			buf[start-1] = 0xff
			out = buf[start-1:]
		}
	}
	return out
}
