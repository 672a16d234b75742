package postgres

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/sluice-cdc/sluice/change"
)

// errBinaryFallback: a value came in binary form that Sluice cannot turn
// into exactly what the text form gives (a type kept as the server's text,
// such as interval or inet, an array with explicit bounds,
// a bit string over 64 bits). The source then restarts the stream from the
// last position with binary mode off, so nothing is lost or changed.
var errBinaryFallback = errors.New("postgres: value has no exact binary decoding")

// decodeBinary turns the binary send form of type t (typmod mod) into the
// Value decodeText gives for the same datum's text form. data points into
// the message and may be kept by the Value, as decodeText's text is.
// decodeFast decodes the commonest columns of a snapshot's rows straight
// into *out — integers in binary form, text columns — as decodeBinary
// (format 1) or decodeText (format 0) would; it reports false for any
// other column or a value those would refuse, and leaves them to them.
func decodeFast(t *pgType, format int16, data []byte, out *change.Value) bool {
	if t.Base != nil {
		return false
	}
	switch t.Class {
	case classInt2:
		if format == 1 && len(data) == 2 {
			*out = change.Int(int64(int16(binary.BigEndian.Uint16(data))), 16)
			return true
		}
	case classInt4:
		if format == 1 && len(data) == 4 {
			*out = change.Int(int64(int32(binary.BigEndian.Uint32(data))), 32)
			return true
		}
	case classInt8:
		if format == 1 && len(data) == 8 {
			*out = change.Int(int64(binary.BigEndian.Uint64(data)), 64)
			return true
		}
	case classText:
		if format == 0 || t.OID != 18 {
			*out = change.String(data)
			return true
		}
	}
	return false
}

func decodeBinary(t *pgType, mod int32, data []byte) (change.Value, error) {
	if t.Base != nil {
		return decodeBinary(t.Base, mod, data)
	}
	bad := func(what string) (change.Value, error) {
		return change.Value{}, &valueError{typ: t.Name, text: data, what: "binary: " + what}
	}
	need := func(n int) bool { return len(data) == n }
	switch t.Class {
	case classBool:
		if !need(1) {
			return bad("want 1 byte")
		}
		return change.Bool(data[0] != 0), nil
	case classInt2:
		if !need(2) {
			return bad("want 2 bytes")
		}
		return change.Int(int64(int16(binary.BigEndian.Uint16(data))), 16), nil
	case classInt4:
		if !need(4) {
			return bad("want 4 bytes")
		}
		return change.Int(int64(int32(binary.BigEndian.Uint32(data))), 32), nil
	case classInt8:
		if !need(8) {
			return bad("want 8 bytes")
		}
		return change.Int(int64(binary.BigEndian.Uint64(data)), 64), nil
	case classOID:
		if !need(4) {
			return bad("want 4 bytes")
		}
		return change.Uint(uint64(binary.BigEndian.Uint32(data)), 32), nil
	case classFloat4:
		if !need(4) {
			return bad("want 4 bytes")
		}
		return change.Float32(math.Float32frombits(binary.BigEndian.Uint32(data))), nil
	case classFloat8:
		if !need(8) {
			return bad("want 8 bytes")
		}
		return change.Float64(math.Float64frombits(binary.BigEndian.Uint64(data))), nil
	case classNumeric:
		text, err := numericText(data)
		if err != nil {
			return bad(err.Error())
		}
		return change.Decimal(text), nil
	case classText:
		if t.OID == 18 { // "char": one byte, printed as \ooo when not ASCII
			if len(data) > 1 {
				return bad("want at most 1 byte")
			}
			if len(data) == 1 && data[0] >= 0x80 {
				return change.String([]byte{'\\', '0' + data[0]>>6, '0' + data[0]>>3&7, '0' + data[0]&7}), nil
			}
		}
		return change.String(data), nil
	case classJSON:
		if t.OID == 3802 { // jsonb: a version byte, then the text
			if len(data) == 0 || data[0] != 1 {
				return bad("unknown jsonb version")
			}
			return change.JSON(data[1:]), nil
		}
		return change.JSON(data), nil
	case classBytea:
		return change.Bytes(data), nil
	case classUUID:
		if !need(16) {
			return bad("want 16 bytes")
		}
		return change.Value{Kind: change.KindUUID, B: data}, nil
	case classDate:
		if !need(4) {
			return bad("want 4 bytes")
		}
		days := int32(binary.BigEndian.Uint32(data))
		switch days {
		case math.MaxInt32:
			return other(t, []byte("infinity")), nil
		case math.MinInt32:
			return other(t, []byte("-infinity")), nil
		}
		y, m, d := civil(int64(days) + pgEpochDays)
		if y <= 0 {
			// Kept as the text PostgreSQL writes, "0044-03-15 BC".
			return decodeText(t, mod, fmt.Appendf(nil, "%04d-%02d-%02d BC", 1-y, m, d))
		}
		return change.Date(y, m, d), nil
	case classTime, classTimeTZ:
		n := 8
		if t.Class == classTimeTZ {
			n = 12
		}
		if !need(n) {
			return bad(fmt.Sprintf("want %d bytes", n))
		}
		us := int64(binary.BigEndian.Uint64(data))
		if us < 0 || us > 24*3600*1e6 {
			return bad("time out of range")
		}
		s := us / 1e6
		v := change.Time(false, int(s/3600), int(s/60%60), int(s%60), uint32(us%1e6)*1000, fsp(mod))
		if t.Class == classTimeTZ {
			// The zone is stored in seconds west of UTC.
			v.Off, v.Zoned = -int32(binary.BigEndian.Uint32(data[8:])), true
		}
		return v, nil
	case classTimestamp, classTimestampTZ:
		if !need(8) {
			return bad("want 8 bytes")
		}
		us := int64(binary.BigEndian.Uint64(data))
		if us == math.MaxInt64 || us == math.MinInt64 {
			inf := "infinity"
			if us < 0 {
				inf = "-infinity"
			}
			return decodeTimestamp(t, mod, []byte(inf))
		}
		// Seconds and microseconds since 2000-01-01, floored.
		sec, frac := us/1e6, us%1e6
		if frac < 0 {
			sec, frac = sec-1, frac+1e6
		}
		unix := sec + pgEpoch.Unix()
		ns := uint32(frac) * 1000
		if t.Class == classTimestampTZ {
			v := change.Timestamp(unix, ns, fsp(mod))
			v.Off, v.Zoned = 0, true
			return v, nil
		}
		days, rem := unix/86400, unix%86400
		if rem < 0 {
			days, rem = days-1, rem+86400
		}
		y, m, d := civil(days)
		if y <= 0 {
			return decodeText(t, mod, bcTimestampText(y, m, d, rem, frac))
		}
		return change.DateTime(y, m, d, int(rem/3600), int(rem/60%60), int(rem%60), ns, fsp(mod)), nil
	case classBit:
		if len(data) < 4 {
			return bad("want a bit length")
		}
		n := int(int32(binary.BigEndian.Uint32(data)))
		if n < 0 || (n+7)/8 != len(data)-4 {
			return bad("bit length does not match the bytes")
		}
		if n > 64 {
			return change.Value{}, errBinaryFallback // KindOther with the text
		}
		var u uint64
		for i := 0; i < n; i++ {
			u = u<<1 | uint64(data[4+i/8]>>(7-i%8)&1)
		}
		return change.Bit(u, uint8(n)), nil
	case classEnum:
		return decodeText(t, mod, data) // the label
	case classArray:
		return decodeBinaryArray(t, mod, data)
	}
	return change.Value{}, errBinaryFallback
}

