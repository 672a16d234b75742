package postgres

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/sluice-cdc/sluice/change"
)

// class says how the text form of a type becomes a change.Value.
type class uint8

const (
	classOther class = iota // KindOther with the server's text
	classBool
	classInt2
	classInt4
	classInt8
	classOID // unsigned 32-bit: oid, xid, cid, regclass …
	classFloat4
	classFloat8
	classNumeric
	classText
	classBytea
	classJSON
	classUUID
	classDate
	classTime
	classTimeTZ
	classTimestamp
	classTimestampTZ
	classBit
	classEnum
	classArray
)

// pgType is what Sluice knows of one PostgreSQL type.
type pgType struct {
	OID  uint32
	Name string // type name as format_type prints it without modifier
	// Class decides the decoding. For a domain it is the class of the base
	// type (the base's Elem and Labels are copied too).
	Class class
	// Elem is the element type of an array.
	Elem *pgType
	// Delim separates array elements (',' for all but box).
	Delim byte
	// Labels maps enum labels to their 1-based position in sort order.
	Labels map[string]uint64
	// Base is the base type of a domain; values decode as the base type.
	Base *pgType
}

// builtinTypes returns the built-in types Sluice decodes without asking the
// catalog (OIDs are fixed in pg_type.dat). Other types are looked up.
func builtinTypes() map[uint32]*pgType {
	scalars := []struct {
		oid   uint32
		name  string
		class class
	}{
		{16, "boolean", classBool},
		{17, "bytea", classBytea},
		{18, `"char"`, classText},
		{19, "name", classText},
		{20, "bigint", classInt8},
		{21, "smallint", classInt2},
		{23, "integer", classInt4},
		{25, "text", classText},
		{26, "oid", classOID},
		{28, "xid", classOID},
		{29, "cid", classOID},
		{114, "json", classJSON},
		{142, "xml", classText},
		{650, "cidr", classOther},
		{700, "real", classFloat4},
		{701, "double precision", classFloat8},
		{774, "macaddr8", classOther},
		{790, "money", classOther},
		{829, "macaddr", classOther},
		{869, "inet", classOther},
		{1042, "character", classText},
		{1043, "character varying", classText},
		{1082, "date", classDate},
		{1083, "time without time zone", classTime},
		{1114, "timestamp without time zone", classTimestamp},
		{1184, "timestamp with time zone", classTimestampTZ},
		{1186, "interval", classOther},
		{1266, "time with time zone", classTimeTZ},
		{1560, "bit", classBit},
		{1562, "bit varying", classBit},
		{1700, "numeric", classNumeric},
		{2205, "regclass", classOther},
		{2950, "uuid", classUUID},
		{3614, "tsvector", classOther},
		{3802, "jsonb", classJSON},
		{4072, "jsonpath", classOther},
	}
	m := make(map[uint32]*pgType, 2*len(scalars))
	for _, s := range scalars {
		m[s.oid] = &pgType{OID: s.oid, Name: s.name, Class: s.class, Delim: ','}
	}
	arrays := [][2]uint32{
		{1000, 16}, {1001, 17}, {1002, 18}, {1003, 19}, {1016, 20}, {1005, 21}, {1007, 23},
		{1009, 25}, {1028, 26}, {199, 114}, {1021, 700}, {1022, 701}, {1041, 869}, {651, 650},
		{1040, 829}, {1014, 1042}, {1015, 1043}, {1182, 1082}, {1183, 1083}, {1115, 1114},
		{1185, 1184}, {1187, 1186}, {1270, 1266}, {1561, 1560}, {1563, 1562}, {1231, 1700},
		{2951, 2950}, {3807, 3802},
	}
	for _, a := range arrays {
		elem := m[a[1]]
		m[a[0]] = &pgType{OID: a[0], Name: elem.Name + "[]", Class: classArray, Elem: elem, Delim: ','}
	}
	return m
}

// fsp returns the fractional-seconds precision of a time or timestamp column.
func fsp(typmod int32) uint8 {
	if typmod < 0 || typmod > 6 {
		return 6
	}
	return uint8(typmod)
}

// valueError says which text could not be read as which type.
type valueError struct {
	typ  string
	text []byte
	what string
}

func (e *valueError) Error() string {
	t := e.text
	if len(t) > 64 {
		t = append(t[:61:61], "..."...)
	}
	return fmt.Sprintf("%s value %q: %s", e.typ, t, e.what)
}

