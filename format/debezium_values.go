package format

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/change"
)

// dzTable is what the Debezium encoder worked out about one table: the
// plan of each column and, with schemas on, the key and value schemas.
type dzTable struct {
	cols    []change.Column // a copy of the Columns the plans were made for
	fields  []dzField
	keyCols []int
	conn    string // connector of the changes the schemas were made for
	// valueSchema and keySchema are the schemas' JSON, built when first
	// needed (nil: not built or out of date).
	valueSchema, keySchema []byte
	schemaOK               bool
}

// dzField is the plan of one column: the Kind its values are written as
// and the Kafka Connect type that gives.
type dzField struct {
	name     string
	key      []byte // `"name":`
	typ      string // the source's type text
	nullable bool
	isKey    bool
	// kind is the kind the field is planned for; KindAbsent until a value
	// or the type text tells (the field is then a string).
	kind  change.Kind
	size  uint8
	zoned bool
	// other is the source type of a KindOther field ("interval", "point",
	// "money", "date", "timestamp without time zone", …).
	other string
	// scale is a decimal's fixed scale; varScale is set when the type
	// gives none (PostgreSQL numeric).
	scale    int
	varScale bool
	// point marks a MySQL POINT column (Debezium's Point struct).
	point bool
	// elem is the plan of an array's elements.
	elem *dzField
}

// table returns the encoder's plan for c's table, made or brought up to
// date for c.
func (e *debeziumEncoder) table(c *change.Change) (*dzTable, error) {
	k := tableKey{c.Database, c.Table}
	t := e.tables[k]
	n := max(len(c.Columns), len(c.Before), len(c.After))
	if t == nil || !sameColumns(t.cols, c.Columns) || len(t.fields) != n {
		if t == nil {
			if len(e.tables) >= maxTables {
				clear(e.tables) // a source with ever new tables: start over
			}
			t = &dzTable{}
			e.tables[k] = t
		}
		e.plan(t, c, n)
	}
	for i := range t.fields {
		f := &t.fields[i]
		if f.kind != change.KindAbsent && (f.kind != change.KindArray || f.elem != nil) {
			continue
		}
		if v := realValueAt(c, i); v != nil {
			planField(f, v)
			t.schemaOK = false
		}
	}
	if conn := connector(c); conn != t.conn {
		t.conn, t.schemaOK = conn, false
	}
	if e.opt.schemas && !t.schemaOK {
		e.buildSchemas(t, c)
	}
	return t, nil
}

// maxTables bounds the encoder's table cache.
const maxTables = 4096

func sameColumns(a, b []change.Column) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// realValueAt returns column i's value in the after image, else the
// before image, when it has a kind of its own (not NULL, absent or
// unchanged).
func realValueAt(c *change.Change, i int) *change.Value {
	for _, img := range [2][]change.Value{c.After, c.Before} {
		if i < len(img) {
			switch img[i].Kind {
			case change.KindAbsent, change.KindNull, change.KindUnchanged:
			default:
				return &img[i]
			}
		}
	}
	return nil
}

// plan makes t's column plans for c's columns.
func (e *debeziumEncoder) plan(t *dzTable, c *change.Change, n int) {
	t.cols = append(t.cols[:0], c.Columns...)
	t.fields = t.fields[:0]
	t.keyCols = t.keyCols[:0]
	t.schemaOK = false
	for i := 0; i < n; i++ {
		var col change.Column
		if i < len(c.Columns) {
			col = c.Columns[i]
		}
		name := col.Name
		if name == "" {
			name = "@" + strconv.Itoa(i+1)
		}
		f := dzField{name: name, typ: col.Type, nullable: col.Nullable || col.Name == "", isKey: col.Key}
		f.key, _ = appendStr(nil, name)
		f.key = append(f.key, ':')
		if v := realValueAt(c, i); v != nil {
			planField(&f, v)
		} else {
			planType(&f)
		}
		t.fields = append(t.fields, f)
		if col.Key {
			t.keyCols = append(t.keyCols, i)
		}
	}
}