// numericText renders numeric_send's form (ndigits, weight, sign, dscale,
// base-10000 digits) as numeric_out does.
func numericText(data []byte) ([]byte, error) {
	if len(data) < 8 {
		return nil, errors.New("numeric header truncated")
	}
	ndigits := int(binary.BigEndian.Uint16(data))
	weight := int(int16(binary.BigEndian.Uint16(data[2:])))
	sign := binary.BigEndian.Uint16(data[4:])
	dscale := int(binary.BigEndian.Uint16(data[6:]))
	if len(data) != 8+2*ndigits {
		return nil, errors.New("numeric digits truncated")
	}
	switch sign {
	case 0xC000:
		return []byte("NaN"), nil
	case 0xD000:
		return []byte("Infinity"), nil
	case 0xF000:
		return []byte("-Infinity"), nil
	case 0x0000, 0x4000:
	default:
		return nil, fmt.Errorf("numeric sign %#x", sign)
	}
	digit := func(i int) int {
		if i < 0 || i >= ndigits {
			return 0
		}
		return int(binary.BigEndian.Uint16(data[8+2*i:]))
	}
	out := make([]byte, 0, 4*(max(weight, 0)+1)+dscale+2)
	if sign == 0x4000 {
		out = append(out, '-')
	}
	// Integer part: digit groups 0..weight, the first without leading zeros.
	if weight < 0 {
		out = append(out, '0')
	} else {
		for i := 0; i <= weight; i++ {
			d := digit(i)
			if i == 0 {
				out = strconv.AppendInt(out, int64(d), 10)
				continue
			}
			out = append(out, byte('0'+d/1000), byte('0'+d/100%10), byte('0'+d/10%10), byte('0'+d%10))
		}
	}
	if dscale > 0 {
		out = append(out, '.')
		for n, i := 0, weight+1; n < dscale; i++ {
			d := digit(i)
			for _, c := range [4]byte{byte('0' + d/1000), byte('0' + d/100%10), byte('0' + d/10%10), byte('0' + d%10)} {
				if n == dscale {
					break
				}
				out = append(out, c)
				n++
			}
		}
	}
	return out, nil
}

