// Package verify compares tables of two databases — MySQL/MariaDB or
// PostgreSQL, the same engine or across — and finds the rows that differ:
// missing from the target, extra in it, or changed. It is what "sluice
// verify" runs, and the oracle of the SQL sink's tests.
//
// # How
//
// Tables are compared by primary key. Between servers of one engine the
// servers do the work, the way pt-table-checksum and sync-diff-inspector
// do: the source's key range is cut into chunks of about Config.ChunkRows
// rows (a single integer key by key range, from its MIN, MAX and the
// server's row estimate, as sync-diff-inspector does; other keys by
// walking the primary-key index: ORDER BY key LIMIT 1 OFFSET n), each
// side computes the row count and a 64-bit checksum of the chunk (the
// BIT_XOR of a 64-bit hash of each row: MariaDB two CRCs of its text,
// MySQL the first 64 bits of its MD5, PostgreSQL hash_record_extended of
// its values; hash.go), and only a chunk whose sums
// differ is read row by row (key and row hash) to name its differing
// keys (a differing key-range chunk of more than twice Config.ChunkRows
// rows — keys spread unevenly — is first cut again by walking it). Across engines each side streams its rows in key order and Sluice
// compares them, value by value, after reading each column in a form both
// engines share (the type map of docs/sql-apply.md: decimals without
// trailing zeros, floats as the float they are, times in UTC without
// trailing fraction zeros, JSON with sorted keys, bytes as hex…).
//
// Nothing is locked: every query is a plain SELECT (a consistent read),
// and the chunked queries of the same-engine path are short. Because the
// tables may be changing while they are compared (a stream running), a
// differing key is read again from both sides Config.Recheck times,
// Config.RecheckWait apart, and reported only if it still differs. Memory
// is bounded by one chunk's keys and the differing keys kept for the
// rechecks (at most maxPending per table; past that they are counted, not
// kept).
package verify

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/sqldb"
	"github.com/sluice-cdc/sluice/pipeline"
)

// Defaults of Config.
const (
	DefaultChunkRows   = 20000
	DefaultRecheck     = 3
	DefaultRecheckWait = time.Second
	DefaultMaxDiffs    = 100
	DefaultWorkers     = 2
)

// maxPending bounds the differing keys kept per table for rechecks and
// the report.
const maxPending = 100000

// Config says what to compare.
type Config struct {
	// Source and Target are URLs: mysql://, mariadb://, postgres:// or
	// postgresql://USER:PASSWORD@HOST:PORT/DATABASE. Parameters of the
	// source and the sink (server-id, slot, schema, …) are ignored; TLS
	// parameters are read as the source's and the sink's (MySQL: tls,
	// tls-ca, tls-cert, tls-key, tls-server-name; PostgreSQL: libpq's
	// sslmode, sslrootcert, …).
	Source, Target string
	// Tables are "db.table" (PostgreSQL: schema.table) or "db" for every
	// table of a database (schema). Empty: every table of the source's
	// URL database (MySQL), or of every schema but the system's
	// (PostgreSQL; MySQL without a database in the URL: every database).
	Tables []string
	// TargetSchema, when set, is the target database (schema) of every
	// table, as the SQL sink's schema parameter.
	TargetSchema string
	// Rename maps source tables to target tables as sluice stream
	// --rename does ("regex=replacement,…" on "db.table").
	Rename string
	// ChunkRows is the rows of one checksum chunk (DefaultChunkRows).
	ChunkRows int
	// Recheck is how many times a differing key is compared again before
	// it is reported (DefaultRecheck; negative: never).
	Recheck int
	// RecheckWait is the pause before each recheck (DefaultRecheckWait).
	RecheckWait time.Duration
	// MaxDiffs bounds the differences kept per table for the report
	// (DefaultMaxDiffs); all are counted.
	MaxDiffs int
	// Workers is how many chunks are summed at once on each side (same
	// engine; DefaultWorkers).
	Workers int
	// Progress, when set, is called now and then with the rows compared.
	Progress func(Progress)
}

