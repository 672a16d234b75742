package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// testCols are the columns of the keyed test table d.t.
var testCols = []change.Column{{Name: "id", Type: "int", Key: true}, {Name: "v", Type: "varchar(20)", Nullable: true}}

// keylessCols are the columns of the keyless test table d.nokey.
var keylessCols = []change.Column{{Name: "a", Type: "int"}, {Name: "b", Type: "int"}}

// testChanges returns n row changes numbered from first, on 20 keys of d.t
// (inserts, then updates and deletes) and a keyless table d.nokey.
func testChanges(first, n int) []change.Change {
	out := make([]change.Change, 0, n)
	for i := first; i < first+n; i++ {
		pos := change.Position{Flavor: change.FlavorBinlog, File: "bin.000001", Offset: uint64(1000 + i)}
		c := change.Change{Source: "mysql", Pos: pos, CommitTime: time.Unix(1700000000+int64(i), 0).UTC()}
		key := int64(i % 20)
		switch i % 5 {
		case 0, 1, 2:
			c.Op, c.Namespace, c.Columns = change.OpUpdate, change.Namespace{Database: "d", Table: "t"}, testCols
			c.Before = []change.Value{change.Int(key, 32), change.String([]byte(fmt.Sprint("old", i)))}
			c.After = []change.Value{change.Int(key, 32), change.String([]byte(fmt.Sprint("new", i)))}
		case 3:
			c.Op, c.Namespace, c.Columns = change.OpInsert, change.Namespace{Database: "d", Table: "nokey"}, keylessCols
			c.After = []change.Value{change.Int(int64(i), 32), change.Int(key, 32)}
		case 4:
			c.Op, c.Namespace, c.Columns = change.OpDelete, change.Namespace{Database: "d", Table: "t"}, testCols
			c.Before = []change.Value{change.Int(key, 32), change.Null()}
		}
		out = append(out, c)
	}
	return out
}

// consume reads topics from the start until it has want records (or
// until quiet passes without one, when want is negative).
func consume(t *testing.T, opts []kgo.Opt, readCommitted bool, want int, topics ...string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts = append(opts, kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if readCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for want < 0 || len(out) < want {
		pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
		fs := cl.PollFetches(pctx)
		pcancel()
		if ctx.Err() != nil {
			t.Fatalf("read %d records of %v, want %d", len(out), topics, want)
		}
		if fs.NumRecords() == 0 && want < 0 && pctx.Err() != nil {
			break
		}
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("fetch %s/%d: %v", topic, p, err)
			}
		})
		out = append(out, fs.Records()...)
	}
	return out
}

// keyOf is the "key" member of c's Sluice JSON line.
func keyOf(c *change.Change) string {
	var e change.Encoder
	line, start, end := e.AppendKeyed(nil, c)
	return string(line[start:end])
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return "(none)"
}

