package mysql

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/sluice-cdc/sluice/change"
)

// historyRecord is one line of the schema history file: either a snapshot
// of every table (from information_schema) or the tables one DDL statement
// changed, at the position where the change takes effect.
type historyRecord struct {
	Pos      string      `json:"pos"`
	Snapshot bool        `json:"snapshot,omitempty"`
	DB       string      `json:"db,omitempty"`
	SQL      string      `json:"sql,omitempty"`
	Tables   []*tableDef `json:"tables,omitempty"`  // snapshot: every table; DDL: new definitions
	Dropped  []string    `json:"dropped,omitempty"` // DDL: db.table keys that no longer exist
	pos      change.Position
}

// schemaTracker holds the columns of every table as of the position the
// stream has reached, the DDL parser that keeps them current, and the
// history that lets a restart go back to an earlier position.
type schemaTracker struct {
	set     schemaSet
	parser  *ddlParser
	records []historyRecord // snapshot first, then DDL records in stream order
	path    string
	log     *slog.Logger
	// reload re-reads tables of one database (all when db is "") from
	// information_schema, for DDL the parser cannot follow.
	reload func(db string) (schemaSet, error)
}

func newSchemaTracker(path string, log *slog.Logger) *schemaTracker {
	return &schemaTracker{set: schemaSet{}, parser: newDDLParser(), path: path, log: log}
}

// lookup returns the table's columns as held, or nil.
func (t *schemaTracker) lookup(db, table string) *tableDef { return t.set.get(db, table) }

// open prepares the schema for a stream starting at from: it replays the
// persisted history up to from when it has a snapshot at or before from,
// and otherwise takes a snapshot with load and records it at from. fresh
// (a start at the server's current position, not a resume) always takes
// a new snapshot: the history may have missed DDL while nothing ran.
func (t *schemaTracker) open(from change.Position, fresh bool, load func() (schemaSet, error)) error {
	var recs []historyRecord
	if t.path != "" && !fresh {
		var err error
		if recs, err = readHistory(t.path); err != nil {
			return err
		}
	}
	// Keep the newest snapshot at or before from and the DDL after it up to from.
	base := -1
	for i, r := range recs {
		if r.Snapshot && change.Compare(r.pos, from) <= 0 {
			base = i
		}
	}
	var kept []historyRecord
	if base >= 0 {
		for _, r := range recs[base:] {
			if change.Compare(r.pos, from) > 0 {
				break
			}
			kept = append(kept, r)
		}
	} else {
		set, err := load()
		if err != nil {
			return fmt.Errorf("mysql: schema snapshot: %w", err)
		}
		snap := historyRecord{Pos: from.String(), pos: from, Snapshot: true}
		for _, td := range set {
			snap.Tables = append(snap.Tables, td)
		}
		kept = []historyRecord{snap}
		t.log.Info("schema snapshot taken from information_schema", "tables", len(set), "at", from.String())
	}
	t.records = kept
	t.rebuild()
	if t.path != "" {
		return writeHistory(t.path, t.records)
	}
	return nil
}

// rebuild recomputes the table set from the records.
func (t *schemaTracker) rebuild() {
	t.set = schemaSet{}
	for _, r := range t.records {
		if r.Snapshot {
			t.set = schemaSet{}
		}
		for _, k := range r.Dropped {
			delete(t.set, k)
		}
		for _, td := range r.Tables {
			t.set.put(td)
		}
	}
}

// rewind forgets DDL records past pos (they will be read again from the
// binlog after a reconnect) and rebuilds the tables.
func (t *schemaTracker) rewind(pos change.Position) error {
	n := len(t.records)
	for n > 1 && change.Compare(t.records[n-1].pos, pos) > 0 {
		n--
	}
	if n == len(t.records) {
		return nil
	}
	t.records = t.records[:n]
	t.rebuild()
	if t.path != "" {
		return writeHistory(t.path, t.records)
	}
	return nil
}

// applyQuery applies a statement to the schema; DDL that changed tables is
// recorded at pos (the position just after the statement's transaction).
func (t *schemaTracker) applyQuery(db, sql string, pos change.Position) (ddlResult, error) {
	res := t.parser.apply(t.set, db, sql)
	if res.unparsed != nil {
		t.log.Warn("schema history: DDL not understood, re-reading information_schema", "db", db, "sql", sql, "err", res.unparsed)
		if t.reload == nil {
			return res, nil
		}
		set, err := t.reload(db)
		if err != nil {
			return res, fmt.Errorf("schema reload after %q: %w", sql, err)
		}
		for k, td := range t.set {
			if db == "" || td.Database == db {
				if _, ok := set[k]; !ok {
					res.changed[k] = nil
					delete(t.set, k)
				}
			}
		}
		for k, td := range set {
			t.set[k] = td
			res.changed[k] = td
		}
	}
	if len(res.changed) == 0 {
		return res, nil
	}
	rec := historyRecord{Pos: pos.String(), pos: pos, DB: db, SQL: sql}
	for k, td := range res.changed {
		if td == nil {
			rec.Dropped = append(rec.Dropped, k)
		} else {
			rec.Tables = append(rec.Tables, td)
		}
	}
	t.records = append(t.records, rec)
	if t.path != "" {
		if err := appendHistory(t.path, rec); err != nil {
			return res, err
		}
	}
	return res, nil
}

// readHistory reads the history file; a missing file is an empty history.
// A torn last line (a crash while appending) is ignored.
func readHistory(path string) ([]historyRecord, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mysql: schema history: %w", err)
	}
	defer f.Close()
	var out []historyRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 256<<20)
	line := 0
	var pendingErr error
	for sc.Scan() {
		line++
		if pendingErr != nil {
			return nil, pendingErr
		}
		var r historyRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			pendingErr = fmt.Errorf("mysql: schema history %s line %d: %w", path, line, err)
			continue
		}
		if r.pos, err = change.ParsePosition(r.Pos); err != nil {
			return nil, fmt.Errorf("mysql: schema history %s line %d: position: %w", path, line, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("mysql: schema history %s: %w", path, err)
	}
	return out, nil
}

// writeHistory replaces the history file atomically.
func writeHistory(path string, recs []historyRecord) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("mysql: schema history: %w", err)
	}
	w := bufio.NewWriter(tmp)
	enc := json.NewEncoder(w)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			return fmt.Errorf("mysql: schema history: %w", err)
		}
	}
	if err := w.Flush(); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("mysql: schema history %s: %w", path, err)
	}
	return nil
}

// appendHistory appends one record and syncs it.
func appendHistory(path string, r historyRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("mysql: schema history: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("mysql: schema history: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("mysql: schema history %s: %w", path, err)
	}
	return nil
}
