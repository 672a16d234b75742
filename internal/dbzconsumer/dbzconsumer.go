// Package dbzconsumer reads Debezium change events as a consumer does:
// with the Kafka Connect schema the JSON converter puts beside the payload
// (schemas=true), it restores each column value by its literal and
// semantic type — decimals from their unscaled bytes and scale, dates from
// day counts, times and timestamps from micro- or milliseconds, bits from
// their little-endian bytes — without knowing anything of Sluice. Tests
// use it to check that what the debezium format wrote reads back to what
// the database holds.
package dbzconsumer

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Schema is a Kafka Connect schema as the JSON converter writes it.
type Schema struct {
	Type       string            `json:"type"`
	Optional   bool              `json:"optional"`
	Name       string            `json:"name"`
	Version    int               `json:"version"`
	Parameters map[string]string `json:"parameters"`
	Field      string            `json:"field"`
	Fields     []Schema          `json:"fields"`
	Items      *Schema           `json:"items"`
}

// Event is a decoded change event.
type Event struct {
	Op     string
	Before Row // nil when the event has none
	After  Row
	Source map[string]any
	// Fields are the row schema's fields, in column order.
	Fields []Schema
}

// Row is a row image: column name to restored value. A column missing
// from the row is not in the map.
type Row map[string]any

// Value kinds a restored value can be, besides nil (NULL), bool, int64,
// float64 (and float32 as float64), string, []byte and []any (arrays):

// Decimal is an exact decimal: Unscaled × 10^-Scale.
type Decimal struct {
	Unscaled *big.Int
	Scale    int
}

// String returns the decimal's text with Scale fraction digits.
func (d Decimal) String() string {
	neg := d.Unscaled.Sign() < 0
	digits := new(big.Int).Abs(d.Unscaled).String()
	if d.Scale > 0 {
		for len(digits) <= d.Scale {
			digits = "0" + digits
		}
		digits = digits[:len(digits)-d.Scale] + "." + digits[len(digits)-d.Scale:]
	} else if d.Scale < 0 {
		digits += strings.Repeat("0", -d.Scale)
	}
	if neg {
		return "-" + digits
	}
	return digits
}

// Date is a calendar date from io.debezium.time.Date or Kafka Connect Date.
type Date struct{ Year, Month, Day int }

// String returns YYYY-MM-DD (a minus sign before years before 0).
func (d Date) String() string {
	y := strconv.Itoa(abs(d.Year))
	for len(y) < 4 {
		y = "0" + y
	}
	if d.Year < 0 {
		y = "-" + y
	}
	return fmt.Sprintf("%s-%02d-%02d", y, d.Month, d.Day)
}

// TimeOfDay is a time or a duration in nanoseconds (io.debezium.time.Time,
// MicroTime, NanoTime, Kafka Connect Time).
type TimeOfDay time.Duration

// Text returns [-]H:MM:SS with digits fraction digits (hours may exceed
// 24, as MySQL prints TIME).
func (t TimeOfDay) Text(digits int) string {
	d := time.Duration(t)
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	h, m, s := d/time.Hour, d/time.Minute%60, d/time.Second%60
	out := fmt.Sprintf("%s%02d:%02d:%02d", sign, h, m, s)
	return out + frac(int64(d%time.Second), digits)
}

// WallClock is a date and time without zone (io.debezium.time.Timestamp,
// MicroTimestamp, NanoTimestamp, Kafka Connect Timestamp), read as UTC.
type WallClock struct{ T time.Time }

// Text returns YYYY-MM-DD HH:MM:SS with digits fraction digits.
func (w WallClock) Text(digits int) string {
	t := w.T
	return Date{t.Year(), int(t.Month()), t.Day()}.String() + t.Format(" 15:04:05") + frac(int64(t.Nanosecond()), digits)
}

// Instant is an instant from io.debezium.time.ZonedTimestamp; Infinity is
// +1 or -1 for PostgreSQL's infinities.
type Instant struct {
	T        time.Time
	Infinity int
}

