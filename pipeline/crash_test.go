package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/fixture"
	"github.com/sluice-cdc/sluice/sink/file"
)

const crashEnv = "SLUICE_PIPELINE_CRASH_DIR"

// crashSource is the generator both the child and the parent use.
func crashSource(t *testing.T) *fixture.Source {
	return gen(t, fixture.Options{
		Txs:     []int{3, 1, 0, 3000, 2, 8000, 7, 1, 1, 250, 2000, 5, 9, 1, 6000, 2},
		Batch:   50,
		Payload: 120,
		Tables:  []string{"orders", "users", "audit"},
	})
}

func crashFilter() FilterSpec { return FilterSpec{Exclude: `shop\.audit`} }

// TestCrashChild is the child process of TestKillAndRestart: it runs the
// pipeline into a file sink with a bbolt checkpoint until killed or done.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("helper process for TestKillAndRestart")
	}
	interval, _ := strconv.Atoi(os.Getenv(crashEnv + "_INTERVAL"))
	store, err := checkpoint.OpenBolt(filepath.Join(dir, "state.db"), 10*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out, err := file.Open(filepath.Join(dir, "out.jsonl"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	p, err := New(crashSource(t), out, store, WithBeginCommit(true), WithFilter(crashFilter()),
		WithBatch(32<<10, 0), WithQueueBytes(256<<10), WithCheckpointInterval(time.Duration(interval)*time.Millisecond))
	if err == nil {
		err = p.Run(context.Background())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	out.Close()
	store.Close()
	os.Exit(0)
}

// TestKillAndRestart runs the pipeline in a child process, SIGKILLs it at
// random moments, restarts it, and checks that the output file, with
// re-delivered changes dropped by position, is exactly the expected stream:
// in order, nothing lost.
func TestKillAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	// Kill the child at random moments a fixed number of times, then let
	// one run finish. A fixed kill count (not a run cap) keeps the test
	// meaningful and finite however slowly a loaded machine starts children.
	const maxKills = 20
	kills := 0
	for run := 0; ; run++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir, crashEnv+"_INTERVAL="+strconv.Itoa([]int{0, 2, 15}[run%3]))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		var kill <-chan time.Time
		if kills < maxKills {
			kill = time.After(time.Duration(50+rng.IntN(400)) * time.Millisecond)
		}
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("run %d: child failed: %v\n%s", run, err, stderr.String())
			}
			t.Logf("finished after %d runs, %d of them killed", run+1, kills)
			checkCrashOutput(t, filepath.Join(dir, "out.jsonl"))
			return
		case <-kill:
			cmd.Process.Kill()
			<-exited
			kills++
		case <-time.After(5 * time.Minute):
			cmd.Process.Kill()
			t.Fatalf("run %d: child did not finish in 5 minutes\n%s", run, stderr.String())
		}
	}
}

func checkCrashOutput(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []rec
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		c, err := change.DecodeJSON(sc.Bytes())
		if err != nil {
			t.Fatalf("line %d: %v", len(got)+1, err)
		}
		got = append(got, recordOf(&c))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	g := crashSource(t)
	want := expected(g, func(s string) bool { return s != "audit" }, true, change.Position{})
	uniq := dedup(got)
	t.Logf("%d lines written, %d re-delivered, %d distinct", len(got), len(got)-len(uniq), len(uniq))
	diffRecs(t, uniq, want)
}
