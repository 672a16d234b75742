// Package testenv starts real, private, throwaway servers for tests:
// MariaDB, PostgreSQL, a MongoDB-compatible server with an oplog (FerretDB),
// Redis and NATS with JetStream.
//
// Every server listens on a free port of 127.0.0.1 (never a default port),
// keeps its data, sockets and logs in its own directory under
// $TMPDIR/sluice-testenv, and runs in its own process group with a
// parent-death signal, so it dies with the test binary even when that binary
// panics, times out or is killed. Directories left by such deaths are swept
// by the next test process that starts a server (each directory carries an
// flock held by its owner).
//
// # Sharing servers in a test package
//
// Start servers once in TestMain with RunMain. It runs the cleanup after the
// tests, whatever their outcome, and then exits:
//
//	var db *testenv.MariaDB
//
//	func TestMain(m *testing.M) {
//		testenv.RunMain(m, func(ctx context.Context, c *testenv.Cleanup) error {
//			var err error
//			db, err = testenv.StartMariaDB(ctx, testenv.MariaDBOptions{})
//			if err != nil {
//				return err
//			}
//			c.Add(func() { db.Close() })
//			return nil
//		})
//	}
//
//	func TestSomething(t *testing.T) {
//		if err := db.Exec(ctx, "CREATE DATABASE d", "CREATE TABLE d.t (id INT PRIMARY KEY)"); err != nil {
//			t.Fatal(err)
//		}
//		logs, err := db.FlushBinaryLogs(ctx) // logs[len(logs)-2].Path is complete on disk
//		...
//	}
//
// A test that needs a server of its own (another configuration, or one it
// will stop and restart) calls NewMariaDB(t, opts), NewPostgres(t, opts),
// NewRedis(t), NewNATS(t) or NewFerretDB(t), which stop the server when the
// test ends.
//
// # Missing programs
//
// When a server program is not installed, the Start functions return a
// *MissingBinaryError naming the Debian package to install (or run
// scripts/deps.sh). Tests then fail; they are never skipped, in CI
// (CI=true) or outside it, so a green run always means the servers ran.
//
// # MariaDB
//
// StartMariaDB runs mariadbd (Debian package mariadb-server) as root with
// log_bin, binlog_format=ROW, binlog_row_image=FULL, binlog_row_metadata=FULL,
// gtid_strict_mode=ON, log_slave_updates=ON and server_id equal to its port.
// MariaDBOptions selects MINIMAL row images or metadata and adds my.cnf lines.
// DSN gives a root DSN for github.com/go-sql-driver/mysql, ReplDSN one for a
// user holding only MariaDBReplGrants. BinaryLogs and FlushBinaryLogs list
// the binary log files with their paths in BinlogDir; ClientCmd and BinlogCmd
// run the mariadb and mariadb-binlog programs. Stop, Kill and Start restart
// the server on the same data directory and port.
//
// # PostgreSQL
//
// StartPostgres runs PostgreSQL 15 (Debian package postgresql-15, programs
// in PostgresBinDir) with wal_level=logical, 16 replication slots and WAL
// senders, and the pgoutput, test_decoding and wal2json (package
// postgresql-15-wal2json) output plugins allowed. PostgreSQL refuses to run
// as root, so as root the server runs as the system user "postgres" that the
// package creates. DSN and ReplicationDSN are URLs for pgx as the superuser
// PostgresUser; Connect and Exec run SQL.
//
// # Redis and NATS
//
// StartRedis runs redis-server (package redis-server) with requirepass
// RedisPassword and an append-only file; URL suits redis.ParseURL.
// StartNATS runs nats-server -js (package nats-server) with file storage and
// the user NATSUser; URL and Connect suit github.com/nats-io/nats.go.
//
// # FerretDB
//
// StartFerretDB runs FerretDB v1.24.2 on SQLite, reporting replica set
// FerretDBReplSet, with a capped local.oplog.rs collection so that FerretDB
// records inserts, updates and deletes there; clients can tail it with a
// tailable await cursor. The program is built from the tools/ferretdb module
// on first use and cached (BuildFerretDB); scripts/deps.sh builds it ahead.
//
// # Times
//
// mariadb-install-db and initdb run once per machine into template
// directories under $TMPDIR/sluice-testenv-templates, which each server
// copies. Measured with BenchmarkStart on the 2-core machine while other
// builds kept its load average near 25: MariaDB starts in about 3 s,
// PostgreSQL in about 3.7 s, FerretDB in 0.6 s (after its one-time build of
// a few CPU-minutes), Redis and NATS in about 0.2 s.
package testenv
