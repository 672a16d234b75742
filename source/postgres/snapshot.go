package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/snapshot"
)

// pgTable is the source's description of a table being snapshotted.
type pgTable struct {
	types   []*pgType
	mods    []int32
	formats []int16  // each column's result format: 1 (binary) where binarySafe
	casts   []string // the key columns' types, for the keyset parameters
	first   string   // SELECT … ORDER BY key LIMIT n (no key: the whole table)
	after   string   // SELECT … WHERE (key) > ($1, …) ORDER BY key LIMIT n
	params  int
	// A key of one column: SELECT min(key), max(key) …; SELECT … WHERE
	// key <= $1 ORDER BY key LIMIT n; SELECT … WHERE key > $1 AND key <=
	// $2 ORDER BY key LIMIT n.
	bounds, until, afterUntil string
}

// pgWorker reads rows on one connection inside the exported snapshot.
type pgWorker struct {
	conn   *pgconn.PgConn
	cat    *catalog
	vals   []change.Value
	params [][]byte
	// unsorted is set once the worker's transaction forbids sorting (see
	// query).
	unsorted bool
}

// privilege wraps a permission error of a snapshot query with the grant
// it lacks, and any error with what the query did (none when what is "":
// the caller says it, as the snapshot engine does for a table's read).
func privilege(err error, what, grant string) error {
	var pgErr *pgconn.PgError
	perm := errors.As(err, &pgErr) && pgErr.Code == "42501"
	switch {
	case perm && what == "":
		return fmt.Errorf("%w: the role needs %s: %w", ErrPrivilege, grant, err)
	case perm:
		return fmt.Errorf("%w: snapshot: %s: the role needs %s: %w", ErrPrivilege, what, grant, err)
	case what == "":
		return fmt.Errorf("postgres: %w", err)
	}
	return fmt.Errorf("postgres: snapshot: %s: %w", what, err)
}

// exportSnapshot creates a replication slot on a new replication
// connection and returns the connection (keep it open and idle until every
// worker has imported the snapshot), the snapshot's name and the slot's
// consistent point. A temporary slot is dropped when the connection
// closes.
func exportSnapshot(ctx context.Context, cfg *Config, slot string, temporary bool, version int) (*pgconn.PgConn, string, uint64, error) {
	repl, err := connect(ctx, cfg.Conn, true)
	if err != nil {
		return nil, "", 0, err
	}
	sql := "CREATE_REPLICATION_SLOT " + quoteIdent(slot)
	if temporary {
		sql += " TEMPORARY"
	}
	sql += " LOGICAL pgoutput"
	if version >= 150000 {
		sql += " (SNAPSHOT 'export')"
	} else {
		sql += " EXPORT_SNAPSHOT"
	}
	res, err := repl.Exec(ctx, sql).ReadAll()
	if err != nil {
		closeConn(repl)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42501" {
			return nil, "", 0, fmt.Errorf("%w: %s: %w", ErrPrivilege, sql, err)
		}
		return nil, "", 0, fmt.Errorf("postgres: snapshot: %s: %w", sql, err)
	}
	if len(res) == 0 || len(res[0].Rows) != 1 || len(res[0].Rows[0]) < 3 {
		closeConn(repl)
		return nil, "", 0, fmt.Errorf("postgres: snapshot: %s: no slot row in the answer", sql)
	}
	row := res[0].Rows[0]
	lsn, err := parseLSN(string(row[1]))
	if err != nil {
		closeConn(repl)
		return nil, "", 0, err
	}
	return repl, string(row[2]), lsn, nil
}