// checkRecords checks that records carry exactly batch's changes (matched
// by position), keyed, partitioned and with headers as documented.
func checkRecords(t *testing.T, batch []change.Change, recs []*kgo.Record) {
	t.Helper()
	byPos := map[string]*change.Change{}
	for i := range batch {
		byPos[batch[i].Pos.String()] = &batch[i]
	}
	if len(recs) != len(batch) {
		t.Errorf("%d records, want %d", len(recs), len(batch))
	}
	keyPart := map[string]int32{}
	lastPos := map[string]change.Position{} // per key (or keyless topic)
	for _, r := range recs {
		got, err := change.DecodeJSON(r.Value)
		if err != nil {
			t.Fatalf("record %s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
		}
		want := byPos[got.Pos.String()]
		if want == nil {
			t.Fatalf("record at %s: no such change written", got.Pos)
		}
		if !change.EqualChange(&got, want) {
			t.Errorf("record %s: %+v, want %+v", got.Pos, got, *want)
		}
		if wt := "sluice." + want.Database + "." + want.Table; r.Topic != wt {
			t.Errorf("record %s in topic %s, want %s", got.Pos, r.Topic, wt)
		}
		if wk := keyOf(want); string(r.Key) != wk {
			t.Errorf("record %s: key %q, want %q", got.Pos, r.Key, wk)
		}
		for k, v := range map[string]string{HeaderOp: want.Op.String(), HeaderDB: want.Database, HeaderTable: want.Table, HeaderPosition: want.Pos.String()} {
			if h := header(r, k); h != v {
				t.Errorf("record %s: header %s = %q, want %q", got.Pos, k, h, v)
			}
		}
		if !r.Timestamp.Equal(want.CommitTime) {
			t.Errorf("record %s: timestamp %v, want the commit time %v", got.Pos, r.Timestamp, want.CommitTime)
		}
		// One key (a keyless topic: everything) on one partition, in order.
		k := r.Topic + " " + string(r.Key)
		if p, ok := keyPart[k]; ok && p != r.Partition {
			t.Errorf("key %s on partitions %d and %d", k, p, r.Partition)
		}
		keyPart[k] = r.Partition
		if lp, ok := lastPos[k]; ok && change.Compare(lp, got.Pos) >= 0 {
			t.Errorf("key %s: %s after %s", k, got.Pos, lp)
		}
		lastPos[k] = got.Pos
	}
	parts := map[int32]bool{}
	for k, p := range keyPart {
		if strings.HasPrefix(k, "sluice.d.t ") {
			parts[p] = true
		}
	}
	if len(parts) < 2 {
		t.Errorf("20 keys all on partitions %v: not spread", parts)
	}
}

func TestSinkAtLeastOnce(t *testing.T) {
	k := testenv.NewKafka(t, testenv.KafkaOptions{})
	ctx := context.Background()
	s, err := Open(ctx, "kafka://"+k.Seeds()+"/?create-topics=on&partitions=4&compression=lz4")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(*Sink); !ok {
		t.Fatalf("at-least-once sink is a %T", s)
	}
	all := testChanges(0, 300)
	for i := 0; i < len(all); i += 100 {
		if err := s.Write(ctx, all[i:i+100]); err != nil {
			t.Fatal(err)
		}
	}
	recs := consume(t, []kgo.Opt{kgo.SeedBrokers(k.Brokers()...)}, false, len(all), "sluice.d.t", "sluice.d.nokey")
	checkRecords(t, all, recs)

	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	details, err := kadm.NewClient(cl).ListTopics(ctx, "sluice.d.t")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(details["sluice.d.t"].Partitions); n != 4 {
		t.Errorf("created topic has %d partitions, want 4", n)
	}
}

func TestSinkTopicMissing(t *testing.T) {
	k := testenv.NewKafka(t, testenv.KafkaOptions{})
	ctx := context.Background()
	s, err := Open(ctx, "kafka://"+k.Seeds()+"/?topic=cdc.{table}")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Write(ctx, testChanges(0, 5))
	if err == nil || !strings.Contains(err.Error(), "kafka: topic cdc.t does not exist: create it, or let sluice create topics with create-topics=on") {
		t.Fatalf("Write to a missing topic: %v", err)
	}
}

func TestSinkTooLarge(t *testing.T) {
	k := testenv.NewKafka(t, testenv.KafkaOptions{})
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	limit := "4096"
	if _, err := kadm.NewClient(cl).CreateTopics(ctx, 3, 1, map[string]*string{"max.message.bytes": &limit}, "sluice.d.t", "sluice.d.nokey"); err != nil {
		t.Fatal(err)
	}
	big := testChanges(0, 10)
	big[6].After[1] = change.String(incompressible(10000)) // key 6 of d.t
	for _, tt := range []struct{ mode, limitParam, want string }{
		// The broker refuses the batch holding the record.
		{"at-least-once", "", "is over the topic's max.message.bytes (or the sink's max-message-bytes=1000012): MESSAGE_TOO_LARGE"},
		{"exactly-once", "", "is over the topic's max.message.bytes (or the sink's max-message-bytes=1000012): MESSAGE_TOO_LARGE"},
		// The producer refuses the record.
		{"at-least-once", "&max-message-bytes=4096", "is over the topic's max.message.bytes (or the sink's max-message-bytes=4096): MESSAGE_TOO_LARGE"},
	} {
		mode, limitParam := tt.mode, tt.limitParam
		t.Run(mode+limitParam, func(t *testing.T) {
			s, err := Open(ctx, "kafka://"+k.Seeds()+"/?delivery="+mode+"&transactional-id=big-"+mode+limitParam)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if tx, ok := s.(*TxSink); ok {
				if _, err := tx.Load(ctx, "big"); !errors.Is(err, checkpoint.ErrNotFound) {
					t.Fatal(err)
				}
			}
			err = s.Write(ctx, big)
			want := `kafka: update d.t key {"id":6} at binlog:bin.000001:1006: record of 10381 bytes to topic sluice.d.t ` + tt.want
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("Write of a record over max.message.bytes: %v\nwant %s", err, want)
			}
		})
	}
	// Exactly-once: the failed transaction was aborted, nothing of it is
	// visible to read_committed.
	if recs := consume(t, []kgo.Opt{kgo.SeedBrokers(k.Brokers()...)}, true, -1, "sluice.d.t", "sluice.d.nokey"); len(recs) > 18 {
		t.Errorf("read_committed sees %d records: more than the at-least-once attempts' 18", len(recs))
	}
}

