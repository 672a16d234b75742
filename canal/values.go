package canal

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sluice-cdc/sluice/change"
)

// java.sql.Types codes, the Column.sqlType values.
const (
	sqlBit           = -7
	sqlTinyInt       = -6
	sqlSmallInt      = 5
	sqlInteger       = 4
	sqlBigInt        = -5
	sqlReal          = 7
	sqlDouble        = 8
	sqlNumeric       = 2
	sqlDecimal       = 3
	sqlChar          = 1
	sqlVarchar       = 12
	sqlDate          = 91
	sqlTime          = 92
	sqlTimestamp     = 93
	sqlBinary        = -2
	sqlVarbinary     = -3
	sqlLongVarbinary = -4
	sqlNull          = 0
	sqlOther         = 1111
	sqlBoolean       = 16
	sqlBlob          = 2004
	sqlClob          = 2005
	sqlArray         = 2003
	sqlSQLXML        = 2009
)

// sourceFamily says which rendering rules apply to a change's values.
type sourceFamily uint8

const (
	familyMySQL sourceFamily = iota // MySQL and MariaDB: Canal's own forms
	familyPostgres
	familyMongo
)

func familyOf(source string) sourceFamily {
	switch source {
	case "postgres", "postgresql":
		return familyPostgres
	case "mongodb":
		return familyMongo
	}
	return familyMySQL
}

// typeBase returns the lower-case base name of a column type text
// ("int(10) unsigned" → "int", "timestamp with time zone" → "timestamp
// with time zone", "integer[]" → "integer[]") and whether it says
// unsigned. It allocates only for types not already in lower case.
func typeBase(t string) (base string, unsigned bool) {
	for i := 0; i < len(t); i++ {
		if c := t[i]; c >= 'A' && c <= 'Z' {
			t = strings.ToLower(t)
			break
		}
	}
	unsigned = strings.Contains(t, "unsigned")
	if i := strings.IndexByte(t, '('); i >= 0 {
		array := strings.HasSuffix(t, "[]")
		t = t[:i]
		if array {
			t += "[]" // numeric(12,2)[]
		}
		return t, unsigned
	}
	for _, attr := range [...]string{" unsigned", " signed", " zerofill"} {
		if i := strings.Index(t, attr); i >= 0 {
			t = t[:i]
		}
	}
	return t, unsigned
}

// mysqlNullType is the sqlType Canal gives a NULL of a MySQL column type:
// the JDBC type of the binlog column type, before the adjustments Canal
// makes for values (TEXT to CLOB, BLOB and BINARY to BLOB, SET to BIT).
func mysqlNullType(base string, k change.Kind) int32 {
	switch base {
	case "tinyint", "bool", "boolean":
		return sqlTinyInt
	case "smallint":
		return sqlSmallInt
	case "mediumint", "int", "integer":
		return sqlInteger
	case "bigint", "serial":
		return sqlBigInt
	case "decimal", "numeric", "dec", "fixed":
		return sqlDecimal
	case "float":
		return sqlReal
	case "double", "real", "double precision":
		return sqlDouble
	case "bit":
		return sqlBit
	case "date":
		return sqlDate
	case "time":
		return sqlTime
	case "datetime", "timestamp":
		return sqlTimestamp
	case "year":
		return sqlVarchar
	case "char", "inet4", "inet6", "uuid":
		return sqlChar
	case "varchar":
		return sqlVarchar
	case "binary", "set", "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
		"multipolygon", "geometrycollection", "geomcollection":
		return sqlBinary
	case "varbinary", "tinyblob", "tinytext":
		return sqlVarbinary
	case "blob", "text", "mediumblob", "mediumtext", "longblob", "longtext":
		return sqlLongVarbinary
	case "enum":
		return sqlInteger
	case "json":
		return sqlOther
	}
	return kindSQLType(k)
}

