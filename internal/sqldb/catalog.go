package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Column is one column of a table, from the catalog.
type Column struct {
	Name string
	// Type is the column's type; a PostgreSQL enum is FamEnum and a
	// domain has its base type's family (Type.Text keeps the declared
	// name).
	Type     Type
	Nullable bool
	// Generated columns are computed by the server and never written.
	Generated bool
}

// Table is a table's columns and primary key.
type Table struct {
	Schema, Name string
	Columns      []Column
	// Key holds the indexes in Columns of the primary key's columns, in
	// key order; empty when the table has none.
	Key []int
	// OtherUnique is set when the table has a unique index besides the
	// primary key.
	OtherUnique bool
}

// Column returns the index of the column named name, or -1.
func (t *Table) Column(name string) int {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return i
		}
	}
	return -1
}

// Conn reads the catalog of one server. It holds a database/sql pool
// (MySQL) or one pgx connection (PostgreSQL), not safe for concurrent use.
type Conn struct {
	Engine Engine
	// MariaDB is set for a MariaDB server (its version says so).
	MariaDB bool
	// Version is the server's version text.
	Version string
	// My is the MySQL pool, PG the PostgreSQL connection.
	My *sql.DB
	PG *pgx.Conn
}

// Open connects to the server c names and reads its version.
func Open(ctx context.Context, c Config) (*Conn, error) {
	cn := &Conn{Engine: c.Engine}
	switch c.Engine {
	case MySQL:
		db, err := OpenMySQL(c, nil)
		if err != nil {
			return nil, err
		}
		db.SetMaxIdleConns(4)
		cn.My = db
		if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&cn.Version); err != nil {
			db.Close()
			return nil, err
		}
		cn.MariaDB = strings.Contains(strings.ToLower(cn.Version), "mariadb")
	case Postgres:
		pg, err := ConnectPostgres(ctx, c, nil)
		if err != nil {
			return nil, err
		}
		cn.PG = pg
		cn.Version = pg.PgConn().ParameterStatus("server_version")
	default:
		return nil, fmt.Errorf("no engine")
	}
	return cn, nil
}

// Target returns what the server is, for the type map.
func (c *Conn) Target() Target { return Target{Engine: c.Engine, MariaDB: c.MariaDB} }

// Close closes the connection (or pool).
func (c *Conn) Close() error {
	if c.My != nil {
		return c.My.Close()
	}
	if c.PG != nil {
		return c.PG.Close(context.Background())
	}
	return nil
}

