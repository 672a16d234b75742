package testenv

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// kafkaRoundTrip creates topic (unless it exists), produces n records and
// reads the topic back, expecting total records.
func kafkaRoundTrip(ctx context.Context, t *testing.T, opts []kgo.Opt, topic string, n, total int) {
	t.Helper()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 3, 3, nil, topic); err != nil && !strings.Contains(err.Error(), "TOPIC_ALREADY_EXISTS") {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	for i := 0; i < n; i++ {
		r := &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint("v", i))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	kafkaCount(ctx, t, opts, topic, total)
}

// kafkaCount consumes topic from the start until it has read want records.
func kafkaCount(ctx context.Context, t *testing.T, opts []kgo.Opt, topic string, want int) {
	t.Helper()
	cl, err := kgo.NewClient(append(opts, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := 0
	for got < want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records of %s: %v", got, want, topic, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		got += fs.NumRecords()
	}
	if got != want {
		t.Fatalf("%s: %d records, want %d", topic, got, want)
	}
}

func TestKafka(t *testing.T) {
	s := NewKafka(t, KafkaOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if got := len(s.Brokers()); got != 3 {
		t.Fatalf("%d brokers, want 3", got)
	}
	opts := []kgo.Opt{kgo.SeedBrokers(s.Brokers()...)}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	cl.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(meta.Brokers) != 3 {
		t.Fatalf("metadata lists %d brokers, want 3", len(meta.Brokers))
	}
	kafkaRoundTrip(ctx, t, opts, "t1", 10, 10)

	// A clean stop and a SIGKILL both keep the records.
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	kafkaCount(ctx, t, opts, "t1", 10)
	s.Kill()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	kafkaRoundTrip(ctx, t, opts, "t1", 5, 15)
}

func TestKafkaSASLAndProxy(t *testing.T) {
	s := NewKafka(t, KafkaOptions{SASL: true, Proxy: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i, b := range s.Brokers() {
		if b != s.Proxies()[i].Addr() {
			t.Fatalf("broker %d bootstraps at %s, not through its proxy %s", i, b, s.Proxies()[i].Addr())
		}
	}
	auth := scram.Auth{User: KafkaUserScram512, Pass: KafkaPassword}
	opts := []kgo.Opt{kgo.SeedBrokers(s.Brokers()...), kgo.SASL(auth.AsSha512Mechanism())}
	kafkaRoundTrip(ctx, t, opts, "t2", 3, 3)
	// The cluster tells clients the proxies' addresses.
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	cl.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range meta.Brokers {
		addr := fmt.Sprintf("%s:%d", b.Host, b.Port)
		if !strings.Contains(s.Seeds(), addr) {
			t.Errorf("metadata names broker %d at %s, not one of the proxies %s", b.NodeID, addr, s.Seeds())
		}
	}
	for _, p := range s.Proxies() {
		p.Cut()
	}
	kafkaRoundTrip(ctx, t, opts, "t2", 3, 6)

	bad := scram.Auth{User: KafkaUserScram512, Pass: "wrong"}
	cl, err = kgo.NewClient(kgo.SeedBrokers(s.Brokers()...), kgo.SASL(bad.AsSha512Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.Ping(ctx); err == nil {
		t.Error("a wrong password was accepted")
	}
}
