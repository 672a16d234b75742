package format

import (
	"errors"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/change"
)

// cloudEventsOptions are the parameters of the cloudevents format.
type cloudEventsOptions struct {
	mode       string // structured or binary
	source     string // the events' source attribute ("": /sluice/<source>)
	typePrefix string
}

func parseCloudEvents(p *address.Params) (options, error) {
	o := &cloudEventsOptions{mode: "structured", typePrefix: "io.sluice.change."}
	p.Enum("mode", &o.mode, "structured", "binary")
	p.String("source", &o.source)
	p.String("type.prefix", &o.typePrefix)
	return o, p.Err()
}

func (o *cloudEventsOptions) beginCommit() bool { return false }

func (o *cloudEventsOptions) encoder(t Target) (Encoder, error) {
	if o.mode == "binary" && !t.Headers {
		return nil, errors.New("mode=binary puts the event's attributes in message headers, and this sink has none: use mode=structured")
	}
	return &cloudEventsEncoder{opt: *o}, nil
}

// cloudEventsEncoder writes each change as a CloudEvents 1.0 event whose
// data is the change in Sluice JSON: in structured mode one JSON event; in
// binary mode the data as the message and the attributes as ce_ headers
// (the CloudEvents Kafka protocol binding).
type cloudEventsEncoder struct {
	opt cloudEventsOptions
	enc change.Encoder
}

func (e *cloudEventsEncoder) Encode(b *Batch, c *change.Change) error {
	if e.opt.mode == "binary" {
		e.binary(b, c)
		return nil
	}
	p := pending{key: none, hdrs: len(b.hdrs)}
	start := len(b.buf)
	dst := append(b.buf, `{"specversion":"1.0","id":`...)
	dst = e.appendID(dst, c)
	dst = append(dst, `,"source":`...)
	dst = e.appendSource(dst, c)
	dst = append(dst, `,"type":`...)
	dst = e.appendType(dst, c)
	if c.Database != "" || c.Table != "" {
		dst = append(dst, `,"subject":`...)
		dst = appendSubject(dst, c)
	}
	if !c.CommitTime.IsZero() {
		dst = append(dst, `,"time":"`...)
		dst = appendRFC3339(dst, c.CommitTime)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"datacontenttype":"application/json","data":`...)
	var ks, ke int
	dst, ks, ke = e.enc.AppendKeyed(dst, c)
	b.buf = append(dst, '}')
	if ke > ks {
		p.key = span{ks, ke}
	}
	p.value = span{start, len(b.buf)}
	b.add(p)
	return nil
}

// binary writes the event in binary mode: Sluice JSON as the message,
// the attributes as headers holding their plain text (header values are
// bytes, not JSON).
func (e *cloudEventsEncoder) binary(b *Batch, c *change.Change) {
	p := pending{key: none, hdrs: len(b.hdrs)}
	header := func(key string, start int) {
		b.hdrs = append(b.hdrs, Header{Key: key, Value: b.buf[start:len(b.buf):len(b.buf)]})
	}
	// Header values are written unquoted: JSON strings' bodies would
	// escape, so each is written as a JSON string and its quotes dropped.
	start := len(b.buf)
	b.buf = append(b.buf, "1.0"...)
	header("ce_specversion", start)
	start = len(b.buf)
	b.buf = change.AppendPosition(b.buf, eventPosition(c.Pos))
	b.buf = append(b.buf, '/')
	b.buf = append(b.buf, c.Op.String()...)
	header("ce_id", start)
	start = len(b.buf)
	if e.opt.source != "" {
		b.buf = append(b.buf, e.opt.source...)
	} else {
		b.buf = append(b.buf, "/sluice/"...)
		b.buf = append(b.buf, c.Source...)
	}
	header("ce_source", start)
	start = len(b.buf)
	b.buf = append(b.buf, e.opt.typePrefix...)
	b.buf = append(b.buf, c.Op.String()...)
	header("ce_type", start)
	if c.Database != "" || c.Table != "" {
		start = len(b.buf)
		b.buf = append(b.buf, c.Database...)
		if c.Database != "" && c.Table != "" {
			b.buf = append(b.buf, '.')
		}
		b.buf = append(b.buf, c.Table...)
		header("ce_subject", start)
	}
	if !c.CommitTime.IsZero() {
		start = len(b.buf)
		b.buf = appendRFC3339(b.buf, c.CommitTime)
		header("ce_time", start)
	}
	start = len(b.buf)
	b.buf = append(b.buf, "application/json"...)
	header("content-type", start)
	start = len(b.buf)
	var ks, ke int
	b.buf, ks, ke = e.enc.AppendKeyed(b.buf, c)
	if ke > ks {
		p.key = span{ks, ke}
	}
	p.value = span{start, len(b.buf)}
	b.add(p)
}

// appendID appends the event id: the change's position and operation,
// "binlog:mysql-bin.000003:1234#1/update": unique for a source, and the
// same when a change is delivered again, so consumers can drop repeats.
func (e *cloudEventsEncoder) appendID(dst []byte, c *change.Change) []byte {
	dst = append(dst, '"')
	start := len(dst)
	dst = change.AppendPosition(dst, eventPosition(c.Pos))
	dst = append(dst, '/')
	dst = append(dst, c.Op.String()...)
	return escapeInPlace(dst, start)
}

// eventPosition is the part of a position that names a change: without
// the executed GTID set and resume token, which are where the source
// stands, not which change it is.
func eventPosition(p change.Position) change.Position {
	p.GTIDSet, p.Token = "", ""
	return p
}

// appendSource appends the source attribute: the source option, or
// "/sluice/<source>" ("/sluice/mysql").
func (e *cloudEventsEncoder) appendSource(dst []byte, c *change.Change) []byte {
	if e.opt.source != "" {
		return appendString(dst, e.opt.source)
	}
	dst = append(dst, `"/sluice/`...)
	dst, _ = appendStrBody(dst, c.Source)
	return append(dst, '"')
}

// appendType appends the type attribute: type.prefix and the operation,
// "io.sluice.change.insert".
func (e *cloudEventsEncoder) appendType(dst []byte, c *change.Change) []byte {
	dst = append(dst, '"')
	dst, _ = appendStrBody(dst, e.opt.typePrefix)
	dst = append(dst, c.Op.String()...)
	return append(dst, '"')
}

// appendSubject appends "db.table" (or whichever of the two is set) as a
// JSON string.
func appendSubject(dst []byte, c *change.Change) []byte {
	dst = append(dst, '"')
	dst = appendSubjectBody(dst, c)
	return append(dst, '"')
}

func appendSubjectBody(dst []byte, c *change.Change) []byte {
	dst, _ = appendStrBody(dst, c.Database)
	if c.Database != "" && c.Table != "" {
		dst = append(dst, '.')
	}
	dst, _ = appendStrBody(dst, c.Table)
	return dst
}

// appendRFC3339 appends t in UTC, RFC 3339 with the fraction it needs.
func appendRFC3339(dst []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(dst, time.RFC3339Nano)
}

// escapeInPlace closes the JSON string opened before start, escaping the
// text written from start on (position text may hold '"' or '\').
func escapeInPlace(dst []byte, start int) []byte {
	for i := start; i < len(dst); i++ {
		if c := dst[i]; c == '"' || c == '\\' || c < 0x20 {
			// Rare: rewrite the tail escaped.
			tail := append([]byte(nil), dst[start:]...)
			dst, _ = appendStrBody(dst[:start], tail)
			break
		}
	}
	return append(dst, '"')
}
