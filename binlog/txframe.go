package binlog

import (
	"strconv"
	"strings"
)

// EventKind is what an event is to the transaction framing.
type EventKind uint8

// Event kinds, as Framer.Event reports them in Step.Kind.
const (
	// KindOther is every event the framing does not look into: INTVAR,
	// RAND, USER_VAR, ROWS_QUERY, ANNOTATE_ROWS, TRANSACTION_CONTEXT,
	// VIEW_CHANGE, the LOAD DATA file blocks, unknown types. Inside a
	// transaction it belongs to it.
	KindOther EventKind = iota
	// KindFormat is a FORMAT_DESCRIPTION_EVENT or START_EVENT_V3.
	KindFormat
	// KindFile is an event that describes the log rather than a
	// transaction, and is never part of one: ROTATE, STOP,
	// PREVIOUS_GTIDS, GTID_LIST, BINLOG_CHECKPOINT, the heartbeats.
	KindFile
	// KindGTID is a GTID event of either flavor (MySQL GTID, anonymous
	// and tagged GTID, MariaDB GTID): it begins a transaction.
	KindGTID
	// KindBegin is a QUERY "BEGIN", "START TRANSACTION" or "XA START".
	KindBegin
	// KindCommit is an event that ends a transaction: XID,
	// XA_PREPARE_LOG_EVENT, or a QUERY "COMMIT", "ROLLBACK", "XA PREPARE",
	// "XA COMMIT" or "XA ROLLBACK". (A logged ROLLBACK ends a transaction
	// whose non-transactional changes stay: it commits what was logged.)
	KindCommit
	// KindStatement is any other QUERY: DDL, or a statement-based DML
	// (also LOAD DATA's EXECUTE_LOAD_QUERY_EVENT).
	KindStatement
	// KindSavepoint is a QUERY that steers the open transaction and
	// changes no data: SAVEPOINT, ROLLBACK TO SAVEPOINT, RELEASE
	// SAVEPOINT, XA END.
	KindSavepoint
	// KindTableMap is a TABLE_MAP_EVENT; Step.Table holds it decoded.
	KindTableMap
	// KindRows is a rows event of a type RowsReader decodes.
	KindRows
	// KindPayload is a TRANSACTION_PAYLOAD_EVENT.
	KindPayload
	// KindLost is an event that says changes are missing here or cannot
	// be read: INCIDENT, MariaDB PARTIAL_ROW_DATA. LostError describes it.
	KindLost
)

var kindNames = [...]string{"other", "format", "file", "gtid", "begin", "commit", "statement", "savepoint",
	"table map", "rows", "payload", "lost"}