// other returns the text of a value Sluice has no kind for.
func other(t *pgType, text []byte) change.Value {
	return change.Value{Kind: change.KindOther, B: text, Names: []string{t.Name}}
}

// decodeText turns the text output of type t (typmod mod) into a Value.
// text points into the message and is not copied.
func decodeText(t *pgType, mod int32, text []byte) (change.Value, error) {
	if t.Base != nil {
		return decodeText(t.Base, mod, text)
	}
	bad := func(what string) (change.Value, error) {
		return change.Value{}, &valueError{typ: t.Name, text: text, what: what}
	}
	switch t.Class {
	case classBool, classInt2, classInt4, classInt8, classOID, classFloat4, classFloat8, classNumeric:
		return decodeNumber(t, text)
	case classText:
		return change.String(text), nil
	case classJSON:
		return change.JSON(text), nil
	case classBytea:
		if !bytes.HasPrefix(text, []byte(`\x`)) {
			return bad(`bytea not in hex output format`)
		}
		out := make([]byte, hex.DecodedLen(len(text)-2))
		if _, err := hex.Decode(out, text[2:]); err != nil {
			return bad(err.Error())
		}
		return change.Bytes(out), nil
	case classUUID:
		u, ok := parseUUID(text)
		if !ok {
			return bad("not a uuid")
		}
		return change.Value{Kind: change.KindUUID, B: u}, nil
	case classDate:
		y, mo, d, rest, ok := parseDate(text)
		if !ok {
			if isInfinity(text) {
				return other(t, text), nil
			}
			return bad("not a date")
		}
		if string(rest) == " BC" {
			return other(t, text), nil
		}
		if len(rest) != 0 {
			return bad("trailing text")
		}
		return change.Date(y, mo, d), nil
	case classTime, classTimeTZ:
		return decodeTime(t, mod, text)
	case classTimestamp, classTimestampTZ:
		return decodeTimestamp(t, mod, text)
	case classBit:
		if len(text) > 64 {
			return other(t, text), nil
		}
		var u uint64
		for _, c := range text {
			if c != '0' && c != '1' {
				return bad("not a bit string")
			}
			u = u<<1 | uint64(c-'0')
		}
		return change.Bit(u, uint8(len(text))), nil
	case classEnum:
		i, ok := t.Labels[string(text)]
		if !ok {
			return change.Value{}, errUnknownLabel
		}
		return change.Enum(text, i), nil
	case classArray:
		return decodeArray(t, mod, text)
	}
	return other(t, text), nil
}

// decodeNumber decodes bool and the numeric classes.
func decodeNumber(t *pgType, text []byte) (change.Value, error) {
	bad := func(what string) (change.Value, error) {
		return change.Value{}, &valueError{typ: t.Name, text: text, what: what}
	}
	switch t.Class {
	case classBool:
		switch string(text) {
		case "t":
			return change.Bool(true), nil
		case "f":
			return change.Bool(false), nil
		}
		return bad("not t or f")
	case classInt2, classInt4, classInt8:
		bits := 64
		if t.Class == classInt2 {
			bits = 16
		} else if t.Class == classInt4 {
			bits = 32
		}
		i, err := strconv.ParseInt(string(text), 10, bits)
		if err != nil {
			return bad(err.Error())
		}
		return change.Int(i, uint8(bits)), nil
	case classOID:
		u, err := strconv.ParseUint(string(text), 10, 32)
		if err != nil {
			return bad(err.Error())
		}
		return change.Uint(u, 32), nil
	case classFloat4:
		f, err := strconv.ParseFloat(string(text), 32)
		if err != nil {
			return bad(err.Error())
		}
		return change.Float32(float32(f)), nil
	case classFloat8:
		f, err := strconv.ParseFloat(string(text), 64)
		if err != nil {
			return bad(err.Error())
		}
		return change.Float64(f), nil
	case classNumeric:
		if !validNumeric(text) {
			return bad("not a numeric")
		}
		return change.Decimal(text), nil
	}
	return other(t, text), nil
}

// errUnknownLabel asks the caller to reload an enum's labels.
var errUnknownLabel = fmt.Errorf("postgres: enum label not in the cached label list")

func isInfinity(b []byte) bool {
	return string(b) == "infinity" || string(b) == "-infinity"
}

// validNumeric accepts numeric_out's forms: [-]digits[.digits], NaN, Infinity, -Infinity.
func validNumeric(b []byte) bool {
	switch string(b) {
	case "NaN", "Infinity", "-Infinity":
		return true
	}
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	digits, dot := 0, false
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}

