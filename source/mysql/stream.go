package mysql

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/sluice-cdc/sluice/binlog"
	"github.com/sluice-cdc/sluice/change"
)

// session turns the events of one dump connection into changes. It owns
// the binlog coordinates and the transaction framing (a binlog.Stream),
// the open transaction and the table maps; the Source keeps what must
// survive a reconnect (schema, GTID state, the last delivered position)
// and hands it to the next session.
type session struct {
	cfg    *Config
	src    *Source
	flavor string
	emit   func([]change.Change) error

	stream *binlog.Stream
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

// txState is what the session emitted of the transaction being read (the
// stream's Framer says where it begins and ends, and its GTID).
type txState struct {
	id     string // GTID text, or file:offset without a GTID
	file   string
	start  uint64    // offset of the first event of the transaction
	index  uint64    // Tx.Index of the next change
	before string    // executed GTID set before the transaction
	time   time.Time // commit time the transaction's changes carry
	data   int       // data changes emitted
}

// tableState is a TABLE_MAP with the columns its rows are shown with.
type tableState struct {
	tm   *binlog.TableMap
	cols []change.Column
	ns   change.Namespace
	// fixes turn logged values into what their columns hold (see colFix).
	fixes []colFix
}

// where formats the current coordinates for errors.
func (s *session) where() string {
	return s.stream.File() + ":" + strconv.FormatInt(s.stream.Offset(), 10)
}

// handle processes one event as received from the dump (header, body and
// checksum, without the packet's OK byte), and the events inside it when
// it is a compressed transaction payload.
func (s *session) handle(raw []byte) error {
	s.haveReadTime = false
	if err := s.stream.Push(raw); err != nil {
		return fmt.Errorf("mysql: %w", err)
	}
	for {
		ev, st, err := s.stream.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("mysql: %w", err)
		}
		if err := s.event(ev, st); err != nil {
			return err
		}
	}
}

// event turns one framed event into changes.
func (s *session) event(ev *binlog.Event, st binlog.Step) error {
	switch st.Kind {
	case binlog.KindFile:
		return s.fileEvent(ev)
	case binlog.KindLost:
		return binlog.LostError(ev)
	}
	if st.Begins {
		if err := s.begin(ev, st); err != nil {
			return err
		}
	}
	switch st.Kind {
	case binlog.KindTableMap:
		if err := s.tableMap(ev, st.Table); err != nil {
			return err
		}
	case binlog.KindRows:
		if err := s.rowsEvent(ev); err != nil {
			return err
		}
	case binlog.KindStatement:
		if err := s.statement(ev, s.stream.Query()); err != nil {
			return err
		}
	}
	// INTVAR, RAND, USER_VAR, ROWS_QUERY, ANNOTATE_ROWS, TRANSACTION_CONTEXT,
	// VIEW_CHANGE, SAVEPOINT: nothing to emit.
	if st.Ends {
		return s.commit(ev)
	}
	return nil
}

// fileEvent handles the events that describe the log: heartbeats, ROTATE,
// and the GTID set a file starts with when the resume position did not
// give it. (The stream has placed them: file and offset are up to date.)
func (s *session) fileEvent(ev *binlog.Event) error {
	switch ev.Header.Type {
	case binlog.HeartbeatEvent, binlog.HeartbeatLogEventV2:
		return s.heartbeat(ev)
	case binlog.RotateEvent:
		// Table ids are per file on some servers; maps are re-sent anyway.
		clear(s.tables)
	case binlog.PreviousGTIDsEvent:
		if !s.src.gtid.known && !s.src.gtid.mariadb {
			var p binlog.PreviousGTIDs
			if err := p.Decode(ev.Body, ev.FDE); err != nil {
				return ev.Wrap(err)
			}
			// PREVIOUS_GTIDS starts a file: it is the exact set before it.
			s.src.gtid.mysql, s.src.gtid.known = p.Set.Clone(), true
		}
	case binlog.MariaGTIDListEvent:
		if !s.src.gtid.known && s.src.gtid.mariadb {
			var l binlog.MariaGTIDList
			if err := l.Decode(ev.Body, ev.FDE); err != nil {
				return ev.Wrap(err)
			}
			s.src.gtid.maria, s.src.gtid.known = l.Set(), true
		}
	}
	return nil
}

// heartbeat emits a heartbeat change when the position moved since the
// last change (positions must strictly increase).
func (s *session) heartbeat(ev *binlog.Event) error {
	if !s.cfg.EmitHeartbeats || s.stream.InTx() {
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
	return change.Position{Flavor: change.FlavorBinlog, File: s.stream.File(), Offset: uint64(s.stream.Offset()), GTIDSet: s.src.gtid.String()}
}

// begin opens the transaction that begins at ev and emits its begin.
func (s *session) begin(ev *binlog.Event, st binlog.Step) error {
	if st.Interrupted && (s.tx.index > 1 || s.tx.data > 0) {
		return ev.Errorf("transaction %s started at %s:%d never committed", s.tx.id, s.tx.file, s.tx.start)
	}
	tx := s.stream.Tx()
	s.tx = txState{id: tx.GTIDString(), file: s.stream.File(), start: uint64(tx.Start),
		before: s.src.gtid.String(), time: time.Unix(int64(tx.Time), 0)}
	if tx.CommitTS != 0 {
		s.tx.time = time.UnixMicro(int64(tx.CommitTS))
	}
	if s.tx.id == "" {
		s.tx.id = s.tx.file + ":" + strconv.FormatUint(s.tx.start, 10)
	}
	c := s.newChange()
	c.Op = change.OpBegin
	s.add(c)
	return nil
}

// statement handles a statement inside a transaction: DDL becomes a ddl or
// truncate change and updates the schema history; DML logged as a
// statement (binlog_format=STATEMENT or MIXED, also LOAD DATA) becomes a
// statement change; other statements produce nothing.
func (s *session) statement(ev *binlog.Event, q *binlog.Query) error {
	if q.ErrorCode != 0 {
		return nil // a statement that failed on the source changed nothing we track
	}
	commitPos := change.Position{Flavor: change.FlavorBinlog, File: s.stream.File(), Offset: uint64(s.stream.Offset())}
	res, err := s.src.schema.applyQuery(q.Schema, q.SQL, commitPos)
	if err != nil {
		return fmt.Errorf("mysql: %s: %w", s.where(), err)
	}
	if res.kind == ddlNone {
		if !binlog.IsDML(q.SQL) {
			return nil
		}
		if !s.cfg.AllowStatement && !s.src.warnedStatement {
			// The server logs rows, but a session logged this as text
			// (SET SESSION binlog_format=STATEMENT).
			s.src.warnedStatement = true
			s.cfg.Logger.Warn("the binlog holds DML as SQL text although binlog_format is ROW (a session set "+
				"binlog_format=STATEMENT?): it is delivered as a \"statement\" change, without rows", "at", s.where())
		}
		c := s.newChange()
		*c = change.Change{Op: change.OpStatement, Namespace: change.Namespace{Database: q.Schema}, SQL: q.SQL}
		s.add(c)
		s.tx.data++
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

// commit closes the transaction with a commit change and adds its GTID to
// the executed set.
func (s *session) commit(ev *binlog.Event) error {
	g := &s.src.gtid
	switch tx := s.stream.Tx(); tx.GTID {
	case binlog.TxMySQLGTID:
		if g.known {
			g.mysql.Add(tx.MySQL)
		}
	case binlog.TxMariaGTID:
		g.maria.Add(tx.Maria)
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
	case change.OpInsert, change.OpUpdate, change.OpDelete, change.OpDDL, change.OpTruncate, change.OpStatement:
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
