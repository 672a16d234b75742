package change

import (
	"bytes"
	"math"
)

// Equal reports whether a and b are the same typed value: every field is
// compared exactly (Kind, Size, Neg, Off, Zoned, I, U, F, B, Elems, Names),
// with two allowances: floats compare by bit pattern except that any NaN
// equals any NaN, and a nil slice equals an empty one.
func Equal(a, b Value) bool {
	if a.Kind != b.Kind || a.Size != b.Size || a.Neg != b.Neg || a.Off != b.Off ||
		a.Zoned != b.Zoned || a.I != b.I || a.U != b.U {
		return false
	}
	if math.Float64bits(a.F) != math.Float64bits(b.F) && !(math.IsNaN(a.F) && math.IsNaN(b.F)) {
		return false
	}
	if !bytes.Equal(a.B, b.B) || len(a.Elems) != len(b.Elems) || len(a.Names) != len(b.Names) {
		return false
	}
	for i := range a.Elems {
		if !Equal(a.Elems[i], b.Elems[i]) {
			return false
		}
	}
	for i := range a.Names {
		if a.Names[i] != b.Names[i] {
			return false
		}
	}
	return true
}

// EqualChange reports whether a and b describe the same change: every field
// is compared as Equal compares values, times with time.Time.Equal (so the
// location does not matter), and nil slices equal empty ones.
func EqualChange(a, b *Change) bool {
	if a.Op != b.Op || a.Source != b.Source || a.Namespace != b.Namespace || a.SQL != b.SQL ||
		a.Tx != b.Tx || a.Snapshot != b.Snapshot || a.Pos != b.Pos || !a.CommitTime.Equal(b.CommitTime) || !a.ReadTime.Equal(b.ReadTime) {
		return false
	}
	if len(a.Columns) != len(b.Columns) || len(a.Before) != len(b.Before) || len(a.After) != len(b.After) {
		return false
	}
	for i := range a.Columns {
		if a.Columns[i] != b.Columns[i] {
			return false
		}
	}
	for i := range a.Before {
		if !Equal(a.Before[i], b.Before[i]) {
			return false
		}
	}
	for i := range a.After {
		if !Equal(a.After[i], b.After[i]) {
			return false
		}
	}
	return true
}
