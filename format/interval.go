package format

import (
	"strconv"
	"strings"
)

// interval is a PostgreSQL interval: months, days and microseconds, the
// three parts PostgreSQL keeps apart.
type interval struct {
	months, days, micros int64
}

// parseInterval reads an interval as PostgreSQL prints it with
// IntervalStyle=postgres (the style Sluice's PostgreSQL source reads):
// "1 year 2 mons 3 days 04:05:06.5", "-1 days +02:00:00", "00:00:01".
func parseInterval(b []byte) (interval, bool) {
	var iv interval
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return iv, false
	}
	for i := 0; i < len(f); i++ {
		tok := f[i]
		if strings.Contains(tok, ":") {
			us, ok := parseClockMicros(tok)
			if !ok {
				return iv, false
			}
			iv.micros += us
			continue
		}
		if i+1 >= len(f) {
			return iv, false
		}
		n, err := strconv.ParseInt(tok, 10, 64)
		if err != nil {
			return iv, false
		}
		i++
		switch strings.TrimSuffix(f[i], "s") {
		case "year":
			iv.months += n * 12
		case "mon":
			iv.months += n
		case "day":
			iv.days += n
		default:
			return iv, false
		}
	}
	return iv, true
}

// parseClockMicros reads "[+-]HH:MM:SS[.ffffff]" as microseconds.
func parseClockMicros(s string) (int64, bool) {
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, false
	}
	h, err1 := strconv.ParseInt(parts[0], 10, 64)
	m, err2 := strconv.ParseInt(parts[1], 10, 64)
	secText, frac, _ := strings.Cut(parts[2], ".")
	sec, err3 := strconv.ParseInt(secText, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || len(frac) > 6 {
		return 0, false
	}
	var us int64
	if frac != "" {
		f, err := strconv.ParseInt(frac, 10, 64)
		if err != nil {
			return 0, false
		}
		us = f * int64(pow10[6-len(frac)])
	}
	total := ((h*60+m)*60+sec)*1e6 + us
	if neg {
		total = -total
	}
	return total, true
}

// appendISO appends the interval as Debezium's io.debezium.time.Interval
// writes it: P<years>Y<months>M<days>DT<hours>H<minutes>M<seconds>S, every
// part present, each with its own sign, seconds with the fraction they
// need.
func (iv interval) appendISO(dst []byte) []byte {
	dst = append(dst, 'P')
	dst = strconv.AppendInt(dst, iv.months/12, 10)
	dst = append(dst, 'Y')
	dst = strconv.AppendInt(dst, iv.months%12, 10)
	dst = append(dst, 'M')
	dst = strconv.AppendInt(dst, iv.days, 10)
	dst = append(dst, 'D', 'T')
	us := iv.micros
	dst = strconv.AppendInt(dst, us/3600e6, 10)
	dst = append(dst, 'H')
	dst = strconv.AppendInt(dst, us/60e6%60, 10)
	dst = append(dst, 'M')
	secs := us % 60e6
	if secs < 0 {
		dst = append(dst, '-')
		secs = -secs
	}
	dst = strconv.AppendInt(dst, secs/1e6, 10)
	if frac := secs % 1e6; frac != 0 {
		digits := fracDigits(uint64(frac)*1000, 0)
		dst = appendFrac(dst, uint64(frac)*1000, digits)
	}
	return append(dst, 'S')
}
