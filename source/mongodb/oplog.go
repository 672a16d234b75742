package mongodb

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// scope limits which namespaces a source reports: all (""), one database,
// or one collection of one database.
type scope struct {
	Database   string
	Collection string
}

func (s scope) match(ns change.Namespace) bool {
	if s.Database != "" && ns.Database != s.Database {
		return false
	}
	return s.Collection == "" || ns.Table == "" || ns.Table == s.Collection
}

// oplogDecoder turns oplog entries into changes.
type oplogDecoder struct {
	scope scope
	// from: changes at from.Offset with Index <= from.Index are dropped.
	from change.Position
	// openTx is the id of a transaction whose applyOps entries said
	// partialTxn (more entries follow), and next the Index of its next change.
	openTx  string
	txIndex uint64
	// flush, when set, takes the changes decoded so far whenever more than
	// limit have piled up inside one applyOps entry (MongoDB allows 16 MiB
	// per entry), so memory follows limit rather than the entry's size.
	// The last change is held back until the next one or the commit, which
	// must set its Tx.Last.
	flush func([]change.Change) error
	limit int
}

// oplogEntry is the part of an oplog entry the decoder reads.
type oplogEntry struct {
	op, ns  string
	ts      uint64
	wall    time.Time
	o, o2   []byte
	txID    string
	partial bool
}

func parseEntry(raw []byte) (oplogEntry, error) {
	var e oplogEntry
	var lsid []byte
	var txn int64
	hasTxn := false
	err := elements(raw, func(key string, v bsoncore.Value) error {
		var ok bool
		switch key {
		case "op":
			e.op, ok = v.StringValueOK()
		case "ns":
			e.ns, ok = v.StringValueOK()
		case "ts":
			var t, i uint32
			t, i, ok = v.TimestampOK()
			e.ts = uint64(t)<<32 | uint64(i)
		case "wall":
			var ms int64
			ms, ok = v.DateTimeOK()
			e.wall = time.UnixMilli(ms).UTC()
		case "o":
			e.o, ok = v.DocumentOK()
		case "o2":
			e.o2, ok = v.DocumentOK()
		case "lsid":
			lsid, ok = v.DocumentOK()
		case "txnNumber":
			txn, ok = v.AsInt64OK()
			hasTxn = ok
		default:
			return nil
		}
		if !ok {
			return fmt.Errorf("field %s is %s", key, typeName(v.Type))
		}
		return nil
	})
	if err != nil {
		return e, fmt.Errorf("mongodb: oplog entry: %w", err)
	}
	if e.op == "" || e.ts == 0 {
		return e, fmt.Errorf("mongodb: oplog entry without op or ts")
	}
	if hasTxn {
		e.txID = txID(lsid, txn)
	}
	return e, nil
}

// txID is the transaction id of a session's transaction: the hex of the
// session's UUID (lsid.id), ':' and the txnNumber.
func txID(lsid []byte, txn int64) string {
	id := "?"
	if lsid != nil {
		if v, err := bsoncore.Document(lsid).LookupErr("id"); err == nil {
			if _, b, ok := v.BinaryOK(); ok {
				id = hex.EncodeToString(b)
			}
		}
	}
	return id + ":" + strconv.FormatInt(txn, 10)
}

func splitNS(ns string) change.Namespace {
	db, coll, _ := strings.Cut(ns, ".")
	return change.Namespace{Database: db, Table: coll}
}

// tsText is an oplog timestamp as seconds.increment.
func tsText(ts uint64) string {
	return strconv.FormatUint(ts>>32, 10) + "." + strconv.FormatUint(ts&0xffffffff, 10)
}

