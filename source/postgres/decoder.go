package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/sluice-cdc/sluice/change"
)

// messageNamespace is where logical decoding messages appear (Config.Messages).
var messageNamespace = change.Namespace{Database: "pg_catalog", Table: "pg_logical_emit_message"}

// messageColumns describe a logical decoding message as a row.
var messageColumns = []change.Column{
	{Name: "prefix", Type: "text"},
	{Name: "content", Type: "bytea"},
	{Name: "transactional", Type: "boolean"},
	{Name: "lsn", Type: "pg_lsn"},
}

// decoder turns pgoutput messages into changes. It owns the relation cache,
// the open transaction and the streamed transactions waiting for their
// commit; it knows nothing of the network.
type decoder struct {
	cat      *catalog
	rels     map[uint32]*relation
	spill    *spillStore
	from     change.Position // changes at or before it are dropped
	messages bool
	now      func() time.Time

	// The open transaction (non-streamed: Begin..Commit; streamed: during replay).
	inTx  bool
	xid   uint32
	txID  string
	lsn   uint64 // commit LSN: the Offset of every change of the transaction
	ctime time.Time
	index uint64 // Tx.Index of the next change

	// held is the last data change, kept back until the next one or the
	// commit shows whether it is the transaction's last.
	held    change.Change
	hasHeld bool

	// inStream is set between Stream Start and Stream Stop.
	inStream  bool
	streamXid uint32

	// streamed counts streamed transactions committed.
	streamed uint64

	out *batcher
	m   message // reused by handle
	rm  message // reused by replay

	// vals is the block row images are cut from (see allocValues); tmp
	// holds the held change's images while recycle moves them.
	vals []change.Value
	tmp  []change.Value
}

// valuesBlock is how many values a block of row images holds.
const valuesBlock = 4096

// allocValues returns n zero values cut from the current block (a new
// block when it is full; earlier cuts stay valid). Images handed to emit
// are reused once emit has returned (the pipeline's contract: it copies),
// at recycle.
func (d *decoder) allocValues(n int) []change.Value {
	if cap(d.vals)-len(d.vals) < n {
		d.vals = make([]change.Value, 0, max(valuesBlock, n))
	}
	l := len(d.vals)
	d.vals = d.vals[:l+n]
	v := d.vals[l : l+n : l+n]
	clear(v)
	return v
}

// recycle starts the current block of row images over once everything cut
// from it was emitted: only the held change may still use it, and its
// images move to the start of the block.
func (d *decoder) recycle() {
	if len(d.out.batch) > 0 {
		return // not emitted (emit failed)
	}
	if !d.hasHeld {
		d.vals = d.vals[:0]
		return
	}
	d.tmp = append(append(d.tmp[:0], d.held.Before...), d.held.After...)
	nb := len(d.held.Before)
	hadBefore, hadAfter := d.held.Before != nil, d.held.After != nil
	d.vals = d.vals[:0]
	d.held.Before, d.held.After = nil, nil
	if hadBefore {
		d.held.Before = d.allocValues(nb)
		copy(d.held.Before, d.tmp[:nb])
	}
	if hadAfter {
		d.held.After = d.allocValues(len(d.tmp) - nb)
		copy(d.held.After, d.tmp[nb:])
	}
	clear(d.tmp)
}

// batcher collects changes for emit and remembers the last position handed on.
type batcher struct {
	batch []change.Change
	max   int
	emit  func([]change.Change) error
	// last is the position of the last change added (emitted or pending).
	last change.Position
	// emitted counts changes handed to emit.
	emitted uint64
}

func (b *batcher) add(c change.Change) error {
	b.batch = append(b.batch, c)
	b.last = c.Pos
	if len(b.batch) >= b.max {
		return b.flush()
	}
	return nil
}

func (b *batcher) flush() error {
	if len(b.batch) == 0 {
		return nil
	}
	err := b.emit(b.batch)
	b.emitted += uint64(len(b.batch))
	clear(b.batch) // drop references to row memory
	b.batch = b.batch[:0]
	return err
}

// busy reports whether a transaction is open or streamed ones are pending,
// so that no point between transactions is known.
func (d *decoder) busy() bool {
	return d.inTx || d.hasHeld || len(d.spill.txs) > 0 || d.inStream
}

// push hands a change on unless it is at or before the resume point.
func (d *decoder) push(c change.Change) error {
	if c.Pos.Offset < d.from.Offset || (c.Pos.Offset == d.from.Offset && c.Pos.Index <= d.from.Index) {
		return nil
	}
	return d.out.add(c)
}

