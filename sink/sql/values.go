package sql

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/sqldb"
)

// arena holds the text of rendered values until the statement that
// carries them has run. A chunk is never moved once values point into it:
// a value that does not fit starts a new chunk.
type arena struct {
	buf []byte
}

// reset forgets what the arena holds; its chunk is reused.
func (a *arena) reset() { a.buf = a.buf[:0] }

// start makes room for about n more bytes and returns where the next
// value begins.
func (a *arena) start(n int) int {
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make([]byte, 0, max(64<<10, 2*n))
	}
	return len(a.buf)
}

// since returns the bytes appended since start, capped so that appending
// to the result never writes into the arena.
func (a *arena) since(start int) []byte { return a.buf[start:len(a.buf):len(a.buf)] }

// valueError is a value the target column cannot hold.
type valueError struct{ msg string }

func (e *valueError) Error() string { return e.msg }

func cannot(format string, args ...any) error { return &valueError{msg: fmt.Sprintf(format, args...)} }

// nonNil returns b, or an empty non-nil slice: both drivers send a nil
// slice as NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// isInfinity reports a PostgreSQL ±infinity timestamp.
func isInfinity(v *change.Value) bool { return v.I == math.MaxInt64 || v.I == math.MinInt64 }

// isZeroTimestamp reports MySQL's zero TIMESTAMP (see change.AppendText).
func isZeroTimestamp(v *change.Value) bool { return v.I == 0 && v.U == 0 && v.Off == 0 && !v.Zoned }

// zeroDate reports a DATE with a zero year, month or day (MySQL's zero and
// invalid dates).
func zeroDate(ymd int64) bool { return ymd/10000 == 0 || ymd/100%100 == 0 || ymd%100 == 0 }

// appendFrac appends "." and size (at most 6) fraction digits of nanos.
func appendFrac(dst []byte, nanos uint64, size uint8) []byte {
	if size == 0 {
		return dst
	}
	size = min(size, 9)
	dst = append(dst, '.')
	s := strconv.AppendUint(nil, nanos%1e9+1e9, 10) // "1" + nine digits
	return append(dst, s[1:1+size]...)
}

