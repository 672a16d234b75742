package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/checkpoint/storetest"
	"github.com/sluice-cdc/sluice/internal/etcdconn"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

var server *testenv.Etcd

func TestMain(m *testing.M) {
	testenv.RunMain(m, func(ctx context.Context, c *testenv.Cleanup) error {
		var err error
		server, err = testenv.StartEtcd(ctx)
		if err != nil {
			return err
		}
		c.Add(func() { server.Close() })
		return nil
	})
}

var prefixes atomic.Int64

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
		return open(t, server.URL(fmt.Sprintf("test%d", prefixes.Add(1))))
	})
}

// TestKeys: the keys the documentation names, readable by any etcd client.
func TestKeys(t *testing.T) {
	s := open(t, server.URL("keys"))
	ctx := context.Background()
	if err := s.Save(ctx, "p1", change.Position{Flavor: change.FlavorLSN, Offset: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Fence(ctx, "p1", checkpoint.Fence{Token: 3, Owner: "host-a"}); err != nil {
		t.Fatal(err)
	}
	resp, err := s.c.Range(ctx, etcdconn.RangeRequest{Key: []byte("/keys/"), RangeEnd: etcdconn.PrefixEnd("/keys/")})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range resp.KVs {
		got[string(kv.Key)] = string(kv.Value)
	}
	want := map[string]string{
		"/keys/positions/p1": `{"v":1,"flavor":2,"offset":5,"index":0}`,
		"/keys/fences/p1":    `{"token":3,"owner":"host-a"}`,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("keys = %v, want %v", got, want)
	}
}

func TestBadURLs(t *testing.T) {
	for raw, want := range map[string]string{
		"etcd:///x":                  "no host",
		"etcd://h:1/x?bogus=1":       "bogus",
		"etcd://h:1/x?timeout=never": "timeout",
		"etcd://h:1/x?tls=maybe":     "tls",
	} {
		u, _ := url.Parse(raw)
		if _, err := Open(context.Background(), u); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%s) = %v, want an error about %s", raw, err, want)
		}
	}
}

// TestUnreachable: Open fails within its timeout when nothing listens.
func TestUnreachable(t *testing.T) {
	u, _ := url.Parse("etcd://127.0.0.1:1/x?timeout=300ms")
	began := time.Now()
	_, err := Open(context.Background(), u)
	if err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Fatalf("Open took %s, want about the 300ms timeout", d)
	}
}

// TestAuth: with authentication on, the URL's user and password log in,
// a wrong password is refused and never shown.
func TestAuth(t *testing.T) {
	srv := testenv.NewEtcd(t)
	ctx := context.Background()
	enable := func() {
		t.Helper()
		for _, step := range []struct {
			path string
			body any
		}{
			{"/v3/auth/user/add", map[string]string{"name": "root", "password": "rootpw"}},
			{"/v3/auth/user/grant", map[string]string{"user": "root", "role": "root"}},
			{"/v3/auth/enable", map[string]string{}},
		} {
			if out, err := srv.Post(ctx, step.path, step.body, ""); err != nil && !strings.Contains(string(out), "already exists") {
				t.Fatal(err)
			}
		}
	}
	enable()
	s := open(t, "etcd://root:rootpw@"+srv.Addr()+"/auth")
	if err := s.Save(ctx, "p", change.Position{Flavor: change.FlavorLSN, Offset: 1}); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("etcd://root:wrong-secret@" + srv.Addr() + "/auth")
	_, err := Open(ctx, u)
	if err == nil {
		t.Fatal("a wrong password was accepted")
	}
	if strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("the error shows the password: %v", err)
	}
	if !strings.Contains(err.Error(), "authentication failed") {
		t.Errorf("error %v, want authentication failed", err)
	}
	// The token expires on the server's side: the store authenticates
	// again (etcd's simple tokens live 5 minutes; invalidated here by
	// disabling and enabling authentication).
	out, err := srv.Post(ctx, "/v3/auth/authenticate", map[string]string{"name": "root", "password": "rootpw"}, "")
	if err != nil {
		t.Fatal(err)
	}
	var auth struct{ Token string }
	if err := json.Unmarshal(out, &auth); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Post(ctx, "/v3/auth/disable", map[string]string{}, auth.Token); err != nil {
		t.Fatal(err)
	}
	enable()
	if _, err := s.Load(ctx, "p"); err != nil {
		t.Fatalf("Load after the token was invalidated: %v", err)
	}
}
