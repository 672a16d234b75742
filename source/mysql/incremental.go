package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/snapshot"
)

// DefaultSignalTable is where incremental snapshots are asked for and
// their watermarks written, unless Config.Snapshot.Signal names another
// table (db.table).
const DefaultSignalTable = "sluice.signal"

// SignalTable returns the signalling table cfg names (db.table).
func SignalTable(cfg *Config) (change.Namespace, error) {
	name := cfg.Snapshot.Signal
	if name == "" {
		name = DefaultSignalTable
	}
	db, t, ok := strings.Cut(name, ".")
	if !ok || db == "" || t == "" {
		return change.Namespace{}, fmt.Errorf("mysql: signal-table %q: want DB.TABLE", name)
	}
	return change.Namespace{Database: db, Table: t}, nil
}

// CreateSignalTable creates the signalling table (and its database) when
// missing. It needs CREATE on it.
func CreateSignalTable(ctx context.Context, db *sql.DB, ns change.Namespace) error {
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
		ns.Database, ns.Table).Scan(&n); err == nil && n > 0 {
		return nil
	}
	for _, q := range []string{
		"CREATE DATABASE IF NOT EXISTS " + quoteName(ns.Database),
		"CREATE TABLE IF NOT EXISTS " + quoteName(ns.Database) + "." + quoteName(ns.Table) +
			" (id BIGINT AUTO_INCREMENT PRIMARY KEY, kind VARCHAR(32) NOT NULL, body TEXT NOT NULL, at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6))",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return grantError(err, q)
		}
	}
	return nil
}

// RequestSnapshot inserts a request for an incremental snapshot of tables
// into the signalling table (creating it when missing) and returns the
// request's id. Every stream that follows the server serves it.
func RequestSnapshot(ctx context.Context, cfg Config, tables []change.Namespace) (string, error) {
	if err := cfg.Validate(); err != nil {
		return "", err
	}
	s := &Source{cfg: cfg}
	ns, err := SignalTable(&cfg)
	if err != nil {
		return "", err
	}
	db := s.openSQL()
	defer db.Close()
	if err := CreateSignalTable(ctx, db, ns); err != nil {
		return "", err
	}
	var names []string
	for _, t := range tables {
		names = append(names, t.Database+"."+t.Table)
	}
	res, err := db.ExecContext(ctx, "INSERT INTO "+quoteName(ns.Database)+"."+quoteName(ns.Table)+" (kind, body) VALUES (?, ?)",
		snapshot.SignalExecute, strings.Join(names, ","))
	if err != nil {
		return "", grantError(err, "write the request into "+ns.Database+"."+ns.Table+" (needs INSERT on it)")
	}
	id, _ := res.LastInsertId()
	return fmt.Sprint(id), nil
}

// incremental returns the Incremental that serves incremental snapshots
// in a stream resumed at from, and the pool its queries use (the caller
// closes it).
func (s *Source) incremental(ctx context.Context, from change.Position, flavor string) (*snapshot.Incremental, *sql.DB, error) {
	ns, err := SignalTable(&s.cfg)
	if err != nil {
		return nil, nil, err
	}
	db := s.openSQL()
	quoted := quoteName(ns.Database) + "." + quoteName(ns.Table)
	inc := &snapshot.Incremental{
		Signal: ns, Source: flavor, Logger: s.cfg.Logger, ChunkRows: s.cfg.Snapshot.ChunkRows,
		Write: func(ctx context.Context, kind, body string) error {
			if _, err := db.ExecContext(ctx, "INSERT INTO "+quoted+" (kind, body) VALUES (?, ?)", kind, body); err != nil {
				return grantError(err, "write a watermark into "+ns.Database+"."+ns.Table+" (the replication user needs INSERT on it)")
			}
			return nil
		},
		Tables: func(ctx context.Context) ([]*snapshot.Table, error) {
			c, err := db.Conn(ctx)
			if err != nil {
				return nil, err
			}
			defer c.Close()
			if _, err := c.ExecContext(ctx, "SET SESSION time_zone = '+00:00'"); err != nil {
				return nil, err
			}
			full, err := binlogRowMetadata(ctx, c)
			if err != nil {
				return nil, err
			}
			return s.snapTables(ctx, &snapWorker{conn: c, src: s}, full)
		},
		Reader: &poolReader{db: db, src: s},
	}
	if s.cfg.Snapshot.ChunkRows == 0 {
		inc.ChunkRows = snapshot.DefaultIncrementalChunk
	}
	if err := inc.Start(ctx, from); err != nil {
		db.Close()
		return nil, nil, err
	}
	return inc, db, nil
}

// poolReader reads chunks on a connection of its pool, each query its own
// transaction (a fresh view), in the snapshot session's settings.
type poolReader struct {
	db  *sql.DB
	src *Source
	w   *snapWorker
}

// Read reads rows of t (see snapshot.Reader).
func (r *poolReader) Read(ctx context.Context, t *snapshot.Table, after []change.Value, limit int, row func([]change.Column, []change.Value) error) (int, error) {
	if r.w == nil {
		c, err := r.db.Conn(ctx)
		if err != nil {
			return 0, err
		}
		for _, q := range []string{"SET SESSION time_zone = '+00:00'", "SET SESSION sql_mode = ''"} {
			if _, err := c.ExecContext(ctx, q); err != nil {
				c.Close()
				return 0, err
			}
		}
		r.w = &snapWorker{conn: c, src: r.src}
	}
	n, err := r.w.Read(ctx, t, after, limit, row)
	if err != nil {
		r.w.conn.Close()
		r.w = nil
	}
	return n, err
}

// RequestDone reports whether a stream has written that it finished the
// request id (a done row in the signalling table).
func RequestDone(ctx context.Context, cfg Config, id string) (bool, error) {
	if err := cfg.Validate(); err != nil {
		return false, err
	}
	s := &Source{cfg: cfg}
	ns, err := SignalTable(&cfg)
	if err != nil {
		return false, err
	}
	db := s.openSQL()
	defer db.Close()
	var n int
	err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+quoteName(ns.Database)+"."+quoteName(ns.Table)+" WHERE kind = ? AND body LIKE ?",
		snapshot.SignalDone, "%:"+id).Scan(&n)
	if err != nil {
		return false, grantError(err, "read "+ns.Database+"."+ns.Table)
	}
	return n > 0, nil
}
