package sqldb

import (
	"strconv"
	"strings"
)

// Family is what kind of values a column type holds, the same for both
// engines: it decides how a value is written into a column and how two
// columns' values are compared.
type Family uint8

// The type families.
const (
	// FamOther: a type Sluice writes and compares as the server's text
	// (PostgreSQL money, ranges, tsvector, macaddr, composites, …).
	FamOther Family = iota
	// FamInt: a signed integer of Bits bits (8, 16, 24, 32, 64).
	FamInt
	// FamUint: an unsigned integer of Bits bits (MySQL UNSIGNED, PostgreSQL oid).
	FamUint
	// FamDecimal: an exact decimal; Precision and Scale, -1 when not declared.
	FamDecimal
	// FamFloat: a binary float of Bits 32 or 64.
	FamFloat
	// FamBool: PostgreSQL boolean.
	FamBool
	// FamBit: a bit string of Bits bits; Var for PostgreSQL bit varying.
	FamBit
	// FamDate: a calendar date.
	FamDate
	// FamTime: a time without zone (MySQL TIME is a duration of ±838 h,
	// PostgreSQL time a time of day); Fsp fraction digits.
	FamTime
	// FamTimeTZ: PostgreSQL time with time zone.
	FamTimeTZ
	// FamInterval: PostgreSQL interval.
	FamInterval
	// FamDateTime: a wall-clock date and time (MySQL DATETIME,
	// PostgreSQL timestamp without time zone); Fsp fraction digits.
	FamDateTime
	// FamTimestamp: an instant (MySQL TIMESTAMP, stored in UTC;
	// PostgreSQL timestamp with time zone); Fsp fraction digits.
	FamTimestamp
	// FamYear: MySQL YEAR.
	FamYear
	// FamChar: blank-padded text of Length characters (CHAR(n), character(n)).
	FamChar
	// FamText: text, at most Length characters (0: unlimited).
	FamText
	// FamBinary: MySQL BINARY(n), Length bytes, zero-padded.
	FamBinary
	// FamBytes: variable bytes (VARBINARY, BLOB, bytea).
	FamBytes
	// FamEnum: an enumeration; Members when the type text lists them.
	FamEnum
	// FamSet: MySQL SET; Members.
	FamSet
	// FamJSON: a JSON document; JSONB for PostgreSQL jsonb.
	FamJSON
	// FamGeometry: a spatial value (MySQL GEOMETRY and its subtypes).
	FamGeometry
	// FamUUID: a UUID (MariaDB UUID, PostgreSQL uuid).
	FamUUID
	// FamInet: an IP address (MariaDB INET4/INET6, PostgreSQL inet/cidr).
	FamInet
	// FamArray: a PostgreSQL array; Elem is the element type's text.
	FamArray
	// FamVector: MariaDB VECTOR(n).
	FamVector
)

var familyNames = [...]string{"other", "int", "uint", "decimal", "float", "bool", "bit", "date", "time", "timetz",
	"interval", "datetime", "timestamp", "year", "char", "text", "binary", "bytes", "enum", "set", "json",
	"geometry", "uuid", "inet", "array", "vector"}

func (f Family) String() string {
	if int(f) < len(familyNames) {
		return familyNames[f]
	}
	return "family(" + strconv.Itoa(int(f)) + ")"
}

// Type is a column type read by ParseType.
type Type struct {
	Family Family
	// Text is the type as given (trimmed), e.g. "int(11) unsigned",
	// "numeric(10,2)", "timestamp(3) with time zone".
	Text string
	// Bits: integer, float and bit widths.
	Bits int
	// Length: declared characters (FamChar, FamText) or bytes (FamBinary,
	// FamBytes); 0 when unlimited or not declared.
	Length int
	// Precision and Scale of a decimal, -1 when not declared.
	Precision, Scale int
	// Fsp: fraction digits of a temporal type.
	Fsp int
	// Var marks PostgreSQL bit varying.
	Var bool
	// JSONB marks PostgreSQL jsonb.
	JSONB bool
	// Members of an ENUM or SET whose type text lists them.
	Members []string
	// Elem is the element type of a PostgreSQL array ("integer").
	Elem string
}

// ParseType reads a column type as engine e spells it: MySQL's
// COLUMN_TYPE ("int(11) unsigned", "enum('a','b')", "datetime(6)") or the
// type texts of the MySQL source ("INT UNSIGNED", "DECIMAL(12,2)"), and
// PostgreSQL's format_type ("character varying(20)", "numeric(10,2)",
// "timestamp(3) with time zone", "integer[]"). A PostgreSQL user type
// (an enum, a domain) is FamOther here; the catalog refines it.
func ParseType(e Engine, text string) Type {
	text = strings.TrimSpace(text)
	if e == Postgres {
		return parsePostgresType(text)
	}
	return parseMySQLType(text)
}

