package format

import (
	"fmt"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/canal"
	"github.com/sluice-cdc/sluice/change"
)

// canalOptions are the parameters of the canal-json format.
type canalOptions struct {
	zone   *time.Location
	strict bool
}

func parseCanal(p *address.Params) (options, error) {
	o := &canalOptions{zone: time.UTC}
	var zone string
	p.String("time.zone", &zone)
	p.Bool("strict", &o.strict)
	if err := p.Err(); err != nil {
		return nil, err
	}
	if zone != "" {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			return nil, fmt.Errorf("parameter time.zone=%q: want an IANA time zone such as UTC or Asia/Shanghai", zone)
		}
		o.zone = loc
	}
	return o, nil
}

func (o *canalOptions) beginCommit() bool { return false }

func (o *canalOptions) encoder(Target) (Encoder, error) { return &canalEncoder{opt: *o}, nil }

// canalEncoder writes Canal's flat message, as Canal's MQ mode
// (canal.mq.flatMessage=true) sends it to Kafka or RocketMQ: one message
// per change, every value the text Canal gives it — the same text and
// sqlType as Sluice's Canal server (package canal) sends in its entries.
type canalEncoder struct {
	opt       canalOptions
	tmp, prev []byte
}

func (e *canalEncoder) Encode(b *Batch, c *change.Change) error {
	m := b.mark()
	var err error
	switch c.Op {
	case change.OpInsert, change.OpUpdate, change.OpDelete:
		err = e.row(b, c)
	case change.OpBegin, change.OpCommit, change.OpHeartbeat:
		// Canal's MQ mode sends no transaction entries.
	default: // DDL, truncate, statement
		e.query(b, c)
	}
	if err != nil {
		b.rollback(m)
		return changeError("canal-json", c, err)
	}
	return nil
}

// canalHeader appends the members every flat message starts with, up to
// sql.
func canalHeader(dst []byte, c *change.Change, pk bool, ddl bool, typ string) []byte {
	dst = append(dst, `{"id":0,"database":`...)
	dst = appendString(dst, c.Database)
	dst = append(dst, `,"table":`...)
	dst = appendString(dst, c.Table)
	dst = append(dst, `,"pkNames":`...)
	if pk {
		dst = append(dst, '[')
		n := 0
		for i := range c.Columns {
			if c.Columns[i].Key {
				if n > 0 {
					dst = append(dst, ',')
				}
				n++
				dst = appendString(dst, c.Columns[i].Name)
			}
		}
		dst = append(dst, ']')
	} else {
		dst = append(dst, "null"...)
	}
	if ddl {
		dst = append(dst, `,"isDdl":true,"type":"`...)
	} else {
		dst = append(dst, `,"isDdl":false,"type":"`...)
	}
	dst = append(dst, typ...)
	dst = append(dst, `","es":`...)
	dst = appendMillis(dst, c)
	dst = append(dst, `,"ts":`...)
	t := c.ReadTime
	if t.IsZero() {
		t = c.CommitTime
	}
	return appendInt(dst, t.UnixMilli())
}

