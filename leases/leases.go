// Package leases registers the lease coordinators Sluice ships in a
// lease.Registry, the way package stores does for checkpoint stores:
//
//	etcd://host:2379/prefix          an etcd election (lease/etcd)
//	zk://host:2181/path              ZooKeeper ephemeral sequential nodes (lease/zookeeper)
//	postgres://u:p@host/db           pg_try_advisory_lock (lease/sql)
//	mysql://u:p@host:3306/           GET_LOCK (lease/sql)
package leases

import (
	"context"
	"net/url"

	"github.com/sluice-cdc/sluice/lease"
	"github.com/sluice-cdc/sluice/lease/etcd"
	sqllease "github.com/sluice-cdc/sluice/lease/sql"
	"github.com/sluice-cdc/sluice/lease/zookeeper"
)

// Builtin returns a new Registry holding every coordinator Sluice ships.
func Builtin() *lease.Registry {
	r := lease.NewRegistry()
	if err := Register(r); err != nil {
		panic(err) // a new registry holds no scheme yet
	}
	return r
}

// Open opens the Locker raw names among the built-in coordinators.
func Open(ctx context.Context, raw string, opts lease.Options) (lease.Locker, error) {
	return lease.Open(ctx, Builtin(), raw, opts)
}

// Schemes maps each scheme this package registers to its opener.
var Schemes = map[string]lease.Opener{
	"etcd":       openEtcd,
	"zk":         openZooKeeper,
	"postgres":   openSQL,
	"postgresql": openSQL,
	"mysql":      openSQL,
	"mariadb":    openSQL,
}

// Register adds every coordinator Sluice ships to r. It returns the first
// error (a scheme r already has) after trying them all.
func Register(r *lease.Registry) error {
	var first error
	for scheme, open := range Schemes {
		if err := r.Register(scheme, open); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func openEtcd(ctx context.Context, u *url.URL, opts lease.Options) (lease.Locker, error) {
	return etcd.Open(ctx, u, opts)
}

func openZooKeeper(ctx context.Context, u *url.URL, opts lease.Options) (lease.Locker, error) {
	return zookeeper.Open(ctx, u, opts)
}

func openSQL(ctx context.Context, u *url.URL, opts lease.Options) (lease.Locker, error) {
	return sqllease.Open(ctx, u, opts)
}