// planType plans f from its type text alone.
func planType(f *dzField) {
	k, size := kindOfType(f.typ)
	f.kind, f.size, f.zoned = k, size, zonedType(f.typ)
	f.finish()
}

// planField plans f for values like v.
func planField(f *dzField, v *change.Value) {
	if v.Kind == change.KindOther {
		// Text of a type Sluice has no kind for; some are a known type's
		// special values (a PostgreSQL date's infinity, a BC timestamp).
		f.other = strings.ToLower(names0(v))
		if k, size := kindOfType(f.typ); k != change.KindAbsent && k != change.KindArray {
			f.kind, f.size, f.zoned = k, size, zonedType(f.typ)
		} else {
			f.kind = change.KindOther
		}
		f.finish()
		return
	}
	f.kind, f.size, f.zoned = v.Kind, v.Size, v.Zoned
	if v.Kind == change.KindArray {
		f.elem = nil
		for i := range v.Elems {
			ev := &v.Elems[i]
			if ev.Kind == change.KindNull || ev.Kind == change.KindAbsent || ev.Kind == change.KindUnchanged {
				continue
			}
			el := &dzField{typ: strings.TrimSuffix(f.typ, "[]")}
			planField(el, ev) // a multidimensional array's elements are arrays
			f.elem = el
			break
		}
	}
	f.finish()
}

// finish works out what the plan's kind needs from the type text.
func (f *dzField) finish() {
	switch f.kind {
	case change.KindDecimal:
		_, s, n := typeArgs(f.typ)
		f.scale, f.varScale = s, n < 2
		if n == 1 { // decimal(10): scale 0
			f.varScale = false
		}
	case change.KindGeometry:
		f.point = typeName(f.typ) == "point"
	case change.KindAbsent:
		if f.other == "" {
			f.other = typeName(f.typ)
		}
	}
}

// names0 is v.Names[0], or "".
func names0(v *change.Value) string {
	if len(v.Names) > 0 {
		return v.Names[0]
	}
	return ""
}

// appendKey appends the key message: the key columns' values, from the
// after image, else the before image.
func (e *debeziumEncoder) appendKey(dst []byte, t *dzTable, c *change.Change) ([]byte, error) {
	return e.appendKeyOf(dst, t, c.After, c.Before)
}

// keyChanged reports whether an update changes the row's key: some key
// column has a value in both images, and they differ.
func keyChanged(t *dzTable, c *change.Change) bool {
	for _, i := range t.keyCols {
		if i >= len(c.Before) || i >= len(c.After) {
			continue
		}
		b, a := &c.Before[i], &c.After[i]
		if !b.Present() || !a.Present() || b.Kind == change.KindUnchanged || a.Kind == change.KindUnchanged {
			continue
		}
		if !change.Equal(*b, *a) {
			return true
		}
	}
	return false
}