// row writes an insert, update or delete.
func (e *canalEncoder) row(b *Batch, c *change.Change) error {
	p := pending{key: none, hdrs: len(b.hdrs)}
	pk := hasKey(c)
	if pk {
		start := len(b.buf)
		b.buf = append(b.buf, '{')
		n := 0
		for i := range c.Columns {
			if !c.Columns[i].Key {
				continue
			}
			if n > 0 {
				b.buf = append(b.buf, ',')
			}
			n++
			b.buf = appendColumnKey(b.buf, c, i)
			b.buf, _ = e.appendValue(b.buf, c, keyValue(c, i))
		}
		b.buf = append(b.buf, '}')
		p.key = span{start, len(b.buf)}
	}
	start := len(b.buf)
	typ, _, _ := canal.EventType(c)
	img := c.After
	if c.Op == change.OpDelete {
		img = c.Before
	}
	dst := canalHeader(b.buf, c, pk, false, typ)
	dst = append(dst, `,"sql":"","sqlType":{`...)
	sep := false
	for i := range img {
		if !inRow(img, i) || i >= len(c.Columns) {
			continue
		}
		if sep {
			dst = append(dst, ',')
		}
		sep = true
		dst = appendColumnKey(dst, c, i)
		dst = appendInt(dst, int64(canal.ColumnSQLType(c.Source, &c.Columns[i], &img[i])))
	}
	dst = append(dst, `},"mysqlType":{`...)
	sep = false
	for i := range img {
		if !inRow(img, i) || i >= len(c.Columns) {
			continue
		}
		if sep {
			dst = append(dst, ',')
		}
		sep = true
		dst = appendColumnKey(dst, c, i)
		dst = appendString(dst, c.Columns[i].Type)
	}
	dst = append(dst, `},"data":[{`...)
	sep = false
	for i := range img {
		if !inRow(img, i) || i >= len(c.Columns) {
			continue
		}
		if sep {
			dst = append(dst, ',')
		}
		sep = true
		dst = appendColumnKey(dst, c, i)
		var why string
		if dst, why = e.appendValue(dst, c, &img[i]); why != "" && e.opt.strict {
			return inexactError(c, i, &img[i], why)
		}
	}
	dst = append(dst, `}],"old":`...)
	wroteOld := false
	if c.Op == change.OpUpdate && len(c.Before) > 0 {
		mark := len(dst)
		dst = append(dst, `[{`...)
		sep = false
		for i := range c.Before {
			if !inRow(c.Before, i) || i >= len(c.Columns) || !e.updated(c, i) {
				continue
			}
			if sep {
				dst = append(dst, ',')
			}
			sep = true
			dst = appendColumnKey(dst, c, i)
			var why string
			if dst, why = e.appendValue(dst, c, &c.Before[i]); why != "" && e.opt.strict {
				return inexactError(c, i, &c.Before[i], why)
			}
		}
		if sep {
			dst = append(dst, "}]"...)
			wroteOld = true
		} else {
			dst = dst[:mark]
		}
	}
	if !wroteOld {
		dst = append(dst, "null"...)
	}
	b.buf = append(dst, '}')
	p.value = span{start, len(b.buf)}
	b.add(p)
	return nil
}

// inRow reports whether column i is part of the image: present and sent
// (Canal has no unchanged values; an unchanged TOAST column is left out).
func inRow(img []change.Value, i int) bool {
	return i < len(img) && img[i].Present() && img[i].Kind != change.KindUnchanged
}

// updated reports whether column i of an update changed, as Canal decides
// a column's updated flag: its after text differs from its before text
// (or one of them is NULL and the other not).
func (e *canalEncoder) updated(c *change.Change, i int) bool {
	if !inRow(c.After, i) {
		return false
	}
	before, after := &c.Before[i], &c.After[i]
	if before.IsNull() || after.IsNull() {
		return before.IsNull() != after.IsNull()
	}
	e.prev = canal.ColumnText(e.prev[:0], c.Source, before, e.opt.zone)
	e.tmp = canal.ColumnText(e.tmp[:0], c.Source, after, e.opt.zone)
	return string(e.prev) != string(e.tmp)
}

// query writes a DDL change, a truncate or a statement-based change with
// the event type, isDdl and SQL Canal gives it.
func (e *canalEncoder) query(b *Batch, c *change.Change) {
	start := len(b.buf)
	typ, ddl, sql := canal.EventType(c)
	dst := canalHeader(b.buf, c, false, ddl, typ)
	dst = append(dst, `,"sql":`...)
	dst = appendString(dst, sql)
	b.buf = append(dst, `,"sqlType":null,"mysqlType":null,"data":null,"old":null}`...)
	b.addValue(span{start, len(b.buf)})
}

// appendValue appends v as Canal's text (a JSON string, or null) and
// returns why it is inexact ("" when exact).
func (e *canalEncoder) appendValue(dst []byte, c *change.Change, v *change.Value) ([]byte, string) {
	if v.Kind == change.KindNull || !v.Present() || v.Kind == change.KindUnchanged {
		return append(dst, "null"...), ""
	}
	e.tmp = canal.ColumnText(e.tmp[:0], c.Source, v, e.opt.zone)
	out, ok := appendStr(dst, e.tmp)
	if !ok {
		return out, "not UTF-8: the bytes that are not are written as U+FFFD"
	}
	return out, ""
}