// decode appends the changes of one oplog entry to dst.
func (d *oplogDecoder) decode(dst []change.Change, raw []byte, readTime time.Time) ([]change.Change, error) {
	e, err := parseEntry(raw)
	if err != nil {
		return dst, err
	}
	base := change.Change{
		Source:     "mongodb",
		Pos:        change.Position{Flavor: change.FlavorMongo, Offset: e.ts},
		CommitTime: e.wall,
		ReadTime:   readTime,
	}
	if e.wall.IsZero() {
		base.CommitTime = time.Unix(int64(e.ts>>32), 0).UTC()
	}
	where := func(err error) error {
		return fmt.Errorf("mongodb: oplog entry %s (op %q, ns %q): %w", tsText(e.ts), e.op, e.ns, err)
	}
	if e.op == "c" {
		if apply, ok := lookupArray(e.o, "applyOps"); ok {
			if e.txID == "" {
				e.txID = "applyOps:" + tsText(e.ts)
			}
			e.partial = lookupBool(e.o, "partialTxn")
			out, err := d.applyOps(dst, base, e, apply)
			if err != nil {
				return dst, where(err)
			}
			return out, nil
		}
	}
	if d.skip(base.Pos) {
		return dst, nil
	}
	c, ok, err := d.single(base, e.op, e.ns, e.o, e.o2)
	if err != nil {
		return dst, where(err)
	}
	if ok {
		dst = append(dst, c)
	}
	return dst, nil
}

func (d *oplogDecoder) skip(p change.Position) bool {
	return d.from.Offset != 0 && p.Offset == d.from.Offset && p.Index <= d.from.Index
}

// single decodes one operation (a top-level oplog entry or one of an
// applyOps); ok is false for operations outside the scope.
func (d *oplogDecoder) single(c change.Change, op, ns string, o, o2 []byte) (change.Change, bool, error) {
	c.Namespace = splitNS(ns)
	var err error
	switch op {
	case "n":
		c.Op = change.OpHeartbeat
		c.Namespace = change.Namespace{}
		return c, true, nil
	case "i":
		c.Op = change.OpInsert
		c.Columns, c.After, err = rowImage(o)
	case "d":
		c.Op = change.OpDelete
		c.Columns, c.Before, err = rowImage(o)
	case "u":
		c.Op = change.OpUpdate
		if !isOperatorUpdate(o) {
			c.Columns, c.After, err = rowImage(o)
			break
		}
		if o2 == nil {
			return c, false, fmt.Errorf("update without o2")
		}
		id, lerr := bsoncore.Document(o2).LookupErr("_id")
		if lerr != nil {
			return c, false, fmt.Errorf("update without o2._id")
		}
		var desc *description
		if desc, err = describeOplogUpdate(o); err == nil {
			c.Columns, c.After, err = desc.image(id, false)
		}
	case "c":
		c.Op = change.OpDDL
		c.Namespace = change.Namespace{Database: c.Database}
		c.Namespace.Table, err = commandTarget(o, c.Database)
		if err == nil {
			c.SQL = bson.Raw(o).String()
			if rn, ok := lookupString(o, "renameCollection"); ok {
				c.Namespace = splitNS(rn)
			}
		}
	default:
		return c, false, fmt.Errorf("unknown op %q", op)
	}
	if err != nil {
		return c, false, err
	}
	if !d.scope.match(c.Namespace) {
		return c, false, nil
	}
	return c, true, nil
}

// commandTarget is the collection a command names: the string value of
// its first field (create, drop, collMod, createIndexes…), or "" for
// database commands (dropDatabase).
func commandTarget(o []byte, _ string) (string, error) {
	if err := checkDocument(o); err != nil {
		return "", err
	}
	el, _, ok := bsoncore.ReadElement(o[4 : len(o)-1])
	if !ok {
		return "", fmt.Errorf("empty command")
	}
	if s, ok := el.Value().StringValueOK(); ok {
		return s, nil
	}
	return "", nil
}

