// Package sql is a checkpoint store in a table of a MySQL, MariaDB or
// PostgreSQL database, created if missing:
//
//	mysql://USER:PASSWORD@HOST:3306/DATABASE?table=sluice_checkpoint[&timeout=5s&tls=…]
//	postgres://USER:PASSWORD@HOST:5432/DATABASE?table=[SCHEMA.]sluice_checkpoint[&sslmode=…]
//
// (mariadb:// and postgresql:// too). table defaults to sluice_checkpoint;
// MySQL takes tls=off|prefer|on|skip-verify (default prefer, as the mysql
// client), tls-ca, tls-cert, tls-key, tls-server-name and timeout (connect,
// read and write, default 5s); PostgreSQL passes every other parameter to
// pgx as libpq would read it (sslmode, connect_timeout, …).
//
// The table has one row per pipeline:
//
//	pipeline    the pipeline id (primary key)
//	position    the position's text form (change.Position.String), '' for none
//	ddl         kept for the SQL sink (sink/sql), which keeps its positions in a
//	            table of this shape and name; NULL here
//	updated_at  when the row was last written
//	epoch       the fence token of the pipeline's owner, 0 when unfenced
//	owner       the fence's owner
//
// A table that lacks epoch or owner (one the SQL sink created) gets them
// added, so one table can hold both.
//
// Every Save is one autocommitted UPDATE, durable when it returns with
// the server's default settings (InnoDB's innodb_flush_log_at_trx_commit=1,
// PostgreSQL's synchronous_commit=on). A plain Save updates the row only
// WHERE epoch = 0; Fence sets epoch and owner WHERE the stored epoch is
// smaller (or the same owner's), and the owner's Saves update WHERE epoch
// and owner are still its own: a deposed owner's UPDATE matches no row.
// Tokens must fit in a signed 64-bit column.
package sql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/sqlconn"
)

// DefaultTable is the table of the positions when the URL names none.
const DefaultTable = "sluice_checkpoint"

// Store is a checkpoint store in an SQL table. It is a checkpoint.Fencer
// and safe for concurrent use.
type Store struct {
	db      *sql.DB
	d       dialect
	table   string // quoted, qualified
	name    string // as the URL gave it, for messages
	timeout time.Duration
}

// dialect holds what differs between the databases.
type dialect struct {
	postgres bool
	q        func(n int) string // placeholder n (1-based)
}

