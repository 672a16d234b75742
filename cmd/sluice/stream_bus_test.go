package main

import (
	"context"
	"errors"
	"fmt"
	nethttp "net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/fixture"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/internal/webhooktest"
)

// busFixture is the fixture log of TestStreamBusBadInput, as a source URL.
const busFixture = "fixture://db/?txs=4&rows=3&payload=6000"

// fixtureRows returns the positions of the row changes of the fixture log
// at raw, in order.
func fixtureRows(t *testing.T, raw string) []string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	o, err := fixture.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	src, err := fixture.New(o)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for c := range src.After(change.Position{}) {
		if c.Op == change.OpInsert || c.Op == change.OpUpdate || c.Op == change.OpDelete {
			out = append(out, c.Pos.String())
		}
	}
	return out
}

// positionsOf returns the positions of Sluice JSON lines.
func positionsOf(t *testing.T, msgs [][]byte) []string {
	t.Helper()
	var out []string
	for _, m := range msgs {
		c, err := change.DecodeJSON(m)
		if err != nil {
			t.Fatalf("message %q: %v", m, err)
		}
		out = append(out, c.Pos.String())
	}
	return out
}

// checkQuiet fails when err or the logs show a secret.
func checkQuiet(t *testing.T, err error, logs string, secrets ...string) {
	t.Helper()
	t.Logf("error: %v", err)
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) || strings.Contains(logs, s) {
			t.Errorf("%q shown in the error or the log:\nerror: %v\nlog:\n%s", s, err, logs)
		}
	}
}

