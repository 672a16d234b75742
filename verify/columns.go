package verify

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/internal/sqldb"
)

// class is how a column's values are read and compared across engines.
type class uint8

const (
	clsText      class = iota // as text, byte for byte
	clsChar                   // text without trailing blanks (CHAR pads)
	clsInt                    // integers (booleans as 0/1)
	clsDecimal                // exact decimals, trailing fraction zeros dropped
	clsFloat32                // read as the float32 it is
	clsFloat64                // read as the float64 it is
	clsBits                   // bit strings as binary digits, leading zeros dropped
	clsTemporal               // dates, times, timestamps: trailing fraction zeros and a +00 zone dropped
	clsZonedTime              // time with zone: fraction and offset normalized
	clsBytes                  // bytes, read as hex
	clsGeometry               // MySQL's internal form (SRID + WKB) or EWKB, compared as EWKB
	clsJSON                   // JSON documents: keys sorted, white space dropped
	clsInet                   // IP addresses: a full-length mask dropped
	clsUUID                   // UUIDs in lower case
)

// column is one column compared on both sides.
type column struct {
	name     string
	cls      class
	src, tgt string // SELECT expressions on each side
	srcType  sqldb.Type
	tgtType  sqldb.Type
	// srcGeo/tgtGeo: the side holds MySQL's internal geometry form.
	srcGeo, tgtGeo bool
	// nullable: the column can be NULL on either side.
	nullable bool
}

// pairClass decides how values of a source column of type s and its
// target column of type t are compared.
func pairClass(s, t sqldb.Type) class {
	fam := func(f sqldb.Family) bool { return s.Family == f || t.Family == f }
	switch {
	case fam(sqldb.FamJSON) || fam(sqldb.FamArray):
		return clsJSON
	case fam(sqldb.FamGeometry):
		return clsGeometry
	case fam(sqldb.FamFloat):
		if s.Family == sqldb.FamFloat && s.Bits == 32 || t.Family == sqldb.FamFloat && t.Bits == 32 {
			return clsFloat32
		}
		return clsFloat64
	case fam(sqldb.FamDecimal):
		return clsDecimal
	case fam(sqldb.FamBit):
		return clsBits
	case fam(sqldb.FamInt) || fam(sqldb.FamUint) || fam(sqldb.FamYear) || fam(sqldb.FamBool):
		return clsInt
	case fam(sqldb.FamTimeTZ):
		return clsZonedTime
	case fam(sqldb.FamDate) || fam(sqldb.FamTime) || fam(sqldb.FamDateTime) || fam(sqldb.FamTimestamp) || fam(sqldb.FamInterval):
		return clsTemporal
	case fam(sqldb.FamBytes) || fam(sqldb.FamBinary):
		return clsBytes
	case fam(sqldb.FamUUID):
		return clsUUID
	case fam(sqldb.FamInet):
		return clsInet
	case fam(sqldb.FamChar):
		return clsChar
	}
	return clsText
}

