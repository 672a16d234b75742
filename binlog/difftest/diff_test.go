package difftest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/binlog"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// knownPeerBugs lists the column classes where go-mysql and mariadb-binlog
// are known to disagree with each other, and why. For these cells the
// server's SELECT decides, and our decoder must match the server. A
// disagreement in any other class fails the test.
var knownPeerBugs = map[class]string{
	// MariaDB 10.11 mariadb-binlog adds 1900 to every stored YEAR byte, so
	// the zero year (stored 0, SELECT gives 0) prints as 1900; go-mysql
	// gives 0.
	clsYear: "mariadb-binlog prints the zero YEAR as 1900",
	// mariadb-binlog reads a SET bitmap of more than one byte as
	// big-endian; the row format stores it little-endian, as go-mysql and
	// the server (SET+0) read it. SET('m001',…,'m064') = 'm001,m064' is
	// 0x8000000000000001, printed by mariadb-binlog as 0x0100000000000080.
	clsSet: "mariadb-binlog prints multi-byte SET bitmaps big-endian",
}

// decoded is one decoder's view of the run.
type decoded struct {
	name string
	rows []rowChange
}

func TestDifferential(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	srv := testenv.NewMariaDB(t, testenv.MariaDBOptions{
		ExtraConfig: []string{"max_allowed_packet=64M", "innodb_log_file_size=128M"},
	})
	w := runWorkload(ctx, t, srv)
	t.Logf("binlog files: %v", w.files)
	requireEventTypes(t, w.files, binlog.MariaWriteRowsCompressedEventV1, binlog.MariaUpdateRowsCompressedEventV1,
		binlog.MariaDeleteRowsCompressedEventV1, binlog.MariaQueryCompressedEvent,
		binlog.WriteRowsEventV1, binlog.UpdateRowsEventV1, binlog.DeleteRowsEventV1)

	mb, err := decodeMariaDBBinlog(ctx, w.src, w.files)
	if err != nil {
		t.Fatal(err)
	}
	gm, err := decodeGoMySQL(w.src, w.files)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := decodeOurs(w.src, w.files)
	if err != nil {
		t.Fatal(err)
	}
	compareAll(t, w, decoded{"sluice", ours}, decoded{"go-mysql", gm}, decoded{"mariadb-binlog", mb})
}

// requireEventTypes fails the test unless the files hold events of every
// given type, so that each decoding path is really compared.
func requireEventTypes(t *testing.T, files []string, types ...binlog.EventType) {
	t.Helper()
	seen := map[binlog.EventType]int{}
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		r := binlog.NewReader(bufio.NewReader(f), path)
		for {
			ev, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			seen[ev.Header.Type]++
		}
		f.Close()
	}
	for _, ty := range types {
		if seen[ty] == 0 {
			t.Errorf("the workload wrote no %s event", ty)
		}
	}
}

