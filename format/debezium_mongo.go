package format

import (
	"strings"

	"github.com/sluice-cdc/sluice/change"
)

// mongoData writes a MongoDB insert, update or delete as Debezium's
// MongoDB connector does: documents as extended JSON strings in before
// and after, an update's description in updateDescription, the key
// {"id": "<_id as extended JSON>"}.
func (e *debeziumEncoder) mongoData(b *Batch, c *change.Change) error {
	idCol := -1
	for i, col := range c.Columns {
		if col.Name == "_id" || (idCol < 0 && col.Key) {
			idCol = i
		}
	}
	e.txBegin(b, c)
	p := pending{key: none, hdrs: len(b.hdrs)}
	if idCol >= 0 {
		var id *change.Value
		if idCol < len(c.After) && c.After[idCol].Present() {
			id = &c.After[idCol]
		} else if idCol < len(c.Before) {
			id = &c.Before[idCol]
		}
		if id != nil {
			start := len(b.buf)
			if e.opt.schemas {
				b.buf = append(b.buf, `{"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"}],"optional":false,"name":"`...)
				b.buf = e.appendCollName(b.buf, c)
				b.buf = append(b.buf, `.Key"},"payload":`...)
			}
			b.buf = append(b.buf, `{"id":`...)
			e.tmp = appendExtJSON(e.tmp[:0], id)
			b.buf = appendString(b.buf, e.tmp)
			b.buf = append(b.buf, '}')
			if e.opt.schemas {
				b.buf = append(b.buf, '}')
			}
			p.key = span{start, len(b.buf)}
		}
	}
	start := len(b.buf)
	if e.opt.schemas {
		b.buf = append(b.buf, `{"schema":{"type":"struct","fields":[{"type":"string","optional":true,"name":"io.debezium.data.Json","version":1,"field":"before"},{"type":"string","optional":true,"name":"io.debezium.data.Json","version":1,"field":"after"},`...)
		b.buf = append(b.buf, mongoUpdateDescriptionSchema...)
		b.buf = append(b.buf, ',')
		b.buf = appendSourceSchema(b.buf, "mongodb")
		b.buf = append(b.buf, ',')
		b.buf = append(b.buf, txBlockSchema...)
		b.buf = append(b.buf, envelopeTail...)
		b.buf = append(b.buf, `],"optional":false,"name":"`...)
		b.buf = e.appendCollName(b.buf, c)
		b.buf = append(b.buf, `.Envelope"},"payload":`...)
	}
	b.buf = append(b.buf, `{"before":`...)
	b.buf = e.appendMongoDoc(b.buf, c, c.Before, false)
	b.buf = append(b.buf, `,"after":`...)
	b.buf = e.appendMongoDoc(b.buf, c, c.After, c.Op == change.OpUpdate)
	b.buf = append(b.buf, `,"updateDescription":`...)
	b.buf = e.appendUpdateDescription(b.buf, c)
	b.buf = append(b.buf, `,"source":`...)
	b.buf = e.appendSource(b.buf, c)
	b.buf = append(b.buf, `,"transaction":`...)
	b.buf = e.appendTxBlock(b.buf, c)
	b.buf = append(b.buf, `,"op":"`...)
	switch c.Op {
	case change.OpInsert:
		b.buf = append(b.buf, 'c')
	case change.OpUpdate:
		b.buf = append(b.buf, 'u')
	case change.OpRead:
		b.buf = append(b.buf, 'r')
	default:
		b.buf = append(b.buf, 'd')
	}
	b.buf = append(b.buf, '"')
	b.buf = appendProcessingTimes(b.buf, c)
	b.buf = append(b.buf, '}')
	if e.opt.schemas {
		b.buf = append(b.buf, '}')
	}
	p.value = span{start, len(b.buf)}
	b.add(p)
	if c.Op == change.OpDelete && e.opt.tombstones && p.key != none {
		b.add(pending{key: p.key, value: none, hdrs: len(b.hdrs)})
	}
	return nil
}