// expr returns the SELECT expression that reads column name of type ty on
// engine e as the text class c compares.
func expr(e sqldb.Engine, name string, ty sqldb.Type, c class) (string, bool) {
	q := e.Quote(name)
	if e == sqldb.MySQL {
		switch {
		case c == clsGeometry && ty.Family == sqldb.FamGeometry:
			return "HEX(" + q + ")", true
		case ty.Family == sqldb.FamFloat:
			// FLOAT's own text has 6 digits; a DOUBLE's has them all. As
			// text (the server's, the same digits): the driver would
			// parse a number and database/sql format it again.
			return "CAST(CAST(" + q + " AS DOUBLE) AS CHAR)", false
		case ty.Family == sqldb.FamInt || ty.Family == sqldb.FamUint:
			return "CAST(" + q + " AS CHAR)", false
		case ty.Family == sqldb.FamBit:
			if c == clsBits {
				return "BIN(" + q + ")", false
			}
			return "CAST(" + q + " AS UNSIGNED)", false
		case ty.Family == sqldb.FamBytes || ty.Family == sqldb.FamBinary:
			return "HEX(" + q + ")", false
		case ty.Family == sqldb.FamDate || ty.Family == sqldb.FamTime || ty.Family == sqldb.FamDateTime ||
			ty.Family == sqldb.FamTimestamp || ty.Family == sqldb.FamYear || ty.Family == sqldb.FamUUID || ty.Family == sqldb.FamInet:
			return "CAST(" + q + " AS CHAR)", false
		}
		return q, false
	}
	switch ty.Family {
	case sqldb.FamBool:
		return q + "::int::text", false
	case sqldb.FamBytes, sqldb.FamBinary:
		return "encode(" + q + ", 'hex')", false
	case sqldb.FamArray:
		if c == clsJSON {
			return "array_to_json(" + q + ")::text", false
		}
	case sqldb.FamFloat:
		return q + "::float8::text", false
	case sqldb.FamBit:
		if c != clsBits {
			return "(" + q + ")::bigint::text", false
		}
	}
	return q + "::text", false
}

// canon appends the canonical form of a value's text v, of class c, read
// with geo set when it is MySQL's internal geometry form.
func canon(dst []byte, c class, v []byte, geo bool) []byte {
	switch c {
	case clsChar:
		return append(dst, bytes.TrimRight(v, " ")...)
	case clsInt:
		if len(v) > 0 && v[0] == '+' {
			v = v[1:]
		}
		return append(dst, v...)
	case clsDecimal:
		return appendDecimal(dst, v)
	case clsFloat32, clsFloat64:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return append(dst, v...)
		}
		if c == clsFloat32 {
			return strconv.AppendFloat(dst, float64(float32(f)), 'g', -1, 32)
		}
		return strconv.AppendFloat(dst, f, 'g', -1, 64)
	case clsBits:
		t := bytes.TrimLeft(v, "0")
		if len(t) == 0 {
			return append(dst, '0')
		}
		return append(dst, t...)
	case clsTemporal:
		return appendTemporal(dst, v)
	case clsZonedTime:
		return appendZonedTime(dst, v)
	case clsBytes:
		return append(dst, bytes.ToLower(v)...)
	case clsGeometry:
		if geo {
			return appendInternalAsEWKB(dst, v)
		}
		return append(dst, bytes.ToLower(v)...)
	case clsJSON:
		return appendJSON(dst, v)
	case clsInet:
		s := string(v)
		s = strings.TrimSuffix(strings.TrimSuffix(s, "/128"), "/32")
		return append(dst, s...)
	case clsUUID:
		return append(dst, bytes.ToLower(v)...)
	}
	return append(dst, v...)
}