func parseUUID(b []byte) ([]byte, bool) {
	if len(b) != 36 || b[8] != '-' || b[13] != '-' || b[18] != '-' || b[23] != '-' {
		return nil, false
	}
	var h [32]byte
	n := 0
	for i, c := range b {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			continue
		}
		h[n] = c
		n++
	}
	out := make([]byte, 16)
	if _, err := hex.Decode(out, h[:]); err != nil {
		return nil, false
	}
	return out, true
}

// digits reads an unsigned decimal number of at least min digits from the front of b.
func digits(b []byte, min int) (int, []byte, bool) {
	n, i := 0, 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if n > 1e8 {
			return 0, b, false
		}
		n = n*10 + int(b[i]-'0')
	}
	if i < min {
		return 0, b, false
	}
	return n, b[i:], true
}

// parseDate reads an ISO date YYYY-MM-DD (years may have more digits).
func parseDate(b []byte) (y, m, d int, rest []byte, ok bool) {
	if y, b, ok = digits(b, 4); !ok || len(b) == 0 || b[0] != '-' {
		return 0, 0, 0, nil, false
	}
	if m, b, ok = digits(b[1:], 2); !ok || len(b) == 0 || b[0] != '-' {
		return 0, 0, 0, nil, false
	}
	if d, b, ok = digits(b[1:], 2); !ok {
		return 0, 0, 0, nil, false
	}
	return y, m, d, b, true
}

// parseClock reads HH:MM:SS[.ffffff] and returns nanoseconds of the fraction.
func parseClock(b []byte) (h, m, s int, nanos uint32, rest []byte, ok bool) {
	if h, b, ok = digits(b, 2); !ok || len(b) == 0 || b[0] != ':' {
		return 0, 0, 0, 0, nil, false
	}
	if m, b, ok = digits(b[1:], 2); !ok || len(b) == 0 || b[0] != ':' {
		return 0, 0, 0, 0, nil, false
	}
	if s, b, ok = digits(b[1:], 2); !ok {
		return 0, 0, 0, 0, nil, false
	}
	if len(b) > 0 && b[0] == '.' {
		b = b[1:]
		var n uint32
		i := 0
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if i < 9 {
				n = n*10 + uint32(b[i]-'0')
			}
		}
		if i == 0 {
			return 0, 0, 0, 0, nil, false
		}
		for k := i; k < 9; k++ {
			n *= 10
		}
		nanos, b = n, b[i:]
	}
	return h, m, s, nanos, b, true
}

// parseOffset reads a zone offset +HH[:MM[:SS]] and returns seconds east of UTC.
func parseOffset(b []byte) (int32, []byte, bool) {
	if len(b) == 0 || (b[0] != '+' && b[0] != '-') {
		return 0, b, false
	}
	sign := int32(1)
	if b[0] == '-' {
		sign = -1
	}
	h, b, ok := digits(b[1:], 2)
	if !ok {
		return 0, b, false
	}
	off := int32(h) * 3600
	for _, mul := range []int32{60, 1} {
		if len(b) == 0 || b[0] != ':' {
			break
		}
		var v int
		if v, b, ok = digits(b[1:], 2); !ok {
			return 0, b, false
		}
		off += int32(v) * mul
	}
	return sign * off, b, true
}

func decodeTime(t *pgType, mod int32, text []byte) (change.Value, error) {
	h, m, s, ns, rest, ok := parseClock(text)
	if !ok {
		return change.Value{}, &valueError{typ: t.Name, text: text, what: "not a time"}
	}
	v := change.Time(false, h, m, s, ns, fsp(mod))
	if t.Class == classTimeTZ {
		off, r, ok := parseOffset(rest)
		if !ok {
			return change.Value{}, &valueError{typ: t.Name, text: text, what: "no zone offset"}
		}
		v.Off, v.Zoned, rest = off, true, r
	}
	if len(rest) != 0 {
		return change.Value{}, &valueError{typ: t.Name, text: text, what: "trailing text"}
	}
	return v, nil
}