// splitType cuts "name(args) rest" into the lower-case name, the
// arguments' text and the lower-case rest.
func splitType(text string) (name, args, rest string) {
	lower := strings.ToLower(text)
	i := strings.IndexAny(lower, "( ")
	if i < 0 {
		return lower, "", ""
	}
	name = lower[:i]
	rest = lower[i:]
	if rest[0] == '(' {
		// Arguments may hold quoted members with parentheses inside.
		depth, quote := 0, false
		for j := 0; j < len(rest); j++ {
			c := rest[j]
			switch {
			case quote && c == '\'' && j+1 < len(rest) && rest[j+1] == '\'':
				j++
			case c == '\'':
				quote = !quote
			case quote:
			case c == '(':
				depth++
			case c == ')':
				depth--
				if depth == 0 {
					// args keeps the original case: ENUM members.
					return name, text[i+1 : i+j], strings.TrimSpace(rest[j+1:])
				}
			}
		}
		return name, text[i+1:], ""
	}
	return name, "", strings.TrimSpace(rest)
}

// intArgs reads "p" or "p,s" as integers (-1 when missing or not a number).
func intArgs(args string) (int, int) {
	a, b, _ := strings.Cut(args, ",")
	p, err := strconv.Atoi(strings.TrimSpace(a))
	if err != nil {
		p = -1
	}
	s, err := strconv.Atoi(strings.TrimSpace(b))
	if err != nil {
		s = -1
	}
	return p, s
}

func parseMySQLType(text string) Type {
	name, args, rest := splitType(text)
	t := Type{Text: text, Precision: -1, Scale: -1}
	unsigned := strings.Contains(rest, "unsigned")
	n, m := intArgs(args)
	intFam := func(bits int) {
		t.Family, t.Bits = FamInt, bits
		if unsigned {
			t.Family = FamUint
		}
	}
	switch name {
	case "tinyint", "bool", "boolean":
		intFam(8)
	case "smallint":
		intFam(16)
	case "mediumint":
		intFam(24)
	case "int", "integer":
		intFam(32)
	case "bigint":
		intFam(64)
	case "serial":
		t.Family, t.Bits = FamUint, 64
	case "decimal", "numeric", "dec", "fixed":
		t.Family = FamDecimal
		t.Precision, t.Scale = n, m
		if t.Precision < 0 {
			t.Precision = 10
		}
		if t.Scale < 0 {
			t.Scale = 0
		}
	case "float":
		t.Family, t.Bits = FamFloat, 32
		if n > 24 && m < 0 {
			t.Bits = 64 // FLOAT(p) with p > 24 is a DOUBLE
		}
	case "double", "real":
		t.Family, t.Bits = FamFloat, 64
	case "bit":
		t.Family, t.Bits = FamBit, max(n, 1)
	case "date":
		t.Family = FamDate
	case "time":
		t.Family, t.Fsp = FamTime, max(n, 0)
	case "datetime":
		t.Family, t.Fsp = FamDateTime, max(n, 0)
	case "timestamp":
		t.Family, t.Fsp = FamTimestamp, max(n, 0)
	case "year":
		t.Family = FamYear
	case "char", "nchar", "character":
		t.Family, t.Length = FamChar, max(n, 1)
	case "varchar", "nvarchar":
		t.Family, t.Length = FamText, max(n, 0)
	case "tinytext", "text", "mediumtext", "longtext", "long":
		t.Family = FamText
	case "binary":
		t.Family, t.Length = FamBinary, max(n, 1)
	case "varbinary":
		t.Family, t.Length = FamBytes, max(n, 0)
	case "tinyblob", "blob", "mediumblob", "longblob":
		t.Family = FamBytes
	case "enum":
		t.Family, t.Members = FamEnum, members(args)
	case "set":
		t.Family, t.Members = FamSet, members(args)
	case "json":
		t.Family = FamJSON
	case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection", "geomcollection":
		t.Family = FamGeometry
	case "uuid":
		t.Family = FamUUID
	case "inet4", "inet6":
		t.Family = FamInet
	case "vector":
		t.Family, t.Length = FamVector, max(n, 0)
	}
	return t
}

// members parses the member list of an ENUM or SET: 'a','b”s','c'.
func members(args string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] != '\'' {
			continue
		}
		var m strings.Builder
		for i++; i < len(args); i++ {
			if args[i] == '\'' {
				if i+1 < len(args) && args[i+1] == '\'' {
					m.WriteByte('\'')
					i++
					continue
				}
				break
			}
			if args[i] == '\\' && i+1 < len(args) {
				i++
			}
			m.WriteByte(args[i])
		}
		out = append(out, m.String())
	}
	return out
}

