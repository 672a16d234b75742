package mongodb

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/sluice-cdc/sluice/sink/file"
)

const killEnv = "SLUICE_MONGODB_KILL_DIR"

// TestKillChild is the child process of TestKillAndRestart: it runs the
// oplog source through the pipeline into a file sink, checkpointing in
// bbolt, until killed.
func TestKillChild(t *testing.T) {
	dir := os.Getenv(killEnv)
	if dir == "" {
		t.Skip("helper process for TestKillAndRestart")
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	cfg, err := ParseURL(os.Getenv(killEnv + "_URI"))
	if err != nil {
		fail(err)
	}
	src, err := New(cfg)
	if err != nil {
		fail(err)
	}
	store, err := checkpoint.OpenBolt(filepath.Join(dir, "state.db"), 10*time.Second)
	if err != nil {
		fail(err)
	}
	out, err := file.Open(filepath.Join(dir, "out.jsonl"))
	if err != nil {
		fail(err)
	}
	p, err := pipeline.New(src, out, store, pipeline.WithBeginCommit(true),
		pipeline.WithBatch(8<<10, 0), pipeline.WithCheckpointInterval(5*time.Millisecond))
	if err != nil {
		fail(err)
	}
	if err := p.Run(context.Background()); err != nil {
		fail(err)
	}
	os.Exit(0)
}

// TestKillAndRestart writes to FerretDB while a child process tails its
// oplog into a file, SIGKILLs the child at random moments and restarts it,
// then checks that the output, with re-delivered changes dropped by
// position, rebuilds the collection exactly.
func TestKillAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts FerretDB and child processes")
	}
	db := testenv.NewFerretDB(t)
	client, err := db.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	ctx := context.Background()
	coll := client.Database("kill").Collection("docs")
	dir := t.TempDir()
	uri := strings.Replace(db.URI(), "/?", "/kill?", 1) + "&mode=oplog&from=earliest"

	// The writer: bulk inserts (many entries at once, so kills land in the
	// middle of a catch-up) and single writes.
	start0 := time.Now()
	want := make(chan int, 1)
	go func() {
		r := rand.New(rand.NewPCG(3, 3))
		n := 0
		next := int32(100000)
		for b := range 2 {
			t.Logf("writer: batch %d at %v", b, time.Since(start0))
			docs := make([]any, 100)
			for i := range docs {
				docs[i] = fullDoc(int32(b*100+i), r)
			}
			if _, err := coll.InsertMany(ctx, docs); err != nil {
				t.Error(err)
				want <- -1
				return
			}
			n += len(docs)
		}
		n += workload(ctx, t, coll, 40, 4, &next)
		t.Logf("writer: done at %v", time.Since(start0))
		want <- n
	}()

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	total := -1
	kills := 0
	start := time.Now()
	for run := 0; ; run++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$")
		cmd.Env = append(os.Environ(), killEnv+"="+dir, killEnv+"_URI="+uri)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case n := <-want:
			if n < 0 {
				t.FailNow()
			}
			total = n
		default:
		}
		wait := time.Duration(100+rng.IntN(900)) * time.Millisecond
		if total >= 0 && kills >= 6 {
			wait = time.Minute // the last run: until everything arrived
		}
		deadline := time.Now().Add(wait)
		for time.Now().Before(deadline) {
			if total >= 0 && kills >= 6 {
				if got := distinct(t, filepath.Join(dir, "out.jsonl")); dataCount(got) >= total {
					break
				}
			}
			select {
			case err := <-exited:
				t.Fatalf("run %d: child exited: %v\n%s", run, err, stderr.String())
			case <-time.After(50 * time.Millisecond):
			}
		}
		cmd.Process.Kill()
		<-exited
		kills++
		if total >= 0 && kills > 6 {
			break
		}
		if time.Since(start) > 6*time.Minute {
			t.Fatal("writer did not finish in 6 minutes")
		}
	}
	got := distinct(t, filepath.Join(dir, "out.jsonl"))
	if dataCount(got) != total {
		t.Fatalf("%d distinct data changes after %d kills, want %d", dataCount(got), kills, total)
	}
	t.Logf("%d distinct data changes, %d kills", dataCount(got), kills)
	var data []change.Change
	for _, c := range got {
		if c.Op != change.OpBegin && c.Op != change.OpCommit {
			data = append(data, c)
		}
	}
	checkRebuild(ctx, t, coll, data)
}

// distinct reads the output file and drops re-delivered changes: those at
// or before the last position kept.
func distinct(t *testing.T, path string) []change.Change {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []change.Change
	lines := bytes.Split(data, []byte("\n"))
	for i, line := range lines {
		if len(line) == 0 {
			continue
		}
		c, err := change.DecodeJSON(line)
		if err != nil {
			if i == len(lines)-1 {
				break // a line being written (or torn by a kill; the next Open truncates it)
			}
			t.Fatalf("%s line %d: %v", path, i+1, err)
		}
		if len(out) > 0 && change.Compare(c.Pos, out[len(out)-1].Pos) <= 0 {
			continue
		}
		out = append(out, c)
	}
	return out
}