// TestStreamBusBadInput runs "sluice stream" into the NATS, Redis and
// HTTP sinks with what the issue calls bad input — a wrong password, a
// missing stream, a webhook answering 400 or 401, a destination that cannot
// hold a value (a NATS message over the server's max_payload, a Redis at
// its maxmemory) — and checks that each stops with a clear error that
// shows no password or secret, in the error or the log, and loses
// nothing: the position stays before what was refused (a second run stops
// at the same change), and once the cause is gone a run delivers every
// change.
func TestStreamBusBadInput(t *testing.T) {
	ctx := context.Background()
	rds := testenv.NewRedis(t)
	nts := testenv.NewNATS(t)
	want := fixtureRows(t, busFixture)

	t.Run("redis wrong password", func(t *testing.T) {
		_, logs, err := runStreamTest(ctx, t, nil, busFixture, "--to", "redis://:Wrong-Pass-77@"+rds.Addr()+"/0?retry-for=1s")
		if err == nil {
			t.Fatal("no error")
		}
		if !strings.Contains(err.Error(), "WRONGPASS") {
			t.Errorf("the error does not say the password was refused: %v", err)
		}
		checkQuiet(t, err, logs, "Wrong-Pass-77")
	})
	t.Run("nats wrong password", func(t *testing.T) {
		_, logs, err := runStreamTest(ctx, t, nil, busFixture, "--to",
			fmt.Sprintf("nats://%s:Wrong-Pass-77@%s/?stream=BAD&create-stream=on&checkpoint=kv", testenv.NATSUser, nts.Addr()))
		if err == nil {
			t.Fatal("no error")
		}
		if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
			t.Errorf("the error does not say the login was refused: %v", err)
		}
		checkQuiet(t, err, logs, "Wrong-Pass-77")
	})
	t.Run("nats missing stream", func(t *testing.T) {
		_, logs, err := runStreamTest(ctx, t, nil, busFixture, "--to",
			fmt.Sprintf("nats://%s:%s@%s/?stream=NOSUCH&checkpoint=kv", testenv.NATSUser, url.QueryEscape(testenv.NATSPassword), nts.Addr()))
		if err == nil {
			t.Fatal("no error")
		}
		if !strings.Contains(err.Error(), "NOSUCH") {
			t.Errorf("the error does not name the stream: %v", err)
		}
		checkQuiet(t, err, logs, testenv.NATSPassword)
	})

	t.Run("webhook 401 and 400", func(t *testing.T) {
		rc := webhooktest.New([]byte("Hook-Secret-77"), "X-Sluice-Signature")
		rc.Fail(func(n int, _ *nethttp.Request) webhooktest.Answer {
			if n == 2 {
				return webhooktest.Answer{Status: 401, Body: `{"error":"order 7: total is not a number"}`}
			}
			return webhooktest.Answer{}
		})
		srv := httptest.NewServer(rc)
		defer srv.Close()
		hook := strings.Replace(srv.URL, "http://", "http://hooker:Wrong-Pass-77@", 1) + "/in?secret=Hook-Secret-77&max-messages=2&retry-for=1s"
		state := filepath.Join(t.TempDir(), "hook.db")
		_, logs, err := runStreamTest(ctx, t, nil, busFixture, "--to", hook, "--state", state, "--id", "hook")
		if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "total is not a number") {
			t.Fatalf("401: error %v, want the status and the answer's body", err)
		}
		checkQuiet(t, err, logs, "Wrong-Pass-77", "Hook-Secret-77")
		before := positionsOf(t, rc.Deduplicated())
		if len(before) == 0 || len(before) >= len(want) || !slices.Equal(before, want[:len(before)]) {
			t.Fatalf("before the refused request the receiver has %v, want the first changes of %v", before, want)
		}
		// The second run starts with the refused request again; a 400 stops
		// it there the same way.
		rc.Fail(func(n int, _ *nethttp.Request) webhooktest.Answer {
			if n == 3 {
				return webhooktest.Answer{Status: 400, Body: `{"error":"order 7: total is not a number"}`}
			}
			return webhooktest.Answer{}
		})
		_, logs, err = runStreamTest(ctx, t, nil, busFixture, "--to", hook, "--state", state, "--id", "hook")
		if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "total is not a number") {
			t.Fatalf("400: error %v, want the status and the answer's body", err)
		}
		checkQuiet(t, err, logs, "Wrong-Pass-77", "Hook-Secret-77")
		if got := positionsOf(t, rc.Deduplicated()); !slices.Equal(got, before) {
			t.Fatalf("after the 400 the receiver has %v, want what it had before: %v", got, before)
		}
		// Accepted now: every change arrives, each once.
		rc.Fail(nil)
		if _, logs, err = runStreamTest(ctx, t, nil, busFixture, "--to", hook, "--state", state, "--id", "hook"); err != nil {
			t.Fatalf("%v\n%s", err, logs)
		}
		if got := positionsOf(t, rc.Deduplicated()); !slices.Equal(got, want) {
			t.Errorf("the receiver has %v, want %v", got, want)
		}
		if p := rc.Problems(); len(p) > 0 {
			t.Errorf("the receiver refused requests: %v", p)
		}
	})

	t.Run("nats message over max_payload", func(t *testing.T) {
		small := testenv.NewNATSWith(t, testenv.NATSOptions{MaxPayload: 4096})
		sinkURL := fmt.Sprintf("nats://%s:%s@%s/?stream=SMALL&create-stream=on&checkpoint=kv", testenv.NATSUser, url.QueryEscape(testenv.NATSPassword), small.Addr())
		for run := 1; run <= 2; run++ {
			_, logs, err := runStreamTest(ctx, t, nil, busFixture, "--to", sinkURL, "--id", "big")
			if err == nil {
				t.Fatalf("run %d: no error", run)
			}
			if !strings.Contains(err.Error(), "max_payload of 4096 bytes") || !strings.Contains(err.Error(), want[0]) {
				t.Errorf("run %d: the error does not name the limit and the first change (%s): %v", run, want[0], err)
			}
			checkQuiet(t, err, logs, testenv.NATSPassword)
		}
	})

	t.Run("redis at maxmemory", func(t *testing.T) {
		cl := goredis.NewClient(&goredis.Options{Addr: rds.Addr(), Password: rds.Password(), DB: 3})
		defer cl.Close()
		info, err := cl.Info(ctx, "memory").Result()
		if err != nil {
			t.Fatal(err)
		}
		var inUse int64
		for _, l := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "used_memory:"); ok {
				fmt.Sscan(v, &inUse)
			}
		}
		// Full already: Redis refuses every write (maxmemory-policy
		// noeviction, the default).
		if err := cl.ConfigSet(ctx, "maxmemory", fmt.Sprint(inUse/2)).Err(); err != nil {
			t.Fatal(err)
		}
		defer cl.ConfigSet(ctx, "maxmemory", "0")
		sinkURL := "redis://:" + rds.Password() + "@" + rds.Addr() + "/3?mode=stream&retry-for=1s"
		var stored string
		for run := 1; run <= 2; run++ {
			_, logs, err := runStreamTest(ctx, t, nil, busFixture, "--to", sinkURL, "--id", "full")
			if err == nil {
				t.Fatalf("run %d: no error", run)
			}
			if !strings.Contains(err.Error(), "maxmemory") {
				t.Errorf("run %d: the error does not say Redis is full: %v", run, err)
			}
			checkQuiet(t, err, logs, rds.Password())
			pos, err := cl.HGet(ctx, "sluice:positions", "full").Result()
			if err != nil && !errors.Is(err, goredis.Nil) {
				t.Fatal(err)
			}
			if run == 2 && pos != stored {
				t.Errorf("the second run moved the position from %q to %q", stored, pos)
			}
			stored = pos
		}
		if err := cl.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
			t.Fatal(err)
		}
		if _, logs, err := runStreamTest(ctx, t, nil, busFixture, "--to", sinkURL, "--id", "full"); err != nil {
			t.Fatalf("%v\n%s", err, logs)
		}
		var got []string
		for _, table := range []string{"orders", "audit"} {
			es, err := cl.XRange(ctx, "sluice:shop:"+table, "-", "+").Result()
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range es {
				got = append(got, e.Values["pos"].(string))
			}
		}
		slices.SortFunc(got, func(a, b string) int { return slices.Index(want, a) - slices.Index(want, b) })
		if !slices.Equal(got, want) {
			t.Errorf("the streams hold %v, want every change once: %v", got, want)
		}
	})
}
