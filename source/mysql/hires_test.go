package mysql

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/binlog/changes"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

func TestTemporalPrecision(t *testing.T) {
	for _, tc := range []struct {
		in  string
		fsp int
		ok  bool
	}{
		{"time", 0, true}, {"time(4)", 4, true}, {"datetime(6)", 6, true}, {"TIMESTAMP(3)", 3, true},
		{"timestamp", 0, true}, {"datetime( 2 )", 2, true}, {"date", 0, false}, {"time(7)", 0, false},
		{"timestamp(x)", 0, false}, {"int(11)", 0, false},
	} {
		if fsp, ok := temporalPrecision(tc.in); fsp != tc.fsp || ok != tc.ok {
			t.Errorf("temporalPrecision(%q) = %d, %v", tc.in, fsp, ok)
		}
	}
}

// TestHiresTemporalLive runs MariaDB with mysql56_temporal_format=OFF, so
// that TIME(n), DATETIME(n) and TIMESTAMP(n) columns are created in
// MariaDB's own fractional-seconds format (as MariaDB 5.3-10.0 created
// them), which the binlog logs under the old type codes without the
// precision. The source takes the precision from the schema: the table
// rebuilt from the stream equals SELECT, in file+position and GTID mode.
// The server's own binlog then decodes offline (package changes) to the
// same rows when given the precisions, and fails clearly without them.
// (mariadb-binlog -vv cannot print these rows: it reads 4, 8 and 3 bytes
// for the old codes and stops with an error, so SELECT is the reference.)
func TestHiresTemporalLive(t *testing.T) {
	srv := testenv.NewMariaDB(t, testenv.MariaDBOptions{RowMetadata: "MINIMAL",
		ExtraConfig: []string{"mysql56_temporal_format=OFF", "default_time_zone='+00:00'"}})
	type col struct {
		name, def string
		fsp       int
	}
	cols := []col{
		{"id", "INT NOT NULL", 0},
		{"t1", "TIME(1)", 1}, {"t3", "TIME(3)", 3}, {"t5", "TIME(5)", 5}, {"t6", "TIME(6)", 6},
		{"d1", "DATETIME(1)", 1}, {"d2", "DATETIME(2)", 2}, {"d4", "DATETIME(4)", 4}, {"d6", "DATETIME(6)", 6},
		{"s2", "TIMESTAMP(2) NULL", 2}, {"s3", "TIMESTAMP(3) NULL", 3}, {"s6", "TIMESTAMP(6) NULL", 6},
		{"t0", "TIME", 0}, {"d0", "DATETIME", 0}, {"s0", "TIMESTAMP NULL", 0},
	}
	rows := []string{
		"(1, '-838:59:59.9', '-838:59:59.999', '-838:59:59.99999', '-838:59:59.999999', '1000-01-01 00:00:00.0', '1000-01-01 00:00:00.00', " +
			"'1000-01-01 00:00:00.0000', '1000-01-01 00:00:00.000000', '1970-01-01 00:00:01.00', '1970-01-01 00:00:01.001', '1970-01-01 00:00:01.000001', " +
			"'-12:00:00', '1000-01-01 00:00:00', '1970-01-01 00:00:01')",
		"(2, '838:59:59.9', '838:59:59.999', '838:59:59.99999', '838:59:59.999999', '9999-12-31 23:59:59.9', '9999-12-31 23:59:59.99', " +
			"'9999-12-31 23:59:59.9999', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.99', '2038-01-19 03:14:07.999', '2038-01-19 03:14:07.999999', " +
			"'838:59:59', '9999-12-31 23:59:59', '2038-01-19 03:14:07')",
		"(3, '-00:00:00.1', '-00:00:00.001', '-00:00:00.00001', '-00:00:00.000001', '2024-02-29 12:34:56.7', '2024-02-29 12:34:56.78', " +
			"'2024-02-29 12:34:56.7891', '2024-02-29 12:34:56.789123', '2024-02-29 12:34:56.78', '2024-02-29 12:34:56.789', '2024-02-29 12:34:56.789123', " +
			"'100:00:00', '2024-02-29 12:34:56', '2024-02-29 12:34:56')",
		"(4, '00:00:00.0', '23:59:59.5', '-100:00:00.00002', '01:02:03.040506', '0000-00-00 00:00:00.0', '2000-01-01 00:00:00.01', " +
			"'2000-02-29 23:59:59.0001', '0000-00-00 00:00:00.000000', NULL, '1999-12-31 23:59:59.999', '2000-01-01 00:00:00.000001', " +
			"NULL, NULL, NULL)",
	}
	var defs, sels []string
	for _, c := range cols {
		defs = append(defs, c.name+" "+c.def)
		if strings.HasPrefix(c.def, "TIMESTAMP") {
			sels = append(sels, "UNIX_TIMESTAMP("+c.name+") AS "+c.name) // the instant, whatever the zone
		} else {
			sels = append(sels, "CAST("+c.name+" AS CHAR) AS "+c.name)
		}
	}
	exec(t, srv, "CREATE DATABASE hi", "CREATE TABLE hi.t ("+strings.Join(defs, ", ")+", PRIMARY KEY (id))")
	render := func(i int, v change.Value) string {
		switch {
		case v.Kind == change.KindNull:
			return "NULL"
		case v.Kind == change.KindTimestamp && cols[i].fsp > 0:
			return fmt.Sprintf("%d.%0*d", v.I, cols[i].fsp, v.U/uint64(pow10ns[cols[i].fsp]))
		case v.Kind == change.KindTimestamp:
			return fmt.Sprint(v.I)
		}
		return string(change.AppendText(nil, v))
	}
	rebuild := func(cs []change.Change) []string {
		byID := map[string]string{}
		for _, c := range cs {
			img := c.After
			if c.Op == change.OpDelete {
				img = c.Before
			}
			var parts []string
			for i, v := range img {
				parts = append(parts, cols[i].name+"="+render(i, v))
			}
			id := render(0, img[0])
			if c.Op == change.OpDelete {
				delete(byID, id)
			} else {
				if c.Op == change.OpUpdate {
					delete(byID, render(0, c.Before[0]))
				}
				byID[id] = strings.Join(parts, " ")
			}
		}
		var out []string
		for _, r := range byID {
			out = append(out, r)
		}
		sort.Strings(out)
		return out
	}

	var got []change.Change
	for _, gtid := range []bool{false, true} {
		exec(t, srv, "DELETE FROM hi.t")
		from := currentPosition(t, srv)
		if !gtid {
			from.GTIDSet = ""
		}
		cfg := testConfig(srv.Addr())
		cfg.GTID = gtid
		src, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		col := startCollector(t, src, from)
		var stmts []string
		for _, r := range rows {
			stmts = append(stmts, "INSERT INTO hi.t VALUES "+r)
		}
		stmts = append(stmts, "UPDATE hi.t SET t3 = '-01:02:03.004', d6 = '2001-02-03 04:05:06.000007', s3 = '2001-02-03 04:05:06.5', id = 40 WHERE id = 4",
			"DELETE FROM hi.t WHERE id = 1")
		exec(t, srv, stmts...)
		got = col.waitFor(t, 30*time.Second, "6 row changes", countData("t", 6))
		col.stop()
		checkTransactions(t, got)
		db, err := srv.DB()
		if err != nil {
			t.Fatal(err)
		}
		want := selectText(t, db, "SELECT "+strings.Join(sels, ", ")+" FROM hi.t ORDER BY id")
		sort.Strings(want)
		if g := rebuild(data(got, "t")); strings.Join(g, "\n") != strings.Join(want, "\n") {
			t.Fatalf("gtid=%t: the table rebuilt from the stream differs from SELECT:\n got %s\nwant %s", gtid, strings.Join(g, "\n     "), strings.Join(want, "\n     "))
		}
		// information_schema marks the format: "time(1) /* mariadb-5.3 */".
		if c := data(got, "t")[0]; !strings.HasPrefix(c.Columns[1].Type, "time(1) /* mariadb-5.3") || !strings.HasPrefix(c.Columns[9].Type, "timestamp(2) /* mariadb-5.3") {
			t.Errorf("column types %q, %q: not MariaDB's own format", c.Columns[1].Type, c.Columns[9].Type)
		}
	}

	// The server's binlog, offline.
	logs, err := srv.FlushBinaryLogs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, l := range logs[:len(logs)-1] {
		files = append(files, l.Path)
	}
	offline := func(ps []changes.ColumnPrecision) ([]change.Change, error) {
		d := changes.NewDecoder(changes.Filter{Databases: []string{"hi"}})
		d.Precisions = ps
		var out []change.Change
		err := changes.DecodeFiles(context.Background(), files, d, func(c *change.Change) error {
			cc := *c
			cc.Before, cc.After = cloneValues(c.Before), cloneValues(c.After)
			out = append(out, cc)
			return nil
		}, nil)
		return out, err
	}
	if _, err := offline(nil); err == nil || !strings.Contains(err.Error(), "precision") {
		t.Errorf("offline decode without precisions: %v, want the precision error", err)
	}
	var ps []changes.ColumnPrecision
	for i, c := range cols {
		if i > 0 {
			ps = append(ps, changes.ColumnPrecision{Database: "hi", Table: "t", Column: fmt.Sprint(i + 1), FSP: c.fsp})
		}
	}
	all, err := offline(ps)
	if err != nil {
		t.Fatal(err)
	}
	// The offline rows of the last round equal the streamed ones.
	var off []change.Change
	for _, c := range all {
		if c.Op == change.OpInsert || c.Op == change.OpUpdate || c.Op == change.OpDelete {
			off = append(off, c)
		}
	}
	off = off[len(off)-6:]
	if g, w := rebuild(off), rebuild(data(got, "t")); strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Errorf("offline decode differs from the stream:\n got %s\nwant %s", strings.Join(g, "\n     "), strings.Join(w, "\n     "))
	}
}

// pow10ns[n] is the nanoseconds of one unit of the n-th fraction digit.
var pow10ns = [7]uint64{1e9, 1e8, 1e7, 1e6, 1e5, 1e4, 1e3}
