package zookeeper

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/lease"
	"github.com/sluice-cdc/sluice/lease/leasetest"
)

func TestLocker(t *testing.T) {
	srv := testenv.NewZooKeeper(t)
	leasetest.Run(t, leasetest.Harness{
		Addr:   srv.Addr(),
		TTL:    2 * time.Second,
		Server: srv,
		Open: func(t *testing.T, addr string, opts lease.Options) lease.Locker {
			u, _ := url.Parse("zk://" + addr + "/ha?timeout=1s")
			l, err := Open(context.Background(), u, opts)
			if err != nil {
				t.Fatal(err)
			}
			return l
		},
	})
}
