package binlog

import (
	"strconv"
	"strings"
)

// ColumnType is a MySQL field type code as written in TABLE_MAP_EVENT
// (enum_field_types).
type ColumnType uint8

// Column type codes. Only the ones marked "binlog" appear in a TABLE_MAP
// column type array; the others only appear inside metadata (the real
// type of a STRING column) or inside JSON opaque values.
const (
	TypeDecimal    ColumnType = 0   // binlog: pre-5.0 DECIMAL
	TypeTiny       ColumnType = 1   // binlog
	TypeShort      ColumnType = 2   // binlog
	TypeLong       ColumnType = 3   // binlog
	TypeFloat      ColumnType = 4   // binlog
	TypeDouble     ColumnType = 5   // binlog
	TypeNull       ColumnType = 6   // binlog
	TypeTimestamp  ColumnType = 7   // binlog
	TypeLongLong   ColumnType = 8   // binlog
	TypeInt24      ColumnType = 9   // binlog
	TypeDate       ColumnType = 10  // binlog
	TypeTime       ColumnType = 11  // binlog
	TypeDateTime   ColumnType = 12  // binlog
	TypeYear       ColumnType = 13  // binlog
	TypeNewDate    ColumnType = 14  // internal
	TypeVarchar    ColumnType = 15  // binlog
	TypeBit        ColumnType = 16  // binlog
	TypeTimestamp2 ColumnType = 17  // binlog
	TypeDateTime2  ColumnType = 18  // binlog
	TypeTime2      ColumnType = 19  // binlog
	TypeTypedArray ColumnType = 20  // replication of multi-valued indexes only
	TypeVector     ColumnType = 242 // binlog, MySQL 9
	TypeInvalid    ColumnType = 243 // internal
	TypeBool       ColumnType = 244 // internal
	TypeJSON       ColumnType = 245 // binlog
	TypeNewDecimal ColumnType = 246 // binlog
	TypeEnum       ColumnType = 247 // real type inside STRING metadata
	TypeSet        ColumnType = 248 // real type inside STRING metadata
	TypeTinyBlob   ColumnType = 249 // internal
	TypeMediumBlob ColumnType = 250 // internal
	TypeLongBlob   ColumnType = 251 // internal
	TypeBlob       ColumnType = 252 // binlog: every BLOB/TEXT size
	TypeVarString  ColumnType = 253 // binlog
	TypeString     ColumnType = 254 // binlog: CHAR, BINARY, ENUM, SET
	TypeGeometry   ColumnType = 255 // binlog
)

// colInfo is everything needed to size and decode one column, computed once
// per TABLE_MAP_EVENT.
type colInfo struct {
	typ      ColumnType // type code from the column type array
	real     ColumnType // real type: ENUM/SET for STRING columns holding them, else typ
	meta     uint16     // raw metadata as decoded (layout depends on typ)
	length   int        // STRING/VARCHAR: max byte length; BLOB/JSON/GEOMETRY/VECTOR: length-prefix bytes; ENUM/SET: pack length
	prec     int        // NEWDECIMAL precision
	scale    int        // NEWDECIMAL scale; TIME2/DATETIME2/TIMESTAMP2 fsp
	bits     int        // BIT width
	unsigned bool       // from the signedness metadata
	coll     uint32     // collation id (0: unknown)
	cs       charsetID  // charset of character columns (csUnknown when not known)
	members  [][]byte   // ENUM/SET member names from metadata
	visible  bool       // not an invisible column
	geoType  int        // GEOMETRY subtype from metadata, -1 when unknown
	text     string     // column type text, e.g. "DECIMAL(12,2)"
	fixed    int        // size of every value in a row image, or -1 when length-prefixed
	prefix   int        // length-prefix bytes when fixed < 0
	nometa   bool       // from a TABLE_MAP without column metadata: lengths unknown
	unsized  bool       // nometa and the values cannot be sized (DECIMAL, BLOB, …)
	hires    bool       // old-code TIMESTAMP/DATETIME/TIME in MariaDB's fractional format, fsp in scale
	fspKnown bool       // SetPrecision gave the precision of an old-code temporal column
}

// isNumeric reports whether the signedness bitmap has a bit for the column.
func (c *colInfo) isNumeric() bool {
	switch c.real {
	case TypeTiny, TypeShort, TypeInt24, TypeLong, TypeLongLong, TypeNewDecimal, TypeFloat, TypeDouble:
		return true
	}
	return false
}

// isCharacter reports whether the charset metadata has an entry for the column.
func (c *colInfo) isCharacter(mariadb bool) bool {
	switch c.real {
	case TypeString, TypeVarString, TypeVarchar, TypeBlob:
		return true
	case TypeGeometry:
		return mariadb
	}
	return false
}

func (c *colInfo) isEnumOrSet() bool { return c.real == TypeEnum || c.real == TypeSet }