// handle decodes one message as received from the server.
func (d *decoder) handle(ctx context.Context, msg []byte) error {
	m := &d.m
	if err := decodeMessage(msg, d.inStream, m); err != nil {
		return err
	}
	if d.inStream {
		switch m.Type {
		case msgStreamStop:
			d.inStream = false
			return nil
		case msgRelation, msgType, msgInsert, msgUpdate, msgDelete, msgTruncate, msgMessage:
			if m.Type == msgMessage && !m.Transactional {
				return d.message(m)
			}
			return d.spill.add(d.spill.tx(d.streamXid), m.Xid, msg)
		}
		return fmt.Errorf("postgres: message %q inside stream block of transaction %d", m.Type, d.streamXid)
	}
	switch m.Type {
	case msgBegin:
		if d.inTx {
			return fmt.Errorf("postgres: Begin of transaction %d inside open transaction %d", m.Xid, d.xid)
		}
		return d.begin(m.Xid, m.FinalLSN, m.Time)
	case msgCommit:
		if !d.inTx {
			return fmt.Errorf("postgres: Commit at %s outside a transaction", formatLSN(m.CommitLSN))
		}
		return d.commit(m.EndLSN)
	case msgStreamStart:
		if d.inTx {
			return fmt.Errorf("postgres: Stream Start of transaction %d inside open transaction %d", m.Xid, d.xid)
		}
		d.inStream, d.streamXid = true, m.Xid
		d.spill.tx(m.Xid)
		return nil
	case msgStreamCommit:
		return d.streamCommit(ctx, m.Xid, m.CommitLSN, m.EndLSN, m.Time)
	case msgStreamAbort:
		if tx := d.spill.txs[m.Xid]; tx != nil {
			if m.SubXid == m.Xid {
				d.spill.drop(tx)
			} else {
				d.spill.abortSub(tx, m.SubXid)
			}
		}
		return nil
	case msgOrigin:
		return nil
	case msgMessage:
		if !m.Transactional {
			return d.message(m)
		}
	}
	return d.apply(ctx, m)
}

// apply handles a message that belongs to the open transaction or updates
// the relation cache.
func (d *decoder) apply(ctx context.Context, m *message) error {
	switch m.Type {
	case msgRelation:
		rel, err := d.cat.buildRelation(ctx, m)
		if err != nil {
			return err
		}
		d.rels[m.RelID] = rel
		return nil
	case msgType:
		return nil
	case msgInsert, msgUpdate, msgDelete, msgTruncate, msgMessage:
		if !d.inTx {
			return fmt.Errorf("postgres: data message %q outside a transaction", m.Type)
		}
		return d.data(ctx, m)
	}
	return fmt.Errorf("postgres: unexpected message %q", m.Type)
}

func (d *decoder) begin(xid uint32, lsn uint64, us int64) error {
	d.inTx, d.xid, d.lsn, d.index = true, xid, lsn, 0
	d.txID = strconv.FormatUint(uint64(xid), 10)
	d.ctime = pgTime(us)
	return d.push(d.change(change.OpBegin))
}

// change returns a change of the open transaction at the next index.
func (d *decoder) change(op change.Op) change.Change {
	c := change.Change{
		Op:         op,
		Source:     "postgres",
		Tx:         change.Tx{ID: d.txID, Index: d.index},
		Pos:        change.Position{Flavor: change.FlavorLSN, Offset: d.lsn, Index: d.index + 1},
		CommitTime: d.ctime,
		ReadTime:   d.now(),
	}
	d.index++
	return c
}

// dataChange passes c on through the one-change hold.
func (d *decoder) dataChange(c change.Change) error {
	if d.hasHeld {
		if err := d.push(d.held); err != nil {
			return err
		}
	}
	d.held, d.hasHeld = c, true
	return nil
}

func (d *decoder) commit(end uint64) error {
	if d.hasHeld {
		d.held.Tx.Last = true
		err := d.push(d.held)
		d.held, d.hasHeld = change.Change{}, false
		if err != nil {
			return err
		}
	}
	c := d.change(change.OpCommit)
	c.Pos = change.Position{Flavor: change.FlavorLSN, Offset: end}
	d.inTx = false
	return d.push(c)
}

