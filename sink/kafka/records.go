package kafka

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/format"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Header names of every record (unless Config.NoHeaders).
const (
	HeaderOp       = "op"
	HeaderDB       = "db"
	HeaderTable    = "table"
	HeaderPosition = "position"
)

// maxTopicLen is Kafka's longest topic name.
const maxTopicLen = 249

// checkTopicName reports whether Kafka accepts name as a topic.
func checkTopicName(name string) error {
	switch {
	case name == "":
		return errors.New("empty topic name")
	case name == "." || name == "..":
		return fmt.Errorf("topic name %q is not allowed", name)
	case len(name) > maxTopicLen:
		return fmt.Errorf("topic name %.40q… is longer than %d characters", name, maxTopicLen)
	}
	for i := 0; i < len(name); i++ {
		if !topicChar(name[i]) {
			return fmt.Errorf("topic name %q: Kafka allows only letters, digits, '.', '_' and '-'", name)
		}
	}
	return nil
}

func topicChar(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '.' || b == '_' || b == '-'
}

// topicName expands the template for one namespace, replacing characters
// Kafka does not allow with '_' and cutting the name to Kafka's limit.
func topicName(template, prefix string, ns change.Namespace) string {
	s := strings.NewReplacer("{prefix}", prefix, "{db}", ns.Database, "{table}", ns.Table).Replace(template)
	b := []byte(s)
	for i, c := range b {
		if !topicChar(c) {
			b[i] = '_'
		}
	}
	if len(b) > maxTopicLen {
		b = b[:maxTopicLen]
	}
	if s := string(b); s != "." && s != ".." && s != "" {
		return s
	}
	return "_"
}

// route is where the changes of one namespace go.
type route struct {
	topic     string
	db, table []byte // header values
	keyless   bool   // noted once: the table has no key columns
}

// router maps namespaces to routes, remembering the last one (the changes
// of a batch mostly come from one table).
type router struct {
	cfg    *Config
	routes map[change.Namespace]*route
	lastNS change.Namespace
	last   *route
}

func newRouter(cfg *Config) *router {
	return &router{cfg: cfg, routes: map[change.Namespace]*route{}}
}

// routeOf returns c's route and whether it is new. Begin and commit
// events go to {prefix}.transaction, a DDL without a table to {prefix}.
func (r *router) routeOf(c *change.Change) (*route, bool) {
	ns := c.Namespace
	switch {
	case c.Op == change.OpBegin || c.Op == change.OpCommit:
		ns = change.Namespace{Table: "\x00transaction"}
	case ns.Table == "":
		ns = change.Namespace{Database: ns.Database, Table: "\x00ddl"}
	}
	if r.last != nil && ns == r.lastNS {
		return r.last, false
	}
	rt, ok := r.routes[ns]
	if !ok {
		var topic string
		switch ns.Table {
		case "\x00transaction":
			topic = topicName("{prefix}.transaction", r.cfg.Prefix, change.Namespace{})
		case "\x00ddl":
			topic = topicName("{prefix}", r.cfg.Prefix, change.Namespace{})
		default:
			topic = topicName(r.cfg.Topic, r.cfg.Prefix, ns)
		}
		rt = &route{topic: topic, db: []byte(c.Database), table: []byte(c.Table)}
		r.routes[ns] = rt
	}
	r.lastNS, r.last = ns, rt
	return rt, !ok
}

// produced says whether a change becomes a record: heartbeats do not.
func produced(c *change.Change) bool { return c.Op != change.OpHeartbeat }

// opNames are the op header values, for every Op value (statement and
// read included; an Op is a byte, so no value indexes past the end).
var opNames = func() [256][]byte {
	var n [256][]byte
	for op := range n {
		n[op] = []byte(change.Op(op).String())
	}
	return n
}()

// span is a part of an encoder's position buffer.
type span struct{ off, end int }

// ownHeaders is the number of headers the sink adds to a record.
const ownHeaders = 4

// encoder builds the records of a batch with the format's encoder. Their
// bytes live in the format's Batch and the encoder's buffers, reused once
// the records are acknowledged, so a batch costs no allocation per change
// once the buffers have grown.
//
// The format's encoder f is shared by every encoder of a sink and used by
// one at a time, in the order of the changes (it keeps state across
// batches: Debezium's transaction counters); the buffers are each
// encoder's own, so the records of several batches can be in flight at
// once.
type encoder struct {
	cfg    *Config
	f      format.Encoder
	msgs   format.Batch
	pos    []byte // position header values
	recs   []kgo.Record
	hdrs   []kgo.RecordHeader
	spans  []span   // per message: its position in pos
	index  []int    // per message: the index of its change in the batch
	routes []*route // per change of the batch: its route
}

