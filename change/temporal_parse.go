package change

import (
	"errors"
	"math"
	"time"
)

// tscan reads the fixed-layout temporal texts written by AppendText.
type tscan struct {
	s   string
	i   int
	bad bool
}

// digits reads at least min and at most max decimal digits.
func (t *tscan) digits(min, max int) uint64 {
	var n uint64
	start := t.i
	for t.i < len(t.s) && t.i-start < max && t.s[t.i] >= '0' && t.s[t.i] <= '9' {
		n = n*10 + uint64(t.s[t.i]-'0')
		t.i++
	}
	if t.i-start < min {
		t.bad = true
	}
	return n
}

func (t *tscan) byte(c byte) {
	if t.i < len(t.s) && t.s[t.i] == c {
		t.i++
		return
	}
	t.bad = true
}

func (t *tscan) peek(c byte) bool { return t.i < len(t.s) && t.s[t.i] == c }

// frac reads an optional ".ddd" (1-9 digits) as nanoseconds.
func (t *tscan) frac() uint64 {
	if !t.peek('.') {
		return 0
	}
	t.i++
	start := t.i
	n := t.digits(1, 9)
	return n * pow10[9-(t.i-start)]
}

// zone reads an optional ±HH:MM[:SS] offset.
func (t *tscan) zone() (int32, bool) {
	if !t.peek('+') && !t.peek('-') {
		return 0, false
	}
	neg := t.s[t.i] == '-'
	t.i++
	off := int64(t.digits(2, 2)) * 3600
	t.byte(':')
	off += int64(t.digits(2, 2)) * 60
	if t.peek(':') {
		t.i++
		off += int64(t.digits(2, 2))
	}
	if neg {
		off = -off
	}
	return int32(off), true
}

// ymd reads Y…Y-MM-DD (at least 4 year digits) as a YYYYMMDD number.
func (t *tscan) ymd(maxYearDigits int) uint64 {
	y := t.digits(4, maxYearDigits)
	t.byte('-')
	m := t.digits(2, 2)
	t.byte('-')
	d := t.digits(2, 2)
	return y*10000 + m*100 + d
}

// parseTemporal fills v (whose Kind and Size are set) from its text.
func parseTemporal(v *Value, s string) error {
	t := tscan{s: s}
	switch v.Kind {
	case KindDate:
		d := t.ymd(15)
		if d > math.MaxInt64 {
			return errors.New("date out of range")
		}
		v.I = int64(d)
	case KindDateTime:
		d := t.ymd(9)
		t.byte(' ')
		hms := t.clock(2)
		if d > (math.MaxInt64-hms)/1000000 {
			return errors.New("datetime out of range")
		}
		v.I = int64(d*1000000 + hms)
		v.U = t.frac()
	case KindTime:
		if t.peek('-') {
			v.Neg = true
			t.i++
		}
		hms := t.clock(15)
		if hms > math.MaxInt64 {
			return errors.New("time out of range")
		}
		v.I = int64(hms)
		v.U = t.frac()
		v.Off, v.Zoned = t.zone()
	case KindTimestamp:
		return parseTimestamp(v, &t)
	}
	if t.bad || t.i != len(s) {
		return errors.New("malformed " + v.Kind.String() + " text")
	}
	return nil
}

// clock reads H…H:MM:SS (at least 2 and at most maxHourDigits hour digits) as hhmmss.
func (t *tscan) clock(maxHourDigits int) uint64 {
	h := t.digits(2, maxHourDigits)
	t.byte(':')
	m := t.digits(2, 2)
	t.byte(':')
	s := t.digits(2, 2)
	return h*10000 + m*100 + s
}

func parseTimestamp(v *Value, t *tscan) error {
	switch t.s {
	case "infinity":
		v.I = math.MaxInt64
		return nil
	case "-infinity":
		v.I = math.MinInt64
		return nil
	}
	d := t.ymd(4)
	t.byte(' ')
	hms := t.clock(2)
	frac := t.frac()
	off, zoned := t.zone()
	if t.bad || t.i != len(t.s) {
		return errors.New("malformed timestamp text")
	}
	if d == 0 && hms == 0 {
		if frac != 0 || zoned {
			return errors.New("zero timestamp with a fraction or zone")
		}
		return nil
	}
	y, mo, dd := int(d/10000), int(d/100%100), int(d%100)
	h, mi, s := int(hms/10000), int(hms/100%100), int(hms%100)
	tm := time.Date(y, time.Month(mo), dd, h, mi, s, 0, time.UTC)
	if y < 1 || mo < 1 || mo > 12 || h > 23 || mi > 59 || s > 59 || tm.Day() != dd || int(tm.Month()) != mo {
		return errors.New("timestamp is not a valid date and time")
	}
	v.I = tm.Unix() - int64(off)
	v.U = frac
	v.Off, v.Zoned = off, zoned
	return nil
}
