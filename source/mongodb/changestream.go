package mongodb

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/source"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// errInvalidated ends a stream after an invalidate event was emitted.
var errInvalidated = errors.New("mongodb: change stream invalidated (its collection or database was dropped or renamed); start a new stream")

// csDecoder turns change events into changes, numbering changes that share
// a clusterTime (Position.Index) and wrapping transactions in begin/commit.
type csDecoder struct {
	last   change.Position // the position of the last change returned
	inTx   bool            // a transaction is open: its commit is still to come
	openTx string          // its id ("" while unknown after a resume inside it)
	txTS   uint64
	txN    uint64 // Tx.Index of its next data change
}

// commitMark prefixes the Token of a commit's Position: resuming there is
// resuming after the transaction, while the same token without the mark
// (its last change's) resumes inside it, before the commit.
const commitMark = "c:"

// beginMark prefixes the Token of a begin that no resume token precedes
// (the stream's first event is a transaction's): the token is the
// transaction's first change's, and resuming there starts at the
// transaction's cluster time (startAtOperationTime) instead of after the
// token. So every change-stream position holds a token, which tells it
// from an oplog position (see positionMode).
const beginMark = "b:"

// resumeToken is the token a change stream resumes after to continue
// after from, or "" when it starts at from.Offset instead: from holds no
// token (a bare oplog timestamp) or a begin's beginMark token.
func resumeToken(from change.Position) string {
	if strings.HasPrefix(from.Token, beginMark) {
		return ""
	}
	return from.Token
}

// newCSDecoder starts after from. A from with an Index is inside a
// transaction (in a replica set only a transaction's changes share a
// cluster time): the decoder continues its numbering and ends it with a
// commit, whose Tx.ID stays empty if no later change of it names it.
func newCSDecoder(from change.Position) *csDecoder {
	d := &csDecoder{last: from}
	if from.Index >= 1 && !strings.HasPrefix(from.Token, commitMark) {
		d.inTx, d.txTS, d.txN = true, from.Offset, from.Index-1
	}
	return d
}

// event is the part of a change event the decoder reads.
type event struct {
	token             string
	opType            string
	ts                uint64
	wall              time.Time
	ns, to            change.Namespace
	docKey, full, pre []byte
	fullNull          bool
	upd               []byte
	opDesc            []byte
	txID              string
	raw               []byte
	hasLsid           bool
}

