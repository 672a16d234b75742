package mysql

import (
	"bytes"
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"github.com/sluice-cdc/sluice/change"
)

// textKind is how a snapshot decodes the text protocol's bytes of one
// column into the Value the binlog gives the same column.
type textKind uint8

const (
	tkInt textKind = iota + 1
	tkUint
	tkFloat
	tkDouble
	tkDecimal
	tkDate
	tkTime
	tkDateTime
	tkTimestamp
	tkYear
	tkBit
	tkBytes
	tkString
	tkEnum
	tkSet
	tkJSON
	tkGeometry
	tkUUID
	tkVector
)

// snapColumn is a column of a table being snapshotted.
type snapColumn struct {
	name      string
	dataType  string // information_schema DATA_TYPE, lower case
	colType   string // COLUMN_TYPE, lower case
	charset   string // CHARACTER_SET_NAME ("" for non-text)
	collation string
	kind      textKind
	size      uint8    // integer and BIT width in bits, temporal fsp
	members   [][]byte // ENUM and SET members
}

// kindOf sets c.kind and c.size from its information_schema description
// (fsp: DATETIME_PRECISION; bits: NUMERIC_PRECISION of a BIT).
func (c *snapColumn) setKind(fsp, bits int) error {
	unsigned := strings.Contains(c.colType, "unsigned")
	intKind := func(size uint8) {
		c.kind, c.size = tkInt, size
		if unsigned {
			c.kind = tkUint
		}
	}
	switch c.dataType {
	case "tinyint", "bool", "boolean":
		intKind(8)
	case "smallint":
		intKind(16)
	case "mediumint":
		intKind(24)
	case "int", "integer":
		intKind(32)
	case "bigint":
		intKind(64)
	case "float":
		c.kind = tkFloat
	case "double", "real":
		c.kind = tkDouble
	case "decimal", "numeric":
		c.kind = tkDecimal
	case "date":
		c.kind = tkDate
	case "time":
		c.kind, c.size = tkTime, uint8(fsp)
	case "datetime":
		c.kind, c.size = tkDateTime, uint8(fsp)
	case "timestamp":
		c.kind, c.size = tkTimestamp, uint8(fsp)
	case "year":
		c.kind = tkYear
	case "bit":
		c.kind, c.size = tkBit, uint8(bits)
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		c.kind = tkBytes
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext":
		c.kind = tkString
		if c.charset == "binary" {
			c.kind = tkBytes
		}
	case "enum", "set":
		c.kind = tkEnum
		if c.dataType == "set" {
			c.kind = tkSet
		}
		c.members = enumMembers(c.colType[len(c.dataType):])
	case "json":
		c.kind = tkJSON
	case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
		"geometrycollection", "geomcollection":
		c.kind = tkGeometry
	case "inet4", "inet6":
		c.kind = tkString
	case "uuid":
		c.kind = tkUUID
	case "vector":
		c.kind = tkVector
	default:
		return fmt.Errorf("column %s: type %s is not known to the snapshot", c.name, c.colType)
	}
	return nil
}

// binlogType renders the column's type the way the binlog's TABLE_MAP
// metadata (binlog_row_metadata=FULL) spells it, so that a snapshot's rows
// carry the same Columns as the stream's changes of the table.
func (c *snapColumn) binlogType(precision, scale, length int64) string {
	uns := ""
	if strings.Contains(c.colType, "unsigned") {
		uns = " UNSIGNED"
	}
	n := strconv.FormatInt
	switch c.dataType {
	case "tinyint", "bool", "boolean":
		return "TINYINT" + uns
	case "smallint":
		return "SMALLINT" + uns
	case "mediumint":
		return "MEDIUMINT" + uns
	case "int", "integer":
		return "INT" + uns
	case "bigint":
		return "BIGINT" + uns
	case "float":
		return "FLOAT" + uns
	case "double", "real":
		return "DOUBLE" + uns
	case "decimal", "numeric":
		return "DECIMAL(" + n(precision, 10) + "," + n(scale, 10) + ")" + uns
	case "date":
		return "DATE"
	case "time", "datetime", "timestamp":
		return withFsp(strings.ToUpper(c.dataType), int(c.size))
	case "year":
		return "YEAR"
	case "bit":
		return "BIT(" + n(int64(c.size), 10) + ")"
	case "char", "varchar", "binary", "varbinary":
		return strings.ToUpper(c.dataType) + "(" + n(length, 10) + ")"
	case "tinytext", "text", "mediumtext", "longtext", "tinyblob", "blob", "mediumblob", "longblob", "json":
		return strings.ToUpper(c.dataType)
	case "enum", "set":
		return strings.ToUpper(c.dataType) + c.colType[len(c.dataType):]
	case "inet4", "inet6", "uuid":
		return c.colType
	}
	return strings.ToUpper(c.dataType)
}