// snapshotRun reads the publication's tables in the consistent view of a
// replication slot's creation and hands the rows to emit: the whole of
// them (resume zero), or what is left after the progress resume of an
// earlier run that delivered lastRow rows at point. A slot that does not
// exist yet is created here, exporting its snapshot, so the stream starts
// exactly at that snapshot; an existing slot (a restart, a slot made by
// hand) gets a temporary slot for its exported snapshot, and the stream
// starts at that slot's consistent point on the real one. It returns the
// snapshot's point (where the stream starts).
func (s *Source) snapshotRun(ctx context.Context, resume snapshot.State, lastRow uint64, point change.Position,
	emit func([]change.Change) error) (snapshot.Result, change.Position, error) {
	cfg := s.cfg
	if cfg.Temporary {
		return snapshot.Result{}, point, errors.New("postgres: a snapshot needs a slot that outlives its connection: drop temporary=true or set snapshot=never")
	}
	catConn, err := connect(ctx, cfg.Conn, false)
	if err != nil {
		return snapshot.Result{}, point, err
	}
	defer closeConn(catConn)
	cat := newCatalog(catConn)
	info, err := preflight(ctx, cat)
	if err != nil {
		return snapshot.Result{}, point, err
	}
	if err := ensurePublication(ctx, cat, cfg); err != nil {
		return snapshot.Result{}, point, err
	}
	si, err := lookupSlot(ctx, cat, cfg.Slot)
	if err != nil {
		return snapshot.Result{}, point, err
	}
	slot, temporary := cfg.Slot, si.exists
	if temporary {
		var b [6]byte
		rand.Read(b[:])
		slot = "sluice_snapshot_" + hex.EncodeToString(b[:])
	}
	repl, name, at, err := exportSnapshot(ctx, cfg, slot, temporary, info.version)
	if err != nil {
		return snapshot.Result{}, point, err
	}
	replOpen := true
	defer func() {
		if replOpen {
			closeConn(repl)
		}
	}()
	workers := max(cfg.Snapshot.Workers, 1)
	if cfg.Snapshot.Workers == 0 {
		workers = snapshot.DefaultWorkers
	}
	var ws []*pgWorker
	defer func() {
		for _, w := range ws {
			w.conn.Exec(context.Background(), "COMMIT").ReadAll()
			closeConn(w.conn)
		}
	}()
	for range workers {
		c, err := connectWith(ctx, cfg.Conn, false, bufferedFrontend)
		if err != nil {
			return snapshot.Result{}, point, err
		}
		w := &pgWorker{conn: c, cat: newCatalog(c)}
		ws = append(ws, w)
		q := "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT " + quoteLiteral(name)
		if _, err := c.Exec(ctx, q).ReadAll(); err != nil {
			return snapshot.Result{}, point, fmt.Errorf("postgres: snapshot: import the exported snapshot %s: %w", name, err)
		}
	}
	// Every worker holds the snapshot now: the exporting connection may go
	// (with the temporary slot; a new slot stays).
	closeConn(repl)
	replOpen = false
	tables, err := ws[0].tables(ctx, cfg.Publication)
	if err != nil {
		return snapshot.Result{}, point, err
	}
	run := &snapshot.Run{Options: cfg.Snapshot, Source: "postgres", Point: point, Tables: tables, Resume: resume, LastRow: lastRow, Logger: cfg.Logger}
	how := "the snapshot of the slot's creation"
	if temporary {
		how = "a temporary slot's snapshot"
	}
	if point.IsZero() {
		run.Point = change.Position{Flavor: change.FlavorLSN, Offset: at}
		cfg.Logger.Info("snapshot: consistent point", "slot", cfg.Slot, "lsn", formatLSN(at), "from", how, "workers", len(ws), "tables", len(tables))
	} else {
		cfg.Logger.Info("snapshot: resuming; this run reads at its own consistent point", "lsn", formatLSN(at), "from", how,
			"snapshot_point", point.String())
	}
	for _, w := range ws {
		run.Readers = append(run.Readers, w)
	}
	res, err := snapshot.Do(ctx, run, emit)
	return res, run.Point, err
}