// Bits is io.debezium.data.Bits: the bits and their count.
type Bits struct {
	Value  uint64
	Length int
}

// Geometry is io.debezium.data.geometry.Geometry or Point.
type Geometry struct {
	WKB  []byte
	SRID *int64
	X, Y *float64
}

func frac(nanos int64, digits int) string {
	if digits <= 0 {
		return ""
	}
	s := fmt.Sprintf("%09d", nanos)
	return "." + s[:digits]
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

// Decode reads a change event value written with schemas=true and
// restores its row images.
func Decode(value []byte) (*Event, error) {
	var msg struct {
		Schema  Schema                     `json:"schema"`
		Payload map[string]json.RawMessage `json:"payload"`
	}
	dec := json.NewDecoder(strings.NewReader(string(value)))
	dec.UseNumber()
	if err := dec.Decode(&msg); err != nil {
		return nil, fmt.Errorf("event: %w", err)
	}
	if msg.Schema.Type != "struct" {
		return nil, errors.New("event without schema (written with schemas=true?)")
	}
	ev := &Event{}
	var rowSchema *Schema
	for i := range msg.Schema.Fields {
		f := &msg.Schema.Fields[i]
		if f.Field == "after" || f.Field == "before" {
			rowSchema = f
		}
	}
	if rowSchema == nil {
		return nil, errors.New("event schema has no before/after")
	}
	ev.Fields = rowSchema.Fields
	if err := json.Unmarshal(msg.Payload["op"], &ev.Op); err != nil {
		return nil, fmt.Errorf("op: %w", err)
	}
	if raw := msg.Payload["source"]; raw != nil {
		if err := json.Unmarshal(raw, &ev.Source); err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
	}
	for _, img := range []struct {
		name string
		dst  *Row
	}{{"before", &ev.Before}, {"after", &ev.After}} {
		raw := msg.Payload[img.name]
		if raw == nil || string(raw) == "null" {
			continue
		}
		row, err := decodeRow(raw, rowSchema)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", img.name, err)
		}
		*img.dst = row
	}
	return ev, nil
}

func decodeRow(raw json.RawMessage, s *Schema) (Row, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	row := Row{}
	for i := range s.Fields {
		f := &s.Fields[i]
		v, ok := fields[f.Field]
		if !ok {
			continue
		}
		val, err := Restore(v, f)
		if err != nil {
			return nil, fmt.Errorf("column %s (%s %s): %w", f.Field, f.Type, f.Name, err)
		}
		row[f.Field] = val
	}
	return row, nil
}

