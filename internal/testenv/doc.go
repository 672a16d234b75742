// Package testenv gives tests real, private, throwaway servers: MariaDB,
// PostgreSQL, a MongoDB-compatible server with an oplog (FerretDB), Redis,
// NATS with JetStream, the coordinators etcd and ZooKeeper, and a TCP proxy
// that cuts, freezes or partitions connections.
//
// It is the testing layer over internal/servers, which starts the servers
// and imports no testing package (programs such as "sluice demo" use it
// directly). testenv adds what needs the testing package: servers for one
// test (NewMariaDB, NewPostgres, NewRedis, NewNATS, NewFerretDB, NewEtcd,
// NewZooKeeper, NewProxy),
// stopped by t.Cleanup and failing the test when they cannot start, and
// servers shared by a test package (RunMain). It re-exports the servers'
// types and constants so that a test imports only this package. The package
// documentation of internal/servers describes each server's configuration,
// directories and start-up times.
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
// When a server program is not installed, starting it fails with a
// *MissingBinaryError naming the Debian package to install (or run
// scripts/deps.sh). Tests then fail; they are never skipped, in CI
// (CI=true) or outside it, so a green run always means the servers ran.
package testenv
