package format

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/change"
)

// debeziumOptions are the parameters of the debezium format, named as
// Debezium names the connector properties that choose the same thing.
type debeziumOptions struct {
	schemas          bool   // schemas: key and value with their Kafka Connect schema
	tombstones       bool   // tombstones.on.delete
	decimal          string // decimal.handling.mode: precise, string, double
	timePrecision    string // time.precision.mode: "" (the connector's default), adaptive, adaptive_time_microseconds, connect
	binary           string // binary.handling.mode: bytes, base64, base64-url-safe, hex
	bigintUnsigned   string // bigint.unsigned.handling.mode: long, precise
	interval         string // interval.handling.mode: numeric, string
	topicPrefix      string // topic.prefix: source.name and the prefix of the metadata topics
	transactions     bool   // provide.transaction.metadata
	topicTransaction string // topic.transaction
	schemaChanges    bool   // include.schema.changes
	placeholder      string // unavailable.value.placeholder
	dbname           string // database.dbname: source.db of PostgreSQL changes
	heartbeatPrefix  string // topic.heartbeat.prefix
	strict           bool   // strict: refuse values Debezium's form cannot carry exactly
}

func parseDebezium(p *address.Params) (options, error) {
	o := &debeziumOptions{
		tombstones: true, decimal: "precise", binary: "bytes", bigintUnsigned: "long", interval: "numeric",
		topicPrefix: "sluice", topicTransaction: "transaction", schemaChanges: true,
		placeholder: "__debezium_unavailable_value", heartbeatPrefix: "__debezium-heartbeat",
	}
	p.Bool("schemas", &o.schemas)
	p.Bool("tombstones.on.delete", &o.tombstones)
	p.Enum("decimal.handling.mode", &o.decimal, "precise", "string", "double")
	p.Enum("time.precision.mode", &o.timePrecision, "adaptive", "adaptive_time_microseconds", "connect")
	p.Enum("binary.handling.mode", &o.binary, "bytes", "base64", "base64-url-safe", "hex")
	p.Enum("bigint.unsigned.handling.mode", &o.bigintUnsigned, "long", "precise")
	p.Enum("interval.handling.mode", &o.interval, "numeric", "string")
	p.String("topic.prefix", &o.topicPrefix)
	p.Bool("provide.transaction.metadata", &o.transactions)
	p.String("topic.transaction", &o.topicTransaction)
	p.Bool("include.schema.changes", &o.schemaChanges)
	p.String("unavailable.value.placeholder", &o.placeholder)
	p.String("database.dbname", &o.dbname)
	p.String("topic.heartbeat.prefix", &o.heartbeatPrefix)
	p.Bool("strict", &o.strict)
	if err := p.Err(); err != nil {
		return nil, err
	}
	if o.topicPrefix == "" {
		return nil, errors.New("parameter topic.prefix: want a name, not empty")
	}
	return o, nil
}

func (o *debeziumOptions) beginCommit() bool { return o.transactions }

func (o *debeziumOptions) encoder(Target) (Encoder, error) {
	return &debeziumEncoder{opt: *o, tables: make(map[tableKey]*dzTable),
		txTopic:        o.topicPrefix + "." + o.topicTransaction,
		heartbeatTopic: o.heartbeatPrefix + "." + o.topicPrefix,
	}, nil
}

// tableKey names a table of the encoder's cache.
type tableKey struct{ db, table string }

// debeziumEncoder writes Debezium's change events. See docs/formats.md.
type debeziumEncoder struct {
	opt    debeziumOptions
	tables map[tableKey]*dzTable
	// txTopic and heartbeatTopic are the topics of transaction metadata
	// and heartbeats.
	txTopic, heartbeatTopic string
	c                       *change.Change // the change being encoded, for errors
	dec                     decimal
	twos                    twos
	tmp                     []byte
	// tx counts the data events of the open transaction for Debezium's
	// transaction metadata.
	tx dzTx
}

