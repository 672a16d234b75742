package mysql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/snapshot"
)

// TestSnapshotEveryType: the rows of the every-type table read by a
// snapshot are exactly the rows the binlog gives when the same values are
// inserted (same columns, same Kind and fields for every value), in
// binlog_row_metadata FULL and MINIMAL; the snapshot's rows come first,
// numbered and marked, then the stream from the consistent point.
func TestSnapshotEveryType(t *testing.T) {
	cols, rows := everyTypeColumns(), everyTypeRows()
	var defs, names []string
	for _, c := range cols {
		defs = append(defs, c.name+" "+c.def)
		names = append(names, c.name)
	}
	create := "CREATE TABLE %s (" + strings.Join(defs, ", ") + ", PRIMARY KEY (id))"
	insert := func(table string) []string {
		var out []string
		for _, r := range rows {
			out = append(out, "INSERT INTO "+table+" ("+strings.Join(names, ", ")+") VALUES ("+strings.Join(r, ", ")+")")
		}
		return out
	}
	var minimal *testenv.MariaDB
	for _, meta := range []string{"FULL", "MINIMAL"} {
		t.Run(meta, func(t *testing.T) {
			srv := shared
			if meta == "MINIMAL" {
				minimal = testenv.NewMariaDB(t, testenv.MariaDBOptions{RowMetadata: "MINIMAL"})
				srv = minimal
			}
			db := "snapall_" + strings.ToLower(meta)
			exec(t, srv, "CREATE DATABASE "+db, fmt.Sprintf(create, db+".read_t"), fmt.Sprintf(create, db+".stream_t"))
			exec(t, srv, insert(db+".read_t")...)
			cfg := testConfig(srv.Addr())
			cfg.ServerID = 7101
			cfg.Snapshot = snapshot.Options{Mode: snapshot.ModeInitial, Workers: 2, ChunkRows: 2,
				Tables: func(ns change.Namespace) bool { return ns.Database == db }}
			src, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			col := startCollector(t, src, change.Position{})
			got := col.waitFor(t, time.Minute, "the snapshot", countData("read_t", len(rows)))
			exec(t, srv, insert(db+".stream_t")...)
			got = col.waitFor(t, time.Minute, "the stream", countData("stream_t", len(rows)))
			col.stop()
			reads, inserts := data(got, "read_t"), data(got, "stream_t")
			// The rows carry the GTID set of their consistent point (asked
			// of the server while the workers read).
			dbh, err := srv.DB()
			if err != nil {
				t.Fatal(err)
			}
			var wantSet string
			p := reads[0].Pos
			if err := dbh.QueryRow("SELECT BINLOG_GTID_POS(?, ?)", p.File, p.Offset).Scan(&wantSet); err != nil {
				t.Fatal(err)
			}
			if p.GTIDSet == "" || p.GTIDSet != wantSet {
				t.Errorf("the rows' GTID set is %q, want the server's %q at %s:%d", p.GTIDSet, wantSet, p.File, p.Offset)
			}
			for i, r := range reads {
				if r.Pos.GTIDSet != p.GTIDSet || r.Pos.File != p.File || r.Pos.Offset != p.Offset {
					t.Fatalf("row %d at %s, the first at %s", i, r.Pos, p)
				}
				if r.Op != change.OpRead || r.Pos.Row != uint64(i+1) || r.Tx != (change.Tx{}) {
					t.Fatalf("row %d: %s row=%d tx=%+v", i, r.Op, r.Pos.Row, r.Tx)
				}
				want := change.SnapshotOn
				if i == 0 {
					want = change.SnapshotFirst
				} else if i == len(reads)-1 {
					want = change.SnapshotLast
				}
				if r.Snapshot != want {
					t.Errorf("row %d marked %v, want %v", i, r.Snapshot, want)
				}
				in := inserts[i]
				if len(r.Columns) != len(in.Columns) {
					t.Fatalf("row %d: %d columns, the stream has %d", i, len(r.Columns), len(in.Columns))
				}
				for j := range r.Columns {
					if r.Columns[j] != in.Columns[j] {
						t.Errorf("column %d: snapshot %+v, stream %+v", j, r.Columns[j], in.Columns[j])
					}
				}
				for j := range r.After {
					if !change.Equal(r.After[j], in.After[j]) {
						t.Errorf("row %d column %s: snapshot %+v (%s), stream %+v (%s)", i, cols[j].name,
							r.After[j], change.AppendText(nil, r.After[j]), in.After[j], change.AppendText(nil, in.After[j]))
					}
				}
			}
			// The stream's first change comes after the snapshot's last row.
			for i := 1; i < len(got); i++ {
				if change.Compare(got[i-1].Pos, got[i].Pos) >= 0 {
					t.Fatalf("positions out of order at %d: %s then %s", i, got[i-1].Pos, got[i].Pos)
				}
			}
		})
	}
}

