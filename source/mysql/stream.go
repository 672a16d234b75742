package mysql

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/binlog"
	"github.com/sluice-cdc/sluice/change"
)

// session turns the events of one dump connection into changes. It owns
// the binlog coordinates, the open transaction and the table maps; the
// Source keeps what must survive a reconnect (schema, GTID state, the last
// delivered position) and hands it to the next session.
type session struct {
	cfg    *Config
	src    *Source
	flavor string
	emit   func([]change.Change) error

	fde  *binlog.FormatDescription
	file string
	next uint64 // offset of the next event in file

	tables map[uint64]*tableState
	tx     txState

	// skip drops the first skip changes (Position.Index <= skip) of the
	// first transaction read: they were delivered before a restart.
	skip      uint64
	skipArmed bool

	// out holds the changes queued for emit. When hasPend is set its last
	// element is a data change held back to set Tx.Last; it is not emitted
	// until another change follows it.
	out     []change.Change
	hasPend bool
	pendOwn bool            // the held-back change's values live in pend
	pend    pendBuffers     // the held-back change's values between flushes
	last    change.Position // position of the last change handed to emit
	rows    rowBuffers

	// readTime is when the event being handled was read (taken at most
	// once per event, on its first change: a rows event's changes share it).
	readTime     time.Time
	haveReadTime bool
}

// txState is the transaction being read.
type txState struct {
	open     bool
	explicit bool   // ends with XID or COMMIT (not after one statement)
	id       string // GTID text, or file:offset without a GTID
	gtidText string
	file     string
	start    uint64 // offset of the first event of the transaction
	index    uint64 // Tx.Index of the next change
	before   string // executed GTID set before the transaction
	time     time.Time
	// gtid to add to the state at commit.
	mysqlGTID *binlog.MySQLGTID
	mariaGTID *binlog.MariaGTID
	data      int // data changes emitted
}

// tableState is a TABLE_MAP with the columns its rows are shown with.
type tableState struct {
	raw  []byte // the TABLE_MAP body, to reuse the decoding when it repeats
	tm   *binlog.TableMap
	cols []change.Column
	ns   change.Namespace
	// fixes turn logged values into what their columns hold (see colFix).
	fixes []colFix
}

// where formats the current coordinates for errors.
func (s *session) where() string {
	return s.file + ":" + strconv.FormatUint(s.next, 10)
}