// dzTx is the open transaction's event counts. As Debezium's
// transaction monitor does, BEGIN is written with the transaction's first
// data event, and END only for a transaction that had one: a transaction
// with no data events (DDL) gets neither.
type dzTx struct {
	id    string
	total int64
	colls []dzColl
	// begin points to keep, the begin change of the transaction (without
	// rows), until its first data event writes BEGIN; begun is set once
	// it has.
	begin *change.Change
	keep  change.Change
	begun bool
}

// dzColl is one data collection's event count in a transaction.
type dzColl struct {
	db, table string
	n         int64
}

// count adds an event of c's table and returns the transaction's total and
// the table's count, both 1-based.
func (t *dzTx) count(c *change.Change) (total, coll int64) {
	if t.id != c.Tx.ID {
		t.start(c.Tx.ID)
	}
	t.total++
	for i := range t.colls {
		if t.colls[i].db == c.Database && t.colls[i].table == c.Table {
			t.colls[i].n++
			return t.total, t.colls[i].n
		}
	}
	t.colls = append(t.colls, dzColl{c.Database, c.Table, 1})
	return t.total, 1
}

func (t *dzTx) start(id string) {
	t.id, t.total, t.begin, t.begun = id, 0, nil, false
	clear(t.colls)
	t.colls = t.colls[:0]
}

// errStatement is returned for statement-based DML, which Debezium has no
// event for.
var errStatement = errors.New("a data change the binlog holds as SQL text (binlog_format=STATEMENT) has no Debezium event; use the sluice, canal-json or cloudevents format, or leave statements out (--exclude)")

func (e *debeziumEncoder) Encode(b *Batch, c *change.Change) error {
	m := b.mark()
	e.c = c
	var err error
	switch c.Op {
	case change.OpInsert, change.OpUpdate, change.OpDelete, change.OpRead:
		err = e.data(b, c)
	case change.OpTruncate:
		err = e.truncate(b, c)
	case change.OpDDL:
		if e.opt.schemaChanges {
			e.schemaChange(b, c)
		}
	case change.OpBegin:
		if e.opt.transactions {
			e.tx.start(c.Tx.ID)
			// Kept (without rows) until the first data event.
			e.tx.keep = change.Change{Op: c.Op, Tx: c.Tx, CommitTime: c.CommitTime, ReadTime: c.ReadTime}
			e.tx.begin = &e.tx.keep
		}
	case change.OpCommit:
		if e.opt.transactions {
			if e.tx.begun && e.tx.id == c.Tx.ID {
				e.txEvent(b, c, "END")
			}
			e.tx.start("")
		}
	case change.OpHeartbeat:
		e.heartbeat(b, c)
	default:
		if c.Op.String() == "statement" {
			err = errStatement
		} else {
			err = fmt.Errorf("op %s has no Debezium event", c.Op)
		}
	}
	if err != nil {
		b.rollback(m)
		return e.wrap(err)
	}
	return nil
}

// wrap names the change's table and position in err.
func (e *debeziumEncoder) wrap(err error) error {
	return changeError("debezium", e.c, err)
}

// changeError gives err the context of the change it is about.
func changeError(format string, c *change.Change, err error) error {
	where := c.Op.String()
	if c.Table != "" {
		where += " on " + c.Database + "." + c.Table
	}
	if !c.Pos.IsZero() {
		where += " at " + c.Pos.String()
	}
	return fmt.Errorf("format %s: %s: %w", format, where, err)
}

// connector returns Debezium's connector name for c's source.
func connector(c *change.Change) string {
	switch c.Source {
	case "postgres", "postgresql":
		return "postgresql"
	case "mongodb":
		return "mongodb"
	case "mariadb":
		return "mariadb"
	case "mysql":
		return "mysql"
	}
	if c.Pos.Flavor == change.FlavorLSN {
		return "postgresql"
	}
	if c.Pos.Flavor == change.FlavorMongo {
		return "mongodb"
	}
	return "mysql"
}