// TestSnapshotResumesUnderWrites stops a snapshot of two tables several
// times in the middle while a writer inserts, updates and deletes the same
// keys, resumes it each time from the last delivered position, then
// follows the stream: the rows rebuilt from everything delivered (each
// change once, by position, applied idempotently) equal SELECT, no key is
// read twice, the log says the snapshot resumed mid-table, and no lock was
// taken meanwhile.
func TestSnapshotResumesUnderWrites(t *testing.T) {
	srv := shared
	const n = 6000
	exec(t, srv, "CREATE DATABASE snapres", "CREATE TABLE snapres.a (id INT PRIMARY KEY, v VARCHAR(40), n BIGINT)",
		"CREATE TABLE snapres.b (k VARCHAR(20) PRIMARY KEY, v INT)")
	var stmts []string
	for i := 0; i < n; i += 500 {
		var vals, bvals []string
		for j := i; j < i+500; j++ {
			vals = append(vals, fmt.Sprintf("(%d, 'v%d', %d)", j, j, j))
			bvals = append(bvals, fmt.Sprintf("('K%05d', %d)", j, j))
		}
		stmts = append(stmts, "INSERT INTO snapres.a VALUES "+strings.Join(vals, ","), "INSERT INTO snapres.b VALUES "+strings.Join(bvals, ","))
	}
	exec(t, srv, stmts...)

	// A writer changing rows the snapshot reads, before and after it.
	wctx, stopWriter := context.WithCancel(context.Background())
	writerDone := make(chan error, 1)
	go func() {
		dbh, err := srv.DB()
		if err != nil {
			writerDone <- err
			return
		}
		for i := 0; wctx.Err() == nil; i++ {
			k := (i * 7919) % (n + 500)
			var q string
			switch i % 4 {
			case 0:
				q = fmt.Sprintf("INSERT INTO snapres.a VALUES (%d, 'w%d', %d) ON DUPLICATE KEY UPDATE v = 'w%d', n = n + 1", k, i, i, i)
			case 1:
				q = fmt.Sprintf("UPDATE snapres.a SET n = n + 1, v = 'u%d' WHERE id = %d", i, k)
			case 2:
				q = fmt.Sprintf("DELETE FROM snapres.a WHERE id = %d", k)
			default:
				q = fmt.Sprintf("REPLACE INTO snapres.b VALUES ('K%05d', %d)", k, -i)
			}
			if _, err := dbh.ExecContext(wctx, q); err != nil && wctx.Err() == nil {
				writerDone <- err
				return
			}
			time.Sleep(200 * time.Microsecond)
		}
		writerDone <- nil
	}()

	var logs testenv.Logs
	cfg := testConfig(srv.Addr())
	cfg.ServerID = 7102
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	cfg.Snapshot = snapshot.Options{Mode: snapshot.ModeInitial, Workers: 2, ChunkRows: 300, MemoryBytes: 256 << 10,
		Tables: func(ns change.Namespace) bool { return ns.Database == "snapres" }}
	var mu sync.Mutex // delivered is written by the stream, read by waitFor
	var delivered []change.Change
	var from change.Position
	stopAfter := []int{1500, 2000, 2500, 3000, 5200}
	for run := 0; ; run++ {
		src, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		limit := -1
		if run < len(stopAfter) {
			limit = stopAfter[run]
		}
		count := 0
		lockCheck := make(chan error, 1)
		errc := make(chan error, 1)
		go func() {
			errc <- src.Stream(ctx, from, func(b []change.Change) error {
				mu.Lock()
				defer mu.Unlock()
				for _, c := range b {
					c.Before, c.After = cloneValues(c.Before), cloneValues(c.After)
					delivered = append(delivered, c)
					from = c.Pos
					count++
					if count == 100 && run == 0 {
						go func() { lockCheck <- noGlobalLock(srv) }()
					}
					if limit > 0 && count >= limit {
						cancel()
						return context.Canceled
					}
				}
				return nil
			})
		}()
		if limit < 0 {
			// The last run: snapshot the rest, stop the writer, catch up.
			waitFor(t, time.Minute, "the snapshot's end", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return snapshotDone(delivered)
			})
			stopWriter()
			if err := <-writerDone; err != nil {
				t.Fatal(err)
			}
			exec(t, srv, "CREATE TABLE snapres.marker (id INT PRIMARY KEY)", "INSERT INTO snapres.marker VALUES (1)")
			waitFor(t, time.Minute, "the marker", func() bool {
				mu.Lock()
				defer mu.Unlock()
				for i := len(delivered) - 1; i >= 0 && i >= len(delivered)-5; i-- {
					if delivered[i].Table == "marker" && delivered[i].Op == change.OpInsert {
						return true
					}
				}
				return false
			})
			cancel()
			<-errc
			break
		}
		if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("run %d: %v", run, err)
		}
		if run == 0 {
			if err := <-lockCheck; err != nil {
				t.Error(err)
			}
		}
	}
	if !strings.Contains(logs.String(), "snapshot resumes in the middle of a table") {
		t.Errorf("the log does not say the snapshot resumed mid-table:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "read a table in key ranges") {
		t.Errorf("the log does not say the workers read table a in key ranges:\n%s", logs.String())
	}
	checkRebuild(t, srv, delivered, "snapres", map[string]string{"a": "SELECT id, v, n FROM snapres.a", "b": "SELECT k, v FROM snapres.b"})
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func snapshotDone(cs []change.Change) bool {
	for i := len(cs) - 1; i >= 0; i-- {
		if cs[i].Snapshot == change.SnapshotLast {
			return true
		}
	}
	return false
}

// noGlobalLock checks the server's process list for a global read lock
// or a backup lock taken while the snapshot runs.
func noGlobalLock(srv *testenv.MariaDB) error {
	db, err := srv.DB()
	if err != nil {
		return err
	}
	rows, err := db.Query("SELECT COALESCE(INFO, ''), COALESCE(STATE, '') FROM information_schema.PROCESSLIST")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var info, state string
		if err := rows.Scan(&info, &state); err != nil {
			return err
		}
		u := strings.ToUpper(info + " " + state)
		for _, bad := range []string{"FLUSH TABLES", "READ LOCK", "BACKUP STAGE", "LOCK INSTANCE", "LOCK TABLES"} {
			if strings.Contains(u, bad) {
				return fmt.Errorf("a lock during the snapshot: %q %q", info, state)
			}
		}
	}
	var locks int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.METADATA_LOCK_INFO WHERE LOCK_MODE LIKE '%BACKUP%' OR LOCK_TYPE LIKE '%Global read lock%'").Scan(&locks); err == nil && locks > 0 {
		return fmt.Errorf("%d global or backup metadata locks during the snapshot", locks)
	}
	return rows.Err()
}