// tables lists the publication's tables with their columns (as the
// stream's changes carry them), keys and estimated sizes.
func (w *pgWorker) tables(ctx context.Context, publication string) ([]*snapshot.Table, error) {
	rows, err := w.cat.query(ctx, `SELECT c.oid, n.nspname, c.relname, c.relreplident, greatest(c.reltuples, -1)::bigint
		FROM pg_catalog.pg_publication_tables p
		JOIN pg_catalog.pg_namespace n ON n.nspname = p.schemaname
		JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = p.tablename
		WHERE p.pubname = $1 ORDER BY n.nspname, c.relname`, publication)
	if err != nil {
		return nil, privilege(err, "list the publication's tables", "SELECT on pg_publication_tables")
	}
	var out []*snapshot.Table
	for _, r := range rows {
		relid := string(r[0])
		est, _ := strconv.ParseInt(string(r[4]), 10, 64)
		t := &snapshot.Table{Namespace: change.Namespace{Database: string(r[1]), Table: string(r[2])}, Rows: est}
		cols, err := w.cat.query(ctx, `SELECT a.attname, a.atttypid, a.atttypmod, a.attnotnull, format_type(a.atttypid, a.atttypmod),
				coalesce((SELECT k.n FROM pg_catalog.pg_index i, unnest(i.indkey) WITH ORDINALITY k(attnum, n)
					WHERE i.indrelid = a.attrelid AND i.indisprimary AND k.attnum = a.attnum), 0),
				coalesce((SELECT a.attnum = ANY (i.indkey) FROM pg_catalog.pg_index i
					WHERE i.indrelid = a.attrelid AND i.indisreplident), false)
			FROM pg_catalog.pg_attribute a
			WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, relid)
		if err != nil {
			return nil, fmt.Errorf("postgres: snapshot: columns of %s.%s: %w", t.Database, t.Table, err)
		}
		pt := &pgTable{}
		type keyPos struct{ col, pos int }
		var keys []keyPos
		for i, c := range cols {
			oid, _ := strconv.ParseUint(string(c[1]), 10, 32)
			mod, _ := strconv.ParseInt(string(c[2]), 10, 32)
			typ, err := w.cat.typ(ctx, uint32(oid))
			if err != nil {
				return nil, err
			}
			pkPos, _ := strconv.Atoi(string(c[5]))
			// The stream marks the replica identity's columns: the primary
			// key by default and for FULL, the identity index's, or none.
			key := pkPos > 0
			switch string(r[3]) {
			case "i":
				key = string(c[6]) == "t"
			case "n":
				key = false
			}
			pt.types, pt.mods = append(pt.types, typ), append(pt.mods, int32(mod))
			t.Columns = append(t.Columns, change.Column{Name: string(c[0]), Type: string(c[4]), Nullable: string(c[3]) != "t", Key: key})
			if pkPos > 0 {
				keys = append(keys, keyPos{i, pkPos})
			}
		}
		// The primary key's columns in the index's order.
		for p := 1; p <= len(keys); p++ {
			for _, k := range keys {
				if k.pos == p {
					t.Key = append(t.Key, k.col)
					pt.casts = append(pt.casts, t.Columns[k.col].Type)
				}
			}
		}
		pt.build(t)
		t.Source = pt
		out = append(out, t)
	}
	return out, nil
}

// build prepares the table's queries.
func (pt *pgTable) build(t *snapshot.Table) {
	pt.formats = make([]int16, len(pt.types))
	for i, typ := range pt.types {
		if binarySafe(typ) {
			pt.formats[i] = 1
		}
	}
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = quoteIdent(c.Name)
	}
	sel := "SELECT " + strings.Join(names, ", ") + " FROM " + quoteIdent(t.Database) + "." + quoteIdent(t.Table)
	if t.Key == nil {
		pt.first = sel
		return
	}
	keys := make([]string, len(t.Key))
	params := make([]string, len(t.Key))
	for i, k := range t.Key {
		keys[i] = names[k]
		params[i] = "$" + strconv.Itoa(i+1) + "::" + pt.casts[i]
	}
	pt.params = len(t.Key)
	order := " ORDER BY " + strings.Join(keys, ", ") + " LIMIT "
	pt.first = sel + order
	pt.after = sel + " WHERE (" + strings.Join(keys, ", ") + ") > (" + strings.Join(params, ", ") + ")" + order
	if len(keys) == 1 {
		pt.bounds = "SELECT min(" + keys[0] + "), max(" + keys[0] + ") FROM " + quoteIdent(t.Database) + "." + quoteIdent(t.Table)
		pt.until = sel + " WHERE " + keys[0] + " <= " + params[0] + order
		pt.afterUntil = sel + " WHERE " + keys[0] + " > " + params[0] + " AND " + keys[0] + " <= $2::" + pt.casts[0] + order
	}
}

// guarded runs a query the snapshot can do without (the key range, the
// key's statistics) inside a savepoint: its failure (no SELECT on the
// table, say) must not abort the worker's transaction, whose reads then
// give their own error.
func (w *pgWorker) guarded(ctx context.Context, sql string, params [][]byte) *pgconn.Result {
	if err := w.conn.Exec(ctx, "SAVEPOINT sluice_split").Close(); err != nil {
		return &pgconn.Result{Err: err}
	}
	res := w.conn.ExecParams(ctx, sql, params, nil, nil, nil).Read()
	end := "RELEASE SAVEPOINT sluice_split"
	if res.Err != nil {
		end = "ROLLBACK TO SAVEPOINT sluice_split"
	}
	if err := w.conn.Exec(ctx, end).Close(); err != nil && res.Err == nil {
		res.Err = err
	}
	return res
}

// KeyRange returns the smallest and largest key of t (see
// snapshot.RangeReader).
func (w *pgWorker) KeyRange(ctx context.Context, t *snapshot.Table) (lo, hi change.Value, ok bool, err error) {
	pt := t.Source.(*pgTable)
	if pt.bounds == "" {
		return lo, hi, false, nil
	}
	res := w.guarded(ctx, pt.bounds, nil)
	if res.Err != nil {
		return lo, hi, false, res.Err
	}
	if len(res.Rows) != 1 || res.Rows[0][0] == nil || res.Rows[0][1] == nil {
		return lo, hi, false, nil // no rows
	}
	k := t.Key[0]
	if lo, err = decodeText(pt.types[k], pt.mods[k], res.Rows[0][0]); err != nil {
		return lo, hi, false, err
	}
	if hi, err = decodeText(pt.types[k], pt.mods[k], res.Rows[0][1]); err != nil {
		return lo, hi, false, err
	}
	return lo.Clone(), hi.Clone(), true, nil
}

// KeyQuantiles returns the histogram bounds of t's key from pg_stats
// (ANALYZE's, autovacuum's): keys that part its rows about equally (see
// snapshot.KeyQuantiler); none before the table was analyzed.
func (w *pgWorker) KeyQuantiles(ctx context.Context, t *snapshot.Table) ([]change.Value, error) {
	pt := t.Source.(*pgTable)
	if pt.bounds == "" {
		return nil, nil
	}
	k := t.Key[0]
	res := w.guarded(ctx, `SELECT histogram_bounds::text FROM pg_catalog.pg_stats
		WHERE schemaname = $1 AND tablename = $2 AND attname = $3 AND histogram_bounds IS NOT NULL ORDER BY inherited LIMIT 1`,
		[][]byte{[]byte(t.Database), []byte(t.Table), []byte(t.Columns[k].Name)})
	if res.Err != nil {
		return nil, res.Err
	}
	if len(res.Rows) == 0 {
		return nil, nil
	}
	text := string(res.Rows[0][0])
	if len(text) < 2 || text[0] != '{' || text[len(text)-1] != '}' {
		return nil, fmt.Errorf("histogram bounds %q: not an array", text)
	}
	var qs []change.Value
	for _, elem := range strings.Split(text[1:len(text)-1], ",") {
		v, err := decodeText(pt.types[k], pt.mods[k], []byte(elem))
		if err != nil {
			return nil, fmt.Errorf("histogram bound %q: %w", elem, err)
		}
		qs = append(qs, v.Clone())
	}
	return qs, nil
}

// ReadUntil reads rows of t up to the key until (see
// snapshot.RangeReader).
func (w *pgWorker) ReadUntil(ctx context.Context, t *snapshot.Table, after []change.Value, until change.Value, limit int, row func([]change.Column, []change.Value) error) (int, error) {
	pt := t.Source.(*pgTable)
	if pt.until == "" {
		return 0, errors.New("a range read of a table whose key is not one column")
	}
	w.params = w.params[:0]
	q := pt.until
	if after != nil {
		q = pt.afterUntil
		w.params = append(w.params, keyText(after[0]))
	}
	w.params = append(w.params, keyText(until))
	return w.query(ctx, t, pt, q+strconv.Itoa(limit), row)
}

// Read reads rows of t (see snapshot.Reader).
func (w *pgWorker) Read(ctx context.Context, t *snapshot.Table, after []change.Value, limit int, row func([]change.Column, []change.Value) error) (int, error) {
	pt := t.Source.(*pgTable)
	q := pt.first
	w.params = w.params[:0]
	if t.Key != nil {
		if after != nil {
			q = pt.after
			for _, v := range after {
				w.params = append(w.params, keyText(v))
			}
		}
		q += strconv.Itoa(limit)
	}
	return w.query(ctx, t, pt, q, row)
}

// query runs q with w.params and hands its rows to row.
func (w *pgWorker) query(ctx context.Context, t *snapshot.Table, pt *pgTable, q string, row func([]change.Column, []change.Value) error) (int, error) {
	if !w.unsorted {
		// Keyset chunks must come in key order from the key's index: with
		// sorting allowed, a planner that finds random reads dear may sort
		// the whole table for every chunk instead. Only from the first
		// read on: the catalog queries before it (pg_stats above all) are
		// many times slower without sorts.
		if _, err := w.conn.Exec(ctx, "SET LOCAL enable_sort = off").ReadAll(); err != nil {
			return 0, fmt.Errorf("forbid sorting: %w", err)
		}
		w.unsorted = true
	}
	rr := w.conn.ExecParams(ctx, q, w.params, nil, nil, pt.formats)
	if len(w.vals) != len(t.Columns) {
		w.vals = make([]change.Value, len(t.Columns))
	}
	n := 0
	for rr.NextRow() {
		raw := rr.Values()
		for i := range w.vals {
			if raw[i] == nil {
				w.vals[i] = change.Null()
				continue
			}
			if decodeFast(pt.types[i], pt.formats[i], raw[i], &w.vals[i]) {
				continue
			}
			var v change.Value
			var err error
			if pt.formats[i] == 1 {
				v, err = decodeBinary(pt.types[i], pt.mods[i], raw[i])
			} else {
				v, err = decodeText(pt.types[i], pt.mods[i], raw[i])
			}
			if errors.Is(err, errUnknownLabel) {
				if e := enumOf(pt.types[i]); e != nil {
					if err = w.cat.loadLabels(ctx, e); err == nil {
						v, err = decodeText(pt.types[i], pt.mods[i], raw[i])
					}
				}
			}
			if err != nil {
				rr.Close()
				return n, fmt.Errorf("column %s (%s): %w", t.Columns[i].Name, t.Columns[i].Type, err)
			}
			w.vals[i] = v
		}
		n++
		if err := row(nil, w.vals); err != nil {
			rr.Close()
			return n, err
		}
	}
	if _, err := rr.Close(); err != nil {
		return n, privilege(err, "", "SELECT on it (GRANT SELECT ON "+quoteIdent(t.Database)+"."+quoteIdent(t.Table)+" TO the replication role)")
	}
	return n, nil
}

// keyText writes a key value as PostgreSQL reads it back into its type.
func keyText(v change.Value) []byte {
	switch v.Kind {
	case change.KindBytes:
		return append([]byte(`\x`), hex.EncodeToString(v.B)...)
	case change.KindBool:
		if v.I != 0 {
			return []byte("true")
		}
		return []byte("false")
	case change.KindString, change.KindDecimal, change.KindEnum, change.KindOther, change.KindJSON:
		return v.B
	}
	return change.AppendText(nil, v)
}

// binarySafe tells whether the snapshot reads columns of type t in binary
// form, which costs both the server and Sluice less than the text (PostgreSQL
// prints timestamps and floats slowly): the types whose binary form
// decodeBinary turns into exactly the Value of the text form, for every
// value (never errBinaryFallback) and whatever the session's settings. Not timestamptz (its text carries the
// session's zone offset), numeric (its text is kept as it comes, at no
// cost) nor the types kept as the server's text.
func binarySafe(t *pgType) bool {
	for t.Base != nil {
		t = t.Base
	}
	switch t.Class {
	case classBool, classInt2, classInt4, classInt8, classFloat4, classFloat8, classDate, classTimestamp:
		return true
	}
	return false
}