const mongoUpdateDescriptionSchema = `{"type":"struct","fields":[{"type":"array","items":{"type":"string","optional":false},"optional":true,"field":"removedFields"},{"type":"string","optional":true,"name":"io.debezium.data.Json","version":1,"field":"updatedFields"},{"type":"array","items":{"type":"struct","fields":[{"type":"string","optional":false,"field":"field"},{"type":"int32","optional":false,"field":"size"}],"optional":false,"name":"io.debezium.connector.mongodb.changestream.truncatedarray","version":1},"optional":true,"field":"truncatedArrays"}],"optional":true,"name":"io.debezium.connector.mongodb.changestream.updatedescription","version":1,"field":"updateDescription"}`

// appendCollName appends "<prefix>.<db>.<collection>" as an Avro name.
func (e *debeziumEncoder) appendCollName(dst []byte, c *change.Change) []byte {
	dst = avroName(dst, e.opt.topicPrefix)
	dst = append(dst, '.')
	dst = avroName(dst, c.Database)
	dst = append(dst, '.')
	return avroName(dst, c.Table)
}

// isDescriptionColumn reports whether a column is one of the update
// description columns of Sluice's MongoDB source ($updatedFields, …).
func isDescriptionColumn(name string) bool {
	return strings.HasPrefix(name, "$")
}

// appendMongoDoc appends a document image as an extended JSON string, or
// null for none. With partial set (an update's after image), an image
// that holds only _id and the update description is no document: null.
func (e *debeziumEncoder) appendMongoDoc(dst []byte, c *change.Change, img []change.Value, partial bool) []byte {
	if img == nil {
		return append(dst, "null"...)
	}
	if partial {
		full := false
		for i := range img {
			if i < len(c.Columns) && img[i].Present() && c.Columns[i].Name != "_id" && !isDescriptionColumn(c.Columns[i].Name) {
				full = true
				break
			}
		}
		if !full {
			return append(dst, "null"...)
		}
	}
	e.tmp = append(e.tmp[:0], '{')
	n := 0
	for i := range img {
		if !img[i].Present() || i >= len(c.Columns) || isDescriptionColumn(c.Columns[i].Name) {
			continue
		}
		if n > 0 {
			e.tmp = append(e.tmp, ", "...)
		}
		n++
		e.tmp = appendString(e.tmp, c.Columns[i].Name)
		e.tmp = append(e.tmp, ": "...)
		e.tmp = appendExtJSON(e.tmp, &img[i])
	}
	e.tmp = append(e.tmp, '}')
	return appendString(dst, e.tmp)
}

// appendUpdateDescription appends an update's description (change streams:
// updateDescription) from the $ columns of the after image, or null.
func (e *debeziumEncoder) appendUpdateDescription(dst []byte, c *change.Change) []byte {
	var updated, removed, truncated *change.Value
	for i := range c.After {
		if i >= len(c.Columns) || !c.After[i].Present() {
			continue
		}
		switch c.Columns[i].Name {
		case "$updatedFields":
			updated = &c.After[i]
		case "$removedFields":
			removed = &c.After[i]
		case "$truncatedArrays":
			truncated = &c.After[i]
		}
	}
	if updated == nil && removed == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, `{"removedFields":`...)
	if removed == nil || len(removed.Elems) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range removed.Elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, removed.Elems[i].B)
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"updatedFields":`...)
	if updated == nil {
		dst = append(dst, "null"...)
	} else {
		e.tmp = appendExtJSON(e.tmp[:0], updated)
		dst = appendString(dst, e.tmp)
	}
	dst = append(dst, `,"truncatedArrays":`...)
	if truncated == nil || len(truncated.Elems) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range truncated.Elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			t := &truncated.Elems[i]
			dst = append(dst, `{"field":`...)
			dst = appendMongoField(dst, t, "field")
			dst = append(dst, `,"size":`...)
			dst = appendMongoField(dst, t, "newSize")
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// appendMongoField appends the named field of a document value as plain
// JSON (a string or a number), null when it is missing.
func appendMongoField(dst []byte, doc *change.Value, name string) []byte {
	for i := range doc.Elems {
		if i < len(doc.Names) && doc.Names[i] == name {
			v := &doc.Elems[i]
			switch v.Kind {
			case change.KindString:
				return appendString(dst, v.B)
			case change.KindInt:
				return appendInt(dst, v.I)
			}
			return appendExtJSON(dst, v)
		}
	}
	return append(dst, "null"...)
}