// mysqlType is the sqlType Canal gives a non-NULL value of a MySQL
// column: integers move up one type when an unsigned value does not fit
// the signed one, TEXT is CLOB, BLOB, BINARY and spatial values are BLOB,
// SET is BIT.
func mysqlType(base string, v *change.Value) int32 {
	switch base {
	case "tinyint", "bool", "boolean":
		if v.Kind == change.KindUint && v.U > math.MaxInt8 {
			return sqlSmallInt
		}
		return sqlTinyInt
	case "smallint":
		if v.Kind == change.KindUint && v.U > math.MaxInt16 {
			return sqlInteger
		}
		return sqlSmallInt
	case "mediumint":
		return sqlInteger
	case "int", "integer":
		if v.Kind == change.KindUint && v.U > math.MaxInt32 {
			return sqlBigInt
		}
		return sqlInteger
	case "bigint", "serial":
		if v.Kind == change.KindUint && v.U > math.MaxInt64 {
			return sqlDecimal
		}
		return sqlBigInt
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "geometry", "point", "linestring",
		"polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection", "geomcollection":
		return sqlBlob
	case "tinytext", "text", "mediumtext", "longtext":
		return sqlClob
	case "set":
		return sqlBit
	case "json":
		return sqlVarchar
	case "":
		return kindSQLType(v.Kind)
	}
	if t := mysqlNullType(base, v.Kind); t != sqlOther || base == "json" {
		return t
	}
	return kindSQLType(v.Kind)
}

// kindSQLType is the sqlType of a value whose column type says nothing
// Canal knows (an unnamed column, a MongoDB field).
func kindSQLType(k change.Kind) int32 {
	switch k {
	case change.KindBool:
		return sqlBoolean
	case change.KindInt, change.KindUint:
		return sqlBigInt
	case change.KindFloat:
		return sqlDouble
	case change.KindDecimal:
		return sqlDecimal
	case change.KindString, change.KindJSON, change.KindEnum, change.KindSet, change.KindUUID, change.KindObjectID,
		change.KindDocument, change.KindArray, change.KindRegex:
		return sqlVarchar
	case change.KindBytes, change.KindGeometry:
		return sqlBlob
	case change.KindDate:
		return sqlDate
	case change.KindTime:
		return sqlTime
	case change.KindDateTime, change.KindTimestamp:
		return sqlTimestamp
	case change.KindYear:
		return sqlVarchar
	case change.KindBit:
		return sqlBit
	case change.KindNull:
		return sqlNull
	}
	return sqlOther
}

// postgresType is the java.sql.Types code PostgreSQL's JDBC driver
// reports for a column type as format_type prints it.
func postgresType(base string, k change.Kind) int32 {
	if strings.HasSuffix(base, "[]") {
		return sqlArray
	}
	switch base {
	case "boolean", "bool", "bit":
		return sqlBit
	case "smallint", "int2", "smallserial":
		return sqlSmallInt
	case "integer", "int", "int4", "serial":
		return sqlInteger
	case "bigint", "int8", "bigserial", "oid":
		return sqlBigInt
	case "real", "float4":
		return sqlReal
	case "double precision", "float8", "money":
		return sqlDouble
	case "numeric", "decimal":
		return sqlNumeric
	case "character", "char", "bpchar", `"char"`:
		return sqlChar
	case "character varying", "varchar", "text", "name", "citext":
		return sqlVarchar
	case "bytea":
		return sqlBinary
	case "date":
		return sqlDate
	case "time without time zone", "time with time zone", "time", "timetz":
		return sqlTime
	case "timestamp without time zone", "timestamp with time zone", "timestamp", "timestamptz":
		return sqlTimestamp
	case "xml":
		return sqlSQLXML
	}
	if k == change.KindArray {
		return sqlArray
	}
	return sqlOther
}