// applyOps expands a transaction's applyOps entry: begin (Index 1), the
// operations (Index 2, 3, …) and commit, all at the entry's timestamp.
// A partialTxn entry has no commit; the transaction continues in the next
// entry, whose changes carry that entry's timestamp and continue the count.
func (d *oplogDecoder) applyOps(dst []change.Change, base change.Change, e oplogEntry, ops []byte) ([]change.Change, error) {
	idx := uint64(1)
	emit := func(c change.Change) error {
		c.Pos.Index = idx
		idx++
		if c.Op != change.OpBegin && c.Op != change.OpCommit {
			c.Tx.Index = c.Pos.Index - 2
		}
		if d.skip(c.Pos) {
			return nil
		}
		dst = append(dst, c)
		if d.flush != nil && len(dst) > d.limit {
			n := len(dst) - 1
			if err := d.flush(dst[:n]); err != nil {
				return err
			}
			dst[0] = dst[n]
			clear(dst[1:])
			dst = dst[:1]
		}
		return nil
	}
	continuing := d.openTx == e.txID
	if continuing {
		idx = d.txIndex
	} else {
		b := base
		b.Op = change.OpBegin
		b.Tx = change.Tx{ID: e.txID}
		if err := emit(b); err != nil {
			return dst, err
		}
	}
	err := elements(ops, func(_ string, v bsoncore.Value) error {
		op, ok := v.DocumentOK()
		if !ok {
			return fmt.Errorf("applyOps element is %s", typeName(v.Type))
		}
		sub, err := parseSub(op)
		if err != nil {
			return err
		}
		c, ok, err := d.single(base, sub.op, sub.ns, sub.o, sub.o2)
		if err != nil {
			return fmt.Errorf("applyOps %s on %s: %w", sub.op, sub.ns, err)
		}
		if !ok {
			idx++ // keep positions stable whatever the scope
			return nil
		}
		c.Tx = change.Tx{ID: e.txID}
		return emit(c)
	})
	if err != nil {
		return dst, err
	}
	if e.partial {
		d.openTx, d.txIndex = e.txID, idx
		return dst, nil
	}
	d.openTx = ""
	// The last data change of the transaction is the last one held (emit
	// always keeps one back).
	if n := len(dst); n > 0 && dst[n-1].Tx.ID == e.txID && dst[n-1].Op != change.OpBegin && dst[n-1].Op != change.OpCommit {
		dst[n-1].Tx.Last = true
	}
	c := base
	c.Op = change.OpCommit
	c.Tx = change.Tx{ID: e.txID}
	return dst, emit(c)
}

type subOp struct {
	op, ns string
	o, o2  []byte
}

func parseSub(doc []byte) (subOp, error) {
	var s subOp
	err := elements(doc, func(key string, v bsoncore.Value) error {
		var ok bool
		switch key {
		case "op":
			s.op, ok = v.StringValueOK()
		case "ns":
			s.ns, ok = v.StringValueOK()
		case "o":
			s.o, ok = v.DocumentOK()
		case "o2":
			s.o2, ok = v.DocumentOK()
		default:
			return nil
		}
		if !ok {
			return fmt.Errorf("applyOps field %s is %s", key, typeName(v.Type))
		}
		return nil
	})
	if err == nil && (s.op == "" || (s.o == nil && s.op != "n")) {
		err = fmt.Errorf("applyOps element without op or o")
	}
	return s, err
}

func lookupArray(doc []byte, key string) ([]byte, bool) {
	v, err := bsoncore.Document(doc).LookupErr(key)
	if err != nil {
		return nil, false
	}
	return v.ArrayOK()
}

func lookupBool(doc []byte, key string) bool {
	v, err := bsoncore.Document(doc).LookupErr(key)
	if err != nil {
		return false
	}
	b, _ := v.BooleanOK()
	return b
}

func lookupString(doc []byte, key string) (string, bool) {
	v, err := bsoncore.Document(doc).LookupErr(key)
	if err != nil {
		return "", false
	}
	return v.StringValueOK()
}