// isPostgres reports whether c comes from PostgreSQL.
func isPostgres(c *change.Change) bool { return connector(c) == "postgresql" }

// data writes the key, value and tombstone of an insert, update or delete.
func (e *debeziumEncoder) data(b *Batch, c *change.Change) error {
	if connector(c) == "mongodb" {
		return e.mongoData(b, c)
	}
	t, err := e.table(c)
	if err != nil {
		return err
	}
	e.txBegin(b, c)
	if c.Op == change.OpUpdate && keyChanged(t, c) {
		return e.keyChange(b, t, c)
	}
	p := pending{key: none, hdrs: len(b.hdrs)}
	if len(t.keyCols) > 0 {
		start := len(b.buf)
		b.buf, err = e.appendKey(b.buf, t, c)
		if err != nil {
			return err
		}
		p.key = span{start, len(b.buf)}
	}
	var op byte
	switch c.Op {
	case change.OpInsert:
		op = 'c'
	case change.OpUpdate:
		op = 'u'
	case change.OpRead:
		op = 'r'
	default:
		op = 'd'
	}
	if p.value, err = e.appendEvent(b, t, c, c.Before, c.After, op); err != nil {
		return err
	}
	b.add(p)
	if c.Op == change.OpDelete && e.opt.tombstones && p.key != none {
		b.add(pending{key: p.key, value: none, hdrs: len(b.hdrs)})
	}
	return nil
}

// keyChange writes an update that changes the row's key as Debezium does:
// a delete under the old key (with the header __debezium.newkey), its
// tombstone, and a create under the new key (with __debezium.oldkey), so
// that a compacted topic drops the old key.
func (e *debeziumEncoder) keyChange(b *Batch, t *dzTable, c *change.Change) error {
	var err error
	start := len(b.buf)
	if b.buf, err = e.appendKeyOf(b.buf, t, c.Before, c.After); err != nil {
		return err
	}
	oldKey := span{start, len(b.buf)}
	start = len(b.buf)
	if b.buf, err = e.appendKeyOf(b.buf, t, c.After, c.Before); err != nil {
		return err
	}
	newKey := span{start, len(b.buf)}

	del := pending{key: oldKey, hdrs: len(b.hdrs)}
	if del.value, err = e.appendEvent(b, t, c, c.Before, nil, 'd'); err != nil {
		return err
	}
	b.hdrs = append(b.hdrs, Header{Key: "__debezium.newkey", Value: b.bytes(newKey)})
	b.add(del)
	if e.opt.tombstones {
		b.add(pending{key: oldKey, value: none, hdrs: len(b.hdrs)})
	}
	create := pending{key: newKey, hdrs: len(b.hdrs)}
	if create.value, err = e.appendEvent(b, t, c, nil, c.After, 'c'); err != nil {
		return err
	}
	b.hdrs = append(b.hdrs, Header{Key: "__debezium.oldkey", Value: b.bytes(oldKey)})
	b.add(create)
	return nil
}

// appendEvent appends a data event's value, with the rows before and
// after, and returns its span.
func (e *debeziumEncoder) appendEvent(b *Batch, t *dzTable, c *change.Change, before, after []change.Value, op byte) (span, error) {
	var err error
	start := len(b.buf)
	if e.opt.schemas {
		b.buf = append(b.buf, `{"schema":`...)
		b.buf = append(b.buf, t.valueSchema...)
		b.buf = append(b.buf, `,"payload":`...)
	}
	b.buf = append(b.buf, `{"before":`...)
	if b.buf, err = e.appendRow(b.buf, t, c, before); err != nil {
		return span{}, err
	}
	b.buf = append(b.buf, `,"after":`...)
	if b.buf, err = e.appendRow(b.buf, t, c, after); err != nil {
		return span{}, err
	}
	b.buf = append(b.buf, `,"source":`...)
	b.buf = e.appendSource(b.buf, c)
	b.buf = append(b.buf, `,"transaction":`...)
	b.buf = e.appendTxBlock(b.buf, c)
	b.buf = append(b.buf, `,"op":"`...)
	b.buf = append(b.buf, op, '"')
	b.buf = appendProcessingTimes(b.buf, c)
	b.buf = append(b.buf, '}')
	if e.opt.schemas {
		b.buf = append(b.buf, '}')
	}
	return span{start, len(b.buf)}, nil
}

