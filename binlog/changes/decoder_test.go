package changes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
)

// The fixtures are two consecutive MariaDB 10.11 binlogs (ROW, FULL image
// and metadata) written by:
//
//	CREATE DATABASE shop; CREATE DATABASE audit;               GTIDs 0-7-7, 0-7-8
//	CREATE TABLE shop.orders …; CREATE TABLE shop.items …;     0-7-9, 0-7-10
//	INSERT INTO orders (2 rows)                                 0-7-11
//	BEGIN; INSERT INTO items (2 rows); UPDATE orders; COMMIT    0-7-12
//	CREATE TABLE audit.log …; INSERT INTO audit.log             0-7-13, 0-7-14
//	DELETE FROM items; ALTER TABLE orders; UPDATE orders        0-7-15 … 0-7-17
//	FLUSH BINARY LOGS
//	DELETE FROM orders; UPDATE orders; DROP TABLE audit.log     0-7-18 … 0-7-20
var fixtures = []string{"testdata/bin.000003", "testdata/bin.000004"}

// summary renders a change as "op db.table gtid pos".
func summary(c *change.Change) string {
	s := c.Op.String()
	if c.Table != "" {
		s += " " + c.Database + "." + c.Table
	} else if c.Op == change.OpDDL {
		s += " " + c.Database
	}
	return fmt.Sprintf("%s %s %s:%d#%d", s, c.Tx.ID, c.Pos.File, c.Pos.Offset, c.Pos.Index)
}

