package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/sink/kafka"
	"github.com/sluice-cdc/sluice/sinks"
	"github.com/sluice-cdc/sluice/source"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kafkaKillCase is one delivery mode of TestStreamKafkaSIGKILL.
type kafkaKillCase struct {
	killTestCase
	exactly bool
}

// TestStreamKafkaSIGKILL is the no-loss test of the Kafka sink, in
// exactly-once and at-least-once mode at once, from one MariaDB into one
// 3-broker kfake cluster whose every connection passes through a proxy
// that cuts them all every 2 s. In each mode "sluice stream mysql://… --to
// kafka://…" (the real binary) streams a workload of 200,000 row changes
// (multi-row inserts, range updates, primary-key moves, range deletes in
// multi-statement transactions on two tables) and is killed with SIGKILL
// at 20 moments spread over it, restarted each time; the Kafka cluster is
// stopped and started once, at a third of the workload, under a running
// sluice (kills wait for the restart to end, and it for the next sluice to
// start). At the end the stream catches up to a marker row and stops on
// SIGINT. Two consumers read everything back with read_committed: kcat
// (librdkafka) and a franz-go consumer. In exactly-once mode both must see
// every row change exactly once (no position twice, per partition in
// strictly increasing order); in at-least-once mode nothing may be
// missing and a change seen again must carry its original position and
// content, and every record a sluice produced after a kill must be after
// the position the killed one had saved (a repeat comes only from the
// interval it had not saved). The tables rebuilt from the records must
// equal SELECT. With
// -short the workload is 20,000 changes and 5 kills.
func TestStreamKafkaSIGKILL(t *testing.T) {
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Fatal("kcat not installed: run scripts/deps.sh (Debian package kcat)")
	}
	changes, kills := int64(killChanges), killCount
	if testing.Short() {
		changes, kills = 20_000, 5
	}
	bin, verify := buildKillBinaries(t)
	srv := testenv.NewMariaDB(t, testenv.MariaDBOptions{})
	k := testenv.NewKafka(t, testenv.KafkaOptions{Proxy: true, ProxyCutEvery: killCutEach})
	cases := []kafkaKillCase{
		{killTestCase{name: "exactly-once", db: "keo", serverID: 5201, seed: 11, changes: changes}, true},
		{killTestCase{name: "at-least-once", db: "kal", serverID: 5202, seed: 12, changes: changes}, false},
	}
	// MariaDB is not restarted here (TestStreamMariaDBSIGKILL does that):
	// the workloads only report half way.
	r := &killRestart{want: len(cases), half: make(chan struct{}), done: make(chan struct{})}
	br := &brokerRestart{k: k, at: changes / 3, want: len(cases), done: make(chan struct{})}
	go br.run()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runKafkaKillTest(t, bin, verify, srv, k, r, br, tc, kills)
		})
	}
}

// brokerRestart stops and starts the Kafka cluster once every workload has
// written at least `at` row changes.
type brokerRestart struct {
	k            *testenv.Kafka
	at           int64
	want         int
	progs        atomic.Pointer[[]*killProgress]
	reached      atomic.Int32
	done         chan struct{}
	err          error
	began, ended time.Time
	// hold: a kill, what the test reads after it and the start of the
	// next sluice happen under its read lock, the restart under its
	// write lock, so the restart never falls between a kill and the next
	// start and a sluice runs through it.
	hold sync.RWMutex
}

// add registers a workload's progress.
func (b *brokerRestart) add(p *killProgress) {
	for {
		old := b.progs.Load()
		var next []*killProgress
		if old != nil {
			next = append(next, *old...)
		}
		next = append(next, p)
		if b.progs.CompareAndSwap(old, &next) {
			return
		}
	}
}