// Open connects to the database a mysql://, mariadb://, postgres:// or
// postgresql:// URL names and creates the table if missing.
func Open(ctx context.Context, u *url.URL) (*Store, error) {
	s := &Store{name: DefaultTable}
	p := address.NewParams(u)
	p.String("table", &s.name)
	db, err := sqlconn.Open(u, p)
	if err != nil {
		return nil, checkpoint.BadURL(err)
	}
	s.db, s.timeout = db.DB, db.Timeout
	schema, name, err := splitTable(s.name)
	if err == nil && schema == "" && !db.Postgres {
		schema = db.Database
		if schema == "" {
			err = errors.New("no database: want mysql://USER:PASSWORD@HOST:PORT/DATABASE or table=DATABASE.TABLE")
		}
	}
	if err != nil {
		db.Close()
		return nil, checkpoint.BadURL(err)
	}
	if db.Postgres {
		s.d = dialect{postgres: true, q: func(n int) string { return fmt.Sprintf("$%d", n) }}
		s.table = pgx.Identifier{name}.Sanitize()
		if schema != "" {
			s.table = pgx.Identifier{schema, name}.Sanitize()
		}
	} else {
		quote := func(n string) string { return "`" + strings.ReplaceAll(n, "`", "``") + "`" }
		s.d = dialect{q: func(int) string { return "?" }}
		s.table = quote(schema) + "." + quote(name)
	}
	s.db.SetMaxOpenConns(4)
	s.db.SetMaxIdleConns(2)
	s.db.SetConnMaxIdleTime(time.Minute)
	if err := s.createTable(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// splitTable reads [schema.]table.
func splitTable(t string) (schema, name string, err error) {
	schema, name, ok := strings.Cut(t, ".")
	if !ok {
		schema, name = "", t
	}
	if name == "" || (ok && schema == "") || strings.Contains(name, ".") {
		return "", "", fmt.Errorf("parameter table=%q: want TABLE or SCHEMA.TABLE", t)
	}
	return schema, name, nil
}

// Table is the table's qualified, quoted name.
func (s *Store) Table() string { return s.table }

func (s *Store) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

func (s *Store) createTable(ctx context.Context) error {
	var create string
	if s.d.postgres {
		create = `CREATE TABLE IF NOT EXISTS ` + s.table + ` (
  pipeline text PRIMARY KEY,
  position text NOT NULL,
  ddl text,
  updated_at timestamptz(6) NOT NULL,
  epoch bigint NOT NULL DEFAULT 0,
  owner text NOT NULL DEFAULT ''
)`
	} else {
		create = "CREATE TABLE IF NOT EXISTS " + s.table + ` (
  pipeline VARCHAR(191) NOT NULL PRIMARY KEY,
  position TEXT NOT NULL,
  ddl TEXT NULL,
  updated_at DATETIME(6) NOT NULL,
  epoch BIGINT NOT NULL DEFAULT 0,
  owner VARCHAR(191) NOT NULL DEFAULT ''
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`
	}
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	if _, err := s.db.ExecContext(cctx, create); err != nil {
		return fmt.Errorf("create table %s: %w", s.name, err)
	}
	// A table of the SQL sink's shape lacks the fence columns.
	cols := map[string]string{"epoch": "bigint NOT NULL DEFAULT 0", "owner": "text NOT NULL DEFAULT ''"}
	if !s.d.postgres {
		cols["owner"] = "VARCHAR(191) NOT NULL DEFAULT ''"
	}
	for _, col := range []string{"epoch", "owner"} {
		// Selecting the column fails when it is missing.
		if _, err := s.db.ExecContext(cctx, "SELECT "+col+" FROM "+s.table+" WHERE 1 = 0"); err == nil {
			continue
		}
		if _, err := s.db.ExecContext(cctx, "ALTER TABLE "+s.table+" ADD COLUMN "+col+" "+cols[col]); err != nil {
			return fmt.Errorf("table %s: add column %s: %w", s.name, col, err)
		}
	}
	return nil
}

// now is the current time in the database's own terms.
func (s *Store) now() string {
	if s.d.postgres {
		return "now()"
	}
	return "CURRENT_TIMESTAMP(6)"
}

// Load returns the position saved under id.
func (s *Store) Load(ctx context.Context, id string) (change.Position, error) {
	if err := ctx.Err(); err != nil {
		return change.Position{}, fmt.Errorf("sql: load %q: %w", id, err)
	}
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	var text string
	err := s.db.QueryRowContext(cctx, "SELECT position FROM "+s.table+" WHERE pipeline = "+s.d.q(1), id).Scan(&text)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && text == "") {
		return change.Position{}, fmt.Errorf("sql: load %q from %s: %w", id, s.name, checkpoint.ErrNotFound)
	}
	if err != nil {
		return change.Position{}, fmt.Errorf("sql: load %q from %s: %w", id, s.name, err)
	}
	p, err := change.ParsePosition(text)
	if err != nil {
		return change.Position{}, fmt.Errorf("sql: load %q from %s: %w", id, s.name, err)
	}
	return p, nil
}

// Save records p under id if id has no fence (epoch 0).
func (s *Store) Save(ctx context.Context, id string, p change.Position) error {
	return s.save(ctx, id, p, checkpoint.Fence{})
}

// ensureRow adds id's row (no position, no fence) when missing.
func (s *Store) ensureRow(ctx context.Context, id string) error {
	insert := "INSERT IGNORE INTO " + s.table + " (pipeline, position, updated_at) VALUES (?, '', CURRENT_TIMESTAMP(6))"
	if s.d.postgres {
		insert = "INSERT INTO " + s.table + " (pipeline, position, updated_at) VALUES ($1, '', now()) ON CONFLICT (pipeline) DO NOTHING"
	}
	_, err := s.db.ExecContext(ctx, insert, id)
	return err
}

// save updates id's row with p WHERE its fence is f (epoch 0 for none).
func (s *Store) save(ctx context.Context, id string, p change.Position, f checkpoint.Fence) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sql: save %q: %w", id, err)
	}
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	update := "UPDATE " + s.table + " SET position = " + s.d.q(1) + ", updated_at = " + s.now() +
		" WHERE pipeline = " + s.d.q(2) + " AND epoch = " + s.d.q(3) + " AND owner = " + s.d.q(4)
	text := p.String()
	for attempt := 0; ; attempt++ {
		res, err := s.db.ExecContext(cctx, update, text, id, int64(f.Token), f.Owner)
		if err != nil {
			return fmt.Errorf("sql: save %q to %s: %w", id, s.name, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sql: save %q to %s: %w", id, s.name, err)
		} else if n == 1 {
			return nil
		}
		if attempt == 0 && f.Token == 0 {
			// No row yet (a fenced owner's row exists: Fence made it).
			if err := s.ensureRow(cctx, id); err != nil {
				return fmt.Errorf("sql: save %q to %s: %w", id, s.name, err)
			}
			continue
		}
		return s.fenced(cctx, id, f)
	}
}

