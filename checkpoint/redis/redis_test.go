package redis

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/checkpoint/storetest"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

var server *testenv.Redis

func TestMain(m *testing.M) {
	testenv.RunMain(m, func(ctx context.Context, c *testenv.Cleanup) error {
		var err error
		server, err = testenv.StartRedis(ctx)
		if err != nil {
			return err
		}
		c.Add(func() { server.Close() })
		return nil
	})
}

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

var keys atomic.Int64

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) checkpoint.Store {
		return open(t, fmt.Sprintf("%s?key=cp%d&dial_timeout=2s", server.URL(0), keys.Add(1)))
	})
}

// TestFields: the hash fields the documentation names.
func TestFields(t *testing.T) {
	s := open(t, server.URL(1))
	ctx := context.Background()
	if err := s.Save(ctx, "p1", change.Position{Flavor: change.FlavorLSN, Offset: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Fence(ctx, "p1", checkpoint.Fence{Token: 3, Owner: "host a"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.c.HGetAll(ctx, DefaultKey).Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"pos:p1":   `{"v":1,"flavor":2,"offset":5,"index":0}`,
		"fence:p1": "00000000000000000003 host a",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("hash = %v, want %v", got, want)
	}
}

func TestBadURLs(t *testing.T) {
	for raw, want := range map[string]string{
		"redis://:pw-secret@127.0.0.1:1/0?key=":         "key",
		"redis://:pw-secret@127.0.0.1:1/0?bogus=1":      "bogus",
		"redis://:pw-secret@127.0.0.1:1/0":              "connect",
		"redis://:wrong-secret@" + server.Addr() + "/0": "WRONGPASS",
	} {
		u, _ := url.Parse(raw)
		_, err := Open(context.Background(), u)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%s) = %v, want an error about %s", raw, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%s) shows the password: %v", raw, err)
		}
	}
}