func decodeSummary(t *testing.T, f Filter, files ...string) []string {
	t.Helper()
	var out []string
	d := NewDecoder(f)
	err := DecodeFiles(context.Background(), files, d, func(c *change.Change) error {
		out = append(out, summary(c))
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var allChanges = []string{
	"ddl shop 0-7-7 bin.000003:415#0",
	"ddl audit 0-7-8 bin.000003:544#0",
	"ddl shop 0-7-9 bin.000003:675#0",
	"ddl shop 0-7-10 bin.000003:969#0",
	"begin 0-7-11 bin.000003:1143#0",
	"insert shop.orders 0-7-11 bin.000003:1488#0",
	"insert shop.orders 0-7-11 bin.000003:1488#1",
	"commit 0-7-11 bin.000003:1573#0",
	"begin 0-7-12 bin.000003:1604#0",
	"insert shop.items 0-7-12 bin.000003:1813#0",
	"insert shop.items 0-7-12 bin.000003:1813#1",
	"update shop.orders 0-7-12 bin.000003:2104#0",
	"commit 0-7-12 bin.000003:2209#0",
	"ddl audit 0-7-13 bin.000003:2282#0",
	"begin 0-7-14 bin.000003:2429#0",
	"insert audit.log 0-7-14 bin.000003:2607#0",
	"commit 0-7-14 bin.000003:2658#0",
	"begin 0-7-15 bin.000003:2689#0",
	"delete shop.items 0-7-15 bin.000003:2888#0",
	"commit 0-7-15 bin.000003:2937#0",
	"ddl shop 0-7-16 bin.000003:3010#0",
	"begin 0-7-17 bin.000003:3142#0",
	"update shop.orders 0-7-17 bin.000003:3389#0",
	"commit 0-7-17 bin.000003:3469#0",
	"begin 0-7-18 bin.000004:336#0",
	"delete shop.orders 0-7-18 bin.000004:572#0",
	"commit 0-7-18 bin.000004:628#0",
	"begin 0-7-19 bin.000004:696#0",
	"update shop.orders 0-7-19 bin.000004:934#0",
	"commit 0-7-19 bin.000004:1052#0",
	"ddl shop 0-7-20 bin.000004:1125#0",
}

// pick returns the entries of allChanges at the given indexes.
func pick(idx ...int) []string {
	out := make([]string, len(idx))
	for i, k := range idx {
		out[i] = allChanges[k]
	}
	return out
}

func span(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func mustGTIDs(t *testing.T, s string) *GTIDSet {
	t.Helper()
	g, err := ParseGTIDSet(s)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestDecodeFilters(t *testing.T) {
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, tc := range []struct {
		name   string
		filter Filter
		files  []string
		want   []string
	}{
		{"all", Filter{}, fixtures, allChanges},
		{"one file", Filter{}, fixtures[1:], pick(span(24, 30)...)},
		{"start position mid-file", Filter{StartPosition: 1604}, fixtures, pick(span(8, 30)...)},
		{"start inside a transaction skips its begin", Filter{StartPosition: 1700}, fixtures[:1], pick(span(9, 23)...)},
		{"stop position in the last file", Filter{StopPosition: 696}, fixtures, pick(span(0, 26)...)},
		{"start in first, stop in last", Filter{StartPosition: 3010, StopPosition: 696}, fixtures, pick(span(20, 26)...)},
		{"database", Filter{Databases: []string{"audit"}}, fixtures, pick(1, 13, 14, 15, 16)},
		{"qualified table", Filter{Tables: []string{"shop.items"}}, fixtures,
			pick(0, 1, 2, 3, 8, 9, 10, 12, 13, 17, 18, 19, 20, 30)},
		{"table name in any database, with database", Filter{Databases: []string{"shop"}, Tables: []string{"orders"}}, fixtures,
			pick(0, 2, 3, 4, 5, 6, 7, 8, 11, 12, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30)},
		{"include GTIDs", Filter{IncludeGTIDs: mustGTIDs(t, "0-7-12,0-7-18-19")}, fixtures, pick(append(span(8, 12), span(24, 29)...)...)},
		{"exclude GTIDs", Filter{ExcludeGTIDs: mustGTIDs(t, "0-7-1-17")}, fixtures, pick(span(24, 30)...)},
		{"include GTIDs of another server", Filter{IncludeGTIDs: mustGTIDs(t, "0-8-1-100")}, fixtures, nil},
		{"time window", Filter{StartTime: utc("2023-11-14T22:16:40Z"), StopTime: utc("2023-11-14T22:20:00Z")}, fixtures, pick(span(8, 16)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := decodeSummary(t, tc.filter, tc.files...)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

// TestTransactions checks the framing invariants on the fixtures: positions
// strictly increase, every begin has one commit with the same GTID, and
// Tx.Index counts the changes of the transaction from 0.
func TestTransactions(t *testing.T) {
	var prev change.Position
	var open string
	var want uint64
	d := NewDecoder(Filter{})
	err := DecodeFiles(context.Background(), fixtures, d, func(c *change.Change) error {
		if c.Source != "mariadb" {
			t.Errorf("%s: source %q", summary(c), c.Source)
		}
		if !prev.IsZero() && change.Compare(prev, c.Pos) >= 0 {
			t.Errorf("%s: position not after %v", summary(c), prev)
		}
		prev = c.Pos
		switch c.Op {
		case change.OpBegin:
			if open != "" {
				t.Errorf("%s: begin inside %s", summary(c), open)
			}
			open, want = c.Tx.ID, 0
		case change.OpCommit:
			if open != c.Tx.ID || !c.Tx.Last {
				t.Errorf("%s: commit of %q (last=%v) while %q is open", summary(c), c.Tx.ID, c.Tx.Last, open)
			}
			open = ""
		case change.OpDDL:
			if open != "" {
				t.Errorf("%s: DDL inside %s", summary(c), open)
			}
			return nil
		}
		if c.Tx.Index != want {
			t.Errorf("%s: tx index %d, want %d", summary(c), c.Tx.Index, want)
		}
		want++
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if open != "" {
		t.Errorf("transaction %s never committed", open)
	}
	if d.Changes != int64(len(allChanges)) || d.Events == 0 {
		t.Errorf("counters: %d changes, %d events", d.Changes, d.Events)
	}
}

func TestEmitErrors(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name  string
		ret   error
		after int
		want  error
		calls int
	}{
		{"stop", ErrStop, 3, nil, 3},
		{"error", boom, 5, boom, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			err := DecodeFiles(context.Background(), fixtures, NewDecoder(Filter{}), func(*change.Change) error {
				n++
				if n == tc.after {
					return tc.ret
				}
				return nil
			}, nil)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			if n != tc.calls {
				t.Errorf("%d calls, want %d", n, tc.calls)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := DecodeFiles(ctx, fixtures, NewDecoder(Filter{}), func(*change.Change) error { return nil }, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v", err)
	}
	if err := DecodeFiles(context.Background(), []string{"testdata/missing"}, NewDecoder(Filter{}), func(*change.Change) error { return nil }, nil); err == nil {
		t.Error("missing file: no error")
	}
}

func TestParseGTIDSet(t *testing.T) {
	for _, tc := range []struct {
		in      string
		mysql   []string // GTIDs "uuid:n" that must be in the set
		maria   []string // GTIDs "d-s-n" that must be in the set
		notIn   []string
		wantErr bool
	}{
		{in: "0-1-5", maria: []string{"0-1-5"}, notIn: []string{"0-1-4", "0-1-6", "0-2-5", "1-1-5"}},
		{in: "0-1-5-7, 2-3-1", maria: []string{"0-1-5", "0-1-6", "0-1-7", "2-3-1"}, notIn: []string{"0-1-8", "2-3-2"}},
		{in: "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:7", mysql: []string{"3e11fa47-71ca-11e1-9e33-c80aa9429562:1", "3e11fa47-71ca-11e1-9e33-c80aa9429562:7"},
			notIn: []string{"3e11fa47-71ca-11e1-9e33-c80aa9429562:6"}},
		{in: "0-1", wantErr: true},
		{in: "0-1-9-2", wantErr: true},
		{in: "x-1-2", wantErr: true},
		{in: "not-a-uuid:1", wantErr: true},
	} {
		s, err := ParseGTIDSet(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseGTIDSet(%q): err = %v", tc.in, err)
			continue
		}
		if err != nil {
			continue
		}
		if s.String() != tc.in {
			t.Errorf("String() = %q, want %q", s.String(), tc.in)
		}
		for _, g := range tc.maria {
			if !s.containsMaria(mustMaria(t, g)) {
				t.Errorf("%q does not contain %s", tc.in, g)
			}
		}
		for _, g := range tc.mysql {
			if !s.containsMySQL(mustMySQL(t, g)) {
				t.Errorf("%q does not contain %s", tc.in, g)
			}
		}
		for _, g := range tc.notIn {
			if strings.Contains(g, ":") {
				if s.containsMySQL(mustMySQL(t, g)) {
					t.Errorf("%q contains %s", tc.in, g)
				}
			} else if s.containsMaria(mustMaria(t, g)) {
				t.Errorf("%q contains %s", tc.in, g)
			}
		}
	}
}
