package kafka

import (
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// partitioner places records: a keyed record by the murmur2 hash of its
// key, exactly as Kafka's Java producer does (so one row's changes land
// on one partition, the one other Kafka clients pick for that key); a
// record without a key by the keyless setting; a record of the offsets
// topic on partition 0.
type partitioner struct {
	keyless Keyless
	offsets string
	keyed   kgo.Partitioner // kgo's Kafka-compatible key hashing
}

func newPartitioner(keyless Keyless, offsetsTopic string) *partitioner {
	return &partitioner{keyless: keyless, offsets: offsetsTopic, keyed: kgo.StickyKeyPartitioner(nil)}
}

// ForTopic returns the partitioner of one topic.
func (p *partitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if topic == p.offsets {
		return fixedPartition{}
	}
	tp := &topicPartitioner{keyed: p.keyed.ForTopic(topic), spread: p.keyless == KeylessSpread}
	// The ordered partition of keyless records: the topic name's hash.
	tp.hash = murmur2Partition([]byte(topic))
	return tp
}

// topicPartitioner places the records of one topic.
type topicPartitioner struct {
	keyed  kgo.TopicPartitioner
	spread bool
	hash   func(n int) int
	next   atomic.Uint64
}

// RequiresConsistency is true for every record but spread keyless ones:
// a record must go where its key (or its topic) says, even when that
// partition's leader is down.
func (p *topicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	return r.Key != nil || !p.spread
}

// Partition picks r's partition among n.
func (p *topicPartitioner) Partition(r *kgo.Record, n int) int {
	switch {
	case r.Key != nil:
		return p.keyed.Partition(r, n)
	case p.spread:
		return int(p.next.Add(1) % uint64(n))
	default:
		return p.hash(n)
	}
}

// fixedPartition puts every record on partition 0.
type fixedPartition struct{}

func (fixedPartition) RequiresConsistency(*kgo.Record) bool { return true }
func (fixedPartition) Partition(*kgo.Record, int) int       { return 0 }

// murmur2Partition returns the partition Kafka's key hashing gives b among
// n partitions, using kgo's hasher through a key-only record.
func murmur2Partition(b []byte) func(n int) int {
	tp := kgo.StickyKeyPartitioner(nil).ForTopic("")
	r := &kgo.Record{Key: b}
	return func(n int) int { return tp.Partition(r, n) }
}
