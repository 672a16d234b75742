package format

import (
	"github.com/sluice-cdc/sluice/change"
)

// Header is one message header: a Kafka record header, a NATS or HTTP
// header.
type Header struct {
	Key   string
	Value []byte
}

// Message is one message an Encoder yields for a change.
type Message struct {
	// Key identifies the row, in the format's own shape (Debezium's key
	// message, {"id":42} for Sluice JSON), for sinks that partition or
	// compact by key: all the changes of one row get the same Key. It is
	// nil when there is nothing to key by (a table without a key, a
	// heartbeat); a sink then picks its own partitioning.
	Key []byte
	// Value is the message. Nil is a tombstone: no value, for a compacted
	// topic to drop the key (Debezium writes one after each delete). Sinks
	// without keys skip tombstones.
	Value []byte
	// Headers are the format's own headers (CloudEvents' ce_* in binary
	// mode); a sink adds its own after them.
	Headers []Header
	// Topic, when not empty, names the topic (subject, stream) the message
	// belongs in instead of the one the sink picks for the change:
	// Debezium's transaction metadata goes to "<topic.prefix>.transaction",
	// its schema changes to "<topic.prefix>". Sinks without topics ignore
	// it.
	Topic string
}

// Batch collects the messages of one or more changes. The Messages' bytes
// and Headers live in the Batch's buffers and stay valid until Reset, so a
// sink can encode a whole batch of changes, hand the messages to a client
// that sends them later, and Reset once they are acknowledged. The zero
// Batch is ready to use; a Batch reused through Reset does not allocate
// once its buffers have grown to the size of its batches.
type Batch struct {
	// Messages are the messages in the order their changes were encoded.
	Messages []Message
	buf      []byte
	hdrs     []Header
}

// maxKeep is the buffer size past which Reset lets a buffer go, so that
// one huge batch does not pin its memory for the life of the sink.
const maxKeep = 16 << 20

// Reset empties b for reuse. The Messages of b must no longer be used.
func (b *Batch) Reset() {
	clear(b.Messages) // drop references into buffers that may be let go
	b.Messages = b.Messages[:0]
	if cap(b.buf) > maxKeep {
		b.buf = nil
	}
	b.buf = b.buf[:0]
	if cap(b.hdrs) > maxKeep/32 {
		b.hdrs = nil
	}
	clear(b.hdrs)
	b.hdrs = b.hdrs[:0]
}

// Len returns the number of messages in b.
func (b *Batch) Len() int { return len(b.Messages) }

// Size returns the bytes of keys and values b holds.
func (b *Batch) Size() int { return len(b.buf) }

// mark is where a Batch was before an Encode, to roll back to on error:
// its buffers as they were (an encoder that failed halfway may have
// replaced them; what they held before the mark is unchanged).
type mark struct {
	msgs int
	buf  []byte
	hdrs []Header
}

func (b *Batch) mark() mark { return mark{len(b.Messages), b.buf, b.hdrs} }

// rollback drops what was added since m.
func (b *Batch) rollback(m mark) {
	clear(b.Messages[m.msgs:])
	b.Messages = b.Messages[:m.msgs]
	b.buf = m.buf
	b.hdrs = m.hdrs
}

// span is a region of b.buf, turned into a slice only once nothing more
// is appended for the message (appending may move the buffer; slices of
// the old one would stay valid, but keep a dead copy alive).
type span struct{ start, end int }

// none is the span of a nil key or value.
var none = span{-1, -1}

func (b *Batch) bytes(s span) []byte {
	if s.start < 0 {
		return nil
	}
	return b.buf[s.start:s.end:s.end]
}

// pending is a message being built: spans into buf and a range of hdrs.
type pending struct {
	key, value span
	hdrs       int // start of its headers in b.hdrs
	topic      string
}

// add records a message whose headers are b.hdrs[p.hdrs:].
func (b *Batch) add(p pending) {
	var h []Header
	if len(b.hdrs) > p.hdrs {
		h = b.hdrs[p.hdrs:len(b.hdrs):len(b.hdrs)]
	}
	b.Messages = append(b.Messages, Message{Key: b.bytes(p.key), Value: b.bytes(p.value), Headers: h, Topic: p.topic})
}

// addValue records a message with no key, headers or topic.
func (b *Batch) addValue(value span) {
	b.Messages = append(b.Messages, Message{Value: b.bytes(value)})
}

// Encoder turns changes into messages. An Encoder keeps state between
// changes (caches of column names, Debezium's transaction counters), so it
// is not safe for concurrent use: keep one per sink.
type Encoder interface {
	// Encode appends the messages of c to b: zero or more (a data change
	// gives one message, a Debezium delete two, a begin in a format
	// without transaction events none). It returns an error, leaving b as
	// it was, when c holds a value the format cannot carry and the format
	// is configured to refuse such values; the error names the table,
	// column and value.
	Encode(b *Batch, c *change.Change) error
}

// AppendLines appends the value of every message of b followed by a
// newline: the form line sinks (stdout, file) write. Tombstones are left
// out; keys, headers and topics are dropped. Every format's values are
// single-line JSON, so each message is one line.
func AppendLines(dst []byte, b *Batch) []byte {
	for i := range b.Messages {
		m := &b.Messages[i]
		if m.Value == nil {
			continue
		}
		dst = append(dst, m.Value...)
		dst = append(dst, '\n')
	}
	return dst
}
