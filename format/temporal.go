package format

import (
	"math"

	"github.com/sluice-cdc/sluice/change"
)

// daysFromCivil returns the days from 1970-01-01 to y-m-d in the proleptic
// Gregorian calendar (year 0 is 1 BC), valid for any year.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// splitDate returns the year, month and day of a KindDate I (YYYYMMDD).
func splitDate(i int64) (y, m, d int64) { return i / 10000, i / 100 % 100, i % 100 }

// validDate reports whether y-m-d is a real calendar date (no zero month
// or day, no 31 April).
func validDate(y, m, d int64) bool {
	if m < 1 || m > 12 || d < 1 {
		return false
	}
	y2, m2, d2 := civilFromDays(daysFromCivil(y, m, d))
	return y2 == y && m2 == m && d2 == d
}

// dateDays returns the days since the epoch of a KindDate, and false for
// a zero or invalid date (0000-00-00, 2024-02-00), which no day count
// holds.
func dateDays(v *change.Value) (int64, bool) {
	y, m, d := splitDate(v.I)
	if !validDate(y, m, d) {
		return 0, false
	}
	return daysFromCivil(y, m, d), true
}

// dateTimeSecs returns the wall clock of a KindDateTime read as UTC, in
// seconds since the epoch (its nanoseconds are in U), and false for a zero
// or invalid date.
func dateTimeSecs(v *change.Value) (secs int64, ok bool) {
	days, ok := dateDays(&change.Value{I: v.I / 1000000})
	if !ok {
		return 0, false
	}
	c := v.I % 1000000
	return days*86400 + c/10000*3600 + c/100%100*60 + c%100, true
}

// timeNanos returns a KindTime as nanoseconds from midnight (negative for
// a negative MySQL duration), ignoring its zone.
func timeNanos(v *change.Value) int64 {
	n := (v.I/10000*3600+v.I/100%100*60+v.I%100)*1e9 + int64(v.U)
	if v.Neg {
		return -n
	}
	return n
}

// fracDigits returns how many fraction digits nanos needs at least size
// of them to be exact: size, or more when nanos is finer.
func fracDigits(nanos uint64, size uint8) int {
	n := int(min(size, 9))
	for n < 9 && nanos%pow10[9-n] != 0 {
		n++
	}
	return n
}

var pow10 = [...]uint64{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000}

// appendFrac appends "." and the first digits of the 9-digit nanos, or
// nothing for digits 0.
func appendFrac(dst []byte, nanos uint64, digits int) []byte {
	if digits == 0 {
		return dst
	}
	dst = append(dst, '.')
	v := nanos / pow10[9-digits]
	return appendPad(dst, v, digits)
}

// appendPad appends n in decimal with at least width (at most 20) digits.
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
		i--
		buf[i] = '0'
	}
	return append(dst, buf[i:]...)
}

// appendYear appends an ISO 8601 year: four digits, a sign before years
// outside 0000-9999 as java.time writes them ("-0043", "+10000").
func appendYear(dst []byte, y int64) []byte {
	switch {
	case y < 0:
		dst = append(dst, '-')
		return appendPad(dst, uint64(-y), 4)
	case y > 9999:
		dst = append(dst, '+')
	}
	return appendPad(dst, uint64(y), 4)
}

// appendISODate appends y-m-d as YYYY-MM-DD.
func appendISODate(dst []byte, y, m, d int64) []byte {
	dst = appendYear(dst, y)
	dst = append(dst, '-')
	dst = appendPad(dst, uint64(m), 2)
	dst = append(dst, '-')
	return appendPad(dst, uint64(d), 2)
}

// appendClock appends seconds of the day as HH:MM:SS.
func appendClock(dst []byte, secs int64) []byte {
	dst = appendPad(dst, uint64(secs/3600), 2)
	dst = append(dst, ':')
	dst = appendPad(dst, uint64(secs/60%60), 2)
	dst = append(dst, ':')
	return appendPad(dst, uint64(secs%60), 2)
}

// appendInstantISO appends an instant (Unix seconds and nanoseconds) in
// UTC as ISO 8601, "2024-01-02T03:04:05.678Z", with digits fraction digits
// (0: none).
func appendInstantISO(dst []byte, secs int64, nanos uint64, digits int) []byte {
	days := floorDiv(secs, 86400)
	y, m, d := civilFromDays(days)
	dst = appendISODate(dst, y, m, d)
	dst = append(dst, 'T')
	dst = appendClock(dst, secs-days*86400)
	dst = appendFrac(dst, nanos, digits)
	return append(dst, 'Z')
}

// timestampInfinity reports whether a KindTimestamp is PostgreSQL's
// infinity (+1) or -infinity (-1).
func timestampInfinity(v *change.Value) int {
	switch v.I {
	case math.MaxInt64:
		return 1
	case math.MinInt64:
		return -1
	}
	return 0
}

// mysqlZeroTimestamp reports whether a KindTimestamp is MySQL's zero
// TIMESTAMP "0000-00-00 00:00:00" (stored as the epoch without zone).
func mysqlZeroTimestamp(v *change.Value) bool {
	return v.I == 0 && v.U == 0 && !v.Zoned
}
