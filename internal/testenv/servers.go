package testenv

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/servers"
)

// The servers and their options, from package servers, so that a test
// imports only testenv.
type (
	// Server is what every server has (servers.Server).
	Server = servers.Server
	// MariaDB is a private MariaDB server (servers.MariaDB).
	MariaDB = servers.MariaDB
	// MariaDBOptions configures a MariaDB server (servers.MariaDBOptions).
	MariaDBOptions = servers.MariaDBOptions
	// BinaryLog is one entry of SHOW BINARY LOGS (servers.BinaryLog).
	BinaryLog = servers.BinaryLog
	// Postgres is a private PostgreSQL server (servers.Postgres).
	Postgres = servers.Postgres
	// PostgresOptions configures a PostgreSQL server
	// (servers.PostgresOptions).
	PostgresOptions = servers.PostgresOptions
	// Redis is a private Redis server (servers.Redis).
	Redis = servers.Redis
	// NATS is a private NATS server with JetStream (servers.NATS).
	NATS = servers.NATS
	// NATSOptions configures a NATS server (servers.NATSOptions).
	NATSOptions = servers.NATSOptions
	// RedisOptions configures a Redis server (servers.RedisOptions).
	RedisOptions = servers.RedisOptions
	// FerretDB is a private FerretDB server with an oplog
	// (servers.FerretDB).
	FerretDB = servers.FerretDB
	// FerretDBOptions configures a FerretDB server
	// (servers.FerretDBOptions).
	FerretDBOptions = servers.FerretDBOptions
	// TLSFiles are a server's CA, certificate and key files
	// (servers.TLSFiles).
	TLSFiles = servers.TLSFiles
	// Etcd is a private single-member etcd server (servers.Etcd).
	Etcd = servers.Etcd
	// ZooKeeper is a private standalone ZooKeeper server
	// (servers.ZooKeeper).
	ZooKeeper = servers.ZooKeeper
	// Proxy is a TCP proxy that can cut or freeze its connections
	// (servers.Proxy).
	Proxy = servers.Proxy
	// MissingBinaryError reports a server or client program that is not
	// installed (servers.MissingBinaryError).
	MissingBinaryError = servers.MissingBinaryError
)

// Accounts and settings of the servers, from package servers.
const (
	MariaDBRootUser     = servers.MariaDBRootUser
	MariaDBRootPassword = servers.MariaDBRootPassword
	MariaDBReplUser     = servers.MariaDBReplUser
	MariaDBReplPassword = servers.MariaDBReplPassword
	MariaDBReplGrants   = servers.MariaDBReplGrants
	PostgresBinDir      = servers.PostgresBinDir
	PostgresUser        = servers.PostgresUser
	PostgresPassword    = servers.PostgresPassword
	RedisPassword       = servers.RedisPassword
	NATSUser            = servers.NATSUser
	NATSPassword        = servers.NATSPassword
	FerretDBReplSet     = servers.FerretDBReplSet
	FerretDBOplogSize   = servers.FerretDBOplogSize
	ZooKeeperTick       = servers.ZooKeeperTick
)

// StartMariaDB starts a MariaDB server (servers.StartMariaDB), for servers
// shared through RunMain.
func StartMariaDB(ctx context.Context, opts MariaDBOptions) (*MariaDB, error) {
	return servers.StartMariaDB(ctx, opts)
}

// StartPostgres starts a PostgreSQL server (servers.StartPostgres), for
// servers shared through RunMain.
func StartPostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	return servers.StartPostgres(ctx, opts)
}

// StartMariaDBAndPostgres starts a MariaDB and a PostgreSQL server with
// default options at the same time, for servers shared through RunMain,
// and registers the Close of each that started on c. Its error joins both
// servers' errors.
func StartMariaDBAndPostgres(ctx context.Context, c *Cleanup) (*MariaDB, *Postgres, error) {
	var maria *MariaDB
	var mariaErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		maria, mariaErr = StartMariaDB(ctx, MariaDBOptions{})
		if mariaErr == nil {
			c.Add(func() { maria.Close() })
		}
	}()
	pg, pgErr := StartPostgres(ctx, PostgresOptions{})
	if pgErr == nil {
		c.Add(func() { pg.Close() })
	}
	<-done
	return maria, pg, errors.Join(mariaErr, pgErr)
}

// StartRedis starts a Redis server (servers.StartRedis), for servers shared
// through RunMain.
func StartRedis(ctx context.Context) (*Redis, error) { return servers.StartRedis(ctx) }

// StartNATS starts a NATS server (servers.StartNATS), for servers shared
// through RunMain.
func StartNATS(ctx context.Context) (*NATS, error) { return servers.StartNATS(ctx) }

// StartFerretDB starts a FerretDB server (servers.StartFerretDB), for
// servers shared through RunMain.
func StartFerretDB(ctx context.Context) (*FerretDB, error) { return servers.StartFerretDB(ctx) }

