package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestRunStopsWithCoordinatorDown: SIGINT or SIGTERM (the run's context
// ending) stops `sluice run` within seconds also when its coordinator,
// ZooKeeper or etcd, went away under it.
func TestRunStopsWithCoordinatorDown(t *testing.T) {
	for _, kind := range []string{"zookeeper", "etcd"} {
		t.Run(kind, func(t *testing.T) {
			var coord, state string
			var stop func(context.Context) error
			if kind == "zookeeper" {
				z := testenv.NewZooKeeper(t)
				coord, state, stop = z.URL("/sluice"), z.URL("/state"), z.Stop
			} else {
				e := testenv.NewEtcd(t)
				coord, state, stop = e.URL("sluice"), e.URL("state"), e.Stop
			}
			dir := t.TempDir()
			path := writeConfig(t, dir, fmt.Sprintf(`ha:
  coordinator: %s
  instance: a
  ttl: 3s
log:
  format: json
http:
  listen: 127.0.0.1:0
  token: tok
pipelines:
  p:
    source: fixture://?txs=1000000&rows=1&follow=on&interval=5ms
    to: file://%s/p.jsonl
    state: %s
`, coord, dir, state))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			type result struct {
				stderr *testenv.Logs
				code   int
			}
			done := make(chan result, 1)
			go func() {
				_, e, code := runTest(ctx, testSources(nil), []string{path}, nil)
				done <- result{e, code}
			}()
			// Wait for the lease, then take the coordinator away.
			deadline := time.Now().Add(time.Minute)
			for {
				b, _ := os.ReadFile(dir + "/p.jsonl")
				if bytes.Count(b, []byte("\n")) > 10 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the pipeline delivered nothing in a minute")
				}
				select {
				case r := <-done:
					t.Fatalf("run ended: %d\n%s", r.code, r.stderr.String())
				case <-time.After(50 * time.Millisecond):
				}
			}
			sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
			defer scancel()
			if err := stop(sctx); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Second)
			cancel()
			began := time.Now()
			select {
			case r := <-done:
				t.Logf("stopped in %v with status %d", time.Since(began).Round(time.Millisecond), r.code)
			case <-time.After(15 * time.Second):
				var buf bytes.Buffer
				pprof.Lookup("goroutine").WriteTo(&buf, 1)
				t.Log(buf.String())
				t.Fatalf("sluice run did not stop in 15 s after its context ended, with %s down", kind)
			}
		})
	}
}
