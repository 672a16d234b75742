package etcd

import (
	"context"
	"net/url"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/lease"
	"github.com/sluice-cdc/sluice/lease/leasetest"
)

func TestLocker(t *testing.T) {
	srv := testenv.NewEtcd(t)
	leasetest.Run(t, leasetest.Harness{
		Addr:   srv.Addr(),
		TTL:    2 * time.Second,
		Server: srv,
		Open: func(t *testing.T, addr string, opts lease.Options) lease.Locker {
			u, _ := url.Parse("etcd://" + addr + "/ha?timeout=1s")
			l, err := Open(context.Background(), u, opts)
			if err != nil {
				t.Fatal(err)
			}
			return l
		},
	})
}

// TestElectionKeys: etcd's own election client sees the holder of a
// lease as the leader of the election at PREFIX/leases/NAME.
func TestElectionKeys(t *testing.T) {
	srv := testenv.NewEtcd(t)
	ctx := context.Background()
	u, _ := url.Parse("etcd://" + srv.Addr() + "/ha")
	opts, _ := lease.Options{Owner: "instance-1", TTL: 2 * time.Second}.WithDefaults()
	l, err := Open(ctx, u, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ls, err := l.Acquire(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{srv.Endpoint()}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := concurrency.NewSession(c)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	leader, err := concurrency.NewElection(s, "/ha/leases/orders").Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kv := leader.Kvs[0]
	if string(kv.Value) != "instance-1" || uint64(kv.CreateRevision) != ls.Fence().Token {
		t.Fatalf("etcd's election leader %s = %q at revision %d; want instance-1 at %d", kv.Key, kv.Value, kv.CreateRevision, ls.Fence().Token)
	}
	// And a campaign of etcd's client waits for the lease's release.
	e := concurrency.NewElection(s, "/ha/leases/orders")
	won := make(chan error, 1)
	go func() { won <- e.Campaign(ctx, "etcd-client") }()
	select {
	case err := <-won:
		t.Fatalf("etcd's campaign won while the lease is held: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	ls.Release(ctx)
	if err := <-won; err != nil {
		t.Fatal(err)
	}
	if who, _ := l.Holder(ctx, "orders"); who != "etcd-client" {
		t.Fatalf("Holder = %q, want etcd-client", who)
	}
}