// StartFerretDBWith starts a FerretDB server with options
// (servers.StartFerretDBWith), for servers shared through RunMain.
func StartFerretDBWith(ctx context.Context, opts FerretDBOptions) (*FerretDB, error) {
	return servers.StartFerretDBWith(ctx, opts)
}

// StartEtcd starts an etcd server (servers.StartEtcd), for servers shared
// through RunMain.
func StartEtcd(ctx context.Context) (*Etcd, error) { return servers.StartEtcd(ctx) }

// StartZooKeeper starts a ZooKeeper server (servers.StartZooKeeper), for
// servers shared through RunMain.
func StartZooKeeper(ctx context.Context) (*ZooKeeper, error) { return servers.StartZooKeeper(ctx) }

// WriteTLSFiles writes a new CA and a server certificate for hosts into dir
// (servers.WriteTLSFiles).
func WriteTLSFiles(dir string, hosts ...string) (TLSFiles, error) {
	return servers.WriteTLSFiles(dir, hosts...)
}

// NewTLSFiles writes a new CA and a server certificate for hosts into a
// temporary directory of the test. It fails the test on error.
func NewTLSFiles(tb testing.TB, hosts ...string) TLSFiles {
	tb.Helper()
	f, err := servers.WriteTLSFiles(tb.TempDir(), hosts...)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// BuildFerretDB builds the FerretDB program if it is not cached and returns
// its path (servers.BuildFerretDB).
func BuildFerretDB(ctx context.Context) (string, error) { return servers.BuildFerretDB(ctx) }

// NewMariaDB starts a MariaDB server for one test and stops it when the test
// ends. It fails the test if the server cannot start.
func NewMariaDB(tb testing.TB, opts MariaDBOptions) *MariaDB {
	tb.Helper()
	return startForTest(tb, 2*time.Minute, func(ctx context.Context) (*MariaDB, error) { return servers.StartMariaDB(ctx, opts) })
}

// NewPostgres starts a PostgreSQL server for one test and stops it when the
// test ends. It fails the test if the server cannot start.
func NewPostgres(tb testing.TB, opts PostgresOptions) *Postgres {
	tb.Helper()
	return startForTest(tb, 2*time.Minute, func(ctx context.Context) (*Postgres, error) { return servers.StartPostgres(ctx, opts) })
}

// NewRedis starts a Redis server for one test and stops it when the test
// ends. It fails the test if the server cannot start.
func NewRedis(tb testing.TB) *Redis {
	tb.Helper()
	return startForTest(tb, time.Minute, servers.StartRedis)
}

// NewNATS starts a NATS server for one test and stops it when the test
// ends. It fails the test if the server cannot start.
func NewNATS(tb testing.TB) *NATS {
	tb.Helper()
	return startForTest(tb, time.Minute, servers.StartNATS)
}

// NewNATSWith is NewNATS with options.
func NewNATSWith(tb testing.TB, opts NATSOptions) *NATS {
	tb.Helper()
	return startForTest(tb, time.Minute, func(ctx context.Context) (*NATS, error) { return servers.StartNATSWith(ctx, opts) })
}

// NewRedisWith is NewRedis with options.
func NewRedisWith(tb testing.TB, opts RedisOptions) *Redis {
	tb.Helper()
	return startForTest(tb, time.Minute, func(ctx context.Context) (*Redis, error) { return servers.StartRedisWith(ctx, opts) })
}

// NewFerretDB starts a FerretDB server for one test (building the program
// first if it is not cached) and stops it when the test ends. It fails the
// test if the server cannot start.
func NewFerretDB(tb testing.TB) *FerretDB {
	tb.Helper()
	return startForTest(tb, 10*time.Minute, servers.StartFerretDB)
}

// NewFerretDBWith is NewFerretDB with options.
func NewFerretDBWith(tb testing.TB, opts FerretDBOptions) *FerretDB {
	tb.Helper()
	return startForTest(tb, 10*time.Minute, func(ctx context.Context) (*FerretDB, error) { return servers.StartFerretDBWith(ctx, opts) })
}

// NewEtcd starts an etcd server for one test and stops it when the test
// ends. It fails the test if the server cannot start.
func NewEtcd(tb testing.TB) *Etcd {
	tb.Helper()
	return startForTest(tb, time.Minute, servers.StartEtcd)
}

// NewZooKeeper starts a ZooKeeper server for one test and stops it when
// the test ends. It fails the test if the server cannot start.
func NewZooKeeper(tb testing.TB) *ZooKeeper {
	tb.Helper()
	return startForTest(tb, 2*time.Minute, servers.StartZooKeeper)
}

// NewProxy starts a proxy to target that cuts its connections every
// cutEvery (0: only when Cut is called); it stops when the test ends.
func NewProxy(tb testing.TB, target string, cutEvery time.Duration) *Proxy {
	tb.Helper()
	p, err := servers.StartProxy(target, cutEvery)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.Close)
	return p
}

// startForTest starts a server with start under a timeout, fails tb if it
// cannot start, and stops the server when the test ends.
func startForTest[S interface{ Close() error }](tb testing.TB, timeout time.Duration, start func(context.Context) (S, error)) S {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s, err := start(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}