func withFsp(name string, fsp int) string {
	if fsp == 0 {
		return name
	}
	return name + "(" + strconv.Itoa(fsp) + ")"
}

// decode turns the text protocol's bytes of c (nil for NULL) into out.
// Bytes values point into raw. It allocates nothing.
// decodeDriver decodes a value as the driver gives it: the text as the
// server sent it, nil for NULL, or the integer the driver parsed from it
// (go-sql-driver parses integer columns); num is scratch space. A value
// that is neither goes back to text as database/sql would write it.
func (c *snapColumn) decodeDriver(v driver.Value, out *change.Value, num *[]byte) error {
	switch v := v.(type) {
	case []byte:
		return c.decode(v, out)
	case nil:
		*out = change.Null()
		return nil
	case int64:
		switch {
		case c.kind == tkInt:
			*out = change.Int(v, c.size)
			return nil
		case c.kind == tkUint && v >= 0:
			*out = change.Uint(uint64(v), c.size)
			return nil
		}
		*num = strconv.AppendInt((*num)[:0], v, 10)
	case uint64:
		if c.kind == tkUint {
			*out = change.Uint(v, c.size)
			return nil
		}
		*num = strconv.AppendUint((*num)[:0], v, 10)
	case float64:
		*num = strconv.AppendFloat((*num)[:0], v, 'g', -1, 64)
	case float32:
		*num = strconv.AppendFloat((*num)[:0], float64(v), 'g', -1, 32)
	default:
		return fmt.Errorf("column %s: the driver gave a %T", c.name, v)
	}
	return c.decode(*num, out)
}

func (c *snapColumn) decode(raw []byte, out *change.Value) error {
	if raw == nil {
		*out = change.Null()
		return nil
	}
	var err error
	switch c.kind {
	case tkInt:
		var i int64
		i, err = parseInt(raw)
		*out = change.Int(i, c.size)
	case tkUint:
		var u uint64
		u, err = parseUint(raw)
		*out = change.Uint(u, c.size)
	case tkFloat:
		var f float64
		f, err = strconv.ParseFloat(bstr(raw), 32)
		*out = change.Float32(float32(f))
	case tkDouble:
		var f float64
		f, err = strconv.ParseFloat(bstr(raw), 64)
		*out = change.Float64(f)
	case tkDecimal:
		*out = change.Decimal(raw)
	case tkDate:
		var y, m, d int
		if y, m, d, err = parseDate(raw); err == nil {
			*out = change.Date(y, m, d)
		}
	case tkTime:
		*out, err = parseTime(raw, c.size)
	case tkDateTime, tkTimestamp:
		y, mo, d, h, mi, s, ns, ok := parseDateTime(raw)
		if !ok {
			if y, mo, d, h, mi, s, ns, err = parseDateTimeSlow(raw); err != nil {
				break
			}
		}
		if c.kind == tkDateTime {
			*out = change.DateTime(y, mo, d, h, mi, s, ns, c.size)
			break
		}
		// The session's time_zone is +00:00: the text is UTC. MySQL's zero
		// TIMESTAMP is 0 in the binlog.
		var unix int64
		if y != 0 || mo != 0 || d != 0 {
			unix = daysFromCivil(int64(y), int64(mo), int64(d))*86400 + int64(h*3600+mi*60+s)
		}
		*out = change.Timestamp(unix, ns, c.size)
	case tkYear:
		var y int64
		y, err = strconv.ParseInt(bstr(raw), 10, 64)
		*out = change.Year(int(y))
	case tkBit:
		var u uint64
		for _, b := range raw {
			u = u<<8 | uint64(b)
		}
		*out = change.Bit(u, c.size)
	case tkBytes:
		*out = change.Bytes(raw)
	case tkString:
		*out = change.String(raw)
	case tkEnum:
		var idx uint64
		for i, m := range c.members {
			if bytes.Equal(m, raw) {
				idx = uint64(i + 1)
				break
			}
		}
		*out = change.Enum(raw, idx)
	case tkSet:
		var bits uint64
		for rest := raw; len(rest) > 0; {
			part := rest
			if i := bytes.IndexByte(rest, ','); i >= 0 {
				part, rest = rest[:i], rest[i+1:]
			} else {
				rest = nil
			}
			for i, m := range c.members {
				if i < 64 && bytes.Equal(m, part) {
					bits |= 1 << uint(i)
					break
				}
			}
		}
		*out = change.Set(raw, bits)
	case tkJSON:
		*out = change.JSON(raw)
	case tkGeometry:
		if len(raw) == 0 {
			*out = change.Geometry(0, raw)
			break
		}
		if len(raw) < 4 {
			err = fmt.Errorf("geometry of %d bytes lacks its SRID", len(raw))
			break
		}
		*out = change.Geometry(uint32(raw[0])|uint32(raw[1])<<8|uint32(raw[2])<<16|uint32(raw[3])<<24, raw[4:])
	case tkUUID:
		var b [16]byte
		h := bytes.ReplaceAll(raw, []byte{'-'}, nil)
		if len(h) != 32 {
			err = fmt.Errorf("bad uuid %q", raw)
			break
		}
		if _, err = hex.Decode(b[:], h); err == nil {
			// The bytes live in raw's place: the uuid's text is longer.
			copy(raw, b[:])
			*out = change.Value{Kind: change.KindUUID, B: raw[:16:16]}
		}
	case tkVector:
		*out = change.Vector(raw)
	default:
		err = fmt.Errorf("no decoder")
	}
	if err != nil {
		return fmt.Errorf("column %s (%s): value %q: %w", c.name, c.colType, raw, err)
	}
	return nil
}