// String returns a short name of the kind.
func (k EventKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Step is what one event did to the transaction framing.
type Step struct {
	Kind EventKind
	// Begins says a transaction begins at this event; Framer.Tx
	// describes it from here on.
	Begins bool
	// Opens says this event opens an explicit transaction, one that an
	// XID, COMMIT, ROLLBACK or XA end will end: a BEGIN or XA START, or a
	// MariaDB GTID event without the STANDALONE flag (no BEGIN follows
	// it). It may come with Begins (no GTID before it) or after it.
	Opens bool
	// Ends says the transaction ends with this event: a commit, or the
	// statement that makes up a GTID group of its own (DDL).
	Ends bool
	// InTx says the event belongs to a transaction: it is the event that
	// began it, the one that ends it or one between them.
	InTx bool
	// Interrupted says that a transaction was still open when this one
	// began: the input does not hold its end.
	Interrupted bool
	// Table is the decoded TABLE_MAP of a KindTableMap event.
	Table *TableMap
}

// TxGTID tells what kind of GTID a transaction has.
type TxGTID uint8

// GTID kinds of a transaction.
const (
	TxNoGTID    TxGTID = iota // no GTID event began it
	TxAnonymous               // MySQL ANONYMOUS_GTID (gtid_mode=OFF)
	TxMySQLGTID               // MySQL GTID or tagged GTID: Tx.MySQL
	TxMariaGTID               // MariaDB GTID: Tx.Maria
)

// Tx describes the transaction being framed.
type Tx struct {
	Start int64  // offset of the event that began it (for a nested event, its payload event's)
	Time  uint32 // header timestamp of that event
	GTID  TxGTID // what GTID it has
	MySQL MySQLGTID
	Maria MariaGTID
	// MariaFlags are the MariaDB GTID event's flags (MariaGTIDStandalone, ...).
	MariaFlags uint8
	// CommitTS is the MySQL GTID event's immediate commit timestamp in
	// microseconds since the epoch (0 when not logged).
	CommitTS uint64
	Explicit bool // opened by BEGIN, XA START or a MariaDB GTID without STANDALONE
	XA       bool // an XA transaction (XA START, or a MariaDB GTID flagged XA)
	// Implicit says a rows event outside any transaction began it: an old
	// server logged rows of a non-transactional table without BEGIN (the
	// statement is the transaction: its last rows event ends it), or the
	// input starts inside a transaction.
	Implicit bool
}

// GTIDString returns the transaction's GTID as text, or "" when it has
// none or an anonymous one.
func (t *Tx) GTIDString() string {
	switch t.GTID {
	case TxMySQLGTID:
		return t.MySQL.String()
	case TxMariaGTID:
		return t.Maria.String()
	}
	return ""
}

// Framing states.
const (
	frameNone  uint8 = iota // between transactions
	frameGroup              // a GTID began a group that no BEGIN opened (yet): a statement ends it
	frameOpen               // an explicit transaction: a commit event ends it
)

// Framer follows the transactions of a binlog or replication stream, fed
// one event at a time in order: which event begins a transaction, which
// opens it explicitly, which ends it, and what lies between. It keeps the
// table maps, decodes the GTID and QUERY events it needs (Tx and Query
// give them to the caller, who need not decode them again) and allocates
// nothing per rows event. It works on events from a Reader (files, relay
// logs) as on those a Stream frames from a replica connection.
//
// The rules, for both flavors:
//   - A GTID event begins a transaction. A MariaDB GTID without the
//     STANDALONE flag opens it too (no BEGIN follows in MariaDB 10+);
//     after a MySQL GTID a BEGIN or XA START opens it.
//   - Without a GTID, a BEGIN or XA START begins and opens one.
//   - An open transaction ends with an XID, an XA_PREPARE_LOG_EVENT, or a
//     QUERY COMMIT, ROLLBACK, XA PREPARE, XA COMMIT or XA ROLLBACK.
//   - A GTID group that nothing opened ends with its statement (DDL is
//     a transaction of its own); a statement with neither GTID nor BEGIN
//     (old servers) begins and ends one.
//   - A rows event outside any transaction begins one (Tx.Implicit): an
//     old server logged a non-transactional table's rows without BEGIN, or
//     the input starts inside a transaction. The rows event that ends its
//     statement (RowsFlagStmtEnd) ends it; a GTID, BEGIN or XA START
//     begins the next one.
//   - A TRANSACTION_PAYLOAD_EVENT lies inside its transaction, and its
//     inner events frame it; with WholePayloads (a Reader made
//     WithoutPayloadExpansion) it holds the rest of its transaction and
//     ends it.
//   - File events (ROTATE, FORMAT_DESCRIPTION, PREVIOUS_GTIDS, ...) are
//     never part of a transaction, even in the middle of one (relay logs).
//   - A commit event with no transaction open (the input starts after its
//     begin) ends nothing.
//
// A Framer is not safe for concurrent use. The zero Framer is ready.
type Framer struct {
	// WholePayloads says TRANSACTION_PAYLOAD_EVENTs arrive as they are,
	// without their inner events: each ends its transaction.
	WholePayloads bool

	state  uint8
	tx     Tx
	query  Query
	gtid   GTID
	maria  MariaGTIDStart
	tables TableMaps
}

// Tx returns the transaction the last event belongs to (or the last one
// that ended). It changes when the next transaction begins.
func (f *Framer) Tx() *Tx { return &f.tx }

// InTx reports whether a transaction is open: it began and has not ended.
func (f *Framer) InTx() bool { return f.state != frameNone }

// Query returns the QUERY event last framed (a KindBegin, KindCommit,
// KindStatement or KindSavepoint event from a QUERY_EVENT, a MariaDB
// QUERY_COMPRESSED_EVENT or, for LOAD DATA, an EXECUTE_LOAD_QUERY_EVENT),
// decoded. It is valid until the next call to Event.
func (f *Framer) Query() *Query { return &f.query }

// Table returns the TABLE_MAP last seen for table id, or nil: the lookup
// a RowsReader needs.
func (f *Framer) Table(id uint64) *TableMap { return f.tables.Table(id) }

// Tables returns the table maps the framer keeps.
func (f *Framer) Tables() *TableMaps { return &f.tables }

// Reset forgets the open transaction and the table maps, as at the start
// of an unrelated input.
func (f *Framer) Reset() {
	f.state = frameNone
	f.tx = Tx{}
	f.tables.Clear()
}

// Event frames ev, the next event of the input, and reports what it is to
// the transaction framing. The errors are those of decoding the GTID,
// QUERY and TABLE_MAP events, located at ev.
func (f *Framer) Event(ev *Event) (Step, error) {
	var st Step
	t := ev.Header.Type
	switch t {
	case FormatDescriptionEvent, StartEventV3:
		st.Kind = KindFormat
		return st, nil
	case RotateEvent, StopEvent, PreviousGTIDsEvent, MariaGTIDListEvent, MariaBinlogCheckpointEvent,
		HeartbeatEvent, HeartbeatLogEventV2, MariaStartEncryptionEvent:
		st.Kind = KindFile
		return st, nil
	case TableMapEvent:
		tm, err := f.tables.Add(ev)
		if err != nil {
			return st, err
		}
		st.Kind, st.Table = KindTableMap, tm
	case MariaGTIDEvent:
		g := &f.maria
		if err := g.Decode(ev.Body, ev.FDE); err != nil {
			return st, ev.Wrap(err)
		}
		st.Kind = KindGTID
		f.begin(ev, &st)
		f.tx.GTID, f.tx.Maria, f.tx.MariaFlags = TxMariaGTID, g.GTID(ev.Header.ServerID), g.Flags
		f.tx.XA = g.Flags&(MariaGTIDPreparedXA|MariaGTIDCompletedXA) != 0
		if g.Flags&MariaGTIDStandalone == 0 {
			f.open(&st)
		} else {
			f.state = frameGroup
		}
		return st, nil
	case GTIDEvent, AnonymousGTIDEvent, GTIDTaggedLogEvent:
		g := &f.gtid
		var err error
		if t == GTIDTaggedLogEvent {
			err = g.DecodeTagged(ev.Body, ev.FDE)
		} else {
			err = g.Decode(ev.Body, ev.FDE)
		}
		if err != nil {
			return st, ev.Wrap(err)
		}
		st.Kind = KindGTID
		f.begin(ev, &st)
		f.state = frameGroup
		f.tx.CommitTS = g.ImmediateCommitTS
		if g.Anonymous() {
			f.tx.GTID = TxAnonymous
		} else {
			f.tx.GTID, f.tx.MySQL = TxMySQLGTID, g.GTID()
		}
		return st, nil
	case QueryEvent, MariaQueryCompressedEvent, ExecuteLoadQueryEvent:
		var err error
		switch t {
		case QueryEvent:
			err = f.query.Decode(ev.Body, ev.FDE)
		case MariaQueryCompressedEvent:
			err = f.query.DecodeCompressed(ev.Body, ev.FDE)
		default:
			// LOAD DATA logged as a statement (its file travels in the
			// BEGIN_LOAD_QUERY and APPEND_BLOCK events before it).
			var e ExecuteLoadQuery
			err = e.Decode(ev.Body, ev.FDE)
			f.query = e.Query
		}
		if err != nil {
			return st, ev.Wrap(err)
		}
		var xa bool
		st.Kind, xa = classifyQuery(f.query.SQL)
		switch st.Kind {
		case KindBegin:
			if f.tx.Implicit && f.state != frameNone {
				f.begin(ev, &st) // the rows before had no end
			}
			f.beginIfNone(ev, &st)
			if f.state != frameOpen {
				f.open(&st)
			}
			st.InTx = true
			f.tx.XA = f.tx.XA || xa
			return st, nil
		case KindCommit:
			f.end(&st)
		default:
			// A statement: alone it is a transaction of its own; after a
			// GTID that nothing opened it is the whole group.
			f.beginIfNone(ev, &st)
			st.InTx = true
			if f.state == frameGroup {
				f.end(&st)
			}
		}
		return st, nil
	case XIDEvent, XAPrepareLogEvent:
		st.Kind = KindCommit
		f.end(&st)
		return st, nil
	case TransactionPayloadEvent:
		st.Kind = KindPayload
		f.beginIfNone(ev, &st)
		st.InTx = true
		if f.WholePayloads {
			f.end(&st)
		}
		return st, nil
	case IncidentEvent, MariaPartialRowDataEvent:
		st.Kind = KindLost
	default:
		if IsRowsEvent(t) {
			st.Kind = KindRows
			id, flags := rowsPostHeader(ev)
			if f.state == frameNone && id != dummyTableID {
				f.begin(ev, &st)
				f.state = frameOpen
				f.tx.Implicit = true
			}
			if f.tx.Implicit && flags&RowsFlagStmtEnd != 0 {
				f.end(&st)
			}
		}
	}
	st.InTx = st.InTx || f.state != frameNone
	return st, nil
}

// begin starts a transaction at ev.
func (f *Framer) begin(ev *Event, st *Step) {
	st.Begins, st.InTx = true, true
	st.Interrupted = f.state != frameNone
	f.tx = Tx{Start: ev.Offset, Time: ev.Header.Timestamp}
	f.state = frameGroup
}

// beginIfNone starts a transaction at ev unless one is open.
func (f *Framer) beginIfNone(ev *Event, st *Step) {
	if f.state == frameNone {
		f.begin(ev, st)
	}
}

// open makes the transaction explicit.
func (f *Framer) open(st *Step) {
	st.Opens, st.InTx = true, true
	f.state = frameOpen
	f.tx.Explicit = true
}

// end closes the open transaction, if there is one.
func (f *Framer) end(st *Step) {
	if f.state == frameNone {
		return // its begin was not seen: nothing of it was framed
	}
	st.Ends, st.InTx = true, true
	f.state = frameNone
}

// dummyTableID is the table id of the rows event that carries no rows
// and only tells the applier to free the table maps.
const dummyTableID = 0x00ffffff

// rowsPostHeader returns the table id and the flags of a rows event
// (zero when the body is too short for them).
func rowsPostHeader(ev *Event) (id uint64, flags uint16) {
	idLen := 6
	if ev.FDE != nil && ev.FDE.PostHeaderLen(ev.Header.Type) == 6 {
		idLen = 4
	}
	b := ev.Body
	if len(b) < idLen+2 {
		return 0, 0
	}
	for i := idLen - 1; i >= 0; i-- {
		id = id<<8 | uint64(b[i])
	}
	return id, uint16(b[idLen]) | uint16(b[idLen+1])<<8
}

// classifyQuery tells what a QUERY event's statement is to the framing,
// and whether it is an XA statement. It looks at the first words only,
// without allocating.
func classifyQuery(sql string) (EventKind, bool) {
	w1, rest := nextWord(sql)
	switch {
	case strings.EqualFold(w1, "BEGIN"):
		return KindBegin, false
	case strings.EqualFold(w1, "COMMIT"):
		return KindCommit, false
	case strings.EqualFold(w1, "ROLLBACK"):
		w2, rest := nextWord(rest)
		if strings.EqualFold(w2, "WORK") {
			w2, _ = nextWord(rest)
		}
		if strings.EqualFold(w2, "TO") {
			return KindSavepoint, false
		}
		return KindCommit, false
	case strings.EqualFold(w1, "SAVEPOINT"), strings.EqualFold(w1, "RELEASE"):
		return KindSavepoint, false
	case strings.EqualFold(w1, "START"):
		if w2, _ := nextWord(rest); strings.EqualFold(w2, "TRANSACTION") {
			return KindBegin, false
		}
	case strings.EqualFold(w1, "XA"):
		w2, _ := nextWord(rest)
		switch {
		case strings.EqualFold(w2, "START"), strings.EqualFold(w2, "BEGIN"):
			return KindBegin, true
		case strings.EqualFold(w2, "PREPARE"), strings.EqualFold(w2, "COMMIT"), strings.EqualFold(w2, "ROLLBACK"):
			return KindCommit, true
		}
		return KindSavepoint, true // XA END: the branch is done, the transaction not yet
	}
	return KindStatement, false
}

// nextWord returns the first word of s (after leading blanks, up to a
// blank or ';') and what follows it.
func nextWord(s string) (word, rest string) {
	i := 0
	for i < len(s) && isBlank(s[i]) {
		i++
	}
	j := i
	for j < len(s) && !isBlank(s[j]) && s[j] != ';' {
		j++
	}
	return s[i:j], s[j:]
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// LostError returns the error for a KindLost event, located at it: an
// INCIDENT (the server may have lost changes there: the replica SQL
// thread stops on it, and going on would be silent loss) or a MariaDB
// PARTIAL_ROW_DATA (ErrFragmentedRow). It returns nil for other events.
func LostError(ev *Event) error {
	switch ev.Header.Type {
	case IncidentEvent:
		var in Incident
		if err := in.Decode(ev.Body, ev.FDE); err != nil {
			return ev.Wrap(err)
		}
		return ev.Errorf("incident %d (%s): the server may have lost events here", in.Type, in.Message)
	case MariaPartialRowDataEvent:
		return ev.Wrap(ErrFragmentedRow)
	}
	return nil
}