// appendKeyOf appends the key message with each key column's value from
// img, else from alt.
func (e *debeziumEncoder) appendKeyOf(dst []byte, t *dzTable, img, alt []change.Value) ([]byte, error) {
	if e.opt.schemas {
		dst = append(dst, `{"schema":`...)
		dst = append(dst, t.keySchema...)
		dst = append(dst, `,"payload":`...)
	}
	dst = append(dst, '{')
	var err error
	for n, i := range t.keyCols {
		var v *change.Value
		if i < len(img) && img[i].Present() && img[i].Kind != change.KindUnchanged {
			v = &img[i]
		} else if i < len(alt) {
			v = &alt[i]
		} else {
			v = &change.Value{Kind: change.KindNull}
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		f := &t.fields[i]
		dst = append(dst, f.key...)
		if dst, err = e.appendValue(dst, f, v); err != nil {
			return nil, err
		}
	}
	dst = append(dst, '}')
	if e.opt.schemas {
		dst = append(dst, '}')
	}
	return dst, nil
}

// appendRow appends a row image as a JSON object, null for none. Absent
// columns are left out.
func (e *debeziumEncoder) appendRow(dst []byte, t *dzTable, c *change.Change, img []change.Value) ([]byte, error) {
	if img == nil {
		return append(dst, "null"...), nil
	}
	dst = append(dst, '{')
	sep := false
	var err error
	for i := range img {
		v := &img[i]
		if v.Kind == change.KindAbsent {
			continue
		}
		if sep {
			dst = append(dst, ',')
		}
		sep = true
		f := &t.fields[i]
		dst = append(dst, f.key...)
		if dst, err = e.appendValue(dst, f, v); err != nil {
			return nil, err
		}
	}
	return append(dst, '}'), nil
}

// inexact reports a value f's Debezium form cannot carry exactly: an
// error with strict=true, else nil (the caller writes the documented
// form).
func (e *debeziumEncoder) inexact(f *dzField, v *change.Value, why string) error {
	if !e.opt.strict {
		return nil
	}
	return fmt.Errorf("column %s (%s): value %s: %s (strict=true refuses it)", f.name, f.typ, change.AppendText(nil, *v), why)
}

// appendValue appends v, a value of f's column, in Debezium's form.
func (e *debeziumEncoder) appendValue(dst []byte, f *dzField, v *change.Value) ([]byte, error) {
	switch v.Kind {
	case change.KindNull, change.KindAbsent:
		return append(dst, "null"...), nil
	case change.KindUnchanged:
		return e.appendPlaceholder(dst, f, v)
	case change.KindBool:
		if v.I != 0 {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case change.KindInt:
		return appendInt(dst, v.I), nil
	case change.KindUint:
		if e.opt.bigintUnsigned == "precise" && (v.Size == 64 || f.size == 64) {
			d := &e.dec
			d.neg, d.scale, d.special = false, 0, ""
			d.digits = strconv.AppendUint(d.digits[:0], v.U, 10)
			if v.U == 0 {
				d.digits = d.digits[:0]
			}
			return appendBase64(dst, e.twos.unscaledBytes(d, 0), base64.StdEncoding), nil
		}
		if v.U > math.MaxInt64 {
			if err := e.inexact(f, v, "above the INT64 range: written as the two's-complement negative number Debezium's bigint.unsigned.handling.mode=long gives"); err != nil {
				return nil, err
			}
		}
		if f.size == 64 || v.Size == 64 {
			return appendInt(dst, int64(v.U)), nil
		}
		return appendUint(dst, v.U), nil
	case change.KindFloat:
		return appendFloatJSON(dst, v.F, floatBits(v.Size)), nil
	case change.KindDecimal:
		return e.appendDecimal(dst, f, v, v.B)
	case change.KindString, change.KindEnum, change.KindSet:
		out, ok := appendStr(dst, v.B)
		if !ok {
			if err := e.inexact(f, v, "not UTF-8: the bytes that are not are written as U+FFFD"); err != nil {
				return nil, err
			}
		}
		return out, nil
	case change.KindJSON:
		out, ok := appendStr(dst, v.B)
		if !ok {
			if err := e.inexact(f, v, "not UTF-8"); err != nil {
				return nil, err
			}
		}
		return out, nil
	case change.KindBytes:
		return e.appendBinary(dst, v.B), nil
	case change.KindDate:
		days, ok := dateDays(v)
		if !ok {
			if err := e.inexact(f, v, "a zero or invalid date has no day count: written as null, as Debezium does"); err != nil {
				return nil, err
			}
			return append(dst, "null"...), nil
		}
		return appendInt(dst, days), nil
	case change.KindTime:
		return e.appendTime(dst, f, v)
	case change.KindDateTime:
		secs, ok := dateTimeSecs(v)
		if !ok {
			if err := e.inexact(f, v, "a zero or invalid date has no instant: written as null, as Debezium does"); err != nil {
				return nil, err
			}
			return append(dst, "null"...), nil
		}
		return e.appendWallClock(dst, f, v, secs, v.U)
	case change.KindTimestamp:
		switch {
		case timestampInfinity(v) > 0:
			return append(dst, `"infinity"`...), nil
		case timestampInfinity(v) < 0:
			return append(dst, `"-infinity"`...), nil
		case mysqlZeroTimestamp(v):
			if err := e.inexact(f, v, "MySQL's zero TIMESTAMP has no instant: written as null, as Debezium does"); err != nil {
				return nil, err
			}
			return append(dst, "null"...), nil
		}
		dst = append(dst, '"')
		dst = appendInstantISO(dst, v.I, v.U, fracDigits(v.U, v.Size))
		return append(dst, '"'), nil
	case change.KindYear:
		return appendInt(dst, v.I), nil
	case change.KindBit:
		if v.Size <= 1 && (f.size <= 1) {
			if v.U != 0 {
				return append(dst, "true"...), nil
			}
			return append(dst, "false"...), nil
		}
		return appendBits(dst, v.U, int(max(v.Size, f.size))), nil
	case change.KindGeometry:
		return e.appendGeometry(dst, f, v), nil
	case change.KindVector:
		return appendVector(dst, v.B), nil
	case change.KindUUID:
		dst = append(dst, '"')
		dst = change.AppendText(dst, *v)
		return append(dst, '"'), nil
	case change.KindArray:
		el := f.elem
		if el == nil {
			el = &dzField{name: f.name, typ: strings.TrimSuffix(f.typ, "[]")}
		}
		dst = append(dst, '[')
		var err error
		for i := range v.Elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = e.appendValue(dst, el, &v.Elems[i]); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case change.KindOther:
		return e.appendOther(dst, f, v)
	case change.KindDocument, change.KindObjectID, change.KindBSONTimestamp, change.KindRegex:
		e.tmp = appendExtJSON(e.tmp[:0], v)
		return appendString(dst, e.tmp), nil
	}
	if err := e.inexact(f, v, "a kind Debezium has no form for: written as its text"); err != nil {
		return nil, err
	}
	return appendString(dst, change.AppendText(e.tmp[:0], *v)), nil
}

// appendPlaceholder writes the unavailable.value.placeholder for a value
// the source did not send (PostgreSQL unchanged TOAST), as Debezium does:
// the placeholder text for text, its bytes for binary, a one-element
// array for arrays of text; null (inexact) for other types.
func (e *debeziumEncoder) appendPlaceholder(dst []byte, f *dzField, v *change.Value) ([]byte, error) {
	switch f.kind {
	case change.KindBytes:
		return e.appendBinary(dst, []byte(e.opt.placeholder)), nil
	case change.KindArray:
		if f.elem == nil || f.elem.kind == change.KindString || f.elem.kind == change.KindAbsent {
			dst = append(dst, '[')
			dst = appendString(dst, e.opt.placeholder)
			return append(dst, ']'), nil
		}
	case change.KindString, change.KindJSON, change.KindEnum, change.KindSet, change.KindAbsent, change.KindOther:
		return appendString(dst, e.opt.placeholder), nil
	}
	if err := e.inexact(f, v, "a value the source did not send (unchanged TOAST) in a column whose type has no placeholder: written as null"); err != nil {
		return nil, err
	}
	return append(dst, "null"...), nil
}

// appendBinary writes bytes per binary.handling.mode.
func (e *debeziumEncoder) appendBinary(dst, b []byte) []byte {
	switch e.opt.binary {
	case "base64-url-safe":
		return appendBase64(dst, b, base64.URLEncoding)
	case "hex":
		dst = append(dst, '"')
		dst = appendHexBytes(dst, b)
		return append(dst, '"')
	}
	// bytes (the JSON converter writes BYTES as base64) and base64.
	return appendBase64(dst, b, base64.StdEncoding)
}

// appendDecimal writes decimal text per decimal.handling.mode.
func (e *debeziumEncoder) appendDecimal(dst []byte, f *dzField, v *change.Value, text []byte) ([]byte, error) {
	if !parseDecimal(&e.dec, text) {
		if err := e.inexact(f, v, "not a decimal number: written as a string"); err != nil {
			return nil, err
		}
		return appendString(dst, text), nil
	}
	d := &e.dec
	switch e.opt.decimal {
	case "string":
		if d.special != "" {
			return appendQuoted(dst, d.special), nil
		}
		return appendString(dst, text), nil
	case "double":
		if d.special != "" {
			return appendQuoted(dst, d.special), nil
		}
		fl, err := strconv.ParseFloat(string(text), 64)
		if err != nil {
			if err := e.inexact(f, v, "outside the double range"); err != nil {
				return nil, err
			}
		}
		if !decimalIsFloat(d, fl, e) {
			if err := e.inexact(f, v, "decimal.handling.mode=double rounds it to the nearest double"); err != nil {
				return nil, err
			}
		}
		return appendFloatJSON(dst, fl, 64), nil
	}
	// precise
	if d.special != "" {
		if err := e.inexact(f, v, "decimal.handling.mode=precise has no NaN or infinity: written as null, as Debezium does"); err != nil {
			return nil, err
		}
		return append(dst, "null"...), nil
	}
	if f.varScale || f.kind != change.KindDecimal {
		scale := max(d.scale, 0)
		dst = append(dst, `{"scale":`...)
		dst = appendInt(dst, int64(scale))
		dst = append(dst, `,"value":`...)
		dst = appendBase64(dst, e.twos.unscaledBytes(d, scale-d.scale), base64.StdEncoding)
		return append(dst, '}'), nil
	}
	if d.scale > f.scale {
		// More fraction digits than the column's scale: only zeros may go.
		if err := e.inexact(f, v, fmt.Sprintf("more fraction digits than the column's scale %d", f.scale)); err != nil {
			return nil, err
		}
		return appendString(dst, text), nil
	}
	return appendBase64(dst, e.twos.unscaledBytes(d, f.scale-d.scale), base64.StdEncoding), nil
}

// decimalIsFloat reports whether the decimal d is exactly the double fl.
func decimalIsFloat(d *decimal, fl float64, e *debeziumEncoder) bool {
	if math.IsInf(fl, 0) || math.IsNaN(fl) {
		return false
	}
	// fl is exact when its shortest decimal form, read as a decimal, has
	// the same digits and scale once trailing zeros are dropped.
	e.tmp = strconv.AppendFloat(e.tmp[:0], fl, 'e', -1, 64)
	var g decimal
	if !parseDecimal(&g, e.tmp) {
		return false
	}
	return sameDecimal(d, &g)
}

// sameDecimal compares two parsed decimals by value.
func sameDecimal(a, b *decimal) bool {
	ad, as := trimZeros(a.digits, a.scale)
	bd, bs := trimZeros(b.digits, b.scale)
	if len(ad) == 0 && len(bd) == 0 {
		return true
	}
	return a.neg == b.neg && string(ad) == string(bd) && as == bs
}

func trimZeros(d []byte, scale int) ([]byte, int) {
	for len(d) > 0 && d[len(d)-1] == '0' {
		d = d[:len(d)-1]
		scale--
	}
	return d, scale
}

// timeMode returns the time.precision.mode in force for c's connector:
// the option, or Debezium's default (adaptive_time_microseconds for MySQL,
// adaptive for PostgreSQL).
func (e *debeziumEncoder) timeMode() string {
	if e.opt.timePrecision != "" {
		return e.opt.timePrecision
	}
	if isPostgres(e.c) {
		return "adaptive"
	}
	return "adaptive_time_microseconds"
}

// timeIsMillis reports whether f's TIME values are written in
// milliseconds (io.debezium.time.Time, Kafka Connect Time).
func (e *debeziumEncoder) timeIsMillis(f *dzField) bool {
	switch e.timeMode() {
	case "connect":
		return true
	case "adaptive":
		return f.size <= 3
	}
	return false
}

// wallIsMillis reports whether f's DATETIME values are written in
// milliseconds (io.debezium.time.Timestamp, Kafka Connect Timestamp).
func (e *debeziumEncoder) wallIsMillis(f *dzField) bool {
	return e.timeMode() == "connect" || f.size <= 3
}

// appendTime writes a TIME: zoned ones as io.debezium.time.ZonedTime in
// UTC, others in micro- or milliseconds.
func (e *debeziumEncoder) appendTime(dst []byte, f *dzField, v *change.Value) ([]byte, error) {
	if v.Zoned || v.Off != 0 {
		if v.Off != 0 {
			if err := e.inexact(f, v, "io.debezium.time.ZonedTime is in UTC: the offset is not kept"); err != nil {
				return nil, err
			}
		}
		n := timeNanos(v) - int64(v.Off)*1e9
		day := int64(86400e9)
		n = ((n % day) + day) % day
		dst = append(dst, '"')
		dst = appendClock(dst, n/1e9)
		dst = appendFrac(dst, uint64(n%1e9), fracDigits(uint64(n%1e9), v.Size))
		return append(dst, 'Z', '"'), nil
	}
	n := timeNanos(v)
	if e.timeIsMillis(f) {
		if n%1e6 != 0 {
			if err := e.inexact(f, v, "milliseconds drop its finer digits"); err != nil {
				return nil, err
			}
		}
		ms := floorDiv(n, 1e6)
		if ms > math.MaxInt32 || ms < math.MinInt32 {
			if err := e.inexact(f, v, "outside the INT32 milliseconds of io.debezium.time.Time"); err != nil {
				return nil, err
			}
		}
		return appendInt(dst, ms), nil
	}
	if n%1e3 != 0 {
		if err := e.inexact(f, v, "microseconds drop its nanoseconds"); err != nil {
			return nil, err
		}
	}
	return appendInt(dst, floorDiv(n, 1e3)), nil
}

// appendWallClock writes a date and time without zone, read as UTC, as
// milliseconds or microseconds since the epoch.
func (e *debeziumEncoder) appendWallClock(dst []byte, f *dzField, v *change.Value, secs int64, nanos uint64) ([]byte, error) {
	if e.wallIsMillis(f) {
		if nanos%1e6 != 0 {
			if err := e.inexact(f, v, "milliseconds drop its finer digits"); err != nil {
				return nil, err
			}
		}
		return appendInt(dst, secs*1000+int64(nanos/1e6)), nil
	}
	if nanos%1e3 != 0 {
		if err := e.inexact(f, v, "microseconds drop its nanoseconds"); err != nil {
			return nil, err
		}
	}
	return appendInt(dst, secs*1e6+int64(nanos/1e3)), nil
}

// appendBits writes a BIT(n) value as io.debezium.data.Bits: the bits in
// little-endian bytes, ceil(n/8) of them, base64.
func appendBits(dst []byte, u uint64, width int) []byte {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], u)
	n := (width + 7) / 8
	return appendBase64(dst, b[:max(n, 1)], base64.StdEncoding)
}

