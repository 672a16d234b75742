package change

import (
	"encoding/binary"
	"math"
	"strconv"
)

// AppendText appends v rendered as text the way its source prints it and
// returns the extended buffer:
//
//   - absent and unchanged append nothing; NULL appends "NULL";
//   - integers, YEAR ("0000", "2024") and BIT (as an unsigned decimal
//     number) in decimal; floats in the shortest form that reads back
//     exactly, "NaN", "Infinity", "-Infinity" for the special values;
//   - decimals, strings, bytes, JSON text, ENUM and SET members and
//     KindOther as their bytes, unchanged;
//   - DATE "2024-01-02", DATETIME "2024-01-02 03:04:05.123456" with exactly
//     Size fraction digits, TIME "-838:59:59.000000", zero dates as
//     "0000-00-00" and "0000-00-00 00:00:00"; zoned times and timestamps end
//     with their offset ("+05:30", "-08:00", "+00:00");
//   - TIMESTAMP as the wall-clock time at Off ("infinity" and "-infinity"
//     for the PostgreSQL infinities); a TIMESTAMP without zone at the Unix
//     epoch with no fraction is MySQL's zero timestamp "0000-00-00 00:00:00";
//   - UUID "0f8fad5b-d9cb-469f-a165-70867728950e", ObjectID as 24 hex
//     digits, BSON timestamps "Timestamp(1700000000, 5)", regexes
//     "/pattern/options", vectors "[1,2.5]";
//   - geometry as upper-case hex EWKB (WKB with the SRID folded in, as
//     PostGIS prints it);
//   - arrays and documents as their JSON (see AppendJSON).
func AppendText(dst []byte, v Value) []byte {
	switch v.Kind {
	case KindAbsent, KindUnchanged:
		return dst
	case KindNull:
		return append(dst, "NULL"...)
	case KindBool:
		if v.I != 0 {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case KindInt:
		return strconv.AppendInt(dst, v.I, 10)
	case KindUint, KindBit:
		return strconv.AppendUint(dst, v.U, 10)
	case KindFloat:
		return appendFloatText(dst, v.F, floatBits(v.Size))
	case KindDecimal, KindString, KindBytes, KindJSON, KindEnum, KindSet, KindOther:
		return append(dst, v.B...)
	case KindDate:
		return appendDate(dst, v.I)
	case KindTime:
		return appendTimeText(dst, &v)
	case KindDateTime:
		return appendDateTimeText(dst, &v)
	case KindTimestamp:
		return appendTimestampText(dst, &v)
	case KindYear:
		if v.I < 0 {
			dst = append(dst, '-')
		}
		return appendPad(dst, absU(v.I), 4)
	case KindGeometry:
		return appendEWKBHex(dst, uint32(v.U), v.B)
	case KindVector:
		return appendVectorText(dst, v.B)
	case KindUUID:
		return appendUUID(dst, v.B)
	case KindObjectID:
		return appendHex(dst, v.B, lowerHex)
	case KindBSONTimestamp:
		dst = append(dst, "Timestamp("...)
		dst = strconv.AppendUint(dst, v.U>>32, 10)
		dst = append(dst, ", "...)
		dst = strconv.AppendUint(dst, v.U&0xffffffff, 10)
		return append(dst, ')')
	case KindRegex:
		dst = append(dst, '/')
		dst = append(dst, v.B...)
		dst = append(dst, '/')
		if len(v.Names) > 0 {
			dst = append(dst, v.Names[0]...)
		}
		return dst
	case KindArray, KindDocument:
		return appendValueJSON(dst, &v, &ctx{kind: v.Kind, size: v.Size})
	}
	return append(dst, v.B...)
}

const (
	lowerHex = "0123456789abcdef"
	upperHex = "0123456789ABCDEF"
)

// Range of Unix seconds whose date falls in years 1 to 9999.
const (
	minTextUnix = -62135596800
	maxTextUnix = 253402300799
)

var pow10 = [...]uint64{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000}

func absU(i int64) uint64 {
	if i < 0 {
		return uint64(-(i + 1)) + 1
	}
	return uint64(i)
}

// appendPad appends n in decimal, zero-padded to at least width digits.
func appendPad(dst []byte, n uint64, width int) []byte {
	var buf [20]byte
	i := len(buf)
	for n >= 10 {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	i--
	buf[i] = byte('0' + n)
	for len(buf)-i < width {
		dst = append(dst, '0')
		width--
	}
	return append(dst, buf[i:]...)
}

// appendTwo appends n (below 100) as two digits.
func appendTwo(dst []byte, n uint64) []byte {
	return append(dst, digitPairs[2*n], digitPairs[2*n+1])
}

// digitPairs holds "00" to "99" back to back.
const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// appendFrac appends "." and exactly size fraction digits of nanos (nothing when size is 0).
func appendFrac(dst []byte, nanos uint64, size uint8) []byte {
	if size == 0 {
		return dst
	}
	if size > 9 {
		size = 9
	}
	dst = append(dst, '.')
	if nanos >= 1e9 {
		return appendPad(dst, nanos/pow10[9-size], int(size))
	}
	// The first size of nanos's nine digits.
	var buf [10]byte
	n := nanos
	for i := 8; i > 0; i -= 2 {
		q := n / 100
		r := n - q*100
		buf[i], buf[i+1] = digitPairs[2*r], digitPairs[2*r+1]
		n = q
	}
	buf[1] = byte('0' + n)
	return append(dst, buf[1:1+size]...)
}

// appendZone appends an offset as ±HH:MM, or ±HH:MM:SS when it has seconds.
func appendZone(dst []byte, off int32) []byte {
	sign := byte('+')
	o := int64(off)
	if o < 0 {
		sign = '-'
		o = -o
	}
	dst = append(dst, sign)
	dst = appendPad(dst, uint64(o/3600), 2)
	dst = append(dst, ':')
	dst = appendPad(dst, uint64(o/60%60), 2)
	if o%60 != 0 {
		dst = append(dst, ':')
		dst = appendPad(dst, uint64(o%60), 2)
	}
	return dst
}

// appendDate appends a YYYYMMDD number as YYYY-MM-DD.
func appendDate(dst []byte, ymd int64) []byte {
	if ymd < 0 {
		dst = append(dst, '-')
	}
	u := absU(ymd)
	if y := u / 10000; y < 10000 {
		dst = append(dst, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10))
	} else {
		dst = appendPad(dst, y, 4)
	}
	dst = append(dst, '-')
	dst = appendTwo(dst, u/100%100)
	dst = append(dst, '-')
	return appendTwo(dst, u%100)
}

// appendClock appends an hhmmss number as hh:mm:ss (hours at least two digits).
func appendClock(dst []byte, hms uint64) []byte {
	if h := hms / 10000; h < 100 {
		dst = appendTwo(dst, h)
	} else {
		dst = appendPad(dst, h, 2)
	}
	dst = append(dst, ':')
	dst = appendTwo(dst, hms/100%100)
	dst = append(dst, ':')
	return appendTwo(dst, hms%100)
}

func appendTimeText(dst []byte, v *Value) []byte {
	if v.Neg || v.I < 0 {
		dst = append(dst, '-')
	}
	dst = appendClock(dst, absU(v.I))
	dst = appendFrac(dst, v.U, v.Size)
	if v.Zoned || v.Off != 0 {
		dst = appendZone(dst, v.Off)
	}
	return dst
}

func appendDateTimeText(dst []byte, v *Value) []byte {
	if v.I < 0 {
		dst = append(dst, '-')
	}
	u := absU(v.I)
	dst = appendDate(dst, int64(u/1000000))
	dst = append(dst, ' ')
	dst = appendClock(dst, u%1000000)
	return appendFrac(dst, v.U, v.Size)
}

// isZeroTimestamp reports whether v is MySQL's zero TIMESTAMP.
func isZeroTimestamp(v *Value) bool {
	return v.I == 0 && v.U == 0 && v.Off == 0 && !v.Zoned
}

func appendTimestampText(dst []byte, v *Value) []byte {
	switch {
	case v.I == math.MaxInt64:
		return append(dst, "infinity"...)
	case v.I == math.MinInt64:
		return append(dst, "-infinity"...)
	case isZeroTimestamp(v):
		dst = append(dst, "0000-00-00 00:00:00"...)
		return appendFrac(dst, 0, v.Size)
	}
	wall := v.I + int64(v.Off)
	if v.I < minTextUnix || v.I > maxTextUnix || wall < minTextUnix || wall > maxTextUnix {
		// Outside years 1-9999: Unix seconds, best effort.
		dst = append(dst, '@')
		dst = strconv.AppendInt(dst, v.I, 10)
		return appendFrac(dst, v.U, v.Size)
	}
	dst = appendUnixDateClock(dst, wall, ' ')
	dst = appendFrac(dst, v.U, v.Size)
	if v.Zoned || v.Off != 0 {
		dst = appendZone(dst, v.Off)
	}
	return dst
}

// appendUnixDateClock appends the UTC date and time of Unix seconds unix
// (in years 1 to 9999) as YYYY-MM-DD, sep, hh:mm:ss.
func appendUnixDateClock(dst []byte, unix int64, sep byte) []byte {
	days := unix / 86400
	secs := unix - days*86400
	if secs < 0 {
		days--
		secs += 86400
	}
	y, m, d := civilDate(days)
	dst = appendDate(dst, y*10000+m*100+d)
	dst = append(dst, sep)
	h := secs / 3600
	mi := secs / 60 % 60
	return appendClock(dst, uint64(h*10000+mi*100+secs%60))
}

// civilDate returns the proleptic Gregorian date of a day counted from
// 1970-01-01 (H. Hinnant's days_from_civil, inverted).
func civilDate(days int64) (year, month, day int64) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day = doy - (153*mp+2)/5 + 1
	month = mp + 3
	if mp >= 10 {
		month = mp - 9
	}
	year = yoe + era*400
	if month <= 2 {
		year++
	}
	return year, month, day
}