// Exec runs statements one by one.
func (c *Conn) Exec(ctx context.Context, stmts ...string) error {
	for _, s := range stmts {
		var err error
		if c.My != nil {
			_, err = c.My.ExecContext(ctx, s)
		} else {
			_, err = c.PG.Exec(ctx, s)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ErrNoTable is returned (wrapped) by Table for a table that does not exist.
var ErrNoTable = errors.New("no such table")

// Table reads the columns and primary key of schema.name (MySQL: database
// schema). It returns an error wrapping ErrNoTable when there is no such
// table.
func (c *Conn) Table(ctx context.Context, schema, name string) (*Table, error) {
	var t *Table
	var err error
	if c.Engine == Postgres {
		t, err = c.pgTable(ctx, schema, name)
	} else {
		t, err = c.myTable(ctx, schema, name)
	}
	if err != nil {
		return nil, err
	}
	if len(t.Columns) == 0 {
		return nil, fmt.Errorf("table %s.%s: %w", schema, name, ErrNoTable)
	}
	return t, nil
}

func (c *Conn) myTable(ctx context.Context, schema, name string) (*Table, error) {
	t := &Table{Schema: schema, Name: name}
	rows, err := c.My.QueryContext(ctx, `SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, EXTRA
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, schema, name)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s.%s: %w", schema, name, err)
	}
	for rows.Next() {
		var col, typ, nullable, extra string
		if err := rows.Scan(&col, &typ, &nullable, &extra); err != nil {
			rows.Close()
			return nil, err
		}
		t.Columns = append(t.Columns, Column{Name: col, Type: ParseType(MySQL, typ), Nullable: nullable == "YES",
			Generated: strings.Contains(strings.ToUpper(extra), "GENERATED")})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = c.My.QueryContext(ctx, `SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX`, schema, name)
	if err != nil {
		return nil, fmt.Errorf("read primary key of %s.%s: %w", schema, name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var index, col string
		if err := rows.Scan(&index, &col); err != nil {
			return nil, err
		}
		if index != "PRIMARY" {
			t.OtherUnique = true
			continue
		}
		if i := t.Column(col); i >= 0 {
			t.Key = append(t.Key, i)
		}
	}
	return t, rows.Err()
}

func (c *Conn) pgTable(ctx context.Context, schema, name string) (*Table, error) {
	t := &Table{Schema: schema, Name: name}
	rows, err := c.PG.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
			t.typtype::text, COALESCE(format_type(NULLIF(t.typbasetype, 0), t.typtypmod), ''), a.attgenerated <> '',
			COALESCE(array_position(i.indkey::int2[], a.attnum) - array_lower(i.indkey::int2[], 1) + 1, 0)
		FROM pg_attribute a
		JOIN pg_class c ON c.oid = a.attrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_type t ON t.oid = a.atttypid
		LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
		WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, schema, name)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s.%s: %w", schema, name, err)
	}
	defer rows.Close()
	keyAt := map[int]int{}
	for rows.Next() {
		var col, typ, typtype, base string
		var nullable, generated bool
		var keyPos int32
		if err := rows.Scan(&col, &typ, &nullable, &typtype, &base, &generated, &keyPos); err != nil {
			return nil, err
		}
		ty := ParseType(Postgres, typ)
		switch {
		case typtype == "e":
			ty = Type{Family: FamEnum, Text: typ, Precision: -1, Scale: -1}
		case typtype == "d" && base != "":
			b := ParseType(Postgres, base)
			b.Text = typ
			ty = b
		}
		if keyPos > 0 {
			keyAt[int(keyPos)] = len(t.Columns)
		}
		t.Columns = append(t.Columns, Column{Name: col, Type: ty, Nullable: nullable, Generated: generated})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for k := 1; ; k++ {
		i, ok := keyAt[k]
		if !ok {
			break
		}
		t.Key = append(t.Key, i)
	}
	err = c.PG.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND i.indisunique AND NOT i.indisprimary)`,
		schema, name).Scan(&t.OtherUnique)
	return t, err
}

// Namespace names a table: MySQL database or PostgreSQL schema, and table.
type Namespace struct{ Schema, Name string }

func (n Namespace) String() string { return n.Schema + "." + n.Name }

// Tables lists the base tables in schemas (MySQL: databases), or, with no
// schemas given, in every schema but the servers' own (mysql,
// information_schema, performance_schema, sys; pg_catalog,
// information_schema, pg_toast…), sorted.
func (c *Conn) Tables(ctx context.Context, schemas []string) ([]Namespace, error) {
	var q string
	var args []any
	if c.Engine == Postgres {
		q = `SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'`
		if len(schemas) == 0 {
			q += ` AND table_schema NOT IN ('pg_catalog', 'information_schema') AND table_schema NOT LIKE 'pg\_%'`
		} else {
			q += ` AND table_schema = ANY($1)`
			args = append(args, schemas)
		}
	} else {
		q = `SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE'`
		if len(schemas) == 0 {
			q += ` AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')`
		} else {
			q += ` AND TABLE_SCHEMA IN (?` + strings.Repeat(",?", len(schemas)-1) + `)`
			for _, s := range schemas {
				args = append(args, s)
			}
		}
	}
	q += ` ORDER BY 1, 2`
	var out []Namespace
	scan := func(next func() bool, scan func(...any) error) error {
		for next() {
			var n Namespace
			if err := scan(&n.Schema, &n.Name); err != nil {
				return err
			}
			out = append(out, n)
		}
		return nil
	}
	if c.Engine == Postgres {
		rows, err := c.PG.Query(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("list tables: %w", err)
		}
		defer rows.Close()
		if err := scan(rows.Next, rows.Scan); err != nil {
			return nil, err
		}
		return out, rows.Err()
	}
	rows, err := c.My.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	if err := scan(rows.Next, rows.Scan); err != nil {
		return nil, err
	}
	return out, rows.Err()
}

// RowEstimate returns the server's estimate of a table's row count (for
// progress), 0 when it has none.
func (c *Conn) RowEstimate(ctx context.Context, schema, name string) int64 {
	var n sql.NullInt64
	if c.Engine == Postgres {
		var f float64
		if err := c.PG.QueryRow(ctx, `SELECT GREATEST(c.reltuples, 0)::float8 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relname = $2`, schema, name).Scan(&f); err != nil {
			return 0
		}
		return int64(f)
	}
	if err := c.My.QueryRowContext(ctx, `SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`,
		schema, name).Scan(&n); err != nil {
		return 0
	}
	return n.Int64
}