func (b *brokerRestart) run() {
	defer close(b.done)
	deadline := time.Now().Add(killTimeout)
	for {
		ps := b.progs.Load()
		n := 0
		if ps != nil {
			for _, p := range *ps {
				if p.changes.Load() >= b.at {
					n++
				}
			}
		}
		if n >= b.want {
			break
		}
		if time.Now().After(deadline) {
			b.err = errors.New("the workloads never reached a third")
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b.hold.Lock()
	defer b.hold.Unlock()
	b.began = time.Now()
	defer func() { b.ended = time.Now() }()
	if err := b.k.Stop(ctx); err != nil {
		b.err = fmt.Errorf("stop Kafka: %w", err)
		return
	}
	time.Sleep(time.Second)
	if err := b.k.Start(ctx); err != nil {
		b.err = fmt.Errorf("start Kafka: %w", err)
	}
}

func runKafkaKillTest(t *testing.T, bin, verify string, srv *testenv.MariaDB, k *testenv.Kafka, restart *killRestart, br *brokerRestart, tc kafkaKillCase, kills int) {
	ctx, cancel := context.WithTimeout(context.Background(), killTimeout)
	defer cancel()
	err := srv.Exec(ctx,
		`CREATE DATABASE `+tc.db,
		`CREATE TABLE `+tc.db+`.a (id int PRIMARY KEY, v int NOT NULL, s varchar(40) NOT NULL)`,
		`CREATE TABLE `+tc.db+`.b (id bigint PRIMARY KEY, n bigint NOT NULL, s varchar(40) NOT NULL)`,
		`CREATE TABLE `+tc.db+`.fin (id int PRIMARY KEY, s varchar(20))`,
	)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	srcURL := fmt.Sprintf("mysql://%s:%s@%s/?server-id=%d", testenv.MariaDBReplUser, testenv.MariaDBReplPassword, srv.Addr(), tc.serverID)
	sinkURL := "kafka://" + k.Seeds() + "/?topic={db}.{table}&create-topics=on&partitions=4"
	args := []string{"stream", srcURL, "--to", sinkURL, "--id", tc.db,
		"--from", "earliest", "--include", tc.db + `\..*`, "--checkpoint-interval", "200ms"}
	if tc.exactly {
		args[3] += "&delivery=exactly-once"
	} else {
		args = append(args, "--state", filepath.Join(dir, "state.db"))
	}
	var logs testenv.Logs
	start := func() *exec.Cmd {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if cmd.ProcessState == nil {
				cmd.Process.Kill()
				cmd.Wait()
			}
		})
		return cmd
	}

	var prog killProgress
	br.add(&prog)
	wdone := make(chan error, 1)
	go func() { wdone <- killWorkloadRun(ctx, srv, restart, tc.killTestCase, &prog) }()
	target := tc.target()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(tc.serverID)))
	var killedAt []int64
	var lives [][2]time.Time
	var marks []killMark
	var workErr error
	workDone := false
	born := time.Now()
	cmd := start()
	for i := 0; i < kills; i++ {
		at := int64((float64(i) + 0.15 + 0.7*rng.Float64()) / float64(kills) * float64(target))
		for !workDone && prog.changes.Load() < at {
			select {
			case workErr = <-wdone:
				workDone = true
			case <-time.After(5 * time.Millisecond):
			}
		}
		if workErr != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("workload: %v", workErr)
		}
		func() {
			br.hold.RLock() // t.Fatal runs the deferred unlock
			defer br.hold.RUnlock()
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("kill %d: sluice stream had already ended by itself (%v) before the kill:\n%s", i+1, cmd.ProcessState, tail(logs.String(), 4000))
			}
			killedAt = append(killedAt, prog.changes.Load())
			lives = append(lives, [2]time.Time{born, time.Now()})
			if !tc.exactly {
				marks = append(marks, markKill(ctx, t, k.Brokers(), filepath.Join(dir, "state.db"), tc.db,
					[]string{tc.db + ".a", tc.db + ".b", tc.db + ".fin"}))
			}
			if i+1 < kills {
				born = time.Now()
				cmd = start()
			}
		}()
	}
	if !workDone {
		workErr = <-wdone
	}
	if workErr != nil {
		t.Fatalf("workload: %v", workErr)
	}
	<-br.done
	if br.err != nil {
		t.Fatal(br.err)
	}
	if err := srv.Exec(ctx, `INSERT INTO `+tc.db+`.fin VALUES (1, 'caught-up-marker')`); err != nil {
		t.Fatal(err)
	}
	catchUp := time.Now()
	logsBefore := logs.Len()
	cmd = start()
	if err := waitForKafkaMarker(ctx, k.Brokers(), tc.db+".fin", []byte("caught-up-marker")); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("stream did not catch up: %v\n%s", err, tail(logs.String(), 4000))
	}
	caughtUp := time.Since(catchUp)
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sluice stream after SIGINT: %v\n%s", err, tail(logs.String(), 4000))
	}
	if tc.exactly {
		if _, err := os.Stat(filepath.Join(dir, "sluice.db")); err == nil {
			t.Error("exactly-once mode created a state file")
		}
	}
	topics := []string{tc.db + ".a", tc.db + ".b", tc.db + ".fin"}
	cuts := k.Proxies()[0].Cuts()
	k.StopCuts() // kcat gives up when every broker connection is down
	if t.Failed() {
		return
	}
	defer func() {
		if t.Failed() {
			t.Logf("%s: warnings and errors of every sluice process:\n%s", tc.name, grepLines(logs.String(), "level=WARN", "level=ERROR", "sluice:"))
		}
	}()

	// kcat, read_committed: the rows rebuilt from its records.
	out := filepath.Join(dir, "kcat.jsonl")
	kcatDump(t, k.Seeds(), topics, out)
	tables, unique, dups, ops := rebuildFromSorted(t, verify, out)
	for _, table := range []string{"a", "b"} {
		want := selectRows(ctx, t, srv, tc.db+"."+table, map[string]string{"a": "v", "b": "n"}[table])
		compareRebuilt(t, table, tables[table], want)
	}
	rowChanges := ops["insert"] + ops["update"] + ops["delete"]
	if want := prog.changes.Load() + 1; int64(rowChanges) != want {
		t.Errorf("kcat: %d distinct row changes, the workload's statements affected %d (+1 marker); by op: %v", rowChanges, want-1, ops)
	}
	// franz-go, read_committed: positions per partition.
	fr := readPositions(t, k.Brokers(), topics, marks)
	if fr.distinct != unique {
		t.Errorf("franz-go read %d distinct positions, kcat %d", fr.distinct, unique)
	}
	if tc.exactly {
		if dups != 0 || fr.records != fr.distinct {
			t.Errorf("exactly-once: kcat saw %d changes again, franz-go %d records for %d positions", dups, fr.records, fr.distinct)
		}
		if fr.regressions != 0 {
			t.Errorf("exactly-once: %d records not after the one before them in their partition", fr.regressions)
		}
	} else {
		if fr.foreign != 0 {
			t.Errorf("at-least-once: %d records at a position before their partition's last one that the partition never held before", fr.foreign)
		}
		if fr.beforeSaved != 0 {
			t.Errorf("at-least-once: %d records produced after a kill at or before the position the killed sluice had saved (first: %s)", fr.beforeSaved, fr.firstBeforeSaved)
		}
	}
	t.Logf("%s: %d row changes in %d transactions; kcat: %d distinct changes, %d again; franz-go: %d records, %d distinct, over %d partitions; "+
		"%d SIGKILLs at row changes %v; %d proxy cuts; Kafka restarted (%v .. %v), a sluice running through it: %v; catch-up %v; the last sluice logged:\n%s",
		tc.name, prog.changes.Load(), prog.txs.Load(), unique, dups, fr.records, fr.distinct, fr.partitions,
		len(killedAt), killedAt, cuts, br.began.Format("15:04:05.000"), br.ended.Format("15:04:05.000"),
		spansRestart(lives, br.began, br.ended), caughtUp.Round(time.Millisecond), tail(logs.String()[logsBefore:], 2000))
	if prog.changes.Load() < target {
		t.Errorf("the workload wrote only %d row changes", prog.changes.Load())
	}
	if !spansRestart(lives, br.began, br.ended) {
		t.Errorf("no sluice ran through the Kafka restart (%v .. %v)", br.began.Format("15:04:05.000"), br.ended.Format("15:04:05.000"))
	}
}