func TestSinkSASL(t *testing.T) {
	k := testenv.NewKafka(t, testenv.KafkaOptions{SASL: true})
	ctx := context.Background()
	for _, tt := range []struct{ mech, user string }{
		{"plain", testenv.KafkaUserPlain},
		{"scram-sha-256", testenv.KafkaUserScram256},
		{"scram-sha-512", testenv.KafkaUserScram512},
	} {
		t.Run(tt.mech, func(t *testing.T) {
			u := fmt.Sprintf("kafka://%s:%s@%s/?sasl=%s&create-topics=on", tt.user, testenv.KafkaPassword, k.Seeds(), tt.mech)
			s, err := Open(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.Write(ctx, testChanges(0, 10)); err != nil {
				t.Fatal(err)
			}
			const wrong = "not-the-password-42"
			tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			_, err = Open(tctx, fmt.Sprintf("kafka://%s/?sasl=%s&sasl-user=%s&sasl-password=%s", k.Seeds(), tt.mech, tt.user, wrong))
			if err == nil {
				t.Fatal("a wrong password was accepted")
			}
			if strings.Contains(err.Error(), wrong) {
				t.Errorf("error shows the password: %v", err)
			}
			if !strings.Contains(err.Error(), "SASL_AUTHENTICATION_FAILED") && !strings.Contains(err.Error(), "(wrong user, password or mechanism?)") {
				t.Errorf("error does not say the authentication failed: %v", err)
			}
		})
	}
}

func TestTxSink(t *testing.T) {
	k := testenv.NewKafka(t, testenv.KafkaOptions{})
	ctx := context.Background()
	url := "kafka://" + k.Seeds() + "/?delivery=exactly-once&create-topics=on"
	open := func() *TxSink {
		t.Helper()
		s, err := Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		tx, ok := s.(*TxSink)
		if !ok {
			t.Fatalf("exactly-once sink is a %T", s)
		}
		t.Cleanup(func() { tx.Close() })
		return tx
	}
	a := open()
	if err := a.WriteAt(ctx, testChanges(0, 5), change.Position{}); err == nil {
		t.Error("WriteAt before Load succeeded")
	}
	if _, err := a.Load(ctx, "p1"); !errors.Is(err, checkpoint.ErrNotFound) {
		t.Fatalf("Load of a new pipeline: %v", err)
	}
	all := testChanges(0, 200)
	for i := 0; i < 100; i += 50 {
		if err := a.WriteAt(ctx, all[i:i+50], all[i+49].Pos); err != nil {
			t.Fatal(err)
		}
	}
	b := open()
	got, err := b.Load(ctx, "p1")
	if err != nil || got != all[99].Pos {
		t.Fatalf("Load after two transactions: %v, %v; want %v", got, err, all[99].Pos)
	}
	// b took over: a is fenced and its batch is not committed.
	err = a.WriteAt(ctx, all[100:150], all[149].Pos)
	if err == nil || !strings.Contains(err.Error(), "(another sluice took over transactional.id sluice-p1: this one is fenced)") {
		t.Fatalf("WriteAt of a fenced instance: %v", err)
	}
	if err := b.WriteAt(ctx, all[100:200], all[199].Pos); err != nil {
		t.Fatal(err)
	}
	// A move of the position alone is committed by Save.
	moved := change.Position{Flavor: change.FlavorBinlog, File: "bin.000002", Offset: 4}
	if err := b.WriteAt(ctx, nil, moved); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(ctx, "p1", moved); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(ctx, "p1", all[10].Pos); err != nil { // behind: nothing to do
		t.Fatal(err)
	}
	if got, err := open().Load(ctx, "p1"); err != nil || got != moved {
		t.Fatalf("Load after Save: %v, %v; want %v", got, err, moved)
	}
	if _, err := open().Load(ctx, "other"); !errors.Is(err, checkpoint.ErrNotFound) {
		t.Fatalf("Load of another pipeline: %v", err)
	}
	// read_committed sees every change once: none of the fenced batch.
	recs := consume(t, []kgo.Opt{kgo.SeedBrokers(k.Brokers()...)}, true, len(all), "sluice.d.t", "sluice.d.nokey")
	checkRecords(t, all, recs)
	if extra := consume(t, []kgo.Opt{kgo.SeedBrokers(k.Brokers()...)}, true, -1, "sluice.d.t", "sluice.d.nokey"); len(extra) != len(all) {
		t.Errorf("read_committed sees %d records, want %d", len(extra), len(all))
	}
}

// TestTxSinkKilledMidTransaction: a position produced in a transaction
// that never commits (its sluice was killed) is not what the next
// instance loads, and its changes are not visible to read_committed.
func TestTxSinkKilledMidTransaction(t *testing.T) {
	k := testenv.NewKafka(t, testenv.KafkaOptions{})
	ctx := context.Background()
	url := "kafka://" + k.Seeds() + "/?delivery=exactly-once&create-topics=on"
	open := func() *TxSink {
		t.Helper()
		s, err := Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		return s.(*TxSink)
	}
	a := open()
	if _, err := a.Load(ctx, "p"); !errors.Is(err, checkpoint.ErrNotFound) {
		t.Fatal(err)
	}
	all := testChanges(0, 100)
	if err := a.WriteAt(ctx, all[:50], all[49].Pos); err != nil {
		t.Fatal(err)
	}
	// The second batch and its position are produced, not committed: the
	// process dies here (its clients are left open, never closed).
	if err := a.p.prepare(ctx, &a.p.enc, all[50:], false); err != nil {
		t.Fatal(err)
	}
	if err := a.tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	a.offsets = kgo.Record{Topic: DefaultOffsetsTopic, Key: []byte("p"), Value: []byte(`{"pipeline":"p","position":"` + all[99].Pos.String() + `"}`)}
	if err := a.p.produce(ctx, a.tx, a.p.one(all[50:]), &a.offsets); err != nil {
		t.Fatal(err)
	}
	b := open()
	defer b.Close()
	got, err := b.Load(ctx, "p")
	if err != nil || got != all[49].Pos {
		t.Fatalf("Load after a transaction left open: %v, %v; want %v", got, err, all[49].Pos)
	}
	if recs := consume(t, []kgo.Opt{kgo.SeedBrokers(k.Brokers()...)}, true, -1, "sluice.d.t", "sluice.d.nokey"); len(recs) != 50 {
		t.Errorf("read_committed sees %d records, want the 50 committed", len(recs))
	}
}

// TestSinkBrokersRestarting starts a write and an exactly-once Load while
// the cluster is down behind its proxies (which accept a connection and
// close it: kgo takes that for a TLS or SASL mistake and does not retry):
// both wait for the cluster to come back instead of failing.
func TestSinkBrokersRestarting(t *testing.T) {
	k := testenv.NewKafka(t, testenv.KafkaOptions{Proxy: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := "kafka://" + k.Seeds() + "/?create-topics=on&partitions=4"
	alo, err := Open(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer alo.Close()
	eo, err := Open(ctx, base+"&delivery=exactly-once")
	if err != nil {
		t.Fatal(err)
	}
	defer eo.Close()
	restarted := make(chan error, 1)
	restart := func() {
		t.Helper()
		if err := k.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		go func() {
			time.Sleep(2 * time.Second)
			restarted <- k.Start(ctx)
		}()
	}

	restart()
	all := testChanges(0, 100)
	if err := alo.Write(ctx, all); err != nil {
		t.Fatalf("write while the cluster restarts: %v", err)
	}
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	recs := consume(t, []kgo.Opt{kgo.SeedBrokers(k.Brokers()...)}, false, len(all), "sluice.d.t", "sluice.d.nokey")
	checkRecords(t, all, recs)

	restart()
	tx := eo.(*TxSink)
	if _, err := tx.Load(ctx, "restarting"); !errors.Is(err, checkpoint.ErrNotFound) {
		t.Fatalf("Load while the cluster restarts: %v, want no position yet", err)
	}
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	if err := tx.WriteAt(ctx, testChanges(100, 10), change.Position{}); err != nil {
		t.Fatalf("write after the restart: %v", err)
	}
}