func parseEvent(raw []byte) (event, error) {
	e := event{raw: raw}
	var lsid []byte
	var txn int64
	hasTxn := false
	err := elements(raw, func(key string, v bsoncore.Value) error {
		var ok bool
		switch key {
		case "_id":
			var id []byte
			if id, ok = v.DocumentOK(); ok {
				e.token = tokenString(id)
			}
		case "operationType":
			e.opType, ok = v.StringValueOK()
		case "clusterTime":
			var t, i uint32
			t, i, ok = v.TimestampOK()
			e.ts = uint64(t)<<32 | uint64(i)
		case "wallTime":
			var ms int64
			ms, ok = v.DateTimeOK()
			e.wall = time.UnixMilli(ms).UTC()
		case "ns":
			e.ns, ok = nsDoc(v)
		case "to":
			e.to, ok = nsDoc(v)
		case "documentKey":
			e.docKey, ok = v.DocumentOK()
		case "fullDocument":
			if v.Type == bsoncore.TypeNull {
				e.fullNull, ok = true, true
				break
			}
			e.full, ok = v.DocumentOK()
		case "fullDocumentBeforeChange":
			if v.Type == bsoncore.TypeNull {
				ok = true
				break
			}
			e.pre, ok = v.DocumentOK()
		case "updateDescription":
			e.upd, ok = v.DocumentOK()
		case "operationDescription":
			e.opDesc, ok = v.DocumentOK()
		case "lsid":
			lsid, ok = v.DocumentOK()
			e.hasLsid = ok
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
		return e, fmt.Errorf("mongodb: change event: %w", err)
	}
	if e.opType == "" || e.token == "" {
		return e, errors.New("mongodb: change event without operationType or _id (resume token)")
	}
	if hasTxn && e.hasLsid {
		e.txID = txID(lsid, txn)
	}
	return e, nil
}

func nsDoc(v bsoncore.Value) (change.Namespace, bool) {
	doc, ok := v.DocumentOK()
	if !ok {
		return change.Namespace{}, false
	}
	var ns change.Namespace
	ns.Database, _ = lookupString(doc, "db")
	ns.Table, _ = lookupString(doc, "coll")
	return ns, true
}

// tokenString is the Position.Token of a resume token: its _data string
// (MongoDB 4.2+), or "json:" and the token's canonical extended JSON.
func tokenString(id []byte) string {
	if s, ok := lookupString(id, "_data"); ok && len(id) > 0 {
		return s
	}
	return "json:" + bson.Raw(id).String()
}

// tokenDoc is the resume token document of a Position.Token.
func tokenDoc(tok string) (bson.Raw, error) {
	tok = strings.TrimPrefix(tok, commitMark)
	if rest, ok := strings.CutPrefix(tok, "json:"); ok {
		var doc bson.Raw
		if err := bson.UnmarshalExtJSON([]byte(rest), true, &doc); err != nil {
			return nil, fmt.Errorf("mongodb: resume token %q: %w", tok, err)
		}
		return doc, nil
	}
	return bson.Marshal(bson.D{{Key: "_data", Value: tok}})
}

// tokenTS reads the cluster time at the front of a resume token's _data
// (KeyString: type byte 130, then the timestamp big-endian); 0 if unknown.
func tokenTS(tok string) uint64 {
	if len(tok) < 18 || !strings.HasPrefix(tok, "82") {
		return 0
	}
	b, err := hex.DecodeString(tok[2:18])
	if err != nil {
		return 0
	}
	var ts uint64
	for _, c := range b {
		ts = ts<<8 | uint64(c)
	}
	return ts
}

// decode appends the changes of one change event. invalidated is set for
// an invalidate event, after which the server closes the stream.
func (d *csDecoder) decode(dst []change.Change, raw []byte, readTime time.Time) (_ []change.Change, invalidated bool, err error) {
	e, err := parseEvent(raw)
	if err != nil {
		return dst, false, err
	}
	if d.inTx && (e.ts != d.txTS || e.txID == "" || (d.openTx != "" && e.txID != d.openTx)) {
		dst = d.closeTx(dst)
	}
	base := change.Change{Source: "mongodb", ReadTime: readTime, CommitTime: e.wall}
	if e.wall.IsZero() {
		base.CommitTime = time.Unix(int64(e.ts>>32), 0).UTC()
	}
	if e.txID != "" && d.inTx && d.openTx == "" {
		d.openTx = e.txID // resumed inside it
	}
	if e.txID != "" && !d.inTx {
		d.inTx, d.openTx, d.txTS, d.txN = true, e.txID, e.ts, 0
		if e.ts != d.last.Offset { // else: resuming inside this transaction
			b := base
			b.Op = change.OpBegin
			b.Tx = change.Tx{ID: e.txID}
			tok := strings.TrimPrefix(d.last.Token, commitMark)
			if tok == "" {
				tok = beginMark + e.token
			}
			b.Pos = change.Position{Flavor: change.FlavorMongo, Offset: e.ts, Index: 1, Token: tok}
			dst = append(dst, b)
			d.last = b.Pos
		}
	}
	c, err := eventChange(base, e)
	if err != nil {
		return dst, false, fmt.Errorf("mongodb: change event %s at %s: %w", e.opType, tsText(e.ts), err)
	}
	c.Pos = d.next(e.ts, e.token)
	if e.txID != "" {
		c.Tx = change.Tx{ID: e.txID, Index: d.txN}
		d.txN++
	}
	dst = append(dst, c)
	return dst, e.opType == "invalidate", nil
}

// next is the position of a change at ts with resume token tok: Index
// counts the changes sharing a cluster time (a transaction: begin is 1).
func (d *csDecoder) next(ts uint64, tok string) change.Position {
	p := change.Position{Flavor: change.FlavorMongo, Offset: ts, Token: tok}
	if ts == d.last.Offset {
		p.Index = d.last.Index + 1
	}
	d.last = p
	return p
}

// closeTx appends the commit of the open transaction, if any: at the
// transaction's cluster time, after its last change, with that change's
// token (resuming there reads what follows the transaction).
func (d *csDecoder) closeTx(dst []change.Change) []change.Change {
	if !d.inTx {
		return dst
	}
	if n := len(dst); n > 0 && dst[n-1].Tx.ID != "" && dst[n-1].Tx.ID == d.openTx && dst[n-1].Op != change.OpBegin {
		dst[n-1].Tx.Last = true
	}
	c := change.Change{Op: change.OpCommit, Source: "mongodb", Tx: change.Tx{ID: d.openTx}, ReadTime: time.Now()}
	c.Pos = change.Position{Flavor: change.FlavorMongo, Offset: d.txTS, Index: d.last.Index + 1, Token: commitMark + strings.TrimPrefix(d.last.Token, commitMark)}
	c.CommitTime = time.Unix(int64(d.txTS>>32), 0).UTC()
	d.last = c.Pos
	d.inTx, d.openTx = false, ""
	return append(dst, c)
}

// idle closes an open transaction and, when the stream's post-batch
// resume token moved past the last change, appends a heartbeat carrying
// it, so that an idle or filtered stream still advances its checkpoint.
func (d *csDecoder) idle(dst []change.Change, tok string) []change.Change {
	dst = d.closeTx(dst)
	if tok == "" || tok == strings.TrimPrefix(d.last.Token, commitMark) {
		return dst
	}
	ts := tokenTS(tok)
	if ts <= d.last.Offset {
		return dst
	}
	p := change.Position{Flavor: change.FlavorMongo, Offset: ts, Token: tok}
	d.last = p
	return append(dst, change.Change{Op: change.OpHeartbeat, Source: "mongodb", Pos: p, ReadTime: time.Now()})
}

// eventChange maps one change event (without position and transaction).
func eventChange(c change.Change, e event) (change.Change, error) {
	c.Namespace = e.ns
	var err error
	switch e.opType {
	case "insert":
		c.Op = change.OpInsert
		c.Columns, c.After, err = rowImage(firstDoc(e.full, e.docKey))
	case "replace":
		c.Op = change.OpUpdate
		c.Columns, c.Before, c.After, err = twoImages(e.pre, firstDoc(e.full, e.docKey))
	case "update":
		c.Op = change.OpUpdate
		err = updateEvent(&c, e)
	case "delete":
		c.Op = change.OpDelete
		c.Columns, c.Before, err = rowImage(firstDoc(e.pre, e.docKey))
	case "drop":
		c.Op = change.OpDDL
		c.SQL = jsonCommand("drop", e.ns.Table)
	case "rename":
		c.Op = change.OpDDL
		c.SQL = `{"renameCollection":` + jsonString(e.ns.Database+"."+e.ns.Table) + `,"to":` + jsonString(e.to.Database+"."+e.to.Table) + `}`
	case "dropDatabase":
		c.Op = change.OpDDL
		c.SQL = `{"dropDatabase":1}`
	case "invalidate":
		c.Op = change.OpDDL
		c.SQL = `{"invalidate":1}`
	default: // create, createIndexes, modify, shardCollection … (showExpandedEvents)
		c.Op = change.OpDDL
		desc := "{}"
		if e.opDesc != nil {
			desc = bson.Raw(e.opDesc).String()
		}
		c.SQL = `{` + jsonString(e.opType) + `:` + jsonString(e.ns.Table) + `,"operationDescription":` + desc + `}`
	}
	if err != nil {
		return c, err
	}
	return c, nil
}

func firstDoc(a, b []byte) []byte {
	if a != nil {
		return a
	}
	return b
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func jsonCommand(cmd, arg string) string {
	return `{` + jsonString(cmd) + `:` + jsonString(arg) + `}`
}

// twoImages makes the columns of a change with a pre-image (may be nil)
// and a post-image: the post-image's fields in order, then the fields only
// the pre-image has; a field missing from one image is Absent there.
func twoImages(pre, post []byte) ([]change.Column, []change.Value, []change.Value, error) {
	cols, after, err := rowImage(post)
	if err != nil || pre == nil {
		return cols, nil, after, err
	}
	pcols, pvals, err := rowImage(pre)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("fullDocumentBeforeChange: %w", err)
	}
	before := make([]change.Value, len(cols), len(cols)+len(pcols))
	for i, pc := range pcols {
		j := columnIndex(cols, pc.Name)
		if j < 0 {
			cols = append(cols, pc)
			after = append(after, change.Absent())
			before = append(before, pvals[i])
			continue
		}
		before[j] = pvals[i]
	}
	return cols, before, after, nil
}

func columnIndex(cols []change.Column, name string) int {
	for i := range cols {
		if cols[i].Name == name {
			return i
		}
	}
	return -1
}

// updateEvent maps an update event: the After image is the full document
// when the event has one (updateLookup, or a post-image), else the
// documentKey, followed by the update description columns; Before is the
// pre-image when the event has one.
func updateEvent(c *change.Change, e event) error {
	d := &description{}
	if e.upd != nil {
		err := elements(e.upd, func(key string, v bsoncore.Value) error {
			switch key {
			case "updatedFields":
				doc, ok := v.DocumentOK()
				if !ok {
					return fmt.Errorf("updatedFields is %s", typeName(v.Type))
				}
				return elements(doc, func(k string, fv bsoncore.Value) error { return d.set(k, fv) })
			case "removedFields":
				arr, ok := v.ArrayOK()
				if !ok {
					return fmt.Errorf("removedFields is %s", typeName(v.Type))
				}
				return elements(arr, func(_ string, fv bsoncore.Value) error {
					s, ok := fv.StringValueOK()
					if !ok {
						return fmt.Errorf("removedFields element is %s", typeName(fv.Type))
					}
					d.remove(s)
					return nil
				})
			case "truncatedArrays":
				arr, ok := v.ArrayOK()
				if !ok {
					return fmt.Errorf("truncatedArrays is %s", typeName(v.Type))
				}
				return elements(arr, func(_ string, fv bsoncore.Value) error {
					doc, ok := fv.DocumentOK()
					if !ok {
						return fmt.Errorf("truncatedArrays element is %s", typeName(fv.Type))
					}
					field, ok1 := lookupString(doc, "field")
					size, err := bsoncore.Document(doc).LookupErr("newSize")
					n, ok2 := size.AsInt64OK()
					if !ok1 || err != nil || !ok2 {
						return fmt.Errorf("truncatedArrays element without field or newSize")
					}
					d.truncate(field, n)
					return nil
				})
			}
			return nil // disambiguatedPaths and future members
		})
		if err != nil {
			return fmt.Errorf("updateDescription: %w", err)
		}
	}
	var err error
	c.Columns, c.Before, c.After, err = twoImages(e.pre, firstDoc(e.full, e.docKey))
	if err != nil {
		return err
	}
	c.Columns, c.After, err = d.append(c.Columns, c.After, true)
	if err == nil && c.Before != nil {
		for len(c.Before) < len(c.Columns) {
			c.Before = append(c.Before, change.Absent())
		}
	}
	return err
}

// openChangeStream opens a change stream on the deployment, database or
// collection of the configuration, resuming after from's token (or at
// from.Offset, see resumeToken). A server that cannot run one gives
// ErrChangeStreamsUnsupported: the answers streamError knows, and any
// other server error from a server whose buildInfo lists its aggregation
// stages without $changeStream (FerretDB answers a database or deployment
// stream with FailedToParse).
func (s *Source) openChangeStream(ctx context.Context, client *mongo.Client, from change.Position) (*mongo.ChangeStream, error) {
	opts := options.ChangeStream().SetMaxAwaitTime(s.cfg.MaxAwait).SetBatchSize(int32(s.cfg.BatchSize))
	if s.cfg.FullDocument != "" {
		opts.SetFullDocument(options.FullDocument(s.cfg.FullDocument))
	}
	if s.cfg.FullDocumentBeforeChange != "" {
		opts.SetFullDocumentBeforeChange(options.FullDocument(s.cfg.FullDocumentBeforeChange))
	}
	if tok := resumeToken(from); tok != "" {
		doc, err := tokenDoc(tok)
		if err != nil {
			return nil, err
		}
		opts.SetResumeAfter(doc)
	} else if from.Offset != 0 {
		opts.SetStartAtOperationTime(&bson.Timestamp{T: uint32(from.Offset >> 32), I: uint32(from.Offset)})
	}
	var cs *mongo.ChangeStream
	var err error
	pipe := mongo.Pipeline{}
	switch {
	case s.cfg.Collection != "":
		cs, err = client.Database(s.cfg.Database).Collection(s.cfg.Collection).Watch(ctx, pipe, opts)
	case s.cfg.Database != "":
		cs, err = client.Database(s.cfg.Database).Watch(ctx, pipe, opts)
	default:
		cs, err = client.Watch(ctx, pipe, opts)
	}
	if err == nil {
		return cs, nil
	}
	werr := streamError("open change stream", from, err)
	var se mongo.ServerError
	if errors.As(err, &se) && !errors.Is(werr, ErrChangeStreamsUnsupported) && !errors.Is(werr, source.ErrPositionLost) {
		if b := readBuildInfo(ctx, client); b.lacksChangeStreams() {
			return nil, fmt.Errorf("%w: %s lists no $changeStream among its aggregation stages: open change stream: %w", ErrChangeStreamsUnsupported, b.name, err)
		}
	}
	return nil, werr
}

// readChangeStream reads cs, opened after from, until ctx is canceled,
// emit fails or the stream fails or ends.
func (s *Source) readChangeStream(ctx context.Context, cs *mongo.ChangeStream, from change.Position, emit func([]change.Change) error) error {
	dec, skip := resumeDecoder(from)
	batch := make([]change.Change, 0, s.cfg.BatchSize)
	send := func() error {
		out := batch[:0]
		for _, c := range batch {
			if !skip(c.Pos) {
				out = append(out, c)
			}
		}
		if len(out) > 0 {
			if err := emit(out); err != nil {
				return err
			}
		}
		clear(batch)
		batch = batch[:0]
		return nil
	}
	for {
		if cs.TryNext(ctx) {
			var inv bool
			var err error
			batch, inv, err = dec.decode(batch, cs.Current, time.Now())
			if err != nil {
				return err
			}
			if inv {
				if err := send(); err != nil {
					return err
				}
				return errInvalidated
			}
			if len(batch) >= s.cfg.BatchSize {
				if err := send(); err != nil {
					return err
				}
			}
			continue
		}
		if err := cs.Err(); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return streamError("read change stream", dec.last, err)
		}
		tok := ""
		if rt := cs.ResumeToken(); len(rt) > 0 {
			tok = tokenString(rt)
		}
		batch = dec.idle(batch, tok)
		if err := send(); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if cs.ID() == 0 { // TryNext would return false at once from now on
			return fmt.Errorf("mongodb: change stream closed by the server after %s", dec.last)
		}
	}
}

// resumeDecoder is the decoder for a stream resumed at from, and what to
// drop of its output. With a token the server resumes after it and the
// decoder continues from's numbering; without one (startAtOperationTime
// from.Offset, see resumeToken) the server re-sends the events at
// from.Offset, which the decoder numbers afresh and skip drops up to
// from.Index.
func resumeDecoder(from change.Position) (*csDecoder, func(change.Position) bool) {
	if resumeToken(from) != "" || from.Offset == 0 {
		return newCSDecoder(from), func(change.Position) bool { return false }
	}
	dec := newCSDecoder(change.Position{Flavor: change.FlavorMongo, Offset: from.Offset - 1})
	return dec, func(p change.Position) bool { return p.Offset == from.Offset && p.Index <= from.Index }
}

// streamError wraps a change-stream error, turning the server's "cannot
// resume" answers into source.ErrPositionLost and its "cannot run a change stream"
// answers into ErrChangeStreamsUnsupported: NotImplemented (238, FerretDB),
// CommandNotSupported (115), CommandNotFound (59), 40573 ("only supported
// on replica sets", a standalone mongod), 40602, and answers saying that
// $changeStream is not supported or implemented. An Unauthorized (13)
// answer, whose text quotes the command and so names $changeStream, is
// not one of them.
func streamError(what string, at change.Position, err error) error {
	var se mongo.ServerError
	if errors.As(err, &se) {
		switch {
		case se.HasErrorCode(286), se.HasErrorCode(280), se.HasErrorCode(260):
			return fmt.Errorf("mongodb: %s at %s: %w: %w", what, at, source.ErrPositionLost, err)
		case se.HasErrorCode(238), se.HasErrorCode(115), se.HasErrorCode(59), se.HasErrorCode(40573),
			se.HasErrorCode(40602), !se.HasErrorCode(13) && saysUnsupported(err.Error()):
			return fmt.Errorf("%w: %s: %w", ErrChangeStreamsUnsupported, what, err)
		}
	}
	return fmt.Errorf("mongodb: %s at %s: %w", what, at, err)
}

// saysUnsupported reports whether a server's message says that
// $changeStream is not supported or not implemented.
func saysUnsupported(msg string) bool {
	msg = strings.ToLower(msg)
	if !strings.Contains(msg, "$changestream") && !strings.Contains(msg, "change stream") {
		return false
	}
	for _, s := range []string{"not supported", "unsupported", "not implemented", "only supported"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