// handle processes one event as received from the dump (header, body and
// checksum, without the packet's OK byte).
func (s *session) handle(raw []byte) error {
	if len(raw) < binlog.HeaderLenV4 {
		return fmt.Errorf("mysql: %s: event of %d bytes is shorter than a header", s.where(), len(raw))
	}
	h, _ := binlog.DecodeHeader(raw)
	s.haveReadTime = false
	artificial := h.Flags&binlog.FlagArtificial != 0
	// Where this event sits in its file: offsets come from sizes, since
	// log_pos is 0 in some events (MariaDB 11.4+, artificial events).
	offset := s.next
	// Artificial events, heartbeats, the fake ROTATE and the FDE the server
	// re-sends when a dump starts mid-file are not at the current offset.
	advances := !artificial && h.Type != binlog.HeartbeatEvent && h.Type != binlog.HeartbeatLogEventV2 &&
		!(h.LogPos == 0 && h.Type == binlog.RotateEvent) &&
		!(h.Type == binlog.FormatDescriptionEvent && offset != 4)
	if advances && h.LogPos != 0 && h.LogPos >= h.EventSize {
		// The server's end position is authoritative when it has one: a
		// GTID dump starts in the middle of a file after a ROTATE to 4.
		offset = uint64(h.LogPos - h.EventSize)
	}
	fde := s.fde
	if h.Type == binlog.FormatDescriptionEvent {
		fde = nil // the event describes itself
	}
	ev, err := binlog.ParseEvent(raw, fde, binlog.WithStartOffset(int64(offset)))
	if err != nil {
		return fmt.Errorf("mysql: %s: %w", s.where(), err)
	}
	ev.Source = s.file
	if advances {
		s.next = offset + uint64(h.EventSize)
	}
	switch h.Type {
	case binlog.FormatDescriptionEvent:
		s.fde = ev.FDE
		return nil
	case binlog.RotateEvent:
		return s.rotate(ev)
	case binlog.HeartbeatEvent, binlog.HeartbeatLogEventV2:
		return s.heartbeat(ev)
	case binlog.StopEvent:
		return nil
	}
	if s.fde == nil {
		return fmt.Errorf("mysql: %s: %s before any FORMAT_DESCRIPTION_EVENT", s.where(), h.Type)
	}
	switch h.Type {
	case binlog.MariaGTIDEvent:
		var g binlog.MariaGTIDStart
		if err := g.Decode(ev.Body, s.fde); err != nil {
			return ev.Wrap(err)
		}
		gt := g.GTID(h.ServerID)
		if err := s.begin(ev, offset, gt.String()); err != nil {
			return err
		}
		s.tx.mariaGTID = &gt
		s.tx.explicit = g.Flags&binlog.MariaGTIDStandalone == 0
	case binlog.GTIDEvent, binlog.GTIDTaggedLogEvent, binlog.AnonymousGTIDEvent:
		var g binlog.GTID
		var err error
		if h.Type == binlog.GTIDTaggedLogEvent {
			err = g.DecodeTagged(ev.Body, s.fde)
		} else {
			err = g.Decode(ev.Body, s.fde)
		}
		if err != nil {
			return ev.Wrap(err)
		}
		id := ""
		if !g.Anonymous() {
			id = g.GTID().String()
		}
		if err := s.begin(ev, offset, id); err != nil {
			return err
		}
		if !g.Anonymous() {
			gt := g.GTID()
			s.tx.mysqlGTID = &gt
		}
		if g.ImmediateCommitTS != 0 {
			us := int64(g.ImmediateCommitTS)
			s.tx.time = time.UnixMicro(us)
		}
	case binlog.QueryEvent, binlog.MariaQueryCompressedEvent:
		var q binlog.Query
		if h.Type == binlog.QueryEvent {
			err = q.Decode(ev.Body, s.fde)
		} else {
			err = q.DecodeCompressed(ev.Body, s.fde)
		}
		if err != nil {
			return ev.Wrap(err)
		}
		return s.query(ev, offset, &q)
	case binlog.XIDEvent:
		var x binlog.XIDCommit
		if err := x.Decode(ev.Body, s.fde); err != nil {
			return ev.Wrap(err)
		}
		if !s.tx.open {
			// A transaction whose start we did not see (we joined after
			// its first event): nothing of it was emitted.
			return nil
		}
		return s.commit(ev)
	case binlog.TableMapEvent:
		return s.tableMap(ev)
	case binlog.WriteRowsEventV1, binlog.UpdateRowsEventV1, binlog.DeleteRowsEventV1,
		binlog.WriteRowsEventV2, binlog.UpdateRowsEventV2, binlog.DeleteRowsEventV2,
		binlog.PartialUpdateRowsEvent,
		binlog.MariaWriteRowsCompressedEventV1, binlog.MariaUpdateRowsCompressedEventV1, binlog.MariaDeleteRowsCompressedEventV1,
		binlog.MariaWriteRowsCompressedEvent, binlog.MariaUpdateRowsCompressedEvent, binlog.MariaDeleteRowsCompressedEvent:
		return s.rowsEvent(ev)
	case binlog.PreviousGTIDsEvent:
		if !s.src.gtid.known && !s.src.gtid.mariadb {
			var p binlog.PreviousGTIDs
			if err := p.Decode(ev.Body, s.fde); err != nil {
				return ev.Wrap(err)
			}
			// PREVIOUS_GTIDS starts a file: it is the exact set before it.
			s.src.gtid.mysql, s.src.gtid.known = p.Set.Clone(), true
		}
	case binlog.MariaGTIDListEvent:
		if !s.src.gtid.known && s.src.gtid.mariadb {
			var l binlog.MariaGTIDList
			if err := l.Decode(ev.Body, s.fde); err != nil {
				return ev.Wrap(err)
			}
			s.src.gtid.maria, s.src.gtid.known = l.Set(), true
		}
	case binlog.IncidentEvent:
		return ev.Errorf("the server logged an incident: the binlog may be missing changes")
	case binlog.MariaPartialRowDataEvent:
		return ev.Wrap(binlog.ErrFragmentedRow)
	}
	// INTVAR, RAND, USER_VAR, ROWS_QUERY, ANNOTATE_ROWS, BINLOG_CHECKPOINT,
	// TRANSACTION_CONTEXT, VIEW_CHANGE: nothing to emit.
	return nil
}

// rotate switches to the next file (or learns the first file at start).
func (s *session) rotate(ev *binlog.Event) error {
	var r binlog.Rotate
	if err := r.Decode(ev.Body, s.fde); err != nil {
		return ev.Wrap(err)
	}
	s.file, s.next = r.NextFile, r.Position
	// Table ids are per file on some servers; maps are re-sent anyway.
	clear(s.tables)
	return nil
}