// fenced returns the FencedError of a refused save or claim.
func (s *Store) fenced(ctx context.Context, id string, want checkpoint.Fence) error {
	var held checkpoint.Fence
	var epoch int64
	err := s.db.QueryRowContext(ctx, "SELECT epoch, owner FROM "+s.table+" WHERE pipeline = "+s.d.q(1), id).Scan(&epoch, &held.Owner)
	if err != nil {
		return fmt.Errorf("sql: pipeline %q in %s: %w (reading the fence: %v)", id, s.name, checkpoint.ErrFenced, err)
	}
	held.Token = uint64(epoch)
	return fmt.Errorf("sql: %s: %w", s.name, &checkpoint.FencedError{ID: id, Held: held, Want: want})
}

// Fence records f as the owner of id (see checkpoint.Fencer) in one
// conditional UPDATE of the epoch and owner columns.
func (s *Store) Fence(ctx context.Context, id string, f checkpoint.Fence) (checkpoint.Store, error) {
	if err := f.Check(); err != nil {
		return nil, fmt.Errorf("sql: fence %q: %w", id, err)
	}
	if f.Token > math.MaxInt64 {
		return nil, fmt.Errorf("sql: fence %q: token %d does not fit the epoch column (a signed 64-bit integer)", id, f.Token)
	}
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	if err := s.ensureRow(cctx, id); err != nil {
		return nil, fmt.Errorf("sql: fence %q in %s: %w", id, s.name, err)
	}
	q := s.d.q
	claim := "UPDATE " + s.table + " SET epoch = " + q(1) + ", owner = " + q(2) + ", updated_at = " + s.now() +
		" WHERE pipeline = " + q(3) + " AND (epoch < " + q(4) + " OR (epoch = " + q(5) + " AND owner = " + q(6) + "))"
	tok := int64(f.Token)
	res, err := s.db.ExecContext(cctx, claim, tok, f.Owner, id, tok, tok, f.Owner)
	if err != nil {
		return nil, fmt.Errorf("sql: fence %q in %s: %w", id, s.name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, fmt.Errorf("sql: fence %q in %s: %w", id, s.name, err)
	} else if n != 1 {
		return nil, s.fenced(cctx, id, f)
	}
	return &fenced{s: s, id: id, f: f}, nil
}

// fenced is the Store of one owner of one pipeline.
type fenced struct {
	s  *Store
	id string
	f  checkpoint.Fence
}

func (f *fenced) Load(ctx context.Context, id string) (change.Position, error) {
	return f.s.Load(ctx, id)
}

func (f *fenced) Save(ctx context.Context, id string, p change.Position) error {
	if id != f.id {
		return fmt.Errorf("sql: save %q: the store is fenced for pipeline %q", id, f.id)
	}
	return f.s.save(ctx, id, p, f.f)
}

// Close closes the connections.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("sql: close: %w", err)
	}
	return nil
}
