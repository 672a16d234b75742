package mysql

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// ddlStep is one schema change of TestDDLUnderLoad and what it does to the
// table's column list.
type ddlStep struct {
	sql   string
	apply func(cols []string) []string
}

// TestDDLUnderLoad changes a table's shape (ADD, RENAME and DROP COLUMN,
// RENAME TABLE) while two writers insert, update and delete without pause. In
// stream order, every row change must carry exactly the columns the table
// had at that point — the column list implied by the DDL changes delivered
// before it — with the defaults the added columns give, and the rows
// rebuilt from the stream must equal SELECT. It runs with
// binlog_row_metadata FULL (names from the TABLE_MAP) and MINIMAL (names
// from the schema history built from the DDL).
func TestDDLUnderLoad(t *testing.T) {
	steps := []ddlStep{
		{"ALTER TABLE app.busy ADD COLUMN c1 INT NOT NULL DEFAULT 1", func(c []string) []string { return append(c, "c1") }},
		{"ALTER TABLE app.busy ADD COLUMN c2 VARCHAR(10) NOT NULL DEFAULT 'two' AFTER w", func(c []string) []string {
			i := slices.Index(c, "w")
			return slices.Insert(c, i+1, "c2")
		}},
		{"ALTER TABLE app.busy RENAME COLUMN c1 TO c1r", func(c []string) []string { return rename(c, "c1", "c1r") }},
		{"ALTER TABLE app.busy DROP COLUMN v0", func(c []string) []string {
			return slices.DeleteFunc(c, func(s string) bool { return s == "v0" })
		}},
		{"RENAME TABLE app.busy TO app.busier", func(c []string) []string { return c }},
		{"ALTER TABLE app.busier ADD COLUMN c3 INT NOT NULL DEFAULT 3 FIRST", func(c []string) []string { return append([]string{"c3"}, c...) }},
	}
	defaults := map[string]string{"v0": "v0", "c1": "1", "c1r": "1", "c2": "two", "c3": "3"}

	for _, meta := range []string{"FULL", "MINIMAL"} {
		t.Run(meta, func(t *testing.T) {
			srv := shared
			if meta != "FULL" {
				srv = testenv.NewMariaDB(t, testenv.MariaDBOptions{RowMetadata: meta})
			}
			exec(t, srv, "CREATE DATABASE IF NOT EXISTS app", "DROP TABLE IF EXISTS app.busy, app.busier, app.ddlmark",
				"CREATE TABLE app.busy (id INT AUTO_INCREMENT PRIMARY KEY, w INT NOT NULL, v0 VARCHAR(8) NOT NULL DEFAULT 'v0')",
				"CREATE TABLE app.ddlmark (id INT PRIMARY KEY)")
			from := currentPosition(t, srv)
			cfg := testConfig(srv.Addr())
			cfg.SchemaHistory = t.TempDir() + "/schema.jsonl"
			src, _ := New(cfg)
			col := startCollector(t, src, from)
			exec(t, srv, "INSERT INTO app.ddlmark VALUES (1)")
			col.waitFor(t, 20*time.Second, "the marker row", countData("ddlmark", 1))

			db, err := srv.DB()
			if err != nil {
				t.Fatal(err)
			}
			var table atomic.Value
			table.Store("app.busy")
			ctx, stop := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			var writes, retries atomic.Int64
			for w := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(w), 7))
					for ctx.Err() == nil {
						name := table.Load().(string)
						var q string
						switch n := rng.IntN(10); {
						case n == 0:
							lo := rng.IntN(int(writes.Load())*10 + 1)
							q = fmt.Sprintf("DELETE FROM %s WHERE id BETWEEN %d AND %d", name, lo, lo+2)
						case n < 4:
							lo := rng.IntN(int(writes.Load())*10 + 1)
							q = fmt.Sprintf("UPDATE %s SET w = w + 1 WHERE id BETWEEN %d AND %d", name, lo, lo+15)
						default:
							q = fmt.Sprintf("INSERT INTO %s (w) VALUES (%d),(%d),(%d),(%d),(%d)", name, w, w, w, w, w)
						}
						if _, err := db.Exec(q); err != nil {
							if strings.Contains(err.Error(), "doesn't exist") {
								retries.Add(1) // the table was renamed under us
								continue
							}
							t.Errorf("writer %d: %s: %v", w, q, err)
							return
						}
						writes.Add(1)
					}
				}()
			}
			for _, s := range steps {
				time.Sleep(150 * time.Millisecond)
				if _, err := db.Exec(s.sql); err != nil {
					stop()
					wg.Wait()
					t.Fatalf("%s: %v", s.sql, err)
				}
				if strings.HasPrefix(s.sql, "RENAME TABLE") {
					table.Store("app.busier")
				}
			}
			time.Sleep(150 * time.Millisecond)
			stop()
			wg.Wait()
			if t.Failed() {
				return
			}
			exec(t, srv, "INSERT INTO app.ddlmark VALUES (2)")
			got := col.waitFor(t, 60*time.Second, "the end marker", countData("ddlmark", 2))
			checkTransactions(t, got)

			// Walk the stream: the DDL changes tell which column list each
			// following row must have.
			cols := []string{"id", "w", "v0"}
			next, rows := 0, 0
			perVersion := make([]int, len(steps)+1)
			rebuilt := map[string]string{} // id -> w
			for _, c := range data(got, "") {
				if c.Database != "app" || (c.Table != "busy" && c.Table != "busier") {
					continue
				}
				if c.Op == change.OpDDL {
					if next >= len(steps) || c.SQL != steps[next].sql {
						t.Fatalf("DDL %d: got %q, want step %d", next, c.SQL, next)
					}
					cols = steps[next].apply(cols)
					next++
					continue
				}
				var names []string
				for _, cc := range c.Columns {
					names = append(names, cc.Name)
				}
				if !slices.Equal(names, cols) {
					t.Fatalf("row %d (%s %s at %s) after %d DDLs has columns %v, want %v",
						rows, c.Op, c.Table, c.Pos.String(), next, names, cols)
				}
				wantTable := "busy"
				if next >= 5 {
					wantTable = "busier"
				}
				if c.Table != wantTable {
					t.Fatalf("row at %s names table %s after %d DDLs, want %s", c.Pos.String(), c.Table, next, wantTable)
				}
				img := c.After
				if c.Op == change.OpDelete {
					img = c.Before
				}
				vals := map[string]string{}
				for i, v := range img {
					vals[cols[i]] = string(change.AppendText(nil, v))
				}
				for name, def := range defaults {
					if v, ok := vals[name]; ok && v != def {
						t.Fatalf("row at %s: %s=%s, want the default %s (columns %v)", c.Pos.String(), name, v, def, cols)
					}
				}
				if c.Op == change.OpDelete {
					delete(rebuilt, vals["id"])
				} else {
					rebuilt[vals["id"]] = vals["w"]
				}
				perVersion[next]++
				rows++
			}
			if next != len(steps) {
				t.Fatalf("saw %d of %d DDL changes", next, len(steps))
			}
			want := map[string]string{}
			for _, line := range selectText(t, db, "SELECT id, w FROM app.busier") {
				var id, w string
				fmt.Sscanf(strings.ReplaceAll(line, "=", " "), "id %s w %s", &id, &w)
				want[id] = w
			}
			if len(want) == 0 || len(rebuilt) != len(want) {
				t.Fatalf("rebuilt %d rows, SELECT has %d", len(rebuilt), len(want))
			}
			for id, w := range want {
				if rebuilt[id] != w {
					t.Fatalf("row id=%s: stream says w=%s, SELECT says %s", id, rebuilt[id], w)
				}
			}
			for i, n := range perVersion {
				if n == 0 {
					t.Errorf("no row was written between DDL %d and %d: the load did not overlap the DDL", i, i+1)
				}
			}
			t.Logf("%s: %d row changes from %d statements, rows per schema version %v, %d statements retried after the rename",
				meta, rows, writes.Load(), perVersion, retries.Load())
		})
	}
}

// rename replaces the column name from with to.
func rename(cols []string, from, to string) []string {
	out := slices.Clone(cols)
	if i := slices.Index(out, from); i >= 0 {
		out[i] = to
	}
	return out
}