// truncate writes a truncate event: no key, no rows.
func (e *debeziumEncoder) truncate(b *Batch, c *change.Change) error {
	e.txBegin(b, c)
	start := len(b.buf)
	if e.opt.schemas {
		t, err := e.table(c)
		if err != nil {
			return err
		}
		b.buf = append(b.buf, `{"schema":`...)
		b.buf = append(b.buf, t.valueSchema...)
		b.buf = append(b.buf, `,"payload":`...)
	}
	b.buf = append(b.buf, `{"before":null,"after":null,"source":`...)
	b.buf = e.appendSource(b.buf, c)
	b.buf = append(b.buf, `,"transaction":`...)
	b.buf = e.appendTxBlock(b.buf, c)
	b.buf = append(b.buf, `,"op":"t"`...)
	b.buf = appendProcessingTimes(b.buf, c)
	b.buf = append(b.buf, '}')
	if e.opt.schemas {
		b.buf = append(b.buf, '}')
	}
	b.addValue(span{start, len(b.buf)})
	return nil
}

// appendProcessingTimes appends the envelope's ts_ms, ts_us and ts_ns:
// when Sluice read the change (Debezium: when the connector processed it).
func appendProcessingTimes(dst []byte, c *change.Change) []byte {
	t := c.ReadTime
	if t.IsZero() {
		t = c.CommitTime
	}
	if t.IsZero() {
		return append(dst, `,"ts_ms":null,"ts_us":null,"ts_ns":null`...)
	}
	ns := t.UnixNano()
	dst = append(dst, `,"ts_ms":`...)
	dst = appendInt(dst, floorDiv(ns, 1e6))
	dst = append(dst, `,"ts_us":`...)
	dst = appendInt(dst, floorDiv(ns, 1e3))
	dst = append(dst, `,"ts_ns":`...)
	return appendInt(dst, ns)
}

// appendTxBlock appends the envelope's transaction block: null unless
// transaction metadata is on.
func (e *debeziumEncoder) appendTxBlock(dst []byte, c *change.Change) []byte {
	if !e.opt.transactions || c.Tx.ID == "" {
		return append(dst, "null"...)
	}
	total, coll := e.tx.count(c)
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, c.Tx.ID)
	dst = append(dst, `,"total_order":`...)
	dst = appendInt(dst, total)
	dst = append(dst, `,"data_collection_order":`...)
	dst = appendInt(dst, coll)
	return append(dst, '}')
}

// txBegin writes the BEGIN of c's transaction before its first data
// event (from the begin change kept, or from c when the stream started
// inside the transaction).
func (e *debeziumEncoder) txBegin(b *Batch, c *change.Change) {
	if !e.opt.transactions || c.Tx.ID == "" || (e.tx.begun && e.tx.id == c.Tx.ID) {
		return
	}
	if e.tx.id != c.Tx.ID || e.tx.begin == nil {
		e.tx.start(c.Tx.ID)
		e.tx.keep = change.Change{Op: change.OpBegin, Tx: c.Tx, CommitTime: c.CommitTime, ReadTime: c.ReadTime}
	}
	e.txEvent(b, &e.tx.keep, "BEGIN")
	e.tx.begun = true
}