// floatBits is the precision a float of the given Size is formatted with.
func floatBits(size uint8) int {
	if size == 32 {
		return 32
	}
	return 64
}

// appendFloatText appends f in its shortest exact form: plain notation for
// magnitudes in [1e-6, 1e21), exponent notation outside it.
func appendFloatText(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) || bits == 64 && (abs < 1e-6 || abs >= 1e21) {
			format = 'e'
		}
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// Turn e-09 into e-9, as JavaScript and encoding/json do.
		n := len(dst) - start
		if n >= 4 && dst[len(dst)-4] == 'e' && dst[len(dst)-3] == '-' && dst[len(dst)-2] == '0' {
			dst[len(dst)-2] = dst[len(dst)-1]
			dst = dst[:len(dst)-1]
		}
	}
	return dst
}

func appendHex(dst, b []byte, digits string) []byte {
	for _, c := range b {
		dst = append(dst, digits[c>>4], digits[c&15])
	}
	return dst
}

func appendUUID(dst, b []byte) []byte {
	if len(b) != 16 {
		return appendHex(dst, b, lowerHex)
	}
	dst = appendHex(dst, b[0:4], lowerHex)
	dst = append(dst, '-')
	dst = appendHex(dst, b[4:6], lowerHex)
	dst = append(dst, '-')
	dst = appendHex(dst, b[6:8], lowerHex)
	dst = append(dst, '-')
	dst = appendHex(dst, b[8:10], lowerHex)
	dst = append(dst, '-')
	return appendHex(dst, b[10:16], lowerHex)
}

// appendEWKBHex appends WKB as hex EWKB: the SRID flag set in the geometry
// type and the SRID inserted after it, in the WKB's own byte order.
func appendEWKBHex(dst []byte, srid uint32, wkb []byte) []byte {
	if srid == 0 || len(wkb) < 5 || wkb[0] > 1 {
		return appendHex(dst, wkb, upperHex)
	}
	var order binary.ByteOrder = binary.BigEndian
	if wkb[0] == 1 {
		order = binary.LittleEndian
	}
	var head [9]byte
	head[0] = wkb[0]
	order.PutUint32(head[1:5], order.Uint32(wkb[1:5])|0x20000000)
	order.PutUint32(head[5:9], srid)
	dst = appendHex(dst, head[:], upperHex)
	return appendHex(dst, wkb[5:], upperHex)
}

func appendVectorText(dst, le []byte) []byte {
	dst = append(dst, '[')
	for i := 0; i+4 <= len(le); i += 4 {
		if i > 0 {
			dst = append(dst, ',')
		}
		f := math.Float32frombits(binary.LittleEndian.Uint32(le[i:]))
		dst = appendFloatText(dst, float64(f), 32)
	}
	return append(dst, ']')
}