// compareAll checks that the three decoders agree row by row and column by
// column, consulting the server snapshot where the peers disagree.
func compareAll(t *testing.T, w workload, ours, gm, mb decoded) {
	t.Helper()
	// Every table must show every operation in every decoder.
	for _, d := range []decoded{ours, gm, mb} {
		seen := map[string]int{}
		for _, r := range d.rows {
			seen[r.Table+" "+r.Op]++
		}
		for tbl := range w.src.tables {
			for _, op := range []string{"insert", "update", "delete"} {
				if seen[tbl+" "+op] == 0 {
					t.Errorf("%s: no %s of %s decoded", d.name, op, tbl)
				}
			}
		}
	}
	n := len(ours.rows)
	if len(gm.rows) != n || len(mb.rows) != n {
		t.Errorf("row change counts differ: %s %d, %s %d, %s %d", ours.name, n, gm.name, len(gm.rows), mb.name, len(mb.rows))
		n = min(n, len(gm.rows), len(mb.rows))
	}
	failures := 0
	fail := func(format string, args ...any) {
		failures++
		if failures <= 400 {
			t.Errorf(format, args...)
		}
	}
	for i := 0; i < n; i++ {
		o, g, m := ours.rows[i], gm.rows[i], mb.rows[i]
		if o.Op != g.Op || o.Op != m.Op || o.Table != g.Table || o.Table != m.Table {
			fail("row change %d: %s %s %s (%s) / %s %s %s / %s %s %s", i+1, ours.name, o.Op, o.Table, o.Where,
				gm.name, g.Op, g.Table, mb.name, m.Op, m.Table)
			continue
		}
		id := rowID(o)
		for _, im := range []struct {
			name    string
			o, g, m []string
			phase   int
		}{
			{"before", o.Before, g.Before, m.Before, beforePhase(o.Op)},
			{"after", o.After, g.After, m.After, 1},
		} {
			if o.Op == "insert" && im.name == "after" {
				im.phase = 0
			}
			if (im.o == nil) != (im.g == nil) || (im.o == nil) != (im.m == nil) {
				fail("row change %d (%s %s id %s, %s): %s image present: %s %v, %s %v, %s %v", i+1, o.Op, o.Table, id, o.Where,
					im.name, ours.name, im.o != nil, gm.name, im.g != nil, mb.name, im.m != nil)
				continue
			}
			for k := range im.o {
				col, _ := w.src.columnOf(o.Table, k)
				ov, gv, mv := im.o[k], at(im.g, k), at(im.m, k)
				where := func() string {
					return fmt.Sprintf("row change %d (%s %s id %s, %s) %s image column %d %s %s", i+1, o.Op, o.Table, id, o.Where, im.name, k+1, col.name, abbrev(col.def))
				}
				if peersEqual(col, gv, mv) {
					if ov != gv || !matchesVerbose(col, ov, mv) {
						fail("%s:\n  %s: %s\n  %s: %s\n  %s: %s", where(), ours.name, abbrev(ov), gm.name, abbrev(gv), mb.name, abbrev(mv))
					}
					continue
				}
				reason, known := knownPeerBugs[col.cls]
				if !known {
					fail("%s: peers disagree (not a known disagreement):\n  %s: %s\n  %s: %s\n  %s: %s", where(), ours.name, abbrev(ov), gm.name, abbrev(gv), mb.name, abbrev(mv))
					continue
				}
				sv := serverValue(w, o.Table, id, im.phase, k)
				if sv == "" {
					fail("%s: peers disagree (%s) and the server has no canonical text for the column", where(), reason)
					continue
				}
				if ov != sv {
					fail("%s: peers disagree (%s); server says %s, %s says %s", where(), reason, abbrev(sv), ours.name, abbrev(ov))
				}
			}
		}
	}
	if failures > 40 {
		t.Errorf("… and %d more differences", failures-40)
	}
}

func at(img []string, k int) string {
	if k < len(img) {
		return img[k]
	}
	return cellAbsent
}

func beforePhase(op string) int {
	if op == "update" {
		return 0
	}
	return 1
}

func rowID(r rowChange) string {
	if len(r.Before) > 0 && r.Before[0] != cellAbsent {
		return r.Before[0]
	}
	if len(r.After) > 0 {
		return r.After[0]
	}
	return "?"
}

// peersEqual compares the go-mysql and mariadb-binlog cells.
func peersEqual(col column, g, m string) bool { return matchesVerbose(col, g, m) }

// matchesVerbose compares a full-precision canonical cell with a
// mariadb-binlog cell, which prints FLOAT with %g (6 significant digits).
func matchesVerbose(col column, v, m string) bool {
	if col.cls == clsFloat && v != cellNull && v != cellAbsent {
		return floatAs6(v) == m
	}
	return v == m
}

// serverValue is the server's canonical text of a cell, or "".
func serverValue(w workload, tbl, id string, phase, k int) string {
	var n int
	if _, err := fmt.Sscan(id, &n); err != nil {
		return ""
	}
	e, ok := w.snaps[tbl][n]
	if !ok || k >= len(e[phase]) {
		return ""
	}
	return e[phase][k]
}