// valueText appends the text of a non-NULL value in Canal's form for its
// source family (see docs/canal.md): for MySQL and MariaDB what Canal's
// own parser prints; for PostgreSQL and MongoDB the source's own text
// (change.AppendText). Bytes are ISO-8859-1 text everywhere, each byte one
// character, as Canal sends BLOB and BINARY values.
func valueText(dst []byte, fam sourceFamily, v *change.Value, zone *time.Location) []byte {
	switch {
	case fam == familyPostgres:
		return appendPostgresText(dst, v, false)
	case v.Kind == change.KindBytes:
		return appendLatin1(dst, v.B)
	case v.Kind == change.KindBool:
		if v.I != 0 {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case fam != familyMySQL:
		return change.AppendText(dst, *v)
	}
	switch v.Kind {
	case change.KindInt:
		return strconv.AppendInt(dst, v.I, 10)
	case change.KindUint, change.KindBit, change.KindEnum, change.KindSet:
		// ENUM and SET as Canal sends them: the member index and the bitmap.
		return strconv.AppendUint(dst, v.U, 10)
	case change.KindFloat:
		return appendJavaFloat(dst, v.F, v.Size == 32)
	case change.KindDate:
		return appendCanalDate(dst, v.I)
	case change.KindTime:
		return appendCanalTime(dst, v)
	case change.KindDateTime:
		if v.I == 0 {
			dst = append(dst, "0000-00-00 00:00:00"...)
		} else {
			dst = appendCanalDate(dst, v.I/1000000)
			dst = append(dst, ' ')
			dst = appendHMS(dst, v.I%1000000, false)
		}
		return appendFraction(dst, v.U, v.Size)
	case change.KindTimestamp:
		if v.I == 0 {
			dst = append(dst, "0000-00-00 00:00:00"...)
		} else {
			t := time.Unix(v.I, 0).In(zone)
			y, mo, d := t.Date()
			dst = appendPad(dst, y, 4)
			dst = append(dst, '-')
			dst = appendPad(dst, int(mo), 2)
			dst = append(dst, '-')
			dst = appendPad(dst, d, 2)
			dst = append(dst, ' ')
			dst = appendHMS(dst, int64(t.Hour()*10000+t.Minute()*100+t.Second()), false)
		}
		return appendFraction(dst, v.U, v.Size)
	case change.KindYear:
		if v.I == 0 {
			return append(dst, "0000"...)
		}
		return strconv.AppendInt(dst, v.I, 10)
	case change.KindGeometry:
		// The binlog's own form: the SRID (4 bytes, little-endian), then WKB.
		var srid [4]byte
		binary.LittleEndian.PutUint32(srid[:], uint32(v.U))
		return appendLatin1(appendLatin1(dst, srid[:]), v.B)
	}
	return change.AppendText(dst, *v)
}

// appendLatin1 appends b decoded as ISO-8859-1: every byte becomes the
// character of the same code, UTF-8 encoded.
func appendLatin1(dst, b []byte) []byte {
	for _, c := range b {
		if c < utf8.RuneSelf {
			dst = append(dst, c)
		} else {
			dst = append(dst, 0xC0|c>>6, 0x80|c&0x3F)
		}
	}
	return dst
}

// appendPad appends n in decimal, zero-padded to width digits (n ≥ 0).
func appendPad(dst []byte, n, width int) []byte {
	var buf [20]byte
	s := strconv.AppendInt(buf[:0], int64(n), 10)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// appendCanalDate appends YYYYMMDD as "YYYY-MM-DD".
func appendCanalDate(dst []byte, ymd int64) []byte {
	if ymd == 0 {
		return append(dst, "0000-00-00"...)
	}
	dst = appendPad(dst, int(ymd/10000), 4)
	dst = append(dst, '-')
	dst = appendPad(dst, int(ymd/100%100), 2)
	dst = append(dst, '-')
	return appendPad(dst, int(ymd%100), 2)
}

// appendHMS appends hhmmss as "hh:mm:ss" (hours of three digits as they are).
func appendHMS(dst []byte, hms int64, neg bool) []byte {
	if neg {
		dst = append(dst, '-')
	}
	dst = appendPad(dst, int(hms/10000), 2)
	dst = append(dst, ':')
	dst = appendPad(dst, int(hms/100%100), 2)
	dst = append(dst, ':')
	return appendPad(dst, int(hms%100), 2)
}

// appendCanalTime appends a TIME as Canal does: "-838:59:59.000000".
func appendCanalTime(dst []byte, v *change.Value) []byte {
	return appendFraction(appendHMS(dst, v.I, v.Neg), v.U, v.Size)
}

// appendFraction appends "." and the first fsp digits of the fraction
// nanos when fsp > 0.
func appendFraction(dst []byte, nanos uint64, fsp uint8) []byte {
	if fsp == 0 {
		return dst
	}
	if fsp > 9 {
		fsp = 9
	}
	var buf [9]byte
	for i := 8; i >= 0; i-- {
		buf[i] = byte('0' + nanos%10)
		nanos /= 10
	}
	dst = append(dst, '.')
	return append(dst, buf[:fsp]...)
}

// appendJavaFloat appends f as Java's Float.toString (single) or
// Double.toString prints it: the shortest digits that read back exactly,
// in plain notation with at least one fraction digit ("100.0", "0.001")
// when 10^-3 ≤ |f| < 10^7, else as "1.0E7", "-3.4028235E38", "4.9E-324".
func appendJavaFloat(dst []byte, f float64, single bool) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	case f == 0:
		if math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	bits := 64
	if single {
		bits = 32
	}
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, bits) // -d.ddde±XX
	if len(e) > 1 && (e[1] == 'e' || e[0] == '-' && e[2] == 'e') {
		// One digit: Java prints the two digits nearest the exact value
		// (4.9E-324 for the smallest double), zeros cut below.
		e = strconv.AppendFloat(buf[:0], f, 'e', 1, bits)
	}
	if e[0] == '-' {
		dst = append(dst, '-')
		e = e[1:]
	}
	i := 0
	for i < len(e) && e[i] != 'e' {
		i++
	}
	mant, exp := e[:i], e[i+1:]
	x, _ := strconv.Atoi(string(exp))
	var digits [24]byte
	nd := 0
	for _, c := range mant {
		if c != '.' {
			digits[nd] = c
			nd++
		}
	}
	for nd > 1 && digits[nd-1] == '0' {
		nd--
	}
	ds := digits[:nd]
	abs := math.Abs(f)
	if abs >= 1e-3 && abs < 1e7 {
		if x >= 0 {
			// integer part: the first x+1 digits (padded with zeros)
			for k := 0; k <= x; k++ {
				if k < nd {
					dst = append(dst, ds[k])
				} else {
					dst = append(dst, '0')
				}
			}
			dst = append(dst, '.')
			if x+1 < nd {
				return append(dst, ds[x+1:]...)
			}
			return append(dst, '0')
		}
		dst = append(dst, "0."...)
		for k := 0; k < -x-1; k++ {
			dst = append(dst, '0')
		}
		return append(dst, ds...)
	}
	dst = append(dst, ds[0], '.')
	if nd > 1 {
		dst = append(dst, ds[1:]...)
	} else {
		dst = append(dst, '0')
	}
	dst = append(dst, 'E')
	return strconv.AppendInt(dst, int64(x), 10)
}

