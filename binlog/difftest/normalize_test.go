package difftest

import (
	"encoding/hex"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// Cell values that are not data.
const (
	cellNull   = "NULL"
	cellAbsent = "ABSENT" // the column is not part of this image (MINIMAL)
)

// rowChange is one row change as every decoder reports it, normalised.
type rowChange struct {
	Op     string // insert, update, delete
	Table  string // db.table
	Before []string
	After  []string
	Where  string // where the decoder found it, for messages
}

// rowSource is the column metadata a normaliser needs, from the test's own
// table definitions (never from a decoder under test).
type rowSource struct {
	tables map[string]table // by db.table
}

// columnOf returns column k (0-based, 0 = id) of db.table.
func (s rowSource) columnOf(tbl string, k int) (column, bool) {
	t, ok := s.tables[tbl]
	if !ok || k > len(t.cols) {
		return column{}, false
	}
	if k == 0 {
		return column{name: "id", def: "INT", cls: clsInt, bits: 32}, true
	}
	return t.cols[k-1], true
}

// ncols returns the number of columns of db.table including id.
func (s rowSource) ncols(tbl string) int { return len(s.tables[tbl].cols) + 1 }

// textFromCharset decodes b from a column charset to UTF-8 and quotes it.
func textFromCharset(charset string, b []byte) (string, error) {
	var s string
	switch charset {
	case "utf8mb4", "utf8mb3", "utf8":
		if !utf8.Valid(b) {
			return "", fmt.Errorf("invalid UTF-8 %q", b)
		}
		s = string(b)
	case "latin1":
		// MariaDB's latin1 is Windows-1252.
		d, err := charmap.Windows1252.NewDecoder().Bytes(b)
		if err != nil {
			return "", err
		}
		s = string(d)
	case "gbk":
		d, err := simplifiedchinese.GBK.NewDecoder().Bytes(b)
		if err != nil {
			return "", err
		}
		s = string(d)
	default:
		return "", fmt.Errorf("no decoder for charset %s", charset)
	}
	return strconv.Quote(s), nil
}

// quoteText is the canonical form of text already in UTF-8.
func quoteText(s string) string { return strconv.Quote(s) }

// canonBinary pads a BINARY(n) value to n bytes (the binlog stores it
// without trailing zero bytes; SELECT returns it padded) and hex-encodes it.
func canonBinary(b []byte, n int) string {
	if len(b) < n {
		b = append(append([]byte(nil), b...), make([]byte, n-len(b))...)
	}
	return hex.EncodeToString(b)
}

// canonDecimal removes trailing zeros of the fraction, the dot if nothing
// is left after it, and the sign of zero, so equal decimals compare equal.
func canonDecimal(s string) (string, error) {
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	intPart, frac, _ := strings.Cut(s, ".")
	for _, r := range intPart + frac {
		if r < '0' || r > '9' {
			return "", fmt.Errorf("not a decimal: %q", s)
		}
	}
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	frac = strings.TrimRight(frac, "0")
	out := intPart
	if frac != "" {
		out += "." + frac
	}
	if neg && out != "0" {
		out = "-" + out
	}
	return out, nil
}

// canonFloat32 is the shortest text that round-trips a float32.
func canonFloat32(f float32) string { return strconv.FormatFloat(float64(f), 'g', -1, 32) }

// canonFloat64 is the shortest text that round-trips a float64.
func canonFloat64(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// floatAs6 formats a canonical float32 text as C's "%g" does (6
// significant digits), which is all mariadb-binlog prints for FLOAT.
func floatAs6(canon string) string {
	f, err := strconv.ParseFloat(canon, 32)
	if err != nil {
		return canon
	}
	return cG6(f)
}

// cG6 mimics printf("%g", f).
func cG6(f float64) string {
	s := strconv.FormatFloat(f, 'e', 5, 64) // d.ddddde±XX
	mant, expS, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(expS)
	if exp < -4 || exp >= 6 {
		mant = trimFracZeros(mant)
		sign := "+"
		if exp < 0 {
			sign = "-"
			exp = -exp
		}
		return fmt.Sprintf("%se%s%02d", mant, sign, exp)
	}
	return trimFracZeros(strconv.FormatFloat(f, 'f', 5-exp, 64))
}

func trimFracZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// canonFrac renders nanos as "." plus fsp digits, or "" for fsp 0.
func canonFrac(nanos uint64, fsp int) string {
	if fsp == 0 {
		return ""
	}
	return "." + fmt.Sprintf("%09d", nanos)[:fsp]
}

// canonTime renders a TIME value.
func canonTime(neg bool, h, m, s int, nanos uint64, fsp int) string {
	sign := ""
	if neg {
		sign = "-"
	}
	return fmt.Sprintf("%s%02d:%02d:%02d%s", sign, h, m, s, canonFrac(nanos, fsp))
}

// canonDateTime renders a DATETIME value.
func canonDateTime(y, mo, d, h, mi, s int, nanos uint64, fsp int) string {
	return fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d%s", y, mo, d, h, mi, s, canonFrac(nanos, fsp))
}

// canonTimestamp renders a TIMESTAMP as Unix seconds and fsp digits.
func canonTimestamp(unix int64, nanos uint64, fsp int) string {
	return strconv.FormatInt(unix, 10) + canonFrac(nanos, fsp)
}

// fixFrac pads or cuts a fraction text to fsp digits ("12" → "120000").
func fixFrac(frac string, fsp int) string {
	if fsp == 0 {
		return ""
	}
	frac = (frac + "000000000")[:fsp]
	return "." + frac
}

// canonUintText parses a decimal unsigned integer and re-renders it.
func canonUintText(s string) (string, error) {
	n, ok := new(big.Int).SetString(strings.TrimSpace(s), 10)
	if !ok {
		return "", fmt.Errorf("not an integer: %q", s)
	}
	return n.String(), nil
}