func parsePostgresType(text string) Type {
	t := Type{Text: text, Precision: -1, Scale: -1}
	lower := strings.ToLower(text)
	if strings.HasSuffix(lower, "[]") {
		t.Family = FamArray
		t.Elem = strings.TrimSuffix(text, "[]")
		for strings.HasSuffix(t.Elem, "[]") {
			t.Elem = strings.TrimSuffix(t.Elem, "[]")
		}
		return t
	}
	name, args, rest := splitType(lower)
	// Multi-word names: "double precision", "character varying(5)",
	// "timestamp(3) with time zone", "bit varying(4)".
	switch {
	case name == "double" && strings.HasPrefix(rest, "precision"):
		name = "double precision"
	case name == "character" && strings.HasPrefix(rest, "varying"):
		name = "varchar"
		_, args, rest = splitType("x" + strings.TrimPrefix(rest, "varying"))
	case name == "bit" && strings.HasPrefix(rest, "varying"):
		name = "varbit"
		_, args, rest = splitType("x" + strings.TrimPrefix(rest, "varying"))
	}
	n, m := intArgs(args)
	zoned := strings.Contains(rest, "with time zone")
	switch name {
	case "smallint", "int2":
		t.Family, t.Bits = FamInt, 16
	case "integer", "int", "int4":
		t.Family, t.Bits = FamInt, 32
	case "bigint", "int8":
		t.Family, t.Bits = FamInt, 64
	case "oid", "xid", "cid":
		t.Family, t.Bits = FamUint, 32
	case "numeric", "decimal":
		t.Family, t.Precision, t.Scale = FamDecimal, n, m
		if n >= 0 && m < 0 {
			t.Scale = 0
		}
	case "real", "float4":
		t.Family, t.Bits = FamFloat, 32
	case "double precision", "float8":
		t.Family, t.Bits = FamFloat, 64
	case "boolean", "bool":
		t.Family = FamBool
	case "bit":
		t.Family, t.Bits = FamBit, max(n, 1)
	case "varbit":
		t.Family, t.Bits, t.Var = FamBit, max(n, 0), true
	case "date":
		t.Family = FamDate
	case "time", "timetz":
		t.Family, t.Fsp = FamTime, 6
		if n >= 0 {
			t.Fsp = n
		}
		if zoned || name == "timetz" {
			t.Family = FamTimeTZ
		}
	case "timestamp", "timestamptz":
		t.Family, t.Fsp = FamDateTime, 6
		if n >= 0 {
			t.Fsp = n
		}
		if zoned || name == "timestamptz" {
			t.Family = FamTimestamp
		}
	case "interval":
		t.Family = FamInterval
	case "character", "char", "bpchar":
		t.Family, t.Length = FamChar, max(n, 1)
	case `"char"`:
		t.Family, t.Length = FamChar, 1
	case "varchar":
		t.Family, t.Length = FamText, max(n, 0)
	case "text", "name", "citext", "xml":
		t.Family = FamText
	case "bytea":
		t.Family = FamBytes
	case "json":
		t.Family = FamJSON
	case "jsonb":
		t.Family, t.JSONB = FamJSON, true
	case "uuid":
		t.Family = FamUUID
	case "inet", "cidr":
		t.Family = FamInet
	case "geometry", "geography":
		t.Family = FamGeometry
	}
	return t
}

// Target says which server a type is for: the engine, and for MySQL
// whether it is MariaDB (which has UUID, INET4 and INET6 types).
type Target struct {
	Engine  Engine
	MariaDB bool
}

// In returns the type a column of type t (of engine from) becomes in a
// table Sluice creates on to, and, when not every value of t can cross
// exactly, what cannot. Between servers of one engine the type is kept as
// it is.
func (t Type) In(from Engine, to Target) (text, loss string) {
	if from == to.Engine {
		return t.Text, ""
	}
	if to.Engine == Postgres {
		return t.inPostgres()
	}
	return t.inMySQL(to.MariaDB)
}