// reset prepares e for the next batch. When reuse is false the previous
// records may still be in flight: their buffers are left to them.
func (e *encoder) reset(reuse bool) {
	if reuse {
		e.msgs.Reset()
	} else {
		*e = encoder{cfg: e.cfg, f: e.f, routes: e.routes}
	}
	e.pos, e.spans, e.index = e.pos[:0], e.spans[:0], e.index[:0]
}

// encode fills e.recs with the records of batch, routed by e.routes.
func (e *encoder) encode(batch []change.Change) error {
	nh := 0
	for i := range batch {
		c := &batch[i]
		if !produced(c) {
			continue
		}
		first := e.msgs.Len()
		if err := e.f.Encode(&e.msgs, c); err != nil {
			return fmt.Errorf("kafka: %w", err)
		}
		p := len(e.pos)
		if !e.cfg.NoHeaders {
			e.pos = change.AppendPosition(e.pos, c.Pos)
		}
		for j := first; j < e.msgs.Len(); j++ {
			e.spans = append(e.spans, span{p, len(e.pos)})
			e.index = append(e.index, i)
			nh += len(e.msgs.Messages[j].Headers)
		}
	}
	e.build(batch, nh)
	return nil
}

// build fills e.recs with fresh records of the messages encoded for
// batch, whose format headers number nh (a failed transaction is retried
// with records built again, not with ones a client already handled).
func (e *encoder) build(batch []change.Change, nh int) {
	routes := e.routes
	n := e.msgs.Len()
	e.recs = growRecords(e.recs, n)
	if !e.cfg.NoHeaders {
		nh += ownHeaders * n
	}
	if cap(e.hdrs) < nh {
		e.hdrs = make([]kgo.RecordHeader, nh)
	}
	hdrs := e.hdrs[:nh]
	for j := range e.msgs.Messages {
		m := &e.msgs.Messages[j]
		c := &batch[e.index[j]]
		rt := routes[e.index[j]]
		rec := &e.recs[j]
		*rec = kgo.Record{Topic: rt.topic, Key: m.Key, Value: m.Value}
		if m.Topic != "" {
			rec.Topic = m.Topic
		}
		if !c.CommitTime.IsZero() {
			rec.Timestamp = c.CommitTime
		}
		k := len(m.Headers)
		if !e.cfg.NoHeaders {
			k += ownHeaders
		}
		if k == 0 {
			continue
		}
		h := hdrs[:k:k]
		hdrs = hdrs[k:]
		for i, fh := range m.Headers {
			h[i] = kgo.RecordHeader{Key: fh.Key, Value: fh.Value}
		}
		if !e.cfg.NoHeaders {
			o := h[len(m.Headers):]
			ps := e.spans[j]
			o[0] = kgo.RecordHeader{Key: HeaderOp, Value: opNames[c.Op]}
			o[1] = kgo.RecordHeader{Key: HeaderDB, Value: rt.db}
			o[2] = kgo.RecordHeader{Key: HeaderTable, Value: rt.table}
			o[3] = kgo.RecordHeader{Key: HeaderPosition, Value: e.pos[ps.off:ps.end:ps.end]}
		}
		rec.Headers = h
	}
}

// rebuild builds e's records again from its messages (see build).
func (e *encoder) rebuild(batch []change.Change) {
	nh := 0
	for j := range e.msgs.Messages {
		nh += len(e.msgs.Messages[j].Headers)
	}
	e.build(batch, nh)
}

// growRecords returns recs with length n, reallocated when too small.
func growRecords(recs []kgo.Record, n int) []kgo.Record {
	if cap(recs) < n {
		return make([]kgo.Record, n, n+n/4)
	}
	return recs[:n]
}

// describe names the change behind record j for an error: its op, table,
// message key and position.
func (e *encoder) describe(batch []change.Change, j int) string {
	c := &batch[e.index[j]]
	key := "(no key)"
	if k := e.recs[j].Key; k != nil {
		key = string(k)
	}
	return fmt.Sprintf("%s %s.%s key %s at %s", c.Op, c.Database, c.Table, key, c.Pos)
}
