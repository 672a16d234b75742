// Package sql is the sink that applies changes to a MySQL/MariaDB or
// PostgreSQL database — from a source of the same engine or across
// (MariaDB → PostgreSQL, PostgreSQL → MariaDB) — exactly once.
//
//	mysql://USER:PASSWORD@HOST:3306/DATABASE[?PARAMETERS]      (mariadb:// too)
//	postgres://USER:PASSWORD@HOST:5432/DATABASE[?PARAMETERS]   (postgresql:// too)
//
// These are the schemes of the MySQL and PostgreSQL sources too: the CLI
// keeps sources and sinks in separate registries, so "sluice stream
// mysql://… --to postgres://…" reads from the first URL and applies to
// the second.
//
// # What is applied
//
// A change goes to the table of the same database (PostgreSQL: schema)
// and name as at the source — or to the schema given by schema=, or
// wherever the pipeline's --rename sends it — matching columns by name.
// Inserts, and the rows of a snapshot (change.OpRead), are upserts (ON
// DUPLICATE KEY UPDATE; ON CONFLICT (primary key) DO UPDATE), so a row
// copied earlier is overwritten, not an error; an
// update with a full after image is an upsert too; an update that changes
// the key, or whose after image lacks columns (MySQL MINIMAL or NOBLOB row
// images, PostgreSQL unchanged TOAST values), is an UPDATE … WHERE the old
// key of the present columns, which must find its row (an UPDATE that
// finds no row stops the sink: the target has diverged); deletes delete by
// key (a row already gone is no error); TRUNCATE empties the table
// (DELETE on MySQL, which would otherwise commit). Consecutive upserts of
// one table with the same columns become multi-row statements of up to
// batch-rows rows, consecutive deletes one DELETE … WHERE key IN (…), all
// of them server-side prepared statements; on PostgreSQL every statement
// of a write goes to the server in one round trip. The order of changes
// is kept: nothing moves past a change of another table or kind.
//
// A table without a primary key at the source (keyless=match, the
// default): inserts are plain INSERTs, and an update or delete changes
// one row equal to the full before image, every column compared, NULL
// equal to NULL (MySQL <=>, PostgreSQL IS NOT DISTINCT FROM) — the source
// must send full before images (MySQL binlog_row_image=FULL; PostgreSQL
// REPLICA IDENTITY FULL), or the sink stops at the first such change
// saying so. keyless=refuse stops at the first change of such a table.
//
// # Exactly once
//
// The sink is a pipeline.PositionWriter and its own checkpoint store: the
// changes of a write and the position they bring the pipeline to are
// committed in one target transaction, the position as the pipeline's row
// of the checkpoint table (checkpoint-table, default sluice_checkpoint, in
// the URL's database on MySQL, in schema public on PostgreSQL), updated
// only if it still holds the position this sink committed last (so two
// processes applying one pipeline cannot both succeed). After any crash
// the target holds exactly the changes up to the position it stores, and
// the pipeline resumes from there.
//
// A transaction boundary ends a target transaction: one target
// transaction holds one source transaction, or several when they arrive
// in one pipeline write (at most 4096 changes or 1 MiB). A source
// transaction larger than one write keeps its target transaction open
// across writes, until the write that ends it: the target never shows
// half a source transaction. Its changes are also appended to a temporary
// file (the spill), so that if the connection is lost meanwhile, the sink
// applies them again on a new connection; memory stays flat. The pipeline
// considers such changes acknowledged when their write returns, but the
// checkpoint table (the store) still holds the position before the
// transaction until it commits: a crash rolls it back and the restart
// applies it again.
//
// Failures a new attempt may overcome — a lost connection, a server
// restarting, a deadlock, a serialization failure — are retried on a new
// connection for retry-for (default 2m), after reading back the stored
// position to learn whether a COMMIT whose answer was lost took effect.
// Any other error stops the pipeline with the change that failed, its
// position and the server's error (a failed multi-row statement is
// replayed row by row to find its change); nothing is skipped.
//
// # Types
//
// Values are written in the form the target column's type reads exactly:
// integers and floats as numbers, decimals as their text, text as UTF-8,
// bytes as bytes, temporal values as text in UTC sessions. Between
// servers of one engine every type crosses exactly. Across engines the
// type map of docs/sql-apply.md applies, which says what cannot cross
// exactly; a value the target type cannot hold (NaN in a MySQL DECIMAL,
// a zero date in PostgreSQL, a NUL byte in PostgreSQL text, a MySQL TIME
// of 30 hours in a PostgreSQL time) stops the sink with an error naming
// the column.
//
// # Tables and DDL
//
// create-tables=on creates a missing table (and its database or schema)
// from the source's columns, with the types of the type map and the
// source's primary key, and adds columns the source has and the target
// lacks. ddl=apply runs the DDL statements of a MySQL/MariaDB source on a
// MySQL/MariaDB target (PostgreSQL's logical replication carries no DDL):
// what was applied before it is committed first, the checkpoint row marks
// the DDL as begun, and after it its position is committed, so that a
// restart after a crash in between knows the statement may have run. With
// ddl=skip (the default) a DDL change is logged and not applied.
//
// # Parameters
//
//	schema            the target database (MySQL) or schema (PostgreSQL) of every table
//	checkpoint-table  [schema.]table of the positions (default sluice_checkpoint)
//	create-tables     on: create missing tables and columns
//	ddl               skip (default) or apply
//	keyless           match (default) or refuse
//	batch-rows        rows of one multi-row statement (default 256)
//	retry-for         how long retriable failures are retried (default 2m; 0: not at all)
//	tls               MySQL: off, prefer (default: TLS when the server offers it, unverified), on, skip-verify
//	tls-ca            MySQL: the CA file that verifies the server (implies tls=on)
//	tls-cert, tls-key MySQL: a client certificate and its key
//	tls-server-name   MySQL: the name the server's certificate must carry (default the URL's host)
//
// Other parameters go to the driver: go-sql-driver/mysql's (charset,
// timeout, …) or libpq's (sslmode, sslrootcert, … for PostgreSQL's TLS).
// The sessions
// run in UTC, with strict SQL modes on MySQL (a value that does not fit is
// an error, never a warning) that still accept zero dates.
package sql