// metaLen returns how many metadata bytes a column type has in TABLE_MAP.
func metaLen(t ColumnType) int {
	switch t {
	case TypeString, TypeNewDecimal, TypeVarString, TypeVarchar, TypeBit, TypeEnum, TypeSet:
		return 2
	case TypeBlob, TypeDouble, TypeFloat, TypeGeometry, TypeJSON, TypeVector,
		TypeTime2, TypeDateTime2, TypeTimestamp2, TypeTinyBlob, TypeMediumBlob, TypeLongBlob:
		return 1
	}
	return 0
}

// setup derives the decode parameters from the type and metadata bytes.
// It returns a reason when the metadata cannot be right.
func (c *colInfo) setup(m []byte) string {
	c.real = c.typ
	c.geoType = -1
	switch c.typ {
	case TypeString:
		b0, b1 := m[0], m[1]
		c.meta = uint16(b0)<<8 | uint16(b1)
		if b0 == byte(TypeEnum) || b0 == byte(TypeSet) {
			c.real = ColumnType(b0)
			c.length = int(b1)
			if c.real == TypeEnum && c.length != 1 && c.length != 2 {
				return "ENUM pack length " + strconv.Itoa(c.length)
			}
			if c.real == TypeSet && (c.length < 1 || c.length > 8) {
				return "SET pack length " + strconv.Itoa(c.length)
			}
			c.fixed, c.prefix = c.length, 0
			return ""
		}
		if b0&0x30 != 0x30 {
			// CHAR longer than 255 bytes: two length bits hide in the type byte.
			c.length = int(b1) | int((b0&0x30)^0x30)<<4
			c.real = ColumnType(b0 | 0x30)
		} else {
			c.length = int(b1)
			c.real = ColumnType(b0)
		}
		switch c.real {
		case TypeString, TypeVarString:
			c.real = TypeString
		case TypeEnum, TypeSet:
			return "ENUM/SET with an extended length"
		default:
			// Old servers may write other real types; treat them as CHAR.
			c.real = TypeString
		}
	case TypeVarchar, TypeVarString:
		c.meta = uint16(m[0]) | uint16(m[1])<<8
		c.length = int(c.meta)
	case TypeBit:
		c.meta = uint16(m[0]) | uint16(m[1])<<8
		c.bits = int(m[1])*8 + int(m[0])
		if c.bits < 1 || c.bits > 64 || m[0] > 7 {
			return "BIT width " + strconv.Itoa(c.bits)
		}
	case TypeNewDecimal:
		c.meta = uint16(m[0])<<8 | uint16(m[1])
		c.prec, c.scale = int(m[0]), int(m[1])
		if c.prec < 1 || c.prec > 65 || c.scale > 30 || c.scale > c.prec {
			return "DECIMAL(" + strconv.Itoa(c.prec) + "," + strconv.Itoa(c.scale) + ")"
		}
	case TypeBlob, TypeGeometry, TypeJSON, TypeVector:
		c.meta = uint16(m[0])
		c.length = int(m[0])
		if c.length < 1 || c.length > 4 {
			return "length-prefix size " + strconv.Itoa(c.length)
		}
	case TypeTinyBlob, TypeMediumBlob, TypeLongBlob:
		return "internal type " + strconv.Itoa(int(c.typ))
	case TypeFloat, TypeDouble:
		c.meta = uint16(m[0])
	case TypeTime2, TypeDateTime2, TypeTimestamp2:
		c.meta = uint16(m[0])
		c.scale = int(m[0])
		if c.scale > 6 {
			return "fractional precision " + strconv.Itoa(c.scale)
		}
	case TypeTiny, TypeShort, TypeInt24, TypeLong, TypeLongLong, TypeNull,
		TypeTimestamp, TypeDate, TypeTime, TypeDateTime, TypeYear, TypeNewDate:
	case TypeDecimal:
		return "pre-5.0 DECIMAL cannot be decoded from a row image"
	default:
		return "unknown column type " + strconv.Itoa(int(c.typ))
	}
	c.fixed, c.prefix = c.sizes()
	return ""
}

// setupWithoutMetadata derives the decode parameters of a column of a
// TABLE_MAP without column metadata (see TableMap.NoColumnMetadata): with
// metadata 0, as the server's table_def and mariadb-binlog take it, CHAR and
// VARCHAR have a 1-byte length prefix and the other types their fixed size;
// the types only metadata can size are marked unsized.
func (c *colInfo) setupWithoutMetadata() string {
	c.nometa = true
	switch c.typ {
	case TypeString, TypeVarchar, TypeVarString:
		c.real, c.geoType = c.typ, -1
		if c.typ == TypeVarString {
			c.real = TypeVarchar
		}
		c.fixed, c.prefix = -1, 1
		return ""
	case TypeNewDecimal, TypeBit, TypeBlob, TypeGeometry, TypeJSON, TypeVector, TypeEnum, TypeSet:
		c.real, c.geoType = c.typ, -1
		c.unsized = true
		c.fixed, c.prefix = -1, 0
		return ""
	}
	var zero [2]byte
	return c.setup(zero[:])
}

