package snapshot

import (
	"bytes"
	"cmp"
	"math"
	"strings"

	"github.com/sluice-cdc/sluice/change"
)

// CompareValues orders two key values as MySQL, MariaDB, PostgreSQL and
// MongoDB order values of one column, where that order is known without
// the database: integers, decimals, floats, dates and times, binary
// strings, UUIDs, ObjectIds, enums (by index or sort position) and BIT.
// ok is false when it cannot tell: text (its order is the column's
// collation), zoned times, values of two kinds, and kinds that are not
// keys (documents, arrays, geometry); the caller asks the database then.
func CompareValues(a, b change.Value) (c int, ok bool) {
	if a.Kind != b.Kind {
		return 0, false
	}
	switch a.Kind {
	case change.KindBool, change.KindInt, change.KindDate, change.KindYear:
		return cmp.Compare(a.I, b.I), true
	case change.KindUint, change.KindBit, change.KindEnum, change.KindBSONTimestamp:
		return cmp.Compare(a.U, b.U), true
	case change.KindDateTime, change.KindTimestamp:
		if c := cmp.Compare(a.I, b.I); c != 0 {
			return c, true
		}
		return cmp.Compare(a.U, b.U), true
	case change.KindTime:
		if a.Zoned || b.Zoned || a.Off != 0 || b.Off != 0 {
			return 0, false
		}
		if a.Neg != b.Neg {
			if a.Neg {
				return -1, true
			}
			return 1, true
		}
		c := cmp.Compare(a.I, b.I)
		if c == 0 {
			c = cmp.Compare(a.U, b.U)
		}
		if a.Neg {
			c = -c
		}
		return c, true
	case change.KindFloat:
		// NaN sorts after every number (PostgreSQL's order).
		an, bn := math.IsNaN(a.F), math.IsNaN(b.F)
		switch {
		case an && bn:
			return 0, true
		case an:
			return 1, true
		case bn:
			return -1, true
		}
		return cmp.Compare(a.F, b.F), true
	case change.KindDecimal:
		return compareDecimal(string(a.B), string(b.B))
	case change.KindBytes, change.KindUUID, change.KindObjectID:
		return bytes.Compare(a.B, b.B), true
	}
	return 0, false
}

// CompareKeys orders two keys column by column with CompareValues; ok is
// false when a column it has to look at cannot be compared in Go.
func CompareKeys(a, b []change.Value) (int, bool) {
	for i := 0; i < len(a) && i < len(b); i++ {
		c, ok := CompareValues(a[i], b[i])
		if !ok {
			return 0, false
		}
		if c != 0 {
			return c, true
		}
	}
	return cmp.Compare(len(a), len(b)), true
}

// compareDecimal orders two decimal texts numerically ("-12.50" < "3";
// "1.0" equals "1"). NaN sorts after everything and equals NaN, as in
// PostgreSQL; "Infinity" and "-Infinity" are the ends.
func compareDecimal(a, b string) (int, bool) {
	ra, okA := decimalRank(a)
	rb, okB := decimalRank(b)
	if !okA || !okB {
		return 0, false
	}
	if ra != 0 || rb != 0 {
		return cmp.Compare(ra, rb), true
	}
	na, nb := strings.HasPrefix(a, "-"), strings.HasPrefix(b, "-")
	a, b = strings.TrimLeft(a, "+-"), strings.TrimLeft(b, "+-")
	ai, af, _ := strings.Cut(a, ".")
	bi, bf, _ := strings.Cut(b, ".")
	ai, bi = strings.TrimLeft(ai, "0"), strings.TrimLeft(bi, "0")
	af, bf = strings.TrimRight(af, "0"), strings.TrimRight(bf, "0")
	zeroA, zeroB := ai == "" && af == "", bi == "" && bf == ""
	if zeroA {
		na = false
	}
	if zeroB {
		nb = false
	}
	if na != nb {
		if na {
			return -1, true
		}
		return 1, true
	}
	c := cmp.Compare(len(ai), len(bi))
	if c == 0 {
		c = strings.Compare(ai, bi)
	}
	if c == 0 {
		c = strings.Compare(af, bf) // digits compare as text once the lengths may differ
	}
	if na {
		c = -c
	}
	return c, true
}

// decimalRank is -1 for -Infinity, 1 for Infinity, 2 for NaN, 0 for a
// number; ok is false for text that is neither.
func decimalRank(s string) (int, bool) {
	switch s {
	case "NaN":
		return 2, true
	case "Infinity", "+Infinity", "inf":
		return 1, true
	case "-Infinity", "-inf":
		return -1, true
	}
	digits := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits = true
		case c == '.' || (i == 0 && (c == '-' || c == '+')):
		default:
			return 0, false
		}
	}
	return 0, digits
}