// appendPostgresText appends a PostgreSQL value as the server prints it
// (what its JDBC driver's getString returns): temporal values with the
// fraction's trailing zeros cut and offsets as "+05:30" or "+00", BIT
// strings in binary digits, arrays as {1,"a b",NULL}. Other kinds as
// change.AppendText.
func appendPostgresText(dst []byte, v *change.Value, inArray bool) []byte {
	switch v.Kind {
	case change.KindTimestamp:
		switch v.I {
		case math.MaxInt64:
			return append(dst, "infinity"...)
		case math.MinInt64:
			return append(dst, "-infinity"...)
		}
		t := time.Unix(v.I+int64(v.Off), 0).UTC()
		y, bc := t.Year(), false
		if y <= 0 {
			y, bc = 1-y, true
		}
		dst = appendPad(dst, y, 4)
		dst = append(dst, '-')
		dst = appendPad(dst, int(t.Month()), 2)
		dst = append(dst, '-')
		dst = appendPad(dst, t.Day(), 2)
		dst = append(dst, ' ')
		dst = appendHMS(dst, int64(t.Hour()*10000+t.Minute()*100+t.Second()), false)
		dst = appendTrimmedFraction(dst, v.U)
		if v.Zoned || v.Off != 0 {
			dst = appendPGOffset(dst, v.Off)
		}
		if bc {
			dst = append(dst, " BC"...)
		}
		return dst
	case change.KindDateTime:
		dst = appendCanalDate(dst, v.I/1000000)
		dst = append(dst, ' ')
		dst = appendHMS(dst, v.I%1000000, false)
		return appendTrimmedFraction(dst, v.U)
	case change.KindTime:
		dst = appendHMS(dst, v.I, v.Neg)
		dst = appendTrimmedFraction(dst, v.U)
		if v.Zoned || v.Off != 0 {
			dst = appendPGOffset(dst, v.Off)
		}
		return dst
	case change.KindBit:
		for i := int(v.Size) - 1; i >= 0; i-- {
			dst = append(dst, byte('0'+v.U>>uint(i)&1))
		}
		return dst
	case change.KindBool:
		switch {
		case inArray && v.I != 0:
			return append(dst, 't')
		case inArray:
			return append(dst, 'f')
		case v.I != 0:
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case change.KindBytes:
		if !inArray {
			return appendLatin1(dst, v.B)
		}
		dst = append(dst, `\x`...)
		return hex.AppendEncode(dst, v.B)
	case change.KindArray:
		dst = append(dst, '{')
		var tmp []byte
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
				dst = appendPostgresText(dst, e, true)
				continue
			}
			tmp = appendPostgresText(tmp[:0], e, true)
			dst = appendArrayElem(dst, tmp)
		}
		return append(dst, '}')
	}
	return change.AppendText(dst, *v)
}