// heartbeat emits a heartbeat change when the position moved since the
// last change (positions must strictly increase).
func (s *session) heartbeat(ev *binlog.Event) error {
	if !s.cfg.EmitHeartbeats || s.tx.open {
		return nil
	}
	pos := s.boundary()
	if change.Compare(pos, s.last) <= 0 {
		return nil
	}
	c := s.newChange()
	*c = change.Change{Op: change.OpHeartbeat, Source: s.flavor, Pos: pos}
	if ev.Header.Timestamp != 0 {
		c.CommitTime = time.Unix(int64(ev.Header.Timestamp), 0)
	}
	s.queue(c)
	return s.flush()
}

// boundary is the position between transactions at the current offset.
func (s *session) boundary() change.Position {
	return change.Position{Flavor: change.FlavorBinlog, File: s.file, Offset: s.next, GTIDSet: s.src.gtid.String()}
}

// begin opens a transaction at the event at offset and emits its begin.
func (s *session) begin(ev *binlog.Event, offset uint64, gtid string) error {
	if s.tx.open {
		if s.tx.index > 1 || s.tx.data > 0 {
			return ev.Errorf("transaction %s started at %s:%d never committed", s.tx.id, s.tx.file, s.tx.start)
		}
	}
	s.tx = txState{open: true, gtidText: gtid, id: gtid, file: s.file, start: offset,
		before: s.src.gtid.String(), time: time.Unix(int64(ev.Header.Timestamp), 0)}
	if gtid == "" {
		s.tx.id = s.file + ":" + strconv.FormatUint(offset, 10)
	}
	c := s.newChange()
	c.Op = change.OpBegin
	s.add(c)
	return nil
}

// query handles a QUERY event: BEGIN, COMMIT, ROLLBACK or a statement.
func (s *session) query(ev *binlog.Event, offset uint64, q *binlog.Query) error {
	sql := strings.TrimSpace(q.SQL)
	upper := strings.ToUpper(sql)
	if strings.HasPrefix(upper, "XA ") {
		// XA START opens like BEGIN; XA END is a no-op here; XA PREPARE,
		// XA COMMIT and XA ROLLBACK end an event group.
		switch word := firstWord(strings.TrimSpace(upper[3:])); word {
		case "START", "BEGIN":
			upper = "BEGIN"
		case "PREPARE", "COMMIT", "ROLLBACK":
			upper = "COMMIT"
		default:
			return nil
		}
	}
	switch upper {
	case "BEGIN", "START TRANSACTION":
		if !s.tx.open {
			if err := s.begin(ev, offset, ""); err != nil {
				return err
			}
		}
		s.tx.explicit = true
		return nil
	case "COMMIT", "ROLLBACK":
		if !s.tx.open {
			return nil
		}
		return s.commit(ev)
	}
	if !s.tx.open {
		if err := s.begin(ev, offset, ""); err != nil {
			return err
		}
	}
	if err := s.statement(ev, q); err != nil {
		return err
	}
	if !s.tx.explicit {
		return s.commit(ev)
	}
	return nil
}

// statement handles a statement inside a transaction: DDL becomes a ddl or
// truncate change and updates the schema history; other statements
// (statement-based DML, SAVEPOINT) produce nothing.
func (s *session) statement(ev *binlog.Event, q *binlog.Query) error {
	if q.ErrorCode != 0 {
		return nil // a statement that failed on the source changed nothing we track
	}
	commitPos := change.Position{Flavor: change.FlavorBinlog, File: s.file, Offset: s.next}
	res, err := s.src.schema.applyQuery(q.Schema, q.SQL, commitPos)
	if err != nil {
		return fmt.Errorf("mysql: %s: %w", s.where(), err)
	}
	if res.kind == ddlNone {
		return nil
	}
	c := s.newChange()
	*c = change.Change{Op: change.OpDDL, Namespace: change.Namespace{Database: res.db, Table: res.table}, SQL: q.SQL}
	if res.kind == ddlTruncate {
		c.Op = change.OpTruncate
	}
	s.add(c)
	s.tx.data++
	// A table whose shape changed gets a new TABLE_MAP before its next rows.
	clear(s.tables)
	return nil
}

// commit closes the transaction with a commit change.
func (s *session) commit(ev *binlog.Event) error {
	g := &s.src.gtid
	switch {
	case s.tx.mysqlGTID != nil:
		if g.known {
			g.mysql.Add(*s.tx.mysqlGTID)
		}
	case s.tx.mariaGTID != nil:
		g.maria.Add(*s.tx.mariaGTID)
		g.known = true
	}
	if s.hasPend {
		s.out[len(s.out)-1].Tx.Last = true
	}
	c := s.newChange()
	*c = change.Change{Op: change.OpCommit, CommitTime: time.Unix(int64(ev.Header.Timestamp), 0)}
	c.Source = s.flavor
	c.Tx = change.Tx{ID: s.tx.id, Index: s.tx.index}
	c.Pos = s.boundary()
	s.tx.index++
	s.queue(c)
	s.tx = txState{}
	return s.flush()
}