// appendUTC appends the UTC wall time of an instant as
// YYYY-MM-DD HH:MM:SS[.fff], with " BC" years when bc is set (PostgreSQL's
// way: year 0 is 1 BC), reporting years outside 1-9999 otherwise.
func appendUTC(dst []byte, v *change.Value, bc bool) ([]byte, bool) {
	t := time.Unix(v.I, 0).UTC()
	y := t.Year()
	suffix := ""
	if y < 1 {
		if !bc {
			return dst, false
		}
		y, suffix = 1-y, " BC"
	}
	if y > 9999 && !bc {
		return dst, false
	}
	dst = append(dst, fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d", y, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second())...)
	dst = appendFrac(dst, v.U, v.Size)
	if suffix != "" {
		dst = append(dst, "+00"...)
		dst = append(dst, suffix...)
		return dst, true
	}
	return dst, true
}

// bitsText appends the width lowest bits of u, most significant first.
func bitsText(dst []byte, u uint64, width int) []byte {
	for i := width - 1; i >= 0; i-- {
		if i < 64 && u&(1<<uint(i)) != 0 {
			dst = append(dst, '1')
		} else {
			dst = append(dst, '0')
		}
	}
	return dst
}

// ewkb returns a geometry value as EWKB bytes (WKB with the SRID folded
// in, as PostGIS writes it).
func ewkb(a *arena, v *change.Value) []byte {
	text := change.AppendText(nil, *v)
	s := a.start(len(text) / 2)
	a.buf = a.buf[:s+len(text)/2]
	hex.Decode(a.buf[s:], text)
	return a.since(s)
}

// mysqlGeometry returns a geometry value in MySQL's internal form: the
// SRID as 4 little-endian bytes, then the WKB.
func mysqlGeometry(a *arena, v *change.Value) []byte {
	s := a.start(4 + len(v.B))
	a.buf = binary.LittleEndian.AppendUint32(a.buf, uint32(v.U))
	a.buf = append(a.buf, v.B...)
	return a.since(s)
}

// text renders v with change.AppendText into the arena.
func text(a *arena, v *change.Value) []byte {
	s := a.start(32 + len(v.B))
	a.buf = change.AppendText(a.buf, *v)
	return a.since(s)
}

// mysqlArg returns the go-sql-driver/mysql argument that writes v into a
// column of type t (the session runs in UTC with strict modes):
// integers as int64 or uint64, floats as float64, text, decimals and bytes
// as []byte, temporal values as their text. Values the column cannot hold
// give a *valueError.
func mysqlArg(a *arena, v *change.Value, t *sqldb.Type) (any, error) {
	switch v.Kind {
	case change.KindNull:
		return nil, nil
	case change.KindBool:
		return v.I, nil
	case change.KindInt:
		return v.I, nil
	case change.KindUint:
		return v.U, nil
	case change.KindFloat:
		if math.IsNaN(v.F) || math.IsInf(v.F, 0) {
			return nil, cannot("%s cannot hold %s", t.Text, change.AppendText(nil, *v))
		}
		return v.F, nil
	case change.KindDecimal:
		if len(v.B) > 0 && (v.B[0] == 'N' || v.B[0] == 'I' || v.B[len(v.B)-1] == 'y') {
			return nil, cannot("%s cannot hold %s", t.Text, v.B)
		}
		return nonNil(v.B), nil
	case change.KindString, change.KindBytes, change.KindJSON, change.KindEnum, change.KindSet, change.KindOther:
		if v.Kind == change.KindString && t.Family == sqldb.FamUUID && len(v.B) == 16 {
			return text(a, &change.Value{Kind: change.KindUUID, B: v.B}), nil
		}
		return nonNil(v.B), nil
	case change.KindDate, change.KindDateTime, change.KindYear:
		if v.Kind == change.KindYear {
			return v.I, nil
		}
		return text(a, v), nil
	case change.KindTime:
		if (v.Zoned || v.Off != 0) && t.Family == sqldb.FamTime {
			return nil, cannot("%s cannot hold the time with zone %s (create the column as VARCHAR to keep it)", t.Text, change.AppendText(nil, *v))
		}
		return text(a, v), nil
	case change.KindTimestamp:
		switch t.Family {
		case sqldb.FamTimestamp, sqldb.FamDateTime:
			if isZeroTimestamp(v) {
				s := a.start(26)
				a.buf = append(a.buf, "0000-00-00 00:00:00"...)
				return a.since(s), nil
			}
			if isInfinity(v) {
				return nil, cannot("%s cannot hold %s", t.Text, change.AppendText(nil, *v))
			}
			s := a.start(32)
			var ok bool
			if a.buf, ok = appendUTC(a.buf, v, false); !ok {
				return nil, cannot("%s cannot hold %s (outside years 1-9999)", t.Text, change.AppendText(nil, *v))
			}
			return a.since(s), nil
		}
		return text(a, v), nil
	case change.KindBit:
		if t.Family == sqldb.FamText || t.Family == sqldb.FamChar {
			s := a.start(int(v.Size))
			a.buf = bitsText(a.buf, v.U, int(v.Size))
			return a.since(s), nil
		}
		return v.U, nil
	case change.KindGeometry:
		if t.Family == sqldb.FamText || t.Family == sqldb.FamChar {
			return text(a, v), nil
		}
		return mysqlGeometry(a, v), nil
	case change.KindVector:
		if t.Family == sqldb.FamVector || t.Family == sqldb.FamBytes || t.Family == sqldb.FamBinary {
			return nonNil(v.B), nil
		}
		return text(a, v), nil
	case change.KindUUID:
		if t.Family == sqldb.FamBinary || t.Family == sqldb.FamBytes {
			return nonNil(v.B), nil
		}
		return text(a, v), nil
	case change.KindArray, change.KindDocument:
		b, err := plainJSON(a, v)
		if err != nil {
			return nil, err
		}
		return b, nil
	case change.KindObjectID, change.KindBSONTimestamp, change.KindRegex:
		return text(a, v), nil
	}
	return nil, cannot("a %v value has no MySQL form", v.Kind)
}

// pgParam returns the PostgreSQL parameter that writes v into a column of
// type t: text in the form the type's input function reads (the session
// runs with TimeZone=UTC and ISO dates), or raw bytes in binary format
// for bytea. nil is NULL. Values the column cannot hold give a
// *valueError.
func pgParam(a *arena, v *change.Value, t *sqldb.Type) (b []byte, bin bool, err error) {
	s := a.start(32 + len(v.B))
	switch v.Kind {
	case change.KindNull:
		return nil, false, nil
	case change.KindBool, change.KindInt, change.KindUint:
		n := v.I
		if v.Kind == change.KindUint {
			n = int64(v.U)
		}
		switch t.Family {
		case sqldb.FamBool:
			if v.Kind == change.KindUint && v.U > 1 || v.Kind != change.KindUint && (n < 0 || n > 1) {
				return nil, false, cannot("boolean cannot hold %s", change.AppendText(nil, *v))
			}
			a.buf = append(a.buf, "ft"[n])
		case sqldb.FamBit:
			if t.Var {
				a.buf = strconv.AppendUint(a.buf, uint64(n), 2)
			} else {
				a.buf = bitsText(a.buf, uint64(n), t.Bits)
			}
		default:
			switch {
			case v.Kind == change.KindBool && t.Family == sqldb.FamText:
				a.buf = append(a.buf, []string{"false", "true"}[v.I&1]...)
			case v.Kind == change.KindBool:
				a.buf = append(a.buf, "01"[v.I&1])
			case v.Kind == change.KindUint:
				a.buf = strconv.AppendUint(a.buf, v.U, 10)
			default:
				a.buf = strconv.AppendInt(a.buf, v.I, 10)
			}
		}
	case change.KindFloat, change.KindDecimal, change.KindYear, change.KindEnum, change.KindSet, change.KindUUID, change.KindOther:
		a.buf = change.AppendText(a.buf, *v)
	case change.KindString, change.KindJSON:
		if t.Family == sqldb.FamBytes {
			return nonNil(v.B), true, nil
		}
		if err := pgText(v.B, t); err != nil {
			return nil, false, err
		}
		return nonNil(v.B), false, nil
	case change.KindBytes:
		switch t.Family {
		case sqldb.FamBytes:
			return nonNil(v.B), true, nil
		case sqldb.FamUUID:
			if len(v.B) != 16 {
				return nil, false, cannot("uuid cannot hold %d bytes", len(v.B))
			}
			a.buf = change.AppendText(a.buf, change.Value{Kind: change.KindUUID, B: v.B})
		default:
			if err := pgText(v.B, t); err != nil {
				return nil, false, err
			}
			return nonNil(v.B), false, nil
		}
	case change.KindDate:
		if zeroDate(v.I) || v.I < 0 {
			if t.Family == sqldb.FamDate || t.Family == sqldb.FamDateTime || t.Family == sqldb.FamTimestamp {
				return nil, false, cannot("%s cannot hold the date %s", t.Text, change.AppendText(nil, *v))
			}
		}
		a.buf = change.AppendText(a.buf, *v)
	case change.KindTime:
		if t.Family == sqldb.FamTime && (v.Neg || v.I < 0 || v.I > 240000 || v.I == 240000 && v.U > 0) {
			return nil, false, cannot("%s cannot hold %s (a duration: create the column as interval)", t.Text, change.AppendText(nil, *v))
		}
		a.buf = change.AppendText(a.buf, *v)
	case change.KindDateTime:
		if zeroDate(v.I/1000000) && (t.Family == sqldb.FamDateTime || t.Family == sqldb.FamTimestamp || t.Family == sqldb.FamDate) {
			return nil, false, cannot("%s cannot hold %s", t.Text, change.AppendText(nil, *v))
		}
		a.buf = change.AppendText(a.buf, *v)
	case change.KindTimestamp:
		switch {
		case t.Family != sqldb.FamTimestamp && t.Family != sqldb.FamDateTime && t.Family != sqldb.FamDate:
			a.buf = change.AppendText(a.buf, *v)
		case isInfinity(v):
			a.buf = change.AppendText(a.buf, *v)
		case isZeroTimestamp(v):
			return nil, false, cannot("%s cannot hold MySQL's zero TIMESTAMP 0000-00-00 00:00:00", t.Text)
		default:
			a.buf, _ = appendUTC(a.buf, v, true)
			if t.Family == sqldb.FamTimestamp && !bcSuffix(a.buf[s:]) {
				a.buf = append(a.buf, "+00"...)
			}
		}
	case change.KindBit:
		switch t.Family {
		case sqldb.FamBit:
			width := int(v.Size)
			if !t.Var {
				if width > t.Bits && v.U>>uint(min(t.Bits, 63)) != 0 && t.Bits < 64 {
					return nil, false, cannot("%s cannot hold the %d-bit value %d", t.Text, v.Size, v.U)
				}
				width = t.Bits
			}
			a.buf = bitsText(a.buf, v.U, width)
		case sqldb.FamText, sqldb.FamChar:
			a.buf = bitsText(a.buf, v.U, int(v.Size))
		default:
			a.buf = strconv.AppendUint(a.buf, v.U, 10)
		}
	case change.KindGeometry:
		if t.Family == sqldb.FamBytes {
			return ewkb(a, v), true, nil
		}
		a.buf = change.AppendText(a.buf, *v)
	case change.KindVector:
		switch t.Family {
		case sqldb.FamBytes:
			return nonNil(v.B), true, nil
		case sqldb.FamArray:
			a.buf = append(a.buf, '{')
			for i := 0; i+4 <= len(v.B); i += 4 {
				if i > 0 {
					a.buf = append(a.buf, ',')
				}
				f := math.Float32frombits(binary.LittleEndian.Uint32(v.B[i:]))
				a.buf = change.AppendText(a.buf, change.Float32(f))
			}
			a.buf = append(a.buf, '}')
		default:
			a.buf = change.AppendText(a.buf, *v)
		}
	case change.KindArray:
		if t.Family == sqldb.FamArray {
			elem := sqldb.ParseType(sqldb.Postgres, t.Elem)
			var err error
			if a.buf, err = appendPGArray(a.buf, v, &elem); err != nil {
				return nil, false, err
			}
		} else {
			var err error
			if a.buf, err = appendPlainJSON(a.buf, v); err != nil {
				return nil, false, err
			}
		}
	case change.KindDocument:
		var err error
		if a.buf, err = appendPlainJSON(a.buf, v); err != nil {
			return nil, false, err
		}
	case change.KindObjectID, change.KindBSONTimestamp, change.KindRegex:
		a.buf = change.AppendText(a.buf, *v)
	default:
		return nil, false, cannot("a %v value has no PostgreSQL form", v.Kind)
	}
	return a.since(s), false, nil
}

// bcSuffix reports whether a rendered timestamp ends in " BC" (appendUTC
// then wrote the offset already).
func bcSuffix(b []byte) bool { return len(b) >= 3 && string(b[len(b)-3:]) == " BC" }

// pgText checks that b can be PostgreSQL text: UTF-8 without NUL bytes.
func pgText(b []byte, t *sqldb.Type) error {
	for i, c := range b {
		if c == 0 {
			return cannot("%s cannot hold text with a NUL (0x00) byte (at byte %d)", t.Text, i)
		}
	}
	if !utf8.Valid(b) {
		return cannot("%s cannot hold bytes that are not UTF-8 text", t.Text)
	}
	return nil
}

// appendPGArray appends an array value as a PostgreSQL array literal:
// {…} with nested arrays as braces, NULL for nulls, and every other
// element quoted.
func appendPGArray(dst []byte, v *change.Value, elem *sqldb.Type) ([]byte, error) {
	dst = append(dst, '{')
	for i := range v.Elems {
		if i > 0 {
			dst = append(dst, ',')
		}
		e := &v.Elems[i]
		switch e.Kind {
		case change.KindNull:
			dst = append(dst, "NULL"...)
			continue
		case change.KindArray:
			var err error
			if dst, err = appendPGArray(dst, e, elem); err != nil {
				return nil, err
			}
			continue
		}
		var a arena
		b, bin, err := pgParam(&a, e, elem)
		if err != nil {
			return nil, err
		}
		if bin {
			b = append([]byte(`\x`), hex.EncodeToString(b)...)
		}
		dst = append(dst, '"')
		for _, c := range b {
			if c == '"' || c == '\\' {
				dst = append(dst, '\\')
			}
			dst = append(dst, c)
		}
		dst = append(dst, '"')
	}
	return append(dst, '}'), nil
}

// appendPlainJSON appends an array or document value as plain JSON, the
// way a JSON column holds it: numbers as numbers, booleans, null, text
// and every other scalar as a JSON string of its text (bytes as \x and
// hex digits), JSON values as themselves.
func appendPlainJSON(dst []byte, v *change.Value) ([]byte, error) {
	switch v.Kind {
	case change.KindNull, change.KindAbsent, change.KindUnchanged:
		return append(dst, "null"...), nil
	case change.KindBool:
		if v.I != 0 {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case change.KindInt, change.KindUint, change.KindYear, change.KindBit:
		return change.AppendText(dst, *v), nil
	case change.KindFloat:
		if math.IsNaN(v.F) || math.IsInf(v.F, 0) {
			return nil, cannot("JSON cannot hold the number %s", change.AppendText(nil, *v))
		}
		return change.AppendText(dst, *v), nil
	case change.KindDecimal:
		if len(v.B) > 0 && (v.B[0] == 'N' || v.B[len(v.B)-1] == 'y') {
			return nil, cannot("JSON cannot hold the number %s", v.B)
		}
		return append(dst, v.B...), nil
	case change.KindJSON:
		return append(dst, v.B...), nil
	case change.KindArray:
		dst = append(dst, '[')
		for i := range v.Elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendPlainJSON(dst, &v.Elems[i]); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case change.KindDocument:
		dst = append(dst, '{')
		for i := range v.Elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			name := ""
			if i < len(v.Names) {
				name = v.Names[i]
			}
			dst = strconv.AppendQuote(dst, name)
			dst = append(dst, ':')
			var err error
			if dst, err = appendPlainJSON(dst, &v.Elems[i]); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	case change.KindBytes:
		return appendJSONString(dst, append([]byte(`\x`), hex.EncodeToString(v.B)...)), nil
	}
	return appendJSONString(dst, change.AppendText(nil, *v)), nil
}

// appendJSONString appends s as a JSON string.
func appendJSONString(dst, s []byte) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	for _, r := range string(s) {
		switch {
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&15])
		case r == utf8.RuneError:
			dst = append(dst, `\ufffd`...)
		default:
			dst = utf8.AppendRune(dst, r)
		}
	}
	return append(dst, '"')
}

// plainJSON renders an array or document value as plain JSON into the arena.
func plainJSON(a *arena, v *change.Value) ([]byte, error) {
	s := a.start(64)
	b, err := appendPlainJSON(a.buf, v)
	if err != nil {
		return nil, err
	}
	a.buf = b
	return a.since(s), nil
}
