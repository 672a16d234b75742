package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/snapshot"
)

// DefaultSignalTable is where incremental snapshots are asked for and
// their watermarks written, unless Config.Snapshot.Signal names another
// table (schema.table). It must be in the publication (it is, when the
// publication is FOR ALL TABLES; RequestSnapshot adds it to one that lists
// its tables).
const DefaultSignalTable = "public.sluice_signal"

// SignalTable returns the signalling table cfg names.
func SignalTable(cfg *Config) (change.Namespace, error) {
	name := cfg.Snapshot.Signal
	if name == "" {
		name = DefaultSignalTable
	}
	schema, t, ok := strings.Cut(name, ".")
	if !ok || schema == "" || t == "" {
		return change.Namespace{}, fmt.Errorf("postgres: signal-table %q: want SCHEMA.TABLE", name)
	}
	return change.Namespace{Database: schema, Table: t}, nil
}

func signalName(ns change.Namespace) string {
	return quoteIdent(ns.Database) + "." + quoteIdent(ns.Table)
}

// RequestSnapshot inserts a request for an incremental snapshot of tables
// into the signalling table (created when missing, and added to the
// publication when that lists its tables) and returns the request's id.
func RequestSnapshot(ctx context.Context, cfg Config, tables []change.Namespace) (string, error) {
	if err := cfg.Validate(); err != nil {
		return "", err
	}
	ns, err := SignalTable(&cfg)
	if err != nil {
		return "", err
	}
	conn, err := connect(ctx, cfg.Conn, false)
	if err != nil {
		return "", err
	}
	defer closeConn(conn)
	cat := newCatalog(conn)
	rows, err := cat.query(ctx, `SELECT to_regclass($1) IS NOT NULL`, signalName(ns))
	if err != nil {
		return "", fmt.Errorf("postgres: look up %s: %w", signalName(ns), err)
	}
	if string(rows[0][0]) != "t" {
		q := "CREATE TABLE IF NOT EXISTS " + signalName(ns) + " (id bigserial PRIMARY KEY, kind text NOT NULL, body text NOT NULL, at timestamptz DEFAULT now())"
		if _, err := conn.Exec(ctx, q).ReadAll(); err != nil {
			return "", privilege(err, "create the signalling table", "CREATE on schema "+quoteIdent(ns.Database))
		}
	}
	pub, err := cat.query(ctx, `SELECT p.puballtables, EXISTS (SELECT 1 FROM pg_catalog.pg_publication_tables t
		WHERE t.pubname = p.pubname AND t.schemaname = $2 AND t.tablename = $3)
		FROM pg_catalog.pg_publication p WHERE p.pubname = $1`, cfg.Publication, ns.Database, ns.Table)
	if err != nil {
		return "", fmt.Errorf("postgres: look up publication %q: %w", cfg.Publication, err)
	}
	if len(pub) == 1 && string(pub[0][0]) != "t" && string(pub[0][1]) != "t" {
		q := "ALTER PUBLICATION " + quoteIdent(cfg.Publication) + " ADD TABLE " + signalName(ns)
		if _, err := conn.Exec(ctx, q).ReadAll(); err != nil {
			return "", privilege(err, "add the signalling table to the publication (the stream reads requests from its log)", "ownership of publication "+quoteIdent(cfg.Publication))
		}
	}
	var names []string
	for _, t := range tables {
		names = append(names, t.Database+"."+t.Table)
	}
	res, err := cat.query(ctx, "INSERT INTO "+signalName(ns)+" (kind, body) VALUES ($1, $2) RETURNING id::text", snapshot.SignalExecute, strings.Join(names, ","))
	if err != nil {
		return "", privilege(err, "write the request into "+signalName(ns), "INSERT on it")
	}
	return string(res[0][0]), nil
}

// RequestDone reports whether a stream has written that it finished the
// request id.
func RequestDone(ctx context.Context, cfg Config, id string) (bool, error) {
	if err := cfg.Validate(); err != nil {
		return false, err
	}
	ns, err := SignalTable(&cfg)
	if err != nil {
		return false, err
	}
	conn, err := connect(ctx, cfg.Conn, false)
	if err != nil {
		return false, err
	}
	defer closeConn(conn)
	rows, err := newCatalog(conn).query(ctx, "SELECT count(*)::text FROM "+signalName(ns)+" WHERE kind = $1 AND body LIKE $2", snapshot.SignalDone, "%:"+id)
	if err != nil {
		return false, privilege(err, "read "+signalName(ns), "SELECT on it")
	}
	return string(rows[0][0]) != "0", nil
}

// incremental returns the Incremental that serves incremental snapshots in
// a stream resumed at from; close its connections with the returned func.
func (s *Source) incremental(ctx context.Context, from change.Position) (*snapshot.Incremental, func(), error) {
	cfg := s.cfg
	ns, err := SignalTable(cfg)
	if err != nil {
		return nil, nil, err
	}
	var writer, reader *pgconn.PgConn
	closeAll := func() {
		for _, c := range []*pgconn.PgConn{writer, reader} {
			if c != nil {
				closeConn(c)
			}
		}
	}
	conn := func(c **pgconn.PgConn) (*pgconn.PgConn, error) {
		if *c == nil || (*c).IsClosed() {
			nc, err := connect(ctx, cfg.Conn, false)
			if err != nil {
				return nil, err
			}
			*c = nc
		}
		return *c, nil
	}
	inc := &snapshot.Incremental{
		Signal: ns, Source: "postgres", Logger: cfg.Logger, ChunkRows: cfg.Snapshot.ChunkRows,
		Write: func(ctx context.Context, kind, body string) error {
			c, err := conn(&writer)
			if err != nil {
				return err
			}
			if _, err := newCatalog(c).query(ctx, "INSERT INTO "+signalName(ns)+" (kind, body) VALUES ($1, $2)", kind, body); err != nil {
				return privilege(err, "write a watermark into "+signalName(ns), "INSERT on it")
			}
			return nil
		},
		Tables: func(ctx context.Context) ([]*snapshot.Table, error) {
			c, err := conn(&reader)
			if err != nil {
				return nil, err
			}
			return (&pgWorker{conn: c, cat: newCatalog(c)}).tables(ctx, cfg.Publication)
		},
		Reader: readerFunc(func(ctx context.Context, t *snapshot.Table, after []change.Value, limit int, row func([]change.Column, []change.Value) error) (int, error) {
			c, err := conn(&reader)
			if err != nil {
				return 0, err
			}
			return (&pgWorker{conn: c, cat: newCatalog(c)}).Read(ctx, t, after, limit, row)
		}),
	}
	if cfg.Snapshot.ChunkRows == 0 {
		inc.ChunkRows = snapshot.DefaultIncrementalChunk
	}
	if err := inc.Start(ctx, from); err != nil {
		closeAll()
		return nil, nil, err
	}
	return inc, closeAll, nil
}

// readerFunc is a snapshot.Reader made of a function.
type readerFunc func(ctx context.Context, t *snapshot.Table, after []change.Value, limit int, row func([]change.Column, []change.Value) error) (int, error)

func (f readerFunc) Read(ctx context.Context, t *snapshot.Table, after []change.Value, limit int, row func([]change.Column, []change.Value) error) (int, error) {
	return f(ctx, t, after, limit, row)
}