// waitForKafkaMarker waits until a committed record of topic holds marker (the
// topic also holds its table's CREATE TABLE).
func waitForKafkaMarker(ctx context.Context, brokers []string, topic string, marker []byte) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return err
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return fmt.Errorf("topic %s: no record holds %q: %w", topic, marker, ctx.Err())
		}
		found := false
		fs.EachRecord(func(r *kgo.Record) { found = found || bytes.Contains(r.Value, marker) })
		if found {
			return nil
		}
	}
}

// kcatDump writes the values of every committed record of topics, one per
// line, to out, with kcat reading with isolation.level=read_committed.
func kcatDump(t *testing.T, seeds string, topics []string, out string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, topic := range topics {
		cmd := exec.Command("kcat", "-C", "-b", seeds, "-t", topic, "-o", "beginning", "-e", "-q",
			"-X", "isolation.level=read_committed", "-f", "%s\n")
		cmd.Stdout = f
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("kcat -t %s: %v\n%s", topic, err, stderr.Bytes())
		}
	}
}

// rebuildFromSorted is rebuildFromOutput of an output ordered only per
// partition: killverify sorts it by position first.
func rebuildFromSorted(t *testing.T, verify, out string) (tables map[string]map[string]string, unique, dups int, ops map[string]int) {
	t.Helper()
	return rebuildFromOutput(t, verify, out, "-sort")
}