// decodeBinaryArray reads array_send's form: ndim, a has-null flag, the
// element type, (size, lower bound) per dimension, then each element as a
// length (-1: NULL) and its bytes.
func decodeBinaryArray(t *pgType, mod int32, data []byte) (change.Value, error) {
	bad := func(what string) (change.Value, error) {
		return change.Value{}, &valueError{typ: t.Name, text: data, what: "binary array: " + what}
	}
	if len(data) < 12 {
		return bad("header truncated")
	}
	ndim := int(int32(binary.BigEndian.Uint32(data)))
	if ndim < 0 || ndim > 6 || len(data) < 12+8*ndim {
		return bad("bad dimensions")
	}
	if ndim == 0 {
		return change.Value{Kind: change.KindArray, Elems: []change.Value{}}, nil
	}
	dims := make([]int, ndim)
	for i := range dims {
		dims[i] = int(int32(binary.BigEndian.Uint32(data[12+8*i:])))
		if int32(binary.BigEndian.Uint32(data[16+8*i:])) != 1 || dims[i] < 0 {
			return change.Value{}, errBinaryFallback // explicit bounds: KindOther with the text
		}
	}
	rest := data[12+8*ndim:]
	// Every element takes at least its 4-byte length: more elements than
	// that allows is a damaged value, not a reason to allocate.
	total := 1
	for _, n := range dims {
		if n > len(rest)/4 || total*n > len(rest)/4 {
			return bad("more elements than bytes")
		}
		total *= n
	}
	var build func(d int) (change.Value, error)
	build = func(d int) (change.Value, error) {
		v := change.Value{Kind: change.KindArray, Elems: make([]change.Value, 0, dims[d])}
		for i := 0; i < dims[d]; i++ {
			var e change.Value
			if d+1 < ndim {
				var err error
				if e, err = build(d + 1); err != nil {
					return change.Value{}, err
				}
			} else {
				if len(rest) < 4 {
					return change.Value{}, errors.New("element truncated")
				}
				n := int(int32(binary.BigEndian.Uint32(rest)))
				rest = rest[4:]
				if n < 0 {
					e = change.Null()
				} else {
					if n > len(rest) {
						return change.Value{}, errors.New("element truncated")
					}
					var err error
					if e, err = decodeBinary(t.Elem, mod, rest[:n:n]); err != nil {
						return change.Value{}, err
					}
					rest = rest[n:]
				}
			}
			v.Elems = append(v.Elems, e)
		}
		return v, nil
	}
	v, err := build(0)
	if errors.Is(err, errBinaryFallback) {
		return change.Value{}, err
	}
	if err != nil {
		return bad(err.Error())
	}
	if len(rest) != 0 {
		return bad("trailing bytes")
	}
	return v, nil
}

// pgEpochDays is PostgreSQL's epoch, 2000-01-01, in days since 1970-01-01.
const pgEpochDays = 10957

// civil returns the proleptic Gregorian date (year 0 is 1 BC) of a day
// counted from 1970-01-01: time.Date's calendar, without its cost
// (H. Hinnant's days-to-civil algorithm).
func civil(days int64) (y, m, d int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097                                  // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // [0, 365]
	mp := (5*doy + 2) / 153                                // [0, 11], from March
	d = int(doy - (153*mp+2)/5 + 1)
	m = int(mp + 3)
	if m > 12 {
		m -= 12
	}
	y = int(yoe + era*400)
	if m <= 2 {
		y++
	}
	return y, m, d
}

// bcTimestampText writes a timestamp before the common era as PostgreSQL
// does ("0044-03-15 12:00:00.25 BC": the year counted back from 1 AD,
// the fraction without its trailing zeros): the text the source keeps such
// a value as. y is the astronomical year (0 is 1 BC), sec the seconds into
// the day and us the microseconds.
func bcTimestampText(y, m, d int, sec, us int64) []byte {
	text := fmt.Appendf(nil, "%04d-%02d-%02d %02d:%02d:%02d", 1-y, m, d, sec/3600, sec/60%60, sec%60)
	if us != 0 {
		text = fmt.Appendf(text, ".%06d", us)
		for text[len(text)-1] == '0' {
			text = text[:len(text)-1]
		}
	}
	return append(text, " BC"...)
}