// data turns a row or truncate message into changes.
func (d *decoder) data(ctx context.Context, m *message) error {
	if m.Type == msgMessage {
		return d.message(m)
	}
	if m.Type == msgTruncate {
		for _, id := range m.RelIDs {
			rel := d.rels[id]
			if rel == nil {
				return fmt.Errorf("postgres: transaction %d: truncate of relation %d before its Relation message", d.xid, id)
			}
			c := d.change(change.OpTruncate)
			c.Namespace, c.Columns = rel.ns, rel.cols
			if err := d.dataChange(c); err != nil {
				return err
			}
		}
		return nil
	}
	rel := d.rels[m.RelID]
	if rel == nil {
		return fmt.Errorf("postgres: transaction %d: change of relation %d before its Relation message", d.xid, m.RelID)
	}
	var c change.Change
	var err error
	switch m.Type {
	case msgInsert:
		c = d.change(change.OpInsert)
		c.After, err = d.row(ctx, rel, m.New, false)
	case msgUpdate:
		c = d.change(change.OpUpdate)
		if m.OldKind != 0 {
			c.Before, err = d.row(ctx, rel, m.Old, m.OldKind == 'K')
		}
		if err == nil {
			c.After, err = d.row(ctx, rel, m.New, false)
		}
	case msgDelete:
		c = d.change(change.OpDelete)
		c.Before, err = d.row(ctx, rel, m.Old, m.OldKind == 'K')
	}
	if err != nil {
		return fmt.Errorf("postgres: transaction %d (commit LSN %s) change %d on %s.%s: %w",
			d.xid, formatLSN(d.lsn), c.Tx.Index, rel.ns.Database, rel.ns.Table, err)
	}
	c.Namespace, c.Columns = rel.ns, rel.cols
	return d.dataChange(c)
}

// row decodes a tuple. In a key-only tuple ('K') the columns outside the
// replica identity are absent, not NULL.
func (d *decoder) row(ctx context.Context, rel *relation, tuple []tupleCol, keyOnly bool) ([]change.Value, error) {
	if len(tuple) != len(rel.cols) {
		return nil, fmt.Errorf("tuple has %d columns, relation has %d", len(tuple), len(rel.cols))
	}
	vals := d.allocValues(len(tuple))
	for i, col := range tuple {
		if keyOnly && !rel.identKey[i] {
			continue // zero Value: absent
		}
		v, err := d.cat.decodeValue(ctx, rel, i, col)
		if err != nil {
			return nil, fmt.Errorf("column %q (%s): %w", rel.cols[i].Name, rel.cols[i].Type, err)
		}
		vals[i] = v
	}
	return vals, nil
}

// message delivers a logical decoding message when Config.Messages is set:
// inside a transaction at its index, outside one just past its LSN.
func (d *decoder) message(m *message) error {
	if !d.messages {
		return nil
	}
	lsn := change.Value{Kind: change.KindOther, B: []byte(formatLSN(m.LSN)), Names: []string{"pg_lsn"}}
	after := []change.Value{change.String([]byte(m.Prefix)), change.Bytes(m.Content), change.Bool(m.Transactional), lsn}
	if m.Transactional && d.inTx {
		c := d.change(change.OpInsert)
		c.Namespace, c.Columns, c.After = messageNamespace, messageColumns, after
		return d.dataChange(c)
	}
	if d.inTx {
		return fmt.Errorf("postgres: non-transactional message at %s inside transaction %d", formatLSN(m.LSN), d.xid)
	}
	// Positions of streamed transactions still open are their later commit
	// LSNs, so a point just past this message stays in order before them.
	c := change.Change{
		Op:        change.OpInsert,
		Source:    "postgres",
		Namespace: messageNamespace,
		Columns:   messageColumns,
		After:     after,
		// The record starts at LSN; restarting one byte later skips it.
		Pos:      change.Position{Flavor: change.FlavorLSN, Offset: m.LSN + 1},
		ReadTime: d.now(),
	}
	return d.push(c)
}

// streamCommit replays a streamed transaction, minus its aborted
// subtransactions, as one ordinary transaction.
func (d *decoder) streamCommit(ctx context.Context, xid uint32, commitLSN, endLSN uint64, us int64) error {
	tx := d.spill.txs[xid]
	d.streamed++
	if err := d.begin(xid, commitLSN, us); err != nil {
		return err
	}
	if tx != nil {
		err := d.spill.replay(tx, func(subxid uint32, msg []byte) error {
			if err := decodeMessage(msg, true, &d.rm); err != nil {
				return err
			}
			switch d.rm.Type {
			case msgRelation, msgType:
				// Kept even from aborted subtransactions: the server does
				// not send a relation twice in one streamed transaction.
			default:
				if tx.aborted[subxid] {
					return nil
				}
			}
			return d.apply(ctx, &d.rm)
		})
		d.spill.drop(tx)
		if err != nil {
			return fmt.Errorf("postgres: streamed transaction %d (commit LSN %s): %w", xid, formatLSN(commitLSN), err)
		}
	}
	return d.commit(endLSN)
}
