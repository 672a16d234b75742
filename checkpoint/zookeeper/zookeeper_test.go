package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/checkpoint/storetest"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

var server *testenv.ZooKeeper

func TestMain(m *testing.M) {
	testenv.RunMain(m, func(ctx context.Context, c *testenv.Cleanup) error {
		var err error
		server, err = testenv.StartZooKeeper(ctx)
		if err != nil {
			return err
		}
		c.Add(func() { server.Close() })
		return nil
	})
}

var paths atomic.Int64

func open(t *testing.T, raw string) *Store {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) checkpoint.Store {
		return open(t, server.URL(fmt.Sprintf("test%d/deep", paths.Add(1))))
	})
}

// TestNodes: the nodes the documentation names, readable by any client.
func TestNodes(t *testing.T) {
	s := open(t, server.URL("nodes"))
	ctx := context.Background()
	if err := s.Save(ctx, "a/b", change.Position{Flavor: change.FlavorLSN, Offset: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Fence(ctx, "a/b", checkpoint.Fence{Token: 3, Owner: "host-a"}); err != nil {
		t.Fatal(err)
	}
	for node, want := range map[string]string{
		"/nodes/positions/a%2Fb": `{"v":1,"flavor":2,"offset":5,"index":0}`,
		"/nodes/fences/a%2Fb":    `{"token":3,"owner":"host-a"}`,
	} {
		data, _, err := s.conn.Get(node)
		if err != nil || string(data) != want {
			t.Errorf("%s = %q, %v; want %s", node, data, err, want)
		}
	}
}

// TestDigestAuth: with a user and password the nodes are private to that
// identity; another client cannot read them, and the password is never
// shown.
func TestDigestAuth(t *testing.T) {
	s := open(t, "zk://sluice:pw-123@"+server.Addr()+"/private")
	ctx := context.Background()
	if err := s.Save(ctx, "p", change.Position{Flavor: change.FlavorLSN, Offset: 1}); err != nil {
		t.Fatal(err)
	}
	anon := open(t, server.URL("other"))
	if _, _, err := anon.conn.Get("/private/positions/p"); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("an anonymous client reads the position node: err = %v, want ErrNoAuth", err)
	}
	u, _ := url.Parse("zk://sluice:wrong-pw@" + server.Addr() + "/private")
	other, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, err = other.Load(ctx, "p")
	if err == nil {
		t.Fatal("a wrong password reads the position")
	}
	if strings.Contains(err.Error(), "wrong-pw") {
		t.Fatalf("the error shows the password: %v", err)
	}
}

// TestServerDown: with the server stopped a Save fails within the
// timeout; after a restart the same store works again.
func TestServerDown(t *testing.T) {
	srv := testenv.NewZooKeeper(t)
	s := open(t, srv.URL("down")+"?timeout=500ms&session-timeout=30s")
	ctx := context.Background()
	p := change.Position{Flavor: change.FlavorLSN, Offset: 1}
	if err := s.Save(ctx, "p", p); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	began := time.Now()
	if err := s.Save(ctx, "p", p); err == nil {
		t.Fatal("Save with the server down succeeded")
	}
	if d := time.Since(began); d > 3*time.Second {
		t.Fatalf("Save with the server down took %s", d)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := s.Save(ctx, "p", change.Position{Flavor: change.FlavorLSN, Offset: 2})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Save after the restart: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got, err := s.Load(ctx, "p"); err != nil || got.Offset != 2 {
		t.Fatalf("Load after restart = %+v, %v", got, err)
	}
}