// appendGeometry writes a spatial value as io.debezium.data.geometry
// Geometry {wkb, srid}, or Point {x, y, wkb, srid} for a MySQL POINT.
func (e *debeziumEncoder) appendGeometry(dst []byte, f *dzField, v *change.Value) []byte {
	dst = append(dst, '{')
	if f.point {
		if x, y, ok := wkbPoint(v.B); ok {
			dst = append(dst, `"x":`...)
			dst = appendFloatJSON(dst, x, 64)
			dst = append(dst, `,"y":`...)
			dst = appendFloatJSON(dst, y, 64)
			dst = append(dst, ',')
		}
	}
	dst = append(dst, `"wkb":`...)
	dst = appendBase64(dst, v.B, base64.StdEncoding)
	dst = append(dst, `,"srid":`...)
	dst = appendUint(dst, v.U)
	return append(dst, '}')
}

// wkbPoint reads the coordinates of a WKB point.
func wkbPoint(b []byte) (x, y float64, ok bool) {
	if len(b) < 21 {
		return 0, 0, false
	}
	var order binary.ByteOrder = binary.LittleEndian
	if b[0] == 0 {
		order = binary.BigEndian
	}
	if order.Uint32(b[1:5]) != 1 {
		return 0, 0, false
	}
	return math.Float64frombits(order.Uint64(b[5:13])), math.Float64frombits(order.Uint64(b[13:21])), true
}

