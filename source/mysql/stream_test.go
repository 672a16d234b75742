package mysql

import (
	"bytes"
	"testing"

	"github.com/sluice-cdc/sluice/change"
)

// TestPendBuffersHold checks that a held-back change's images survive the
// reuse of the buffers they were read into (nil images stay nil), and that
// holding the next change reuses the same memory.
func TestPendBuffersHold(t *testing.T) {
	read := []byte("alphabetagamma")
	for _, tc := range []struct {
		name          string
		before, after []change.Value
	}{
		{"insert", nil, []change.Value{change.Int(1, 32), change.String(read[0:5]), change.String(read[5:5])}},
		{"delete", []change.Value{change.Int(2, 32), change.Null(), change.Bytes(read[5:9])}, nil},
		{"update", []change.Value{change.Int(3, 32), change.String(read[9:14])}, []change.Value{change.Int(3, 32), change.String(read[0:14])}},
		{"empty images", []change.Value{}, []change.Value{}},
	} {
		var b pendBuffers
		want := [2][]change.Value{cloneValues(tc.before), cloneValues(tc.after)}
		before, after := b.hold(tc.before, tc.after)
		saved := bytes.Clone(read)
		copy(read, bytes.Repeat([]byte{'X'}, len(read))) // the next event overwrites the read buffer
		for i, got := range [2][]change.Value{before, after} {
			if (got == nil) != (want[i] == nil) || len(got) != len(want[i]) {
				t.Fatalf("%s: image %d: got %d values (nil %v), want %d (nil %v)", tc.name, i, len(got), got == nil, len(want[i]), want[i] == nil)
			}
			for j := range got {
				if !change.Equal(got[j], want[i][j]) {
					t.Errorf("%s: image %d value %d: got %+v, want %+v", tc.name, i, j, got[j], want[i][j])
				}
			}
		}
		copy(read, saved)
		// Holding again reuses the buffers: no allocation.
		if n := testing.AllocsPerRun(10, func() { b.hold(tc.before, tc.after) }); n != 0 {
			t.Errorf("%s: hold allocates %.0f times when its buffers are big enough", tc.name, n)
		}
	}
}