// inPostgres maps a MySQL type.
func (t Type) inPostgres() (string, string) {
	switch t.Family {
	case FamInt:
		switch {
		case t.Bits <= 16:
			return "smallint", ""
		case t.Bits <= 32:
			return "integer", ""
		}
		return "bigint", ""
	case FamUint:
		switch {
		case t.Bits <= 8:
			return "smallint", ""
		case t.Bits <= 24:
			return "integer", ""
		case t.Bits <= 32:
			return "bigint", ""
		}
		return "numeric(20,0)", ""
	case FamDecimal:
		return "numeric(" + strconv.Itoa(t.Precision) + "," + strconv.Itoa(t.Scale) + ")", ""
	case FamFloat:
		if t.Bits == 32 {
			return "real", ""
		}
		return "double precision", ""
	case FamBit:
		return "bit(" + strconv.Itoa(t.Bits) + ")", ""
	case FamDate:
		return "date", "zero and invalid dates (0000-00-00, 2024-02-00) stop the sink"
	case FamTime:
		return "interval", ""
	case FamDateTime:
		return "timestamp(" + strconv.Itoa(t.Fsp) + ") without time zone", "zero and invalid dates stop the sink"
	case FamTimestamp:
		return "timestamp(" + strconv.Itoa(t.Fsp) + ") with time zone", "the zero TIMESTAMP stops the sink"
	case FamYear:
		return "smallint", ""
	case FamChar, FamText:
		if t.Length > 0 && t.Length <= 10485760 {
			return "character varying(" + strconv.Itoa(t.Length) + ")", ""
		}
		return "text", ""
	case FamBinary, FamBytes:
		return "bytea", ""
	case FamEnum:
		return "text", "the member list is not kept"
	case FamSet:
		return "text", "the member list is not kept"
	case FamJSON:
		return "jsonb", "jsonb orders keys and normalizes white space"
	case FamGeometry:
		return "bytea", "stored as EWKB bytes"
	case FamUUID:
		return "uuid", ""
	case FamInet:
		return "inet", ""
	case FamVector:
		return "real[]", ""
	}
	return "text", ""
}

// inMySQL maps a PostgreSQL type.
func (t Type) inMySQL(mariaDB bool) (string, string) {
	switch t.Family {
	case FamInt:
		switch {
		case t.Bits <= 16:
			return "SMALLINT", ""
		case t.Bits <= 32:
			return "INT", ""
		}
		return "BIGINT", ""
	case FamUint:
		if t.Bits <= 32 {
			return "INT UNSIGNED", ""
		}
		return "BIGINT UNSIGNED", ""
	case FamDecimal:
		switch {
		case t.Precision < 0:
			return "DECIMAL(65,30)", "numeric without precision: more than 35 integer or 30 fraction digits, NaN and ±Infinity stop the sink"
		case t.Precision > 65 || t.Scale > 30:
			return "DECIMAL(65," + strconv.Itoa(min(t.Scale, 30)) + ")", "precision over 65 or scale over 30 does not fit; NaN and ±Infinity stop the sink"
		}
		return "DECIMAL(" + strconv.Itoa(t.Precision) + "," + strconv.Itoa(t.Scale) + ")", "NaN and ±Infinity stop the sink"
	case FamFloat:
		if t.Bits == 32 {
			return "FLOAT", "NaN and ±Infinity stop the sink"
		}
		return "DOUBLE", "NaN and ±Infinity stop the sink"
	case FamBool:
		return "BOOLEAN", ""
	case FamBit:
		if t.Var {
			if t.Bits > 0 {
				return "VARCHAR(" + strconv.Itoa(t.Bits) + ")", "kept as text of 0s and 1s"
			}
			return "TEXT", "kept as text of 0s and 1s"
		}
		if t.Bits <= 64 {
			return "BIT(" + strconv.Itoa(t.Bits) + ")", ""
		}
		return "TEXT", "kept as text of 0s and 1s"
	case FamDate:
		return "DATE", "BC dates and ±infinity stop the sink"
	case FamTime:
		return "TIME(" + strconv.Itoa(min(t.Fsp, 6)) + ")", ""
	case FamTimeTZ:
		return "VARCHAR(32)", "kept as text"
	case FamInterval:
		return "VARCHAR(255)", "kept as text"
	case FamDateTime:
		return "DATETIME(" + strconv.Itoa(min(t.Fsp, 6)) + ")", "BC and ±infinity stop the sink"
	case FamTimestamp:
		return "DATETIME(" + strconv.Itoa(min(t.Fsp, 6)) + ")", "the instant is kept in UTC, without its zone; BC and ±infinity stop the sink"
	case FamChar:
		if t.Length <= 255 {
			return "CHAR(" + strconv.Itoa(t.Length) + ")", "trailing blanks are not kept"
		}
		return "VARCHAR(" + strconv.Itoa(t.Length) + ")", ""
	case FamText:
		if t.Length > 0 && t.Length <= 1024 {
			return "VARCHAR(" + strconv.Itoa(t.Length) + ")", ""
		}
		return "LONGTEXT", ""
	case FamBinary, FamBytes:
		return "LONGBLOB", ""
	case FamJSON:
		return "JSON", ""
	case FamUUID:
		if mariaDB {
			return "UUID", ""
		}
		return "CHAR(36)", ""
	case FamInet:
		return "VARCHAR(64)", "kept as text"
	case FamEnum:
		return "VARCHAR(255)", "kept as text"
	case FamArray:
		return "JSON", "kept as a JSON array"
	}
	return "LONGTEXT", "kept as the server's text"
}
