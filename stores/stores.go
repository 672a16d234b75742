// Package stores registers the checkpoint stores Sluice ships in a
// checkpoint.Registry, the way package sinks does for sinks:
//
//	file:///var/lib/sluice/state.db      a bbolt file (a bare path means the same)
//	memory://                            in memory, lost on exit (tests)
//	etcd://host:2379/prefix              keys in etcd (checkpoint/etcd)
//	zk://host:2181/path                  nodes in ZooKeeper (checkpoint/zookeeper)
//	mysql://u:p@host/db?table=t          a table in MySQL or MariaDB (checkpoint/sql)
//	postgres://u:p@host/db?table=t       a table in PostgreSQL (checkpoint/sql)
//	redis://:p@host:6379/0?key=k         a hash in Redis (checkpoint/redis)
//
// The shared stores (every one but file and memory) are
// checkpoint.Fencers: several Sluice processes can use one, and an owner
// bound to a fence (a lease's token) can never be overwritten by a
// deposed one.
package stores

import (
	"context"
	"net/url"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/checkpoint/etcd"
	"github.com/sluice-cdc/sluice/checkpoint/redis"
	sqlstore "github.com/sluice-cdc/sluice/checkpoint/sql"
	"github.com/sluice-cdc/sluice/checkpoint/zookeeper"
)

// DefaultLockTimeout is how long a file store waits for another process
// holding the file's lock.
const DefaultLockTimeout = 5 * time.Second

// Builtin returns a new Registry holding every store Sluice ships.
func Builtin() *checkpoint.Registry {
	r := checkpoint.NewRegistry()
	if err := Register(r); err != nil {
		panic(err) // a new registry holds no scheme yet
	}
	return r
}

// Open opens the store raw names among the built-in ones: a URL, or the
// path of a bbolt file (see checkpoint.Open).
func Open(ctx context.Context, raw string, cfg checkpoint.Config) (checkpoint.StoreCloser, error) {
	return checkpoint.Open(ctx, Builtin(), raw, cfg)
}

// Schemes maps each scheme this package registers to its opener.
var Schemes = map[string]checkpoint.Opener{
	"file":       openFile,
	"memory":     openMemory,
	"etcd":       openEtcd,
	"zk":         openZooKeeper,
	"mysql":      openSQL,
	"mariadb":    openSQL,
	"postgres":   openSQL,
	"postgresql": openSQL,
	"redis":      openRedis,
	"rediss":     openRedis,
}

// Register adds every store Sluice ships to r. It returns the first error
// (a scheme r already has) after trying them all.
func Register(r *checkpoint.Registry) error {
	var first error
	for scheme, open := range Schemes {
		if err := r.Register(scheme, open); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// openFile opens file:///path (or a bare path) as a bbolt file;
// lock-timeout sets how long to wait for another process's lock.
func openFile(_ context.Context, u *url.URL, _ checkpoint.Config) (checkpoint.StoreCloser, error) {
	p := address.NewParams(u)
	wait := DefaultLockTimeout
	p.Duration("lock-timeout", &wait, time.Millisecond)
	if err := p.Check(); err != nil {
		return nil, checkpoint.BadURL(err)
	}
	path := u.Path
	if u.Opaque != "" { // file:relative/path
		path = u.Opaque
	}
	if u.Host != "" && u.Host != "localhost" {
		path = u.Host + path // file://./state.db: a relative path
	}
	return checkpoint.OpenBolt(path, wait)
}

// memory is a Memory store with a Close.
type memory struct{ checkpoint.Memory }

func (*memory) Close() error { return nil }

func openMemory(_ context.Context, u *url.URL, _ checkpoint.Config) (checkpoint.StoreCloser, error) {
	if err := address.NewParams(u).Check(); err != nil {
		return nil, checkpoint.BadURL(err)
	}
	return &memory{}, nil
}

func openEtcd(ctx context.Context, u *url.URL, _ checkpoint.Config) (checkpoint.StoreCloser, error) {
	return etcd.Open(ctx, u)
}

func openZooKeeper(ctx context.Context, u *url.URL, _ checkpoint.Config) (checkpoint.StoreCloser, error) {
	return zookeeper.Open(ctx, u)
}

func openSQL(ctx context.Context, u *url.URL, _ checkpoint.Config) (checkpoint.StoreCloser, error) {
	return sqlstore.Open(ctx, u)
}

func openRedis(ctx context.Context, u *url.URL, _ checkpoint.Config) (checkpoint.StoreCloser, error) {
	return redis.Open(ctx, u)
}
