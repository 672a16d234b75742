// Package servers starts real, private, throwaway servers: MariaDB,
// PostgreSQL, a MongoDB-compatible server with an oplog (FerretDB), Redis,
// NATS with JetStream, the coordinators etcd and ZooKeeper, and a TCP
// proxy that can cut, freeze or partition its connections. It imports no testing package, so programs use it too:
// "sluice demo" starts its MariaDB here. Tests use it through
// internal/testenv, which adds per-test servers (stopped by t.Cleanup) and
// servers shared by a test package (RunMain).
//
// Every server listens on a free port of 127.0.0.1 (never a default port),
// keeps its data, sockets and logs in its own directory under
// $TMPDIR/sluice-testenv, and runs in its own process group with a
// parent-death signal, so it dies with the process that started it even
// when that process panics, times out or is killed. Directories left by
// such deaths are swept by the next process that starts a server (each
// directory carries an flock held by its owner). Start a server with the
// Start functions; Close stops it and removes its directory.
//
// # Missing programs
//
// When a server program is not installed, the Start functions return a
// *MissingBinaryError naming the Debian package to install (or run
// scripts/deps.sh).
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
// # etcd and ZooKeeper
//
// StartEtcd runs etcd (package etcd-server) as a single-member cluster
// with its client and peer ports on 127.0.0.1; Endpoint suits
// go.etcd.io/etcd/client/v3, URL is Sluice's etcd:// address and Post
// calls the JSON gateway (POST /v3/…).
// StartZooKeeper runs ZooKeeper standalone (package zookeeper, on the Java
// runtime it brings) from the jar Debian installs, with a tick of
// ZooKeeperTick milliseconds so that sessions may time out within a
// second; URL is Sluice's zk:// address and FourLetter asks srvr, stat,
// cons or ruok. Both keep their data across Stop and Start.
//
// # FerretDB
//
// StartFerretDB runs FerretDB v1.24.2 on SQLite, reporting replica set
// FerretDBReplSet, with a capped local.oplog.rs collection so that FerretDB
// records inserts, updates and deletes there; clients can tail it with a
// tailable await cursor. The program is built from the tools/ferretdb module
// on first use and cached (BuildFerretDB); scripts/deps.sh builds it ahead
// with the build-ferretdb command below this package. StartFerretDBWith with
// FerretDBOptions.TLS adds a TLS listener (TLSAddr, TLSURI).
//
// # TLS
//
// WriteTLSFiles makes a CA and a server certificate for the given hosts;
// MariaDBOptions.TLS, PostgresOptions.TLS and FerretDBOptions.TLS make a
// server offer TLS with them.
//
// # Proxy
//
// StartProxy forwards a free loopback port to a server; Cut closes every
// connection through it and Freeze makes them silent, as a failing network
// would; Partition freezes them and holds new ones silent until Heal.
//
// # Times
//
// mariadb-install-db and initdb run once per machine into template
// directories under $TMPDIR/sluice-testenv-templates, which each server
// copies. Measured with testenv's BenchmarkStart on the 2-core machine while
// other builds kept its load average near 25: MariaDB starts in about 3 s,
// PostgreSQL in about 3.7 s, FerretDB in 0.6 s (after its one-time build of
// a few CPU-minutes), Redis and NATS in about 0.2 s.
package servers
