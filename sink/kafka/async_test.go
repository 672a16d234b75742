package kafka

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// batchSource emits its batches, one emit call each, then ends.
type batchSource struct{ batches [][]change.Change }

func (s *batchSource) Stream(ctx context.Context, _ change.Position, emit func([]change.Change) error) error {
	for _, b := range s.batches {
		if err := emit(b); err != nil {
			return err
		}
	}
	return nil
}

// keyedChanges returns inserts into d.t of the ids given, at positions
// from offset on.
func keyedChanges(offset uint64, ids ...int64) []change.Change {
	out := make([]change.Change, len(ids))
	for i, id := range ids {
		out[i] = change.Change{
			Source: "mysql", Op: change.OpInsert, Namespace: change.Namespace{Database: "d", Table: "t"}, Columns: testCols,
			Pos:        change.Position{Flavor: change.FlavorBinlog, File: "bin.000001", Offset: offset + uint64(i)},
			CommitTime: time.Unix(1700000000+int64(offset)+int64(i), 0).UTC(),
			After:      []change.Value{change.Int(id, 32), change.String([]byte(fmt.Sprint("v", id)))},
		}
	}
	return out
}

// incompressible returns n random letters: a value that the producer's
// compression (snappy by default) cannot shrink below a topic's
// max.message.bytes, as a repeated byte would be.
func incompressible(n int) []byte {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[rand.IntN(len(letters))]
	}
	return b
}

// TestSinkAsyncStalledPartition runs the at-least-once sink under
// pipeline.NewAsync against a cluster whose leader of one partition holds
// every produce request for it until released. The first batch has
// records for that partition and for others; those for the others reach
// Kafka, the batch stays unacknowledged, and neither the acknowledged
// position nor the saved one may pass its first change while the later
// batches are sent. Once released, everything is acknowledged, the
// position saved is the last change's, and every record is in Kafka once,
// in order.
func TestSinkAsyncStalledPartition(t *testing.T) {
	const topic, partitions = "sluice.d.t", 3
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(partitions, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The partition of each id's key, as the sink computes it.
	part := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	partOf := func(id int64) int32 {
		k := keyOf(&keyedChanges(0, id)[0])
		return int32(part.Partition(&kgo.Record{Key: []byte(k)}, partitions))
	}
	const stalled = int32(0)
	leader := c.LeaderFor(topic, stalled)
	// kfake places leaders at random: all three partitions may share one
	// broker (then no record could pass the held request, and the search
	// below would never end). Give partition 1 another leader.
	if c.LeaderFor(topic, 1) == leader {
		if err := c.MoveTopicPartition(topic, 1, (leader+1)%3); err != nil {
			t.Fatal(err)
		}
	}
	var stalledIDs, otherIDs []int64
	for id := int64(1); (len(stalledIDs) < 5 || len(otherIDs) < 40) && id < 100000; id++ {
		p := partOf(id)
		switch {
		case p == stalled && len(stalledIDs) < 5:
			stalledIDs = append(stalledIDs, id)
		case p != stalled && c.LeaderFor(topic, p) != leader && len(otherIDs) < 40:
			otherIDs = append(otherIDs, id)
		}
	}
	if len(otherIDs) < 40 {
		t.Fatal("no partition led by another broker")
	}

	topicID := c.TopicInfo(topic).TopicID // newer produce requests name topics by ID
	var stalling atomic.Bool
	stalling.Store(true)
	release := make(chan struct{})
	var released sync.Once
	unstall := func() {
		released.Do(func() {
			stalling.Store(false)
			close(release)
		})
	}
	var held atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !stalling.Load() {
			return nil, nil, false
		}
		for _, rt := range req.(*kmsg.ProduceRequest).Topics {
			for _, rp := range rt.Partitions {
				if (rt.Topic == topic || rt.TopicID == topicID) && rp.Partition == stalled {
					held.Add(1)
					c.SleepControl(func() { <-release })
					return nil, nil, false // now handled as usual
				}
			}
		}
		return nil, nil, false
	})

	ctx := context.Background()
	s, err := NewSink(ctx, Config{Brokers: c.ListenAddrs(), InFlight: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer unstall() // before Close, which waits for the held request
	// The first batch has records for the stalled partition and others.
	first := keyedChanges(100, append(append([]int64(nil), stalledIDs...), otherIDs[:5]...)...)
	second := keyedChanges(200, otherIDs[5:20]...)
	third := keyedChanges(300, otherIDs[20:]...)
	src := &batchSource{batches: [][]change.Change{first, second, third}}
	store := &checkpoint.Memory{}
	p, err := pipeline.NewAsync(src, s, store, pipeline.WithCheckpointInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(ctx) }()

	// Wait until the first batch's records for other partitions are in
	// Kafka and those of the stalled one are held (the two requests go to
	// different brokers, in either order).
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		var others, held0 int64
		ends.Each(func(o kadm.ListedOffset) {
			if o.Partition == stalled {
				held0 = o.Offset
			} else {
				others += o.Offset
			}
		})
		if held0 != 0 {
			t.Fatalf("the stalled partition has %d records", held0)
		}
		if others >= 5 && held.Load() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of the first batch's 5 records on other partitions reached Kafka", others)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if held.Load() == 0 {
		t.Fatal("no produce request was held")
	}
	// Give acknowledgements and the saver time to (wrongly) move on.
	time.Sleep(200 * time.Millisecond)
	if got := p.Acknowledged(); !got.IsZero() {
		t.Fatalf("acknowledged up to %s while the first batch (from %s) is not in Kafka", got, first[0].Pos)
	}
	if saved, err := store.Load(ctx, pipeline.DefaultID); err == nil {
		t.Fatalf("saved %s while the first batch (from %s) is not in Kafka", saved, first[0].Pos)
	}
	select {
	case err := <-runErr:
		t.Fatalf("Run returned (%v) with a batch unacknowledged", err)
	default:
	}

	unstall()
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not end after the partition was released")
	}
	if saved, err := store.Load(ctx, pipeline.DefaultID); err != nil || saved != third[len(third)-1].Pos {
		t.Fatalf("saved %s, %v; want the last change's position %s", saved, err, third[len(third)-1].Pos)
	}
	// Every record arrived once, the stalled partition's in order.
	all := append(append(append([]change.Change(nil), first...), second...), third...)
	recs := consume(t, []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, false, len(all), topic)
	checkRecords(t, all, recs)
}

