package tools

import (
	"io"
	"os"
	"testing"

	"github.com/sluice-cdc/sluice/internal/binlogcorpus"
)

// TestFlashbackProgress checks that the progress of Flashback and
// FlashbackSQL never goes back and ends at twice the input's size (two
// passes), so a progress line does not sit at 100% while the undo is
// being written.
func TestFlashbackProgress(t *testing.T) {
	path := binlogcorpus.Path(t, "mariadb-bin.000001")
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, seen []int64, total int64) {
		t.Helper()
		if len(seen) == 0 {
			t.Fatalf("%s: no progress reported", name)
		}
		for i := 1; i < len(seen); i++ {
			if seen[i] < seen[i-1] {
				t.Fatalf("%s: progress went back from %d to %d", name, seen[i-1], seen[i])
			}
		}
		if last := seen[len(seen)-1]; last != total {
			t.Fatalf("%s: progress ends at %d, want %d (twice the input)", name, last, total)
		}
	}
	for _, sql := range []bool{false, true} {
		var seen, totals []int64
		progress := func(done, total int64) { seen, totals = append(seen, done), append(totals, total) }
		var err error
		name := "binlog"
		if sql {
			name = "sql"
			_, err = FlashbackSQL(testCtx(t), []string{path}, SQLOptions{Progress: progress}, io.Discard)
		} else {
			_, err = Flashback(testCtx(t), []string{path}, FlashbackOptions{Progress: progress}, io.Discard)
		}
		if err != nil {
			t.Fatal(err)
		}
		check(name, seen, 2*st.Size())
		for _, tot := range totals {
			if tot != 2*st.Size() {
				t.Fatalf("%s: total %d, want %d", name, tot, 2*st.Size())
			}
		}
	}
}