// Progress is how far a comparison is.
type Progress struct {
	Table          string
	Index, Tables  int   // the table's place and the number of tables
	Rows, Estimate int64 // source rows compared in this table, and the server's estimate of them
}

// DiffKind is what differs about a row.
type DiffKind string

// The kinds of difference.
const (
	Missing DiffKind = "missing" // in the source, not in the target
	Extra   DiffKind = "extra"   // in the target, not in the source
	Changed DiffKind = "changed" // in both, with other values
)

// Diff is one differing row.
type Diff struct {
	Kind DiffKind
	// Key names the row: "id=42" or "a=1, b=x".
	Key string
	// Columns are the differing values of a changed row.
	Columns []ColumnDiff
}

// ColumnDiff is a value that differs, as each side reads it (in the
// compared form).
type ColumnDiff struct {
	Name, Source, Target string
}

// TableResult is the comparison of one table.
type TableResult struct {
	Source, Target string // db.table on each side
	// Mode is "checksum" (same engine, chunk checksums) or "rows" (across
	// engines, every row compared).
	Mode string
	// SourceRows and TargetRows are the rows read or counted on each side.
	SourceRows, TargetRows int64
	Missing, Extra         int64
	Changed                int64
	// Diffs holds the first differences (Config.MaxDiffs).
	Diffs []Diff
	// Problems are differences of the table itself: the target table or
	// columns missing, columns only the target has.
	Problems []string
	// Err is why the table could not be compared (no primary key, a
	// query failed).
	Err     error
	Elapsed time.Duration
	// narrowPeak is the most source rows one narrowing held (memory's
	// bound, for the tests).
	narrowPeak int
}

// Equal reports whether the table was compared and found equal.
func (r *TableResult) Equal() bool {
	return r.Err == nil && r.Missing == 0 && r.Extra == 0 && r.Changed == 0 && len(r.Problems) == 0
}

// Summary is the outcome of Run.
type Summary struct {
	Tables, Equal, Different, Failed int
	SourceRows, TargetRows           int64
	Elapsed                          time.Duration
}