// newChange returns a zeroed change appended to the queue; the caller
// fills it in and passes it to add or queue before asking for another.
func (s *session) newChange() *change.Change {
	s.out = append(s.out, change.Change{})
	return &s.out[len(s.out)-1]
}

// add completes c (from newChange) as the next change of the open
// transaction: it fills in source, transaction, position and time, and
// queues it.
func (s *session) add(c *change.Change) {
	c.Source = s.flavor
	c.Tx = change.Tx{ID: s.tx.id, Index: s.tx.index}
	c.Pos = change.Position{Flavor: change.FlavorBinlog, File: s.tx.file, Offset: s.tx.start, Index: s.tx.index + 1, GTIDSet: s.tx.before}
	if c.CommitTime.IsZero() {
		c.CommitTime = s.tx.time
	}
	s.tx.index++
	s.queue(c)
}

// queue settles c, the change last returned by newChange: the resume skip
// drops it again, and a data change is held back (so that the commit can
// set its Tx.Last) until another change follows it.
func (s *session) queue(c *change.Change) {
	if s.skipArmed {
		if c.Pos.Index != 0 && c.Pos.Index <= s.skip {
			*c = change.Change{}
			s.out = s.out[:len(s.out)-1]
			return
		}
		if c.Op == change.OpCommit || c.Pos.Index > s.skip {
			s.skipArmed = false
		}
	}
	if !s.haveReadTime {
		s.readTime, s.haveReadTime = time.Now(), true
	}
	c.ReadTime = s.readTime
	switch c.Op {
	case change.OpInsert, change.OpUpdate, change.OpDelete, change.OpDDL, change.OpTruncate:
		s.hasPend, s.pendOwn = true, false
	default:
		s.hasPend = false
	}
}

// flush hands the queued changes to emit. A held-back data change stays
// held but is detached from the read buffers, which the next event reuses.
func (s *session) flush() error {
	n := len(s.out)
	if s.hasPend {
		n--
	}
	if n > 0 {
		last := s.out[n-1].Pos
		if err := s.emit(s.out[:n]); err != nil {
			return err
		}
		s.last = last
		s.src.delivered(last)
		if s.hasPend {
			s.out[0] = s.out[n]
			clear(s.out[1 : n+1])
			s.out = s.out[:1]
		} else {
			clear(s.out)
			s.out = s.out[:0]
		}
	}
	// After emit: a change held back earlier, whose values were in pend,
	// has just been emitted, so pend is free for this one.
	if s.hasPend && !s.pendOwn {
		p := &s.out[len(s.out)-1]
		p.Before, p.After = s.pend.hold(p.Before, p.After)
		s.pendOwn = true
	}
	return nil
}

// pendBuffers hold the values of the held-back change from one flush to
// the next, reused so that holding a change back allocates nothing.
type pendBuffers struct {
	vals  []change.Value
	bytes []byte
}

// hold copies the two images (and the bytes they point to) into b,
// replacing what b held, and returns the copies.
func (b *pendBuffers) hold(before, after []change.Value) ([]change.Value, []change.Value) {
	size := 0
	for _, img := range [2][]change.Value{before, after} {
		for i := range img {
			size += len(img[i].B)
		}
	}
	if n := len(before) + len(after); cap(b.vals) < n || b.vals == nil {
		// Never nil: an image that is present must stay present.
		b.vals = make([]change.Value, 0, max(n, 2*cap(b.vals), 8))
	}
	if cap(b.bytes) < size || b.bytes == nil {
		// Never nil: an empty value must stay empty, not become nil.
		b.bytes = make([]byte, 0, max(size, 2*cap(b.bytes), 64))
	}
	b.vals, b.bytes = b.vals[:0], b.bytes[:0]
	return b.copy(before), b.copy(after)
}

func (b *pendBuffers) copy(img []change.Value) []change.Value {
	if img == nil {
		return nil
	}
	start := len(b.vals)
	for _, v := range img {
		if v.Elems != nil || v.Names != nil {
			v = v.Clone() // rare (decoded SET/ENUM details); allocates
		} else if v.B != nil {
			at := len(b.bytes)
			b.bytes = append(b.bytes, v.B...)
			v.B = b.bytes[at:len(b.bytes):len(b.bytes)]
		}
		b.vals = append(b.vals, v)
	}
	return b.vals[start:len(b.vals):len(b.vals)]
}