// bstr views b as a string for parsing (the string must not outlive b).
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// digits reads 1 to 18 decimal digits (see digits18).
func digits(b []byte) (int, bool) {
	v, ok := digits18(b)
	return int(v), ok
}

// parseInt is strconv.ParseInt(b, 10, 64), without its generality for
// what MySQL prints: up to 18 digits after an optional '-'.
func parseInt(b []byte) (int64, error) {
	if n := len(b); n > 0 && n <= 18 {
		neg := b[0] == '-'
		d := b
		if neg {
			d = b[1:]
		}
		if v, ok := digits18(d); ok {
			if neg {
				return -int64(v), nil
			}
			return int64(v), nil
		}
	}
	return strconv.ParseInt(bstr(b), 10, 64)
}

// parseUint is strconv.ParseUint(b, 10, 64), quicker for up to 18 digits.
func parseUint(b []byte) (uint64, error) {
	if len(b) <= 18 {
		if v, ok := digits18(b); ok {
			return v, nil
		}
	}
	return strconv.ParseUint(bstr(b), 10, 64)
}

// digits18 reads 1 to 18 decimal digits (which cannot overflow).
func digits18(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		d := c - '0'
		if d > 9 {
			return 0, false
		}
		v = v*10 + uint64(d)
	}
	return v, true
}

// parseDateTime reads "YYYY-MM-DD HH:MM:SS[.F]" (F: 1 to 9 digits), as
// MySQL prints DATETIME and TIMESTAMP, with the fields at fixed places;
// ok is false for anything else (the general path then reads it or names
// the fault).
func parseDateTime(b []byte) (y, mo, d, h, mi, s int, ns uint32, ok bool) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || b[10] != ' ' || b[13] != ':' || b[16] != ':' {
		return
	}
	two := func(i int) (int, bool) {
		a, c := b[i]-'0', b[i+1]-'0'
		return int(a)*10 + int(c), a <= 9 && c <= 9
	}
	y1, ok1 := two(0)
	y2, ok2 := two(2)
	mo, ok3 := two(5)
	d, ok4 := two(8)
	h, ok5 := two(11)
	mi, ok6 := two(14)
	s, ok7 := two(17)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) {
		return
	}
	if len(b) > 19 {
		frac := b[20:]
		if b[19] != '.' || len(frac) > 9 {
			return
		}
		var fok bool
		if ns, fok = fracNanos(frac); !fok {
			return
		}
	}
	return y1*100 + y2, mo, d, h, mi, s, ns, true
}