// appendVector writes a VECTOR as an array of float32 numbers.
func appendVector(dst, le []byte) []byte {
	dst = append(dst, '[')
	for i := 0; i+4 <= len(le); i += 4 {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendFloatJSON(dst, float64(math.Float32frombits(binary.LittleEndian.Uint32(le[i:]))), 32)
	}
	return append(dst, ']')
}

// appendOther writes a value of a type Sluice has no kind for: the
// special values of a known type, PostgreSQL intervals, points and money
// in Debezium's forms, anything else as its text.
func (e *debeziumEncoder) appendOther(dst []byte, f *dzField, v *change.Value) ([]byte, error) {
	typ := strings.ToLower(names0(v))
	if typ == "" {
		typ = f.other
	}
	text := v.B
	switch {
	case typ == "interval":
		return e.appendInterval(dst, f, v)
	case typ == "point":
		x, y, ok := parsePGPoint(text)
		if !ok {
			break
		}
		var wkb [21]byte
		wkb[0] = 1
		binary.LittleEndian.PutUint32(wkb[1:], 1)
		binary.LittleEndian.PutUint64(wkb[5:], math.Float64bits(x))
		binary.LittleEndian.PutUint64(wkb[13:], math.Float64bits(y))
		dst = append(dst, `{"x":`...)
		dst = appendFloatJSON(dst, x, 64)
		dst = append(dst, `,"y":`...)
		dst = appendFloatJSON(dst, y, 64)
		dst = append(dst, `,"wkb":`...)
		dst = appendBase64(dst, wkb[:], base64.StdEncoding)
		return append(dst, `,"srid":null}`...), nil
	case typ == "money":
		digits := e.tmp[:0]
		for _, c := range text {
			if c >= '0' && c <= '9' || c == '.' || c == '-' {
				digits = append(digits, c)
			}
		}
		if len(text) > 0 && text[0] == '(' { // accounting style negative
			digits = append([]byte{'-'}, digits...)
		}
		e.tmp = digits
		mf := *f
		mf.kind, mf.scale, mf.varScale = change.KindDecimal, 2, false
		return e.appendDecimal(dst, &mf, v, digits)
	case f.kind == change.KindDate:
		if days, ok := parseBCDate(text); ok {
			return appendInt(dst, days), nil
		}
		if err := e.inexact(f, v, "io.debezium.time.Date has no infinity: written as null"); err != nil {
			return nil, err
		}
		return append(dst, "null"...), nil
	case f.kind == change.KindDateTime:
		switch string(text) {
		case "infinity":
			return append(dst, "9223372036825200000"...), nil
		case "-infinity":
			return append(dst, "-9223372036832400000"...), nil
		}
		if secs, nanos, ok := parseBCDateTime(text); ok {
			return e.appendWallClock(dst, f, v, secs, nanos)
		}
	}
	out, ok := appendStr(dst, text)
	if !ok {
		if err := e.inexact(f, v, "not UTF-8"); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// appendInterval writes a PostgreSQL interval: as microseconds
// (io.debezium.time.MicroDuration, a month counted as 30.4375 days, so
// inexact when it has months or years) or, with interval.handling.mode=
// string, as ISO 8601 (io.debezium.time.Interval, exact).
func (e *debeziumEncoder) appendInterval(dst []byte, f *dzField, v *change.Value) ([]byte, error) {
	iv, ok := parseInterval(v.B)
	if !ok {
		if err := e.inexact(f, v, "an interval in a style other than IntervalStyle=postgres: written as its text"); err != nil {
			return nil, err
		}
		return appendString(dst, v.B), nil
	}
	if e.opt.interval == "string" {
		dst = append(dst, '"')
		dst = iv.appendISO(dst)
		return append(dst, '"'), nil
	}
	if iv.months != 0 {
		if err := e.inexact(f, v, "io.debezium.time.MicroDuration counts a month as 30.4375 days"); err != nil {
			return nil, err
		}
	}
	// Debezium: years*365.25 days, months*(365.25/12) days.
	micros := float64(iv.months)*(365.25/12)*86400e6 + float64(iv.days)*86400e6 + float64(iv.micros)
	if iv.months == 0 {
		return appendInt(dst, iv.days*86400e6+iv.micros), nil
	}
	return appendInt(dst, int64(math.Round(micros))), nil
}

// parsePGPoint reads PostgreSQL's point text "(x,y)".
func parsePGPoint(b []byte) (x, y float64, ok bool) {
	s := strings.TrimSpace(string(b))
	if len(s) < 5 || s[0] != '(' || s[len(s)-1] != ')' {
		return 0, 0, false
	}
	xs, ys, found := strings.Cut(s[1:len(s)-1], ",")
	if !found {
		return 0, 0, false
	}
	var err1, err2 error
	x, err1 = strconv.ParseFloat(strings.TrimSpace(xs), 64)
	y, err2 = strconv.ParseFloat(strings.TrimSpace(ys), 64)
	return x, y, err1 == nil && err2 == nil
}

// parseBCDate reads PostgreSQL's "YYYY-MM-DD BC" into days since the
// epoch (year 1 BC is year 0).
func parseBCDate(b []byte) (int64, bool) {
	s := string(b)
	date, ok := strings.CutSuffix(s, " BC")
	if !ok {
		return 0, false
	}
	y, m, d, ok := parseYMD(date)
	if !ok {
		return 0, false
	}
	return daysFromCivil(1-y, m, d), true
}

// parseBCDateTime reads "YYYY-MM-DD HH:MM:SS[.ffffff] BC" into seconds
// since the epoch (as UTC) and nanoseconds.
func parseBCDateTime(b []byte) (secs int64, nanos uint64, ok bool) {
	s, bc := strings.CutSuffix(string(b), " BC")
	if !bc {
		return 0, 0, false
	}
	date, clock, found := strings.Cut(s, " ")
	if !found {
		return 0, 0, false
	}
	y, m, d, ok := parseYMD(date)
	if !ok || len(clock) < 8 || clock[2] != ':' || clock[5] != ':' {
		return 0, 0, false
	}
	h, err1 := strconv.Atoi(clock[0:2])
	mi, err2 := strconv.Atoi(clock[3:5])
	sec, err3 := strconv.Atoi(clock[6:8])
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, false
	}
	if frac := clock[8:]; frac != "" {
		if frac[0] != '.' || len(frac) > 10 {
			return 0, 0, false
		}
		f, err := strconv.ParseUint(frac[1:], 10, 64)
		if err != nil {
			return 0, 0, false
		}
		nanos = f * pow10[9-(len(frac)-1)]
	}
	return daysFromCivil(1-y, m, d)*86400 + int64(h*3600+mi*60+sec), nanos, true
}

func parseYMD(s string) (y, m, d int64, ok bool) {
	parts := strings.SplitN(s, "-", 3)
	if len(parts) != 3 {
		return 0, 0, 0, false
	}
	var err [3]error
	y, err[0] = strconv.ParseInt(parts[0], 10, 64)
	m, err[1] = strconv.ParseInt(parts[1], 10, 64)
	d, err[2] = strconv.ParseInt(parts[2], 10, 64)
	return y, m, d, err[0] == nil && err[1] == nil && err[2] == nil
}