// appendDecimal appends a decimal's text without a '+', leading integer
// zeros, trailing fraction zeros, and with "-0" as "0".
func appendDecimal(dst, v []byte) []byte {
	s := string(v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(s, "+-")
	if strings.ContainsAny(s, "eE") { // exponent form: compare the number
		if f, err := strconv.ParseFloat(string(v), 64); err == nil {
			return strconv.AppendFloat(dst, f, 'g', -1, 64)
		}
		return append(dst, v...)
	}
	ip, fp, _ := strings.Cut(s, ".")
	ip = strings.TrimLeft(ip, "0")
	fp = strings.TrimRight(fp, "0")
	if ip == "" {
		ip = "0"
	}
	if neg && (ip != "0" || fp != "") {
		dst = append(dst, '-')
	}
	dst = append(dst, ip...)
	if fp != "" {
		dst = append(dst, '.')
		dst = append(dst, fp...)
	}
	return dst
}

// appendTemporal normalizes a date, time or timestamp text: a 'T'
// separator as a space, trailing fraction zeros dropped, a +00 (or
// +00:00) zone dropped (both sessions run in UTC).
func appendTemporal(dst, v []byte) []byte {
	s := strings.Replace(string(v), "T", " ", 1)
	bc := strings.HasSuffix(s, " BC")
	s = strings.TrimSuffix(s, " BC")
	for _, z := range []string{"+00:00", "+00", "Z"} {
		if strings.HasSuffix(s, z) && len(s) > len(z)+8 {
			s = strings.TrimSuffix(s, z)
			break
		}
	}
	s = trimFraction(s)
	dst = append(dst, s...)
	if bc {
		dst = append(dst, " BC"...)
	}
	return dst
}

// trimFraction drops the trailing zeros of the last fraction in s.
func trimFraction(s string) string {
	i := strings.LastIndexByte(s, '.')
	if i < 0 {
		return s
	}
	j := i + 1
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	frac := strings.TrimRight(s[i+1:j], "0")
	if frac == "" {
		return s[:i] + s[j:]
	}
	return s[:i+1] + frac + s[j:]
}

// appendZonedTime normalizes a time with zone: fraction zeros dropped, the
// offset as ±HH:MM (±HH:MM:SS when it has seconds).
func appendZonedTime(dst, v []byte) []byte {
	s := string(v)
	k := strings.LastIndexAny(s, "+-")
	if k <= 0 {
		return append(dst, trimFraction(s)...)
	}
	t, off := trimFraction(s[:k]), s[k:]
	parts := strings.Split(off[1:], ":")
	for len(parts) < 2 {
		parts = append(parts, "00")
	}
	if len(parts) == 3 && parts[2] == "00" {
		parts = parts[:2]
	}
	dst = append(dst, t...)
	dst = append(dst, off[0])
	return append(dst, strings.Join(parts, ":")...)
}

// appendInternalAsEWKB turns the hex of MySQL's internal geometry form
// (4 bytes of SRID, little-endian, then WKB) into the lower-case hex of
// EWKB (WKB with the SRID folded in when not 0), as the SQL sink writes
// geometry into PostgreSQL.
func appendInternalAsEWKB(dst, v []byte) []byte {
	raw := make([]byte, hex.DecodedLen(len(v)))
	if _, err := hex.Decode(raw, v); err != nil || len(raw) < 9 {
		return append(dst, bytes.ToLower(v)...)
	}
	srid := binary.LittleEndian.Uint32(raw)
	wkb := raw[4:]
	if srid == 0 || wkb[0] > 1 {
		return hex.AppendEncode(dst, wkb)
	}
	var order binary.ByteOrder = binary.BigEndian
	if wkb[0] == 1 {
		order = binary.LittleEndian
	}
	head := make([]byte, 9)
	head[0] = wkb[0]
	order.PutUint32(head[1:5], order.Uint32(wkb[1:5])|0x20000000)
	order.PutUint32(head[5:9], srid)
	dst = hex.AppendEncode(dst, head)
	return hex.AppendEncode(dst, wkb[5:])
}

// appendJSON appends a JSON document in a canonical form: object keys
// sorted, no white space, numbers as written (decimals normalized). A
// text that is not JSON is appended as it is.
func appendJSON(dst, v []byte) []byte {
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		return append(dst, v...)
	}
	x = normNumbers(x)
	b, err := json.Marshal(x)
	if err != nil {
		return append(dst, v...)
	}
	return append(dst, b...)
}

// normNumbers rewrites every json.Number as its normalized decimal text.
func normNumbers(x any) any {
	switch x := x.(type) {
	case json.Number:
		s := string(appendDecimal(nil, []byte(x)))
		if f, err := strconv.ParseFloat(s, 64); err == nil && (math.IsInf(f, 0) || math.IsNaN(f)) {
			return json.Number(x)
		}
		return json.Number(s)
	case []any:
		for i := range x {
			x[i] = normNumbers(x[i])
		}
	case map[string]any:
		for k, v := range x {
			x[k] = normNumbers(v)
		}
	}
	return x
}