// sizes returns the fixed value size of the column, or -1 and the size of
// the length prefix.
func (c *colInfo) sizes() (fixed, prefix int) {
	if c.hires {
		return c.hiresSize(), 0
	}
	switch c.typ {
	case TypeTiny, TypeYear:
		return 1, 0
	case TypeShort:
		return 2, 0
	case TypeInt24, TypeDate, TypeTime, TypeNewDate:
		return 3, 0
	case TypeLong, TypeFloat, TypeTimestamp:
		return 4, 0
	case TypeLongLong, TypeDouble, TypeDateTime:
		return 8, 0
	case TypeNull:
		return 0, 0
	case TypeTime2:
		return 3 + fracBytes(c.scale), 0
	case TypeDateTime2:
		return 5 + fracBytes(c.scale), 0
	case TypeTimestamp2:
		return 4 + fracBytes(c.scale), 0
	case TypeNewDecimal:
		return decimalBinSize(c.prec, c.scale), 0
	case TypeBit:
		return (c.bits + 7) / 8, 0
	case TypeVarchar, TypeVarString:
		if c.length < 256 {
			return -1, 1
		}
		return -1, 2
	case TypeString:
		if c.real == TypeEnum || c.real == TypeSet {
			return c.length, 0
		}
		if c.length < 256 {
			return -1, 1
		}
		return -1, 2
	}
	return -1, c.length // BLOB, JSON, GEOMETRY, VECTOR
}

// typeText renders the column type the way SHOW CREATE TABLE spells it,
// as far as the TABLE_MAP tells.
func (c *colInfo) typeText() string {
	uns := ""
	if c.unsigned {
		uns = " UNSIGNED"
	}
	binary := c.cs == csBinary
	if c.nometa {
		switch c.real {
		case TypeString:
			return "CHAR"
		case TypeVarchar:
			return "VARCHAR"
		case TypeNewDecimal:
			return "DECIMAL"
		case TypeBit:
			return "BIT"
		case TypeBlob:
			return "BLOB"
		}
	}
	switch c.real {
	case TypeTiny:
		return "TINYINT" + uns
	case TypeShort:
		return "SMALLINT" + uns
	case TypeInt24:
		return "MEDIUMINT" + uns
	case TypeLong:
		return "INT" + uns
	case TypeLongLong:
		return "BIGINT" + uns
	case TypeFloat:
		return "FLOAT" + uns
	case TypeDouble:
		return "DOUBLE" + uns
	case TypeNewDecimal:
		return "DECIMAL(" + strconv.Itoa(c.prec) + "," + strconv.Itoa(c.scale) + ")" + uns
	case TypeNull:
		return "NULL"
	case TypeTimestamp:
		return withFsp("TIMESTAMP", c.scale) // scale > 0 only for MariaDB's fractional format
	case TypeTimestamp2:
		return withFsp("TIMESTAMP", c.scale)
	case TypeDate, TypeNewDate:
		return "DATE"
	case TypeTime:
		return withFsp("TIME", c.scale)
	case TypeTime2:
		return withFsp("TIME", c.scale)
	case TypeDateTime:
		return withFsp("DATETIME", c.scale)
	case TypeDateTime2:
		return withFsp("DATETIME", c.scale)
	case TypeYear:
		return "YEAR"
	case TypeBit:
		return "BIT(" + strconv.Itoa(c.bits) + ")"
	case TypeVarchar, TypeVarString:
		if binary {
			return "VARBINARY(" + strconv.Itoa(c.length) + ")"
		}
		return "VARCHAR(" + strconv.Itoa(c.length/c.cs.maxLen()) + ")"
	case TypeString:
		if binary {
			return "BINARY(" + strconv.Itoa(c.length) + ")"
		}
		return "CHAR(" + strconv.Itoa(c.length/c.cs.maxLen()) + ")"
	case TypeBlob:
		names := [...]string{"TINY", "", "MEDIUM", "LONG"}
		if binary || c.cs == csUnknown {
			return names[c.length-1] + "BLOB"
		}
		return names[c.length-1] + "TEXT"
	case TypeJSON:
		return "JSON"
	case TypeGeometry:
		geo := [...]string{"GEOMETRY", "POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON", "GEOMETRYCOLLECTION"}
		if c.geoType >= 0 && c.geoType < len(geo) {
			return geo[c.geoType]
		}
		return "GEOMETRY"
	case TypeVector:
		return "VECTOR"
	case TypeEnum, TypeSet:
		name := "ENUM"
		if c.real == TypeSet {
			name = "SET"
		}
		if c.members == nil {
			return name
		}
		var b strings.Builder
		b.WriteString(name)
		b.WriteByte('(')
		for i, m := range c.members {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('\'')
			b.WriteString(strings.ReplaceAll(strings.ToValidUTF8(string(m), "\uFFFD"), "'", "''"))
			b.WriteByte('\'')
		}
		b.WriteByte(')')
		return b.String()
	}
	return "TYPE_" + strconv.Itoa(int(c.real))
}

func withFsp(name string, fsp int) string {
	if fsp == 0 {
		return name
	}
	return name + "(" + strconv.Itoa(fsp) + ")"
}