func decodeTimestamp(t *pgType, mod int32, text []byte) (change.Value, error) {
	bad := func(what string) (change.Value, error) {
		return change.Value{}, &valueError{typ: t.Name, text: text, what: what}
	}
	if isInfinity(text) {
		if t.Class == classTimestampTZ {
			v := change.TimestampInfinity(text[0] != '-')
			v.Zoned = true
			return v, nil
		}
		return other(t, text), nil
	}
	y, mo, d, rest, ok := parseDate(text)
	if !ok || len(rest) == 0 || rest[0] != ' ' {
		return bad("not a timestamp")
	}
	h, mi, s, ns, rest, ok := parseClock(rest[1:])
	if !ok {
		return bad("not a timestamp")
	}
	if t.Class == classTimestamp {
		if string(rest) == " BC" {
			return other(t, text), nil
		}
		if len(rest) != 0 {
			return bad("trailing text")
		}
		return change.DateTime(y, mo, d, h, mi, s, ns, fsp(mod)), nil
	}
	off, rest, ok := parseOffset(rest)
	if !ok {
		return bad("no zone offset")
	}
	switch string(rest) {
	case "":
	case " BC":
		y = 1 - y // astronomical year numbering
	default:
		return bad("trailing text")
	}
	unix := time.Date(y, time.Month(mo), d, h, mi, s, 0, time.UTC).Unix() - int64(off)
	if unix == math.MaxInt64 || unix == math.MinInt64 {
		return bad("out of range")
	}
	v := change.Timestamp(unix, ns, fsp(mod))
	v.Off, v.Zoned = off, true
	return v, nil
}

// decodeArray reads array_out's text form: {a,"b c",NULL,{nested}}. Arrays
// with explicit bounds ("[0:2]={…}") keep the text as KindOther, since the
// lower bound has no place in KindArray.
func decodeArray(t *pgType, mod int32, text []byte) (change.Value, error) {
	if len(text) > 0 && text[0] == '[' {
		return other(t, text), nil
	}
	p := arrayParser{t: t, mod: mod, text: text}
	v, err := p.parse()
	if err == nil && p.pos != len(text) {
		err = fmt.Errorf("trailing text at byte %d", p.pos)
	}
	if err != nil {
		return change.Value{}, &valueError{typ: t.Name, text: text, what: err.Error()}
	}
	return v, nil
}

type arrayParser struct {
	t    *pgType
	mod  int32
	text []byte
	pos  int
}

func (p *arrayParser) parse() (change.Value, error) {
	if p.pos >= len(p.text) || p.text[p.pos] != '{' {
		return change.Value{}, fmt.Errorf("expected '{' at byte %d", p.pos)
	}
	p.pos++
	v := change.Value{Kind: change.KindArray, Elems: []change.Value{}}
	if p.pos < len(p.text) && p.text[p.pos] == '}' {
		p.pos++
		return v, nil
	}
	delim := p.t.Delim
	for {
		if p.pos >= len(p.text) {
			return change.Value{}, fmt.Errorf("unterminated array")
		}
		var e change.Value
		var err error
		switch p.text[p.pos] {
		case '{':
			e, err = p.parse()
		case '"':
			e, err = p.quoted()
		default:
			e, err = p.unquoted(delim)
		}
		if err != nil {
			return change.Value{}, err
		}
		v.Elems = append(v.Elems, e)
		if p.pos >= len(p.text) {
			return change.Value{}, fmt.Errorf("unterminated array")
		}
		switch c := p.text[p.pos]; c {
		case delim:
			p.pos++
		case '}':
			p.pos++
			return v, nil
		default:
			return change.Value{}, fmt.Errorf("unexpected %q at byte %d", c, p.pos)
		}
	}
}

func (p *arrayParser) quoted() (change.Value, error) {
	p.pos++ // opening quote
	var buf []byte
	for p.pos < len(p.text) {
		c := p.text[p.pos]
		switch c {
		case '\\':
			if p.pos+1 >= len(p.text) {
				return change.Value{}, fmt.Errorf("dangling backslash")
			}
			buf = append(buf, p.text[p.pos+1])
			p.pos += 2
		case '"':
			p.pos++
			if buf == nil {
				buf = []byte{}
			}
			return p.elem(buf)
		default:
			buf = append(buf, c)
			p.pos++
		}
	}
	return change.Value{}, fmt.Errorf("unterminated quoted element")
}

func (p *arrayParser) unquoted(delim byte) (change.Value, error) {
	start := p.pos
	for p.pos < len(p.text) && p.text[p.pos] != delim && p.text[p.pos] != '}' {
		p.pos++
	}
	s := p.text[start:p.pos:p.pos]
	if string(s) == "NULL" {
		return change.Null(), nil
	}
	return p.elem(s)
}

func (p *arrayParser) elem(s []byte) (change.Value, error) {
	v, err := decodeText(p.t.Elem, p.mod, s)
	if err != nil {
		return change.Value{}, fmt.Errorf("element: %w", err)
	}
	return v, nil
}
