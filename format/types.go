package format

import (
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/change"
)

// typeName returns the base name of a column type text, lower case,
// without its parameters, its "unsigned"/"zerofill" and its PostgreSQL
// time-zone words: "decimal(12,2)" → "decimal", "int unsigned" → "int",
// "timestamp(3) with time zone" → "timestamp with time zone",
// "character varying(5)" → "character varying". Array types keep "[]".
func typeName(typ string) string {
	t := strings.ToLower(strings.TrimSpace(typ))
	if i := strings.IndexByte(t, '('); i >= 0 {
		if j := strings.IndexByte(t[i:], ')'); j >= 0 {
			t = strings.TrimSpace(t[:i]) + t[i+j+1:]
		}
	}
	t = strings.TrimSuffix(t, " zerofill")
	t = strings.TrimSuffix(t, " unsigned")
	return strings.TrimSpace(t)
}

// typeArgs returns the numbers in a type's parentheses: (12,2) → 12, 2.
// n is how many there were (0, 1 or 2).
func typeArgs(typ string) (a, b, n int) {
	i := strings.IndexByte(typ, '(')
	if i < 0 {
		return 0, 0, 0
	}
	j := strings.IndexByte(typ[i:], ')')
	if j < 0 {
		return 0, 0, 0
	}
	first, second, two := strings.Cut(typ[i+1:i+j], ",")
	x, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return 0, 0, 0
	}
	if !two {
		return x, 0, 1
	}
	y, err := strconv.Atoi(strings.TrimSpace(second))
	if err != nil {
		return x, 0, 1
	}
	return x, y, 2
}

// typeMembers returns the members of an enum('a','b') or set('x','y')
// type text joined by commas ("a,b"), and false when the type does not
// list them.
func typeMembers(typ string) (string, bool) {
	i := strings.IndexByte(typ, '(')
	if i < 0 || !strings.HasSuffix(typ, ")") {
		return "", false
	}
	body := typ[i+1 : len(typ)-1]
	var b strings.Builder
	for n := 0; len(body) > 0; n++ {
		if body[0] != '\'' {
			return "", false
		}
		body = body[1:]
		if n > 0 {
			b.WriteByte(',')
		}
		for {
			k := strings.IndexByte(body, '\'')
			if k < 0 {
				return "", false
			}
			b.WriteString(body[:k])
			body = body[k+1:]
			if strings.HasPrefix(body, "'") { // '' is a quote
				b.WriteByte('\'')
				body = body[1:]
				continue
			}
			break
		}
		body = strings.TrimPrefix(body, ",")
	}
	return b.String(), true
}

// kindOfType guesses the Kind and Size of a column's values from its type
// text, for columns whose values in a change tell nothing (all NULL,
// unchanged or absent). It knows the MySQL and PostgreSQL built-in types
// and returns KindAbsent for the others.
func kindOfType(typ string) (change.Kind, uint8) {
	t := typeName(typ)
	if strings.HasSuffix(t, "[]") {
		return change.KindArray, 0
	}
	unsigned := strings.Contains(strings.ToLower(typ), "unsigned")
	fsp := func(def uint8) uint8 {
		if a, _, n := typeArgs(typ); n == 1 && a >= 0 && a <= 9 {
			return uint8(a)
		}
		return def
	}
	intKind := func(bits uint8) (change.Kind, uint8) {
		if unsigned {
			return change.KindUint, bits
		}
		return change.KindInt, bits
	}
	switch t {
	case "bool", "boolean":
		return change.KindBool, 0
	case "tinyint":
		return intKind(8)
	case "smallint", "int2", "smallserial":
		return intKind(16)
	case "mediumint":
		return intKind(24)
	case "int", "integer", "int4", "serial":
		return intKind(32)
	case "bigint", "int8", "bigserial":
		return intKind(64)
	case "oid", "xid":
		return change.KindUint, 32
	case "float", "real", "float4":
		return change.KindFloat, 32
	case "double", "double precision", "float8":
		return change.KindFloat, 64
	case "decimal", "numeric", "dec", "fixed":
		return change.KindDecimal, 0
	case "char", "varchar", "character", "character varying", "text", "tinytext", "mediumtext", "longtext",
		"bpchar", "\"char\"", "name", "citext", "xml", "inet4", "inet6":
		return change.KindString, 0
	case "binary", "varbinary", "blob", "tinyblob", "mediumblob", "longblob", "bytea":
		return change.KindBytes, 0
	case "json", "jsonb":
		return change.KindJSON, 0
	case "date":
		return change.KindDate, 0
	case "time", "time without time zone":
		return change.KindTime, fsp(6)
	case "datetime":
		return change.KindDateTime, fsp(0)
	case "timestamp without time zone":
		return change.KindDateTime, fsp(6)
	case "timestamp", "timestamptz", "timestamp with time zone":
		if t == "timestamp" && !strings.Contains(strings.ToLower(typ), "without") {
			// MySQL TIMESTAMP (fsp 0 by default); PostgreSQL spells its own
			// "timestamp without time zone".
			return change.KindTimestamp, fsp(0)
		}
		return change.KindTimestamp, fsp(6)
	case "timetz", "time with time zone":
		return change.KindTime, fsp(6)
	case "year":
		return change.KindYear, 0
	case "enum":
		return change.KindEnum, 0
	case "set":
		return change.KindSet, 0
	case "bit", "bit varying", "varbit":
		a, _, n := typeArgs(typ)
		if n == 0 {
			a = 1
		}
		return change.KindBit, uint8(min(max(a, 1), 64))
	case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
		"geometrycollection", "geomcollection":
		return change.KindGeometry, 0
	case "vector":
		return change.KindVector, 0
	case "uuid":
		return change.KindUUID, 0
	}
	return change.KindAbsent, 0
}

// zonedType reports whether a type text names a type with time zone
// (timestamptz, timetz).
func zonedType(typ string) bool {
	t := typeName(typ)
	return t == "timestamptz" || t == "timestamp with time zone" || t == "timetz" || t == "time with time zone"
}