// Run compares the tables cfg names, calling report with each table's
// result as it is done. It returns an error (and no summary) only when it
// cannot start: a URL it cannot read, a server it cannot reach, no table.
func Run(ctx context.Context, cfg Config, report func(*TableResult)) (Summary, error) {
	if cfg.ChunkRows <= 0 {
		cfg.ChunkRows = DefaultChunkRows
	}
	if cfg.Recheck == 0 {
		cfg.Recheck = DefaultRecheck
	}
	if cfg.RecheckWait <= 0 {
		cfg.RecheckWait = DefaultRecheckWait
	}
	if cfg.MaxDiffs <= 0 {
		cfg.MaxDiffs = DefaultMaxDiffs
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	var rename *pipeline.Transform
	if cfg.Rename != "" {
		var err error
		if rename, err = pipeline.NewTransform(pipeline.TransformSpec{Rename: cfg.Rename}); err != nil {
			return Summary{}, fmt.Errorf("rename: %w", err)
		}
	}
	srcCfg, err := connConfig(cfg.Source)
	if err != nil {
		return Summary{}, fmt.Errorf("source URL: %w", err)
	}
	tgtCfg, err := connConfig(cfg.Target)
	if err != nil {
		return Summary{}, fmt.Errorf("target URL: %w", err)
	}
	src, err := sqldb.Open(ctx, srcCfg)
	if err != nil {
		return Summary{}, fmt.Errorf("source: %w", err)
	}
	defer src.Close()
	tgt, err := sqldb.Open(ctx, tgtCfg)
	if err != nil {
		return Summary{}, fmt.Errorf("target: %w", err)
	}
	defer tgt.Close()
	tables, err := listTables(ctx, src, srcCfg, cfg.Tables)
	if err != nil {
		return Summary{}, fmt.Errorf("source: %w", err)
	}
	if len(tables) == 0 {
		return Summary{}, errors.New("no table to compare")
	}
	began := time.Now()
	var sum Summary
	for i, ns := range tables {
		tns := ns
		if rename != nil {
			n, err := rename.Rename(change.Namespace{Database: ns.Schema, Table: ns.Name})
			if err != nil {
				return Summary{}, fmt.Errorf("rename %s: %w", ns, err)
			}
			tns = sqldb.Namespace{Schema: n.Database, Name: n.Table}
		}
		if cfg.TargetSchema != "" {
			tns.Schema = cfg.TargetSchema
		}
		tc := &tableCmp{cfg: &cfg, index: i + 1, tables: len(tables), srcCfg: srcCfg, tgtCfg: tgtCfg,
			src: &side{conn: src, ns: ns}, tgt: &side{conn: tgt, ns: tns}}
		r := tc.run(ctx)
		if ctx.Err() != nil {
			return sum, ctx.Err()
		}
		sum.Tables++
		sum.SourceRows += r.SourceRows
		sum.TargetRows += r.TargetRows
		switch {
		case r.Err != nil:
			sum.Failed++
		case r.Equal():
			sum.Equal++
		default:
			sum.Different++
		}
		if report != nil {
			report(r)
		}
	}
	sum.Elapsed = time.Since(began)
	return sum, nil
}

// connConfig reads a URL for connecting, keeping only the TLS parameters
// (MySQL: tls, tls-ca, … as every MySQL URL of Sluice; PostgreSQL:
// libpq's) and the connect timeouts (a source URL's server-id, slot… and
// a sink URL's schema… mean nothing here).
func connConfig(raw string) (sqldb.Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return sqldb.Config{}, fmt.Errorf("malformed URL")
	}
	c, err := sqldb.ParseURL(u)
	if err != nil {
		return sqldb.Config{}, err
	}
	keep := map[string]bool{"tls": true, "tls-ca": true, "tls-cert": true, "tls-key": true, "tls-server-name": true, "sslmode": true, "sslrootcert": true, "sslcert": true, "sslkey": true,
		"sslpassword": true, "sslsni": true, "connect_timeout": true, "timeout": true, "allowCleartextPasswords": true}
	for k := range c.Params {
		if !keep[k] {
			c.Params.Del(k)
		}
	}
	if err := c.TakeTLS(); err != nil {
		return sqldb.Config{}, err
	}
	return c, nil
}

// listTables resolves the tables to compare.
func listTables(ctx context.Context, c *sqldb.Conn, cfg sqldb.Config, names []string) ([]sqldb.Namespace, error) {
	if len(names) == 0 {
		var schemas []string
		if c.Engine == sqldb.MySQL && cfg.Database != "" {
			schemas = []string{cfg.Database}
		}
		all, err := c.Tables(ctx, schemas)
		if err != nil {
			return nil, err
		}
		var out []sqldb.Namespace
		for _, ns := range all {
			if ns.Name != "sluice_checkpoint" {
				out = append(out, ns)
			}
		}
		return out, nil
	}
	var out []sqldb.Namespace
	seen := map[sqldb.Namespace]bool{}
	for _, n := range names {
		schema, table, ok := strings.Cut(n, ".")
		if !ok || table == "*" {
			all, err := c.Tables(ctx, []string{schema})
			if err != nil {
				return nil, err
			}
			if len(all) == 0 {
				return nil, fmt.Errorf("no table in %s", schema)
			}
			for _, ns := range all {
				if !seen[ns] && ns.Name != "sluice_checkpoint" {
					seen[ns] = true
					out = append(out, ns)
				}
			}
			continue
		}
		ns := sqldb.Namespace{Schema: schema, Name: table}
		if !seen[ns] {
			seen[ns] = true
			out = append(out, ns)
		}
	}
	return out, nil
}