// parseDateTimeSlow reads what parseDateTime does not: hours of more
// than two digits, or a fault it names.
func parseDateTimeSlow(raw []byte) (y, mo, d, h, mi, s int, ns uint32, err error) {
	if len(raw) < 19 || raw[10] != ' ' {
		err = fmt.Errorf("bad datetime %q", raw)
		return
	}
	if y, mo, d, err = parseDate(raw[:10]); err != nil {
		return
	}
	h, mi, s, ns, err = parseClock(raw[11:])
	return
}

// parseDate reads YYYY-MM-DD.
func parseDate(b []byte) (y, m, d int, err error) {
	if len(b) != 10 || b[4] != '-' || b[7] != '-' {
		return 0, 0, 0, fmt.Errorf("bad date %q", b)
	}
	var ok1, ok2, ok3 bool
	y, ok1 = digits(b[:4])
	m, ok2 = digits(b[5:7])
	d, ok3 = digits(b[8:10])
	if !ok1 || !ok2 || !ok3 {
		return 0, 0, 0, fmt.Errorf("bad date %q", b)
	}
	return y, m, d, nil
}

// parseClock reads HH:MM:SS[.ffffff] (hours may have more digits).
func parseClock(b []byte) (h, m, s int, ns uint32, err error) {
	frac := []byte(nil)
	if i := bytes.IndexByte(b, '.'); i >= 0 {
		b, frac = b[:i], b[i+1:]
	}
	c1 := bytes.IndexByte(b, ':')
	if c1 < 1 || len(b) != c1+6 || b[c1+3] != ':' {
		return 0, 0, 0, 0, fmt.Errorf("bad time %q", b)
	}
	var ok1, ok2, ok3 bool
	h, ok1 = digits(b[:c1])
	m, ok2 = digits(b[c1+1 : c1+3])
	s, ok3 = digits(b[c1+4:])
	if !ok1 || !ok2 || !ok3 || len(frac) > 9 {
		return 0, 0, 0, 0, fmt.Errorf("bad time %q", b)
	}
	if len(frac) > 0 {
		var ok bool
		if ns, ok = fracNanos(frac); !ok {
			return 0, 0, 0, 0, fmt.Errorf("bad fraction %q", frac)
		}
	}
	return h, m, s, ns, nil
}

// fracNanos reads the 1 to 9 digits after a seconds' point as nanoseconds.
func fracNanos(frac []byte) (uint32, bool) {
	f, ok := digits18(frac)
	if !ok || len(frac) > 9 {
		return 0, false
	}
	return uint32(f * fracScale[len(frac)]), true
}

// fracScale[n] turns n fraction digits into nanoseconds.
var fracScale = [10]uint64{1e9, 1e8, 1e7, 1e6, 1e5, 1e4, 1e3, 100, 10, 1}

// parseTime reads a TIME: [-]H+:MM:SS[.ffffff].
func parseTime(b []byte, fsp uint8) (change.Value, error) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	h, m, s, ns, err := parseClock(b)
	if err != nil {
		return change.Value{}, err
	}
	return change.Time(neg, h, m, s, ns, fsp), nil
}

// daysFromCivil is the number of days from 1970-01-01 to y-m-d (proleptic
// Gregorian).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// keyArg turns a key value (as ParseKey or a decoded row gives it) into a
// query argument that compares with the column as the value does.
func keyArg(v change.Value) any {
	switch v.Kind {
	case change.KindInt, change.KindYear, change.KindBool:
		return v.I
	case change.KindUint, change.KindBit, change.KindEnum, change.KindSet:
		// ENUM and SET compare by index in a numeric context, as they sort.
		return v.U
	case change.KindFloat:
		return v.F
	case change.KindBytes, change.KindGeometry, change.KindVector:
		return v.B
	case change.KindString, change.KindDecimal, change.KindJSON:
		return string(v.B)
	case change.KindUUID:
		return string(change.AppendText(nil, v))
	}
	// Dates and times as MySQL prints them (a TIMESTAMP at +00:00, the
	// snapshot session's zone).
	return string(change.AppendText(nil, v))
}
