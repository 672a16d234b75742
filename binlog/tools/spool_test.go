package tools

import (
	"fmt"
	"strings"
	"testing"
)

// TestSpoolEachReset reads records back in order, empties the spool and
// fills it again, with records from empty to larger than the buffers.
func TestSpoolEachReset(t *testing.T) {
	sp, err := newSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	for round, n := range []int{0, 1, 500, 3} {
		var want []string
		for i := range n {
			rec := fmt.Sprintf("r%d-%d-", round, i) + strings.Repeat("x", (i*7919)%3000)
			if i == 1 {
				rec = "" // an empty record
			}
			if i == 2 {
				rec = strings.Repeat("big", 1<<19) // 1.5 MB, over the reader's buffer
			}
			want = append(want, rec)
			if err := sp.add([]byte(rec)); err != nil {
				t.Fatal(err)
			}
		}
		var got []string
		if err := sp.each(func(rec []byte) error { got = append(got, string(rec)); return nil }); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if len(got) != len(want) {
			t.Fatalf("round %d: %d records, want %d", round, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("round %d record %d: %d bytes, want %d", round, i, len(got[i]), len(want[i]))
			}
		}
		if err := sp.reset(); err != nil {
			t.Fatal(err)
		}
	}
}
