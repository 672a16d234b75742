package binlog

import (
	"math"
	"strconv"
)

// mysqlGcvtWidth is MY_GCVT_MAX_FIELD_WIDTH (DBL_DIG + 4 + max(5, MAX_DECPT_FOR_F_FORMAT)),
// the field width MySQL's JSON printer passes to my_gcvt.
const mysqlGcvtWidth = 15 + 4 + 15

// mysqlMaxDecptForF is MAX_DECPT_FOR_F_FORMAT (DBL_DIG).
const mysqlMaxDecptForF = 15

// appendMySQLDouble appends a JSON double the way MySQL prints it: my_gcvt
// with the shortest round-trip digits, choosing fixed or exponent notation
// by its rules (exponent without '+' or zero padding, e.g. "1e20",
// "1.5e-7"), then ".0" when the text has neither '.' nor 'e'.
func appendMySQLDouble(dst []byte, bits uint64) []byte {
	x := math.Float64frombits(bits)
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return append(dst, '0') // my_gcvt prints '0' on overflow; JSON cannot hold these
	}
	var buf [40]byte
	e := strconv.AppendFloat(buf[:0], x, 'e', -1, 64) // [-]d[.ddd]e±XX
	neg := e[0] == '-'
	if neg {
		e = e[1:]
	}
	var digits [20]byte
	nd := 0
	i := 0
	for ; i < len(e) && e[i] != 'e'; i++ {
		if e[i] != '.' {
			digits[nd] = e[i]
			nd++
		}
	}
	exp := 0
	expNeg := false
	for _, c := range e[i+1:] {
		switch {
		case c == '-':
			expNeg = true
		case c >= '0' && c <= '9':
			exp = exp*10 + int(c-'0')
		}
	}
	if expNeg {
		exp = -exp
	}
	decpt := exp + 1
	if nd == 1 && digits[0] == '0' {
		decpt = 1
	}
	// dtoa never returns trailing zeros.
	for nd > 1 && digits[nd-1] == '0' {
		nd--
	}
	width := mysqlGcvtWidth
	if x < 0 {
		width--
	}
	expLen := 1
	if decpt >= 101 || decpt <= -99 {
		expLen++
	}
	if decpt >= 11 || decpt <= -9 {
		expLen++
	}
	var f int
	switch {
	case decpt <= 0:
		f = nd - decpt + 2
	case decpt < nd:
		f = nd + 1
	default:
		f = decpt
	}
	haveSpace := f <= width
	forceE := decpt <= 0 && width <= 2-decpt && width >= 3+expLen
	useF := (haveSpace || (decpt <= width && (decpt >= -1 || (decpt == -2 && (nd > 1 || !forceE))) && !forceE)) &&
		(!haveSpace || (decpt >= -mysqlMaxDecptForF+1 && (decpt <= mysqlMaxDecptForF || nd > decpt)))
	start := len(dst)
	if neg {
		dst = append(dst, '-')
	}
	d := digits[:nd]
	if useF {
		if decpt <= 0 {
			dst = append(dst, '0', '.')
			for k := decpt; k < 0; k++ {
				dst = append(dst, '0')
			}
			dst = append(dst, d...)
		} else {
			for k := 0; k < nd; k++ {
				dst = append(dst, d[k])
				if k+1 == decpt && k+1 < nd {
					dst = append(dst, '.')
				}
			}
			for k := nd; k < decpt; k++ {
				dst = append(dst, '0')
			}
		}
	} else {
		dst = append(dst, d[0])
		if nd > 1 {
			dst = append(dst, '.')
			dst = append(dst, d[1:]...)
		}
		dst = append(dst, 'e')
		ex := decpt - 1
		if ex < 0 {
			dst = append(dst, '-')
			ex = -ex
		}
		dst = strconv.AppendInt(dst, int64(ex), 10)
	}
	for _, c := range dst[start:] {
		if c == '.' || c == 'e' {
			return dst
		}
	}
	return append(dst, '.', '0')
}
