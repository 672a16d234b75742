package sql

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/lease"
	"github.com/sluice-cdc/sluice/lease/leasetest"
)

var (
	maria *testenv.MariaDB
	pg    *testenv.Postgres
)

func TestMain(m *testing.M) {
	testenv.RunMain(m, func(ctx context.Context, c *testenv.Cleanup) error {
		var err error
		if maria, pg, err = testenv.StartMariaDBAndPostgres(ctx, c); err != nil {
			return err
		}
		return nil
	})
}

func harness(addr string, raw func(addr string) string) leasetest.Harness {
	return leasetest.Harness{
		Addr: addr,
		TTL:  2 * time.Second,
		Open: func(t *testing.T, addr string, opts lease.Options) lease.Locker {
			u, err := url.Parse(raw(addr))
			if err != nil {
				t.Fatal(err)
			}
			l, err := Open(context.Background(), u, opts)
			if err != nil {
				t.Fatal(err)
			}
			return l
		},
	}
}

func TestMariaDB(t *testing.T) {
	leasetest.Run(t, harness(maria.Addr(), func(addr string) string {
		return fmt.Sprintf("mysql://%s:%s@%s/?tls=off&timeout=1s", testenv.MariaDBRootUser, testenv.MariaDBRootPassword, addr)
	}))
}

func TestPostgres(t *testing.T) {
	leasetest.Run(t, harness(pg.Addr(), func(addr string) string {
		return fmt.Sprintf("postgres://%s:%s@%s/postgres?sslmode=disable&connect_timeout=2", testenv.PostgresUser, testenv.PostgresPassword, addr)
	}))
}

func TestLockNames(t *testing.T) {
	long := myName(string(make([]byte, 100)))
	if len(long) > 64 || len(myName("p")) != len("sluice:p") {
		t.Fatalf("myName: %d characters for a long name", len(long))
	}
	k1, _, _ := pgKey("a")
	k2, _, _ := pgKey("b")
	if k1 == k2 {
		t.Fatal("pgKey collides for a and b")
	}
}

func TestSourceURL(t *testing.T) {
	cases := []struct{ in, want string }{
		{"mysql://repl:pw@db:3306/?server-id=7&gtid=on&tls=on&tls-ca=/ca.pem", "mysql://repl:pw@db:3306/?tls=on&tls-ca=%2Fca.pem"},
		{"mariadb://u@db/", "mariadb://u@db/"},
		{"postgres://u:p@pg:5432/shop?slot=s&publication=p&sslmode=require", "postgres://u:p@pg:5432/shop?sslmode=require"},
	}
	for _, c := range cases {
		got, err := SourceURL(c.in)
		if err != nil || got != c.want {
			t.Errorf("SourceURL(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	if _, err := SourceURL("mongodb://m/"); err == nil || !strings.Contains(err.Error(), "a mongodb source has no lock") {
		t.Errorf("mongodb: %v", err)
	}
}