// TestSinkAsyncFailure checks that a record the brokers refuse fails its
// Delivery: the pipeline stops with an error naming the change, after
// End, and saves nothing past it.
func TestSinkAsyncFailure(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.CreateTopic("sluice.d.t", 2, map[string]string{"max.message.bytes": "4096"}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := NewSink(ctx, Config{Brokers: c.ListenAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ok := keyedChanges(100, 1, 2, 3)
	big := keyedChanges(200, 4, 5)
	big[1].After[1] = change.String(incompressible(10000))
	src := &batchSource{batches: [][]change.Change{ok, big}}
	store := &checkpoint.Memory{}
	p, err := pipeline.NewAsync(src, s, store, pipeline.WithCheckpointInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	err = p.Run(ctx)
	want := `kafka: insert d.t key {"id":5} at binlog:bin.000001:201: record of 10`
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "MESSAGE_TOO_LARGE") {
		t.Fatalf("Run = %v\nwant an error containing %s … MESSAGE_TOO_LARGE", err, want)
	}
	if saved, err := store.Load(ctx, pipeline.DefaultID); err == nil && change.Compare(saved, big[0].Pos) >= 0 {
		t.Fatalf("saved %s, %v; want a position before the refused batch (%s)", saved, err, big[0].Pos)
	}
}

// TestTxSinkAsync runs the exactly-once sink under pipeline.NewAsync: three
// batches, the second holding a record the brokers refuse. The pipeline
// stops with an error naming it; at most the first batch is committed
// with its position (alone, unless it shared the failed transaction), and
// neither the second nor the third (queued behind the failure) is visible
// to read_committed or in the stored position. A second run without the
// bad record commits the rest, once.
func TestTxSinkAsync(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.CreateTopic("sluice.d.t", 3, map[string]string{"max.message.bytes": "4096"}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	first := keyedChanges(100, 1, 2, 3, 4)
	second := keyedChanges(200, 5, 6, 7)
	third := keyedChanges(300, 8, 9)
	bad := change.String(incompressible(10000))
	good := second[1].After[1]
	second[1].After[1] = bad
	run := func(batches ...[]change.Change) (change.Position, error) {
		t.Helper()
		s, err := NewTx(ctx, Config{Brokers: c.ListenAddrs()})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		p, err := pipeline.NewAsync(&batchSource{batches: batches}, s, s.CheckpointStore(), pipeline.WithID("p"))
		if err != nil {
			t.Fatal(err)
		}
		runErr := p.Run(ctx)
		pos, _ := s.CheckpointStore().Load(ctx, "p")
		return pos, runErr
	}
	pos, err := run(first, second, third)
	want := `kafka: insert d.t key {"id":6} at binlog:bin.000001:201: record of 10`
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "MESSAGE_TOO_LARGE") {
		t.Fatalf("Run = %v\nwant an error containing %s … MESSAGE_TOO_LARGE", err, want)
	}
	// The first batch may have been committed alone, or in one
	// transaction with the second, aborted.
	var committed []change.Change
	switch end := first[len(first)-1].Pos; pos {
	case end:
		committed = first
	case change.Position{}:
	default:
		t.Fatalf("committed position %s, want none or the first batch's end %s", pos, end)
	}
	recs := consume(t, []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, true, -1, "sluice.d.t")
	if committed == nil && len(recs) > 0 {
		t.Fatalf("read_committed sees %d records of an aborted transaction", len(recs))
	} else if committed != nil {
		checkRecords(t, committed, recs)
	}

	// Resumed (the source starts after the committed position).
	second[1].After[1] = good
	rest := [][]change.Change{second, third}
	if committed == nil {
		rest = append([][]change.Change{first}, rest...)
	}
	pos, err = run(rest...)
	if err != nil {
		t.Fatal(err)
	}
	if end := third[len(third)-1].Pos; pos != end {
		t.Fatalf("committed position %s, want the last change's %s", pos, end)
	}
	all := append(append(append([]change.Change(nil), first...), second...), third...)
	recs = consume(t, []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, true, len(all), "sluice.d.t")
	checkRecords(t, all, recs)
}