// appendArrayElem appends an array element's text, quoted when
// PostgreSQL would quote it.
func appendArrayElem(dst, s []byte) []byte {
	quote := len(s) == 0 || strings.EqualFold(string(s), "NULL")
	for _, c := range s {
		switch c {
		case '{', '}', ',', '"', '\\', ' ', '\t', '\n', '\r', '\v', '\f':
			quote = true
		}
	}
	if !quote {
		return append(dst, s...)
	}
	dst = append(dst, '"')
	for _, c := range s {
		if c == '"' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}

// appendTrimmedFraction appends ".ffffff" without trailing zeros, or
// nothing for a whole second (PostgreSQL's microsecond fractions).
func appendTrimmedFraction(dst []byte, nanos uint64) []byte {
	micros := nanos / 1000
	if micros == 0 {
		return dst
	}
	var buf [6]byte
	for i := 5; i >= 0; i-- {
		buf[i] = byte('0' + micros%10)
		micros /= 10
	}
	n := 6
	for n > 0 && buf[n-1] == '0' {
		n--
	}
	dst = append(dst, '.')
	return append(dst, buf[:n]...)
}

// appendPGOffset appends a zone offset as PostgreSQL prints it: "+00",
// "+05:30", "-03:30:15".
func appendPGOffset(dst []byte, off int32) []byte {
	if off < 0 {
		dst = append(dst, '-')
		off = -off
	} else {
		dst = append(dst, '+')
	}
	dst = appendPad(dst, int(off/3600), 2)
	if m, s := off/60%60, off%60; m != 0 || s != 0 {
		dst = append(dst, ':')
		dst = appendPad(dst, int(m), 2)
		if s != 0 {
			dst = append(dst, ':')
			dst = appendPad(dst, int(s), 2)
		}
	}
	return dst
}
