package changes

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/binlogcorpus"
)

// brokenCorpus are the corpus files a decode must reject, with the text
// the error must contain besides the file name.
var brokenCorpus = map[string]string{
	"binlog_truncated_event.000001":           "truncated",
	"binlog_truncated_prev_gtid_event.000001": "truncated",
	"corrupt-relay-bin.000624":                "QUERY_EVENT",
	"bug40482-bin.000001":                     "INCIDENT_EVENT",
	"ver_5_1-wl2325_r.001":                    "PRE_GA_WRITE_ROWS_EVENT",
}

// TestCorpus decodes every file of the corpus (MySQL 5.0 to 9.x and
// MariaDB, relay logs, compressed transactions): valid files decode with
// positions in strictly increasing order, broken ones fail with an error
// that names the file.
func TestCorpus(t *testing.T) {
	dir := binlogcorpus.Dir(t)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) < 30 {
		t.Fatalf("only %d corpus files in %s", len(ents), dir)
	}
	var total int64
	for _, e := range ents {
		name := e.Name()
		t.Run(name, func(t *testing.T) {
			var prev change.Position
			d := NewDecoder(Filter{})
			err := DecodeFiles(context.Background(), []string{filepath.Join(dir, name)}, d, func(c *change.Change) error {
				if !prev.IsZero() && change.Compare(prev, c.Pos) >= 0 {
					t.Errorf("position %v not after %v", c.Pos, prev)
				}
				prev = c.Pos
				return nil
			}, nil)
			total += d.Changes
			want, broken := brokenCorpus[name]
			switch {
			case broken && err == nil:
				t.Errorf("no error for a broken file")
			case broken && (!strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), want)):
				t.Errorf("error %q does not name the file and %q", err, want)
			case !broken && err != nil:
				t.Errorf("decode: %v", err)
			}
		})
	}
	if total < 100 {
		t.Errorf("only %d changes in the whole corpus", total)
	}
}
