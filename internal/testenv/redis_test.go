package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestRedis(t *testing.T) {
	s := NewRedis(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Without the password the server refuses commands.
	anon := redis.NewClient(&redis.Options{Addr: s.Addr()})
	if err := anon.Ping(ctx).Err(); err == nil {
		t.Error("PING without password succeeded")
	}
	anon.Close()

	opts, err := redis.ParseURL(s.URL(0))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	if got, err := c.Ping(ctx).Result(); err != nil || got != "PONG" {
		t.Fatalf("PING = %q, %v", got, err)
	}
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET k = %q, %v; want v", got, err)
	}
	var port string
	if cfg, err := c.ConfigGet(ctx, "port").Result(); err != nil {
		t.Fatal(err)
	} else {
		port = cfg["port"]
	}
	if want := s.Addr()[len("127.0.0.1:"):]; port != want {
		t.Errorf("CONFIG GET port = %s, want %s", port, want)
	}

	// The append-only file keeps data across a restart.
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("after restart GET k = %q, %v; want v", got, err)
	}
}