// partitionRead is what readPositions found.
type partitionRead struct {
	records, distinct, partitions int
	regressions                   int // records at or before the previous record of their partition
	foreign                       int // of those, ones at a position their partition had not held before
	// Records that landed after a kill at or before the position the
	// killed sluice had saved, which the next one resumed after.
	beforeSaved      int
	firstBeforeSaved string
}

// killMark is what a kill left: the position the killed sluice had saved
// and the end offset of every partition (what had landed by then).
type killMark struct {
	saved change.Position
	ends  map[string]map[int32]int64
}

// markKill reads the position saved in the state file of a killed
// sluice (zero when none was) and the end offsets of topics (none for a
// topic not created yet: 0).
func markKill(ctx context.Context, t *testing.T, brokers []string, state, id string, topics []string) killMark {
	t.Helper()
	m := killMark{ends: map[string]map[int32]int64{}}
	if _, err := os.Stat(state); err == nil {
		st, err := checkpoint.OpenBolt(state, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		m.saved, err = st.Load(ctx, id)
		st.Close()
		if err != nil && !errors.Is(err, checkpoint.ErrNotFound) {
			t.Fatal(err)
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// The cluster may be restarting (brokerRestart): ask again.
	var ends kadm.ListedOffsets
	for deadline := time.Now().Add(time.Minute); ; {
		if ends, err = kadm.NewClient(cl).ListEndOffsets(ctx, topics...); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("end offsets after a kill: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	ends.Each(func(o kadm.ListedOffset) {
		if errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
			return // not created yet: nothing landed
		}
		if o.Err != nil {
			t.Fatalf("end offset of %s/%d after a kill: %v", o.Topic, o.Partition, o.Err)
		}
		if m.ends[o.Topic] == nil {
			m.ends[o.Topic] = map[int32]int64{}
		}
		m.ends[o.Topic][o.Partition] = o.Offset
	})
	return m
}

// readPositions reads every committed record of topics with a franz-go
// consumer and checks the order of their position headers per partition,
// and that a record which landed after a kill of marks (at an offset at
// or past that kill's end offset of its partition) is after the position
// the killed sluice had saved. (A record the killed sluice had in flight
// may land after the end offsets were read: it too is after that position,
// which never passes an unacknowledged record.)
func readPositions(t *testing.T, brokers []string, topics []string, marks []killMark) partitionRead {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	type part struct {
		topic string
		p     int32
	}
	last := map[part]change.Position{}
	held := map[part]map[change.Position]bool{}
	all := map[change.Position]bool{}
	var res partitionRead
	for {
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		fs := cl.PollFetches(pctx)
		pcancel()
		if ctx.Err() != nil {
			t.Fatal("reading the topics took too long")
		}
		if fs.NumRecords() == 0 {
			break
		}
		fs.EachRecord(func(r *kgo.Record) {
			var text string
			for _, h := range r.Headers {
				if h.Key == kafka.HeaderPosition {
					text = string(h.Value)
				}
			}
			pos, err := change.ParsePosition(text)
			if err != nil {
				t.Fatalf("%s/%d@%d: position header %q: %v", r.Topic, r.Partition, r.Offset, text, err)
			}
			res.records++
			all[pos] = true
			for i := len(marks) - 1; i >= 0; i-- {
				if r.Offset >= marks[i].ends[r.Topic][r.Partition] { // 0: not created by then
					if change.Compare(pos, marks[i].saved) <= 0 {
						if res.beforeSaved == 0 {
							res.firstBeforeSaved = fmt.Sprintf("%s/%d@%d at %s, after kill %d, which had saved %s", r.Topic, r.Partition, r.Offset, pos, i+1, marks[i].saved)
						}
						res.beforeSaved++
					}
					break
				}
			}
			k := part{r.Topic, r.Partition}
			if held[k] == nil {
				held[k] = map[change.Position]bool{}
			}
			if lp, ok := last[k]; ok && change.Compare(pos, lp) <= 0 {
				res.regressions++
				if !held[k][pos] {
					res.foreign++
				}
			}
			held[k][pos] = true
			last[k] = pos
		})
	}
	res.distinct, res.partitions = len(all), len(held)
	return res
}

// grepLines returns the lines of s containing any of words.
func grepLines(s string, words ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, w := range words {
			if strings.Contains(l, w) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// TestStreamKafkaKeyOrderPostgres streams a PostgreSQL table that four
// concurrent writers update (v = v + 1 on random rows) into a 6-partition
// topic and reads every partition back: each row's changes must all be on
// one partition, with v counting up by one, and end at the value SELECT
// shows.
func TestStreamKafkaKeyOrderPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and Kafka")
	}
	pg := testenv.NewPostgres(t, testenv.PostgresOptions{})
	k := testenv.NewKafka(t, testenv.KafkaOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const rows, writers, txsEach = 50, 4, 300
	stmts := []string{`CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL)`, `CREATE TABLE fin (id int PRIMARY KEY, s text)`}
	for i := 1; i <= rows; i++ {
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO counters VALUES (%d, 0)`, i))
	}
	stmts = append(stmts, `CREATE PUBLICATION ko FOR ALL TABLES`, `SELECT pg_create_logical_replication_slot('ko', 'pgoutput')`)
	if err := pg.Exec(ctx, "postgres", stmts...); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var logs bytes.Buffer
	done := make(chan error, 1)
	go func() {
		e := &env{Stdout: &bytes.Buffer{}, Stderr: &logs}
		done <- streamWith(runCtx, e, []string{pg.DSN("postgres") + "&slot=ko&publication=ko",
			"--to", "kafka://" + k.Seeds() + "/?topic={db}.{table}&create-topics=on&partitions=6",
			"--state", filepath.Join(dir, "state.db"), "--snapshot", "never"}, source.Default(), sinks.Builtin())
	}()

	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		go func(w int) {
			conn, err := pgx.Connect(ctx, pg.DSN("postgres"))
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close(context.Background())
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; i < txsEach; i++ {
				tx, err := conn.Begin(ctx)
				if err != nil {
					errs <- err
					return
				}
				// Rows in ascending order in every transaction: the
				// writers then never wait for each other in a cycle.
				ids := make([]int, 1+rng.IntN(3))
				for j := range ids {
					ids[j] = 1 + rng.IntN(rows)
				}
				slices.Sort(ids)
				for _, id := range ids {
					if _, err := tx.Exec(ctx, `UPDATE counters SET v = v + 1 WHERE id = $1`, id); err != nil {
						tx.Rollback(ctx)
						errs <- err
						return
					}
				}
				if err := tx.Commit(ctx); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}(w)
	}
	for w := 0; w < writers; w++ {
		if err := <-errs; err != nil {
			t.Fatalf("writer: %v", err)
		}
	}
	if err := pg.Exec(ctx, "postgres", `INSERT INTO fin VALUES (1, 'caught-up-marker')`); err != nil {
		t.Fatal(err)
	}
	if err := waitForKafkaMarker(ctx, k.Brokers(), "public.fin", []byte("caught-up-marker")); err != nil {
		t.Fatalf("%v\n%s", err, logs.String())
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("stream: %v\n%s", err, logs.String())
	}

	// Every partition on its own, as a consumer of one partition reads it.
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers()...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"public.counters": {
			0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart(), 2: kgo.NewOffset().AtStart(),
			3: kgo.NewOffset().AtStart(), 4: kgo.NewOffset().AtStart(), 5: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	partOf := map[string]int32{}
	lastV := map[string]int64{}
	used := map[int32]bool{}
	updates := 0
	for {
		pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
		fs := cl.PollFetches(pctx)
		pcancel()
		if fs.NumRecords() == 0 {
			break
		}
		fs.EachRecord(func(r *kgo.Record) {
			c, err := change.DecodeJSON(r.Value)
			if err != nil {
				t.Fatalf("%s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
			}
			if c.Op != change.OpUpdate {
				return
			}
			updates++
			key := string(r.Key)
			if p, ok := partOf[key]; ok && p != r.Partition {
				t.Errorf("key %s on partitions %d and %d", key, p, r.Partition)
			}
			partOf[key] = r.Partition
			used[r.Partition] = true
			v := c.After[1].I
			if v != lastV[key]+1 {
				t.Errorf("key %s (partition %d): v=%d after v=%d", key, r.Partition, v, lastV[key])
			}
			lastV[key] = v
		})
	}
	conn, err := pgx.Connect(ctx, pg.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rs, err := conn.Query(ctx, `SELECT id, v FROM counters`)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for rs.Next() {
		var id int32
		var v int64
		if err := rs.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		total += v
		if key := fmt.Sprintf(`{"id":%d}`, id); lastV[key] != v {
			t.Errorf("row %d: v=%d, the stream ends at %d", id, v, lastV[key])
		}
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	if int64(updates) != total {
		t.Errorf("%d updates in the topic, the rows were updated %d times", updates, total)
	}
	if len(used) < 4 {
		t.Errorf("%d rows on only %d of 6 partitions", rows, len(used))
	}
	t.Logf("%d updates of %d rows by %d writers, on %d partitions, each row's in order on one", updates, rows, writers, len(used))
}