// Restore turns one JSON value of schema s into a Go value.
func Restore(raw json.RawMessage, s *Schema) (any, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	switch s.Name {
	case "org.apache.kafka.connect.data.Decimal":
		b, err := bytesOf(raw)
		if err != nil {
			return nil, err
		}
		scale, err := strconv.Atoi(s.Parameters["scale"])
		if err != nil {
			return nil, fmt.Errorf("decimal scale %q", s.Parameters["scale"])
		}
		return Decimal{twos(b), scale}, nil
	case "io.debezium.data.VariableScaleDecimal":
		var v struct {
			Scale int    `json:"scale"`
			Value []byte `json:"value"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		return Decimal{twos(v.Value), v.Scale}, nil
	case "io.debezium.time.Date", "org.apache.kafka.connect.data.Date":
		days, err := intOf(raw)
		if err != nil {
			return nil, err
		}
		t := time.Unix(days*86400, 0).UTC()
		return Date{t.Year(), int(t.Month()), t.Day()}, nil
	case "io.debezium.time.Time", "org.apache.kafka.connect.data.Time":
		ms, err := intOf(raw)
		return TimeOfDay(time.Duration(ms) * time.Millisecond), err
	case "io.debezium.time.MicroTime":
		us, err := intOf(raw)
		return TimeOfDay(time.Duration(us) * time.Microsecond), err
	case "io.debezium.time.NanoTime":
		ns, err := intOf(raw)
		return TimeOfDay(time.Duration(ns)), err
	case "io.debezium.time.Timestamp", "org.apache.kafka.connect.data.Timestamp":
		ms, err := intOf(raw)
		return WallClock{time.UnixMilli(ms).UTC()}, err
	case "io.debezium.time.MicroTimestamp":
		us, err := intOf(raw)
		return WallClock{time.UnixMicro(us).UTC()}, err
	case "io.debezium.time.NanoTimestamp":
		ns, err := intOf(raw)
		return WallClock{time.Unix(0, ns).UTC()}, err
	case "io.debezium.time.ZonedTimestamp":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		switch s {
		case "infinity":
			return Instant{Infinity: 1}, nil
		case "-infinity":
			return Instant{Infinity: -1}, nil
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			// Years before 0000 or after 9999 (java.time's ISO form).
			t, err = parseExtendedISO(s)
		}
		return Instant{T: t}, err
	case "io.debezium.time.Year":
		return intOf(raw)
	case "io.debezium.data.Bits":
		b, err := bytesOf(raw)
		if err != nil {
			return nil, err
		}
		var buf [8]byte
		copy(buf[:], b)
		n, _ := strconv.Atoi(s.Parameters["length"])
		return Bits{binary.LittleEndian.Uint64(buf[:]), n}, nil
	case "io.debezium.data.geometry.Geometry", "io.debezium.data.geometry.Point", "io.debezium.data.geometry.Geography":
		var g struct {
			WKB  []byte   `json:"wkb"`
			SRID *int64   `json:"srid"`
			X    *float64 `json:"x"`
			Y    *float64 `json:"y"`
		}
		if err := json.Unmarshal(raw, &g); err != nil {
			return nil, err
		}
		return Geometry{g.WKB, g.SRID, g.X, g.Y}, nil
	}
	switch s.Type {
	case "boolean":
		var b bool
		err := json.Unmarshal(raw, &b)
		return b, err
	case "int8", "int16", "int32", "int64":
		return intOf(raw)
	case "float", "double":
		return floatOf(raw)
	case "string":
		var v string
		err := json.Unmarshal(raw, &v)
		return v, err
	case "bytes":
		return bytesOf(raw)
	case "array":
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return nil, err
		}
		out := make([]any, len(elems))
		for i, e := range elems {
			v, err := Restore(e, s.Items)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			out[i] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("type %s %s not known", s.Type, s.Name)
}

func intOf(raw json.RawMessage) (int64, error) {
	return strconv.ParseInt(string(raw), 10, 64)
}

// floatOf reads a number, or the strings Jackson writes for NaN and the
// infinities.
func floatOf(raw json.RawMessage) (float64, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case "NaN", "Infinity", "-Infinity":
			return strconv.ParseFloat(s, 64)
		}
		return 0, fmt.Errorf("float %q", s)
	}
	return strconv.ParseFloat(string(raw), 64)
}

func bytesOf(raw json.RawMessage) ([]byte, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(s)
}

// twos reads big-endian two's-complement bytes (Java's BigInteger(byte[])).
func twos(b []byte) *big.Int {
	v := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return v
}

// parseExtendedISO reads java.time's ISO instants with signed years
// ("-0043-03-15T12:00:00Z", "+10000-01-01T00:00:00Z").
func parseExtendedISO(s string) (time.Time, error) {
	sign := 1
	switch {
	case strings.HasPrefix(s, "-"):
		sign, s = -1, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	dash := strings.IndexByte(s, '-')
	if dash < 4 {
		return time.Time{}, fmt.Errorf("timestamp %q", s)
	}
	year, err := strconv.Atoi(s[:dash])
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, "2000"+s[dash:])
	if err != nil {
		return time.Time{}, err
	}
	return t.AddDate(sign*year-2000, 0, 0), nil
}