// txEvent writes a BEGIN or END transaction metadata event to the
// transaction topic, keyed by the transaction id.
func (e *debeziumEncoder) txEvent(b *Batch, c *change.Change, status string) {
	p := pending{hdrs: len(b.hdrs), topic: e.txTopic}
	start := len(b.buf)
	if e.opt.schemas {
		b.buf = append(b.buf, `{"schema":`...)
		b.buf = append(b.buf, txKeySchema...)
		b.buf = append(b.buf, `,"payload":`...)
	}
	b.buf = append(b.buf, `{"id":`...)
	b.buf = appendString(b.buf, c.Tx.ID)
	b.buf = append(b.buf, '}')
	if e.opt.schemas {
		b.buf = append(b.buf, '}')
	}
	p.key = span{start, len(b.buf)}
	start = len(b.buf)
	if e.opt.schemas {
		b.buf = append(b.buf, `{"schema":`...)
		b.buf = append(b.buf, txValueSchema...)
		b.buf = append(b.buf, `,"payload":`...)
	}
	b.buf = append(b.buf, `{"status":"`...)
	b.buf = append(b.buf, status...)
	b.buf = append(b.buf, `","id":`...)
	b.buf = appendString(b.buf, c.Tx.ID)
	if status == "BEGIN" {
		b.buf = append(b.buf, `,"event_count":null,"data_collections":null`...)
	} else {
		b.buf = append(b.buf, `,"event_count":`...)
		b.buf = appendInt(b.buf, e.tx.total)
		b.buf = append(b.buf, `,"data_collections":[`...)
		for i, dc := range e.tx.colls {
			if i > 0 {
				b.buf = append(b.buf, ',')
			}
			b.buf = append(b.buf, `{"data_collection":`...)
			b.buf = appendCollection(b.buf, dc.db, dc.table)
			b.buf = append(b.buf, `,"event_count":`...)
			b.buf = appendInt(b.buf, dc.n)
			b.buf = append(b.buf, '}')
		}
		b.buf = append(b.buf, ']')
	}
	b.buf = append(b.buf, `,"ts_ms":`...)
	b.buf = appendMillis(b.buf, c)
	b.buf = append(b.buf, '}')
	if e.opt.schemas {
		b.buf = append(b.buf, '}')
	}
	p.value = span{start, len(b.buf)}
	b.add(p)
}

// appendCollection appends "db.table" as a JSON string.
func appendCollection(dst []byte, db, table string) []byte {
	dst = append(dst, '"')
	dst, _ = appendStrBody(dst, db)
	dst = append(dst, '.')
	dst, _ = appendStrBody(dst, table)
	return append(dst, '"')
}

// appendMillis appends the commit time in milliseconds since the epoch
// (the read time when the source gave none).
func appendMillis(dst []byte, c *change.Change) []byte {
	t := c.CommitTime
	if t.IsZero() {
		t = c.ReadTime
	}
	if t.IsZero() {
		return append(dst, '0')
	}
	return appendInt(dst, t.UnixMilli())
}

// schemaChange writes a DDL change as a message of Debezium's schema change
// topic (named after topic.prefix), keyed by the database name.
func (e *debeziumEncoder) schemaChange(b *Batch, c *change.Change) {
	p := pending{hdrs: len(b.hdrs), topic: e.opt.topicPrefix}
	start := len(b.buf)
	if e.opt.schemas {
		b.buf = append(b.buf, `{"schema":`...)
		b.buf = append(b.buf, schemaChangeKeySchema...)
		b.buf = append(b.buf, `,"payload":`...)
	}
	b.buf = append(b.buf, `{"databaseName":`...)
	b.buf = appendString(b.buf, c.Database)
	b.buf = append(b.buf, '}')
	if e.opt.schemas {
		b.buf = append(b.buf, '}')
	}
	p.key = span{start, len(b.buf)}
	start = len(b.buf)
	if e.opt.schemas {
		b.buf = append(b.buf, `{"schema":`...)
		b.buf = e.appendSchemaChangeValueSchema(b.buf, c)
		b.buf = append(b.buf, `,"payload":`...)
	}
	b.buf = append(b.buf, `{"source":`...)
	b.buf = e.appendSource(b.buf, c)
	b.buf = append(b.buf, `,"ts_ms":`...)
	b.buf = appendMillis(b.buf, c)
	b.buf = append(b.buf, `,"databaseName":`...)
	b.buf = appendString(b.buf, c.Database)
	b.buf = append(b.buf, `,"schemaName":null,"ddl":`...)
	b.buf = appendString(b.buf, c.SQL)
	b.buf = append(b.buf, `,"tableChanges":[]}`...)
	if e.opt.schemas {
		b.buf = append(b.buf, '}')
	}
	p.value = span{start, len(b.buf)}
	b.add(p)
}