// checkRebuild applies the delivered changes (deduplicated by position,
// as upserts and deletes of whatever is there) to tables keyed by their
// first column, and compares them with queries.
func checkRebuild(t *testing.T, srv *testenv.MariaDB, delivered []change.Change, db string, queries map[string]string) {
	t.Helper()
	seen := map[change.Position]bool{}
	tables := map[string]map[string]string{}
	reads := map[string]int{}
	for _, c := range delivered {
		if seen[c.Pos] || c.Database != db {
			continue
		}
		seen[c.Pos] = true
		rows := tables[c.Table]
		if rows == nil {
			rows = map[string]string{}
			tables[c.Table] = rows
		}
		key := func(img []change.Value) string { return string(change.AppendText(nil, img[0])) }
		switch c.Op {
		case change.OpRead:
			k := c.Table + "/" + key(c.After)
			if reads[k]++; reads[k] > 1 {
				t.Errorf("row %s read twice", k)
			}
			if _, ok := rows[key(c.After)]; ok {
				t.Errorf("read of %s, which the output already holds", k)
			}
			rows[key(c.After)] = rowText(c.Columns, c.After)
		// Applied idempotently: after a resumed snapshot the stream
		// replays, for the rows the later run read, changes they already
		// show (see package snapshot).
		case change.OpInsert:
			rows[key(c.After)] = rowText(c.Columns, c.After)
		case change.OpUpdate:
			delete(rows, key(c.Before))
			rows[key(c.After)] = rowText(c.Columns, c.After)
		case change.OpDelete:
			delete(rows, key(c.Before))
		}
	}
	dbh, err := srv.DB()
	if err != nil {
		t.Fatal(err)
	}
	for table, q := range queries {
		want := map[string]bool{}
		for _, r := range selectText(t, dbh, q) {
			want[r] = true
		}
		got := tables[table]
		if len(got) != len(want) {
			t.Errorf("table %s: rebuilt %d rows, SELECT has %d", table, len(got), len(want))
		}
		bad := 0
		for _, r := range got {
			if !want[r] && bad < 5 {
				t.Errorf("table %s: rebuilt row %s is not in SELECT", table, r)
				bad++
			}
		}
	}
}

// TestSnapshotNamesMissingGrant: a user that may replicate but not read
// gets an error naming the SELECT privilege, and one that may not write
// the signalling table one naming the privilege it lacks there.
func TestSnapshotNamesMissingGrant(t *testing.T) {
	srv := shared
	exec(t, srv, "CREATE DATABASE nogrant", "CREATE TABLE nogrant.t (id INT PRIMARY KEY)", "INSERT INTO nogrant.t VALUES (1)",
		"CREATE USER 'noselect'@'127.0.0.1' IDENTIFIED BY 'pw'", "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'noselect'@'127.0.0.1'")
	cfg := testConfig(srv.Addr())
	cfg.User, cfg.Password, cfg.ServerID = "noselect", "pw", 7401
	cfg.Snapshot = snapshot.Options{Mode: snapshot.ModeOnly, Tables: func(ns change.Namespace) bool { return ns.Database == "nogrant" }}
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = src.Stream(context.Background(), change.Position{}, func([]change.Change) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "SELECT") {
		t.Fatalf("snapshot without SELECT: %v, want an error naming the SELECT privilege", err)
	}
	_, err = RequestSnapshot(context.Background(), cfg, []change.Namespace{{Database: "nogrant", Table: "u"}})
	if err == nil || !(strings.Contains(err.Error(), "INSERT") || strings.Contains(err.Error(), "CREATE")) {
		t.Errorf("request without INSERT on the signalling table: %v, want an error naming the privilege", err)
	}
}
