package redis

import (
	"context"
	"fmt"
	"strconv"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/format"
)

// Field names of a stream entry besides the format's headers.
const (
	FieldOp       = "op"
	FieldDB       = "db"
	FieldTable    = "table"
	FieldPosition = "pos"
	FieldKey      = "key"
	FieldValue    = "value"
)

// Boxed constants of the commands.
var (
	argXADD     any = "XADD"
	argPUBLISH  any = "PUBLISH"
	argMAXLEN   any = "MAXLEN"
	argApprox   any = "~"
	argAutoID   any = "*"
	argOp       any = FieldOp
	argDB       any = FieldDB
	argTable    any = FieldTable
	argPosition any = FieldPosition
	argKey      any = FieldKey
	argValue    any = FieldValue
	argStream   any = "stream"
	opArgs          = func() [32]any {
		var a [32]any
		for op := range a {
			a[op] = change.Op(op).String()
		}
		return a
	}()
)

// route is where the messages of one namespace go.
type route struct {
	name      string // stream or channel
	db, table string
}

// messageWriter writes stream and pubsub mode: the messages the output
// format makes of each change, XADDed to the stream or PUBLISHed on the
// channel of its table (or the format's topic hint).
type messageWriter struct {
	cfg    *Config
	stream bool
	f      format.Encoder
	msgs   format.Batch
	routes map[change.Namespace]*route
	hints  map[string]*string // topic hints, boxed once
	maxLen any
	seen   map[string]bool // streams checked in the running call
}

func newMessageWriter(cfg *Config) (*messageWriter, error) {
	f, err := format.New(cfg.Format, format.Target{Headers: cfg.Mode == ModeStream})
	if err != nil {
		return nil, err
	}
	w := &messageWriter{cfg: cfg, stream: cfg.Mode == ModeStream, f: f,
		routes: map[change.Namespace]*route{}, hints: map[string]*string{}, seen: map[string]bool{}}
	if cfg.MaxLen > 0 {
		w.maxLen = strconv.FormatInt(cfg.MaxLen, 10)
	}
	return w, nil
}

// routeOf returns c's route: begin and commit events go to
// {prefix}:transaction, a DDL without a table to {prefix}.
func (w *messageWriter) routeOf(c *change.Change) *route {
	ns := c.Namespace
	switch {
	case c.Op == change.OpBegin || c.Op == change.OpCommit:
		ns = change.Namespace{Table: "\x00transaction"}
	case ns.Table == "":
		ns = change.Namespace{Database: ns.Database, Table: "\x00ddl"}
	}
	if rt, ok := w.routes[ns]; ok {
		return rt
	}
	tmpl := w.cfg.Stream
	if !w.stream {
		tmpl = w.cfg.Channel
	}
	var name string
	switch ns.Table {
	case "\x00transaction":
		name = w.cfg.Prefix + ":transaction"
	case "\x00ddl":
		name = w.cfg.Prefix
	default:
		name = expand(tmpl, w.cfg.Prefix, ns)
	}
	rt := &route{name: name, db: c.Database, table: c.Table}
	w.routes[ns] = rt
	return rt
}

// hint returns the boxed name of a topic hint.
func (w *messageWriter) hint(topic string) *string {
	if h, ok := w.hints[topic]; ok {
		return h
	}
	h := &topic
	w.hints[topic] = h
	return h
}

// build adds a command per message of every change of batch[from:]
// (heartbeats and tombstones give none).
func (w *messageWriter) build(_ context.Context, s *Sink, batch []change.Change, from int) (int, error) {
	w.msgs.Reset()
	clear(w.seen)
	a := &s.cmd
	for i := from; i < len(batch); i++ {
		c := &batch[i]
		if c.Op == change.OpHeartbeat {
			continue
		}
		first := w.msgs.Len()
		if err := w.f.Encode(&w.msgs, c); err != nil {
			return 0, fmt.Errorf("redis: %w", err)
		}
		if w.msgs.Len() == first {
			continue
		}
		rt := w.routeOf(c)
		posMark := -1
		for j := first; j < w.msgs.Len(); j++ {
			m := &w.msgs.Messages[j]
			if m.Value == nil {
				continue // a tombstone: nothing to compact here
			}
			name := &rt.name
			if m.Topic != "" {
				name = w.hint(m.Topic)
			}
			a.open()
			if !w.stream {
				a.lit(argPUBLISH)
				a.lit(name)
				a.direct(m.Value)
				a.close()
				continue
			}
			if !w.seen[*name] {
				w.seen[*name] = true
				s.check(*name, "stream")
			}
			a.lit(argXADD)
			a.lit(name)
			if w.maxLen != nil {
				a.lit(argMAXLEN)
				a.lit(argApprox)
				a.lit(w.maxLen)
			}
			a.lit(argAutoID)
			a.lit(argOp)
			a.lit(opArgs[c.Op&31])
			a.lit(argDB)
			a.lit(&rt.db)
			a.lit(argTable)
			a.lit(&rt.table)
			a.lit(argPosition)
			if posMark < 0 {
				posMark = len(a.list)
				off := len(a.buf)
				a.buf = c.Pos.Append(a.buf)
				a.list = append(a.list, arg{off: off, end: len(a.buf)})
			} else {
				a.list = append(a.list, a.list[posMark])
			}
			if m.Key != nil {
				a.lit(argKey)
				a.direct(m.Key)
			}
			a.lit(argValue)
			a.direct(m.Value)
			for _, h := range m.Headers {
				a.str(h.Key)
				a.direct(h.Value)
			}
			a.close()
		}
	}
	return len(batch), nil
}

// alone is never called: build takes every change.
func (w *messageWriter) alone(context.Context, *Sink, *change.Change) error { return nil }