// heartbeat writes Debezium's heartbeat message to
// "<topic.heartbeat.prefix>.<topic.prefix>".
func (e *debeziumEncoder) heartbeat(b *Batch, c *change.Change) {
	p := pending{hdrs: len(b.hdrs), topic: e.heartbeatTopic}
	start := len(b.buf)
	if e.opt.schemas {
		b.buf = append(b.buf, `{"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"serverName"}],"optional":false,"name":"io.debezium.connector.common.ServerNameKey"},"payload":`...)
	}
	b.buf = append(b.buf, `{"serverName":`...)
	b.buf = appendString(b.buf, e.opt.topicPrefix)
	b.buf = append(b.buf, '}')
	if e.opt.schemas {
		b.buf = append(b.buf, '}')
	}
	p.key = span{start, len(b.buf)}
	start = len(b.buf)
	if e.opt.schemas {
		b.buf = append(b.buf, `{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"ts_ms"}],"optional":false,"name":"io.debezium.connector.common.Heartbeat"},"payload":`...)
	}
	b.buf = append(b.buf, `{"ts_ms":`...)
	t := c.ReadTime
	if t.IsZero() {
		t = c.CommitTime
	}
	b.buf = appendInt(b.buf, t.UnixMilli())
	b.buf = append(b.buf, '}')
	if e.opt.schemas {
		b.buf = append(b.buf, '}')
	}
	p.value = span{start, len(b.buf)}
	b.add(p)
}

// dbzVersion is what the source block's version field says: the events
// are Debezium's shape, written by Sluice.
const dbzVersion = "sluice"

// appendSource appends the source block of c's connector.
func (e *debeziumEncoder) appendSource(dst []byte, c *change.Change) []byte {
	conn := connector(c)
	dst = append(dst, `{"version":"`+dbzVersion+`","connector":"`...)
	dst = append(dst, conn...)
	dst = append(dst, `","name":`...)
	dst = appendString(dst, e.opt.topicPrefix)
	t := c.CommitTime
	if t.IsZero() && c.Op == change.OpRead {
		// A snapshot's row was read, not committed, at a known time:
		// Debezium's source.ts_ms of snapshot events is when it read.
		t = c.ReadTime
	}
	if !t.IsZero() {
		ns := t.UnixNano()
		dst = append(dst, `,"ts_ms":`...)
		dst = appendInt(dst, floorDiv(ns, 1e6))
		dst = append(dst, `,"ts_us":`...)
		dst = appendInt(dst, floorDiv(ns, 1e3))
		dst = append(dst, `,"ts_ns":`...)
		dst = appendInt(dst, ns)
	} else {
		dst = append(dst, `,"ts_ms":0,"ts_us":0,"ts_ns":0`...)
	}
	dst = append(dst, `,"snapshot":"`...)
	if c.Snapshot != change.SnapshotNone {
		dst = append(dst, c.Snapshot.String()...)
	} else {
		dst = append(dst, "false"...)
	}
	dst = append(dst, `","db":`...)
	switch conn {
	case "postgresql":
		dst = appendString(dst, e.opt.dbname)
		dst = append(dst, `,"sequence":`...)
		if c.Pos.Flavor == change.FlavorLSN {
			dst = append(dst, `"[null,\"`...)
			dst = appendUint(dst, c.Pos.Offset)
			dst = append(dst, `\"]"`...)
		} else {
			dst = append(dst, "null"...)
		}
		dst = append(dst, `,"schema":`...)
		dst = appendString(dst, c.Database)
		dst = append(dst, `,"table":`...)
		dst = appendString(dst, c.Table)
		dst = append(dst, `,"txId":`...)
		dst = appendNumberOrNull(dst, c.Tx.ID)
		dst = append(dst, `,"lsn":`...)
		if c.Pos.Flavor == change.FlavorLSN {
			dst = appendUint(dst, c.Pos.Offset)
		} else {
			dst = append(dst, "null"...)
		}
		dst = append(dst, `,"xmin":null}`...)
	case "mongodb":
		dst = appendString(dst, c.Database)
		dst = append(dst, `,"sequence":null,"collection":`...)
		dst = appendString(dst, c.Table)
		dst = append(dst, `,"ord":`...)
		dst = appendUint(dst, c.Pos.Offset&0xffffffff)
		lsid, txn, ok := strings.Cut(c.Tx.ID, ":")
		if ok && c.Tx.ID != "" {
			dst = append(dst, `,"lsid":`...)
			dst = appendString(dst, lsid)
			dst = append(dst, `,"txnNumber":`...)
			dst = appendNumberOrNull(dst, txn)
		} else {
			dst = append(dst, `,"lsid":null,"txnNumber":null`...)
		}
		dst = append(dst, '}')
	default: // mysql, mariadb
		dst = appendString(dst, c.Database)
		dst = append(dst, `,"sequence":null,"table":`...)
		if c.Table == "" {
			dst = append(dst, "null"...)
		} else {
			dst = appendString(dst, c.Table)
		}
		dst = append(dst, `,"server_id":`...)
		dst = appendUint(dst, gtidServerID(c.Tx.ID))
		dst = append(dst, `,"gtid":`...)
		if isGTID(c.Tx.ID) {
			dst = appendString(dst, c.Tx.ID)
		} else {
			dst = append(dst, "null"...)
		}
		dst = append(dst, `,"file":`...)
		dst = appendString(dst, c.Pos.File)
		dst = append(dst, `,"pos":`...)
		dst = appendUint(dst, c.Pos.Offset)
		dst = append(dst, `,"row":`...)
		dst = appendUint(dst, c.Pos.Index)
		dst = append(dst, `,"thread":null,"query":null}`...)
	}
	return dst
}

// appendNumberOrNull appends s as a JSON number when it is a decimal
// integer, else null.
func appendNumberOrNull(dst []byte, s string) []byte {
	if s == "" || len(s) > 20 {
		return append(dst, "null"...)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return append(dst, "null"...)
		}
	}
	return append(dst, s...)
}

// isGTID reports whether a MySQL transaction id is a GTID (uuid:n or
// MariaDB's domain-server-seq), not a file and offset.
func isGTID(id string) bool {
	if id == "" {
		return false
	}
	if strings.Count(id, "-") == 2 && !strings.Contains(id, ":") {
		return true // MariaDB d-s-n
	}
	u, _, ok := strings.Cut(id, ":")
	return ok && len(u) == 36 && strings.Count(u, "-") == 4
}

// gtidServerID returns the server id of a MariaDB GTID (domain-server-seq),
// and 0 when id does not carry one.
func gtidServerID(id string) uint64 {
	if strings.Contains(id, ":") {
		return 0
	}
	_, rest, ok := strings.Cut(id, "-")
	if !ok {
		return 0
	}
	server, _, ok := strings.Cut(rest, "-")
	if !ok || server == "" {
		return 0
	}
	var n uint64
	for i := 0; i < len(server); i++ {
		c := server[i]
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + uint64(c-'0')
	}
	return n
}
