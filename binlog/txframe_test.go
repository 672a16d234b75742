package binlog

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/internal/binlogcorpus"
)

// Event bodies for framing tests, built from the format notes.

func mysqlGTIDBody(gno int64) []byte {
	b := []byte{1} // may have SBR
	if gno != 0 {
		b = append(b, 0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x63)
	} else {
		b = append(b, make([]byte, 16)...)
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(gno))
	b = append(b, 2)
	b = binary.LittleEndian.AppendUint64(b, 7)
	return binary.LittleEndian.AppendUint64(b, 8)
}

func mariaGTIDBody(seq uint64, flags uint8) []byte {
	b := binary.LittleEndian.AppendUint64(nil, seq)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = append(b, flags)
	if flags&(MariaGTIDPreparedXA|MariaGTIDCompletedXA) != 0 {
		b = binary.LittleEndian.AppendUint32(b, 1)
		return append(b, 1, 0, 'x')
	}
	return append(b, make([]byte, 6)...)
}

func xaPrepareBody() []byte {
	b := []byte{0}
	b = binary.LittleEndian.AppendUint32(b, 1)
	b = binary.LittleEndian.AppendUint32(b, 1)
	b = binary.LittleEndian.AppendUint32(b, 0)
	return append(b, 'x')
}

// tableMapBody maps table id 7 to d.t with one INT column.
func tableMapBody() []byte {
	return []byte{7, 0, 0, 0, 0, 0, 0, 0, 1, 'd', 0, 1, 't', 0, 1, byte(TypeLong), 0, 0}
}

func insertBody() []byte {
	return buildRowsBody(WriteRowsEventV2, 7, 1, [][]byte{{1}}, nil, []byte{0, 1, 0, 0, 0})
}

// rowsGoOn is an insert that does not end its statement.
func rowsGoOn() fev {
	b := insertBody()
	b[6] = 0
	return fev{WriteRowsEventV2, b}
}

// dummyRows is the rows event that only frees the table maps.
func dummyRows() []byte {
	return buildRowsBody(WriteRowsEventV2, dummyTableID, 0, nil, nil, nil)
}

type fev struct {
	t    EventType
	body []byte
}

var (
	fdeMySQL = NewFormatDescription("8.0.40", ChecksumCRC32)
	fdeMaria = NewFormatDescription("10.11.6-MariaDB-log", ChecksumCRC32)
)

func q(sql string) fev      { return fev{QueryEvent, queryBody(nil, "d", sql)} }
func gtid(gno int64) fev    { return fev{GTIDEvent, mysqlGTIDBody(gno)} }
func mgtid(flags uint8) fev { return fev{MariaGTIDEvent, mariaGTIDBody(5, flags)} }
func other(t EventType) fev { return fev{t, []byte{0}} }
func xid() fev              { return fev{XIDEvent, make([]byte, 8)} }
func tmap() fev             { return fev{TableMapEvent, tableMapBody()} }
func rows() fev             { return fev{WriteRowsEventV2, insertBody()} }
func compressedQ(sql string) fev {
	c, err := AppendMariaDBCompressed(nil, []byte(sql))
	if err != nil {
		panic(err)
	}
	return fev{MariaQueryCompressedEvent, queryBody(nil, "d", string(c))}
}

// stepText shows a step as kind, then B(egins) O(pens) E(nds) X
// (interrupted), and "-" for an event outside any transaction.
func stepText(st Step) string {
	s := st.Kind.String()
	flags := ""
	for _, f := range []struct {
		on bool
		c  string
	}{{st.Begins, "B"}, {st.Opens, "O"}, {st.Ends, "E"}, {st.Interrupted, "X"}, {!st.InTx, "-"}} {
		if f.on {
			flags += f.c
		}
	}
	if flags != "" {
		s += ":" + flags
	}
	return s
}

// frameAll frames evs (offsets 100, 200, ...) and returns their steps.
func frameAll(t *testing.T, f *Framer, fde *FormatDescription, evs []fev) []string {
	t.Helper()
	var out []string
	for i, e := range evs {
		ev := &Event{Source: "bin.000001", Offset: int64(100 * (i + 1)), Header: Header{Type: e.t, ServerID: 1, Timestamp: uint32(i)}, Body: e.body, FDE: fde}
		st, err := f.Event(ev)
		if err != nil {
			t.Fatalf("event %d (%v): %v", i, e.t, err)
		}
		if st.Kind == KindTableMap && (st.Table == nil || st.Table.Table != "t" || f.Table(7) != st.Table) {
			t.Errorf("event %d: table map %+v not held", i, st.Table)
		}
		out = append(out, stepText(st))
	}
	return out
}

// TestFramer frames the event sequences the servers write, of both
// flavors, and checks what each event is to the transaction.
func TestFramer(t *testing.T) {
	tests := []struct {
		name  string
		fde   *FormatDescription
		whole bool
		evs   []fev
		want  string
		tx    Tx // the last transaction, Start and Time aside
	}{
		{"mysql rows", fdeMySQL, false, []fev{gtid(9), q("BEGIN"), tmap(), rows(), xid()},
			"gtid:B begin:O table map rows commit:E", Tx{GTID: TxMySQLGTID, Explicit: true}},
		{"mysql ddl", fdeMySQL, false, []fev{gtid(9), q("CREATE TABLE t (a INT)")},
			"gtid:B statement:E", Tx{GTID: TxMySQLGTID}},
		{"anonymous", fdeMySQL, false, []fev{gtid(0), q("BEGIN"), tmap(), rows(), xid()},
			"gtid:B begin:O table map rows commit:E", Tx{GTID: TxAnonymous, Explicit: true}},
		{"mariadb rows", fdeMaria, false, []fev{mgtid(MariaGTIDTransactional), tmap(), rows(), xid()},
			"gtid:BO table map rows commit:E", Tx{GTID: TxMariaGTID, MariaFlags: MariaGTIDTransactional, Explicit: true}},
		{"mariadb ddl", fdeMaria, false, []fev{mgtid(MariaGTIDStandalone | MariaGTIDDDL), q("ALTER TABLE t ADD b INT")},
			"gtid:B statement:E", Tx{GTID: TxMariaGTID, MariaFlags: MariaGTIDStandalone | MariaGTIDDDL}},
		{"mariadb compressed ddl", fdeMaria, false, []fev{mgtid(MariaGTIDStandalone), compressedQ("DROP TABLE t")},
			"gtid:B statement:E", Tx{GTID: TxMariaGTID, MariaFlags: MariaGTIDStandalone}},
		{"mariadb non-transactional rollback", fdeMaria, false, []fev{mgtid(0), tmap(), rows(), q("ROLLBACK")},
			"gtid:BO table map rows commit:E", Tx{GTID: TxMariaGTID, Explicit: true}},
		{"mariadb xa", fdeMaria, false, []fev{mgtid(MariaGTIDPreparedXA), q("XA START X'78',X'',1"), tmap(), rows(),
			q("XA END X'78',X'',1"), {XAPrepareLogEvent, xaPrepareBody()}, mgtid(MariaGTIDCompletedXA), q("XA COMMIT X'78',X'',1")},
			"gtid:BO begin table map rows savepoint commit:E gtid:BO commit:E",
			Tx{GTID: TxMariaGTID, MariaFlags: MariaGTIDCompletedXA, Explicit: true, XA: true}},
		{"mysql xa", fdeMySQL, false, []fev{gtid(9), q("XA START X'78',X'',1"), tmap(), rows(), q("XA END X'78',X'',1"),
			{XAPrepareLogEvent, xaPrepareBody()}, gtid(10), q("XA COMMIT X'78',X'',1")},
			"gtid:B begin:O table map rows savepoint commit:E gtid:B commit:E", Tx{GTID: TxMySQLGTID}},
		{"savepoints", fdeMySQL, false, []fev{gtid(9), q("BEGIN"), tmap(), rows(), q("SAVEPOINT `a`"), tmap(), rows(),
			q("ROLLBACK TO `a`"), q("rollback work to savepoint a"), q("RELEASE SAVEPOINT a"), q("COMMIT")},
			"gtid:B begin:O table map rows savepoint table map rows savepoint savepoint savepoint commit:E",
			Tx{GTID: TxMySQLGTID, Explicit: true}},
		{"no gtids", fdeMySQL, false, []fev{q("BEGIN"), tmap(), rows(), q("COMMIT"), q("CREATE TABLE t (a INT)"),
			q("insert into t values (1)"), q("  start  transaction"), q("commit;")},
			"begin:BO table map rows commit:E statement:BE statement:BE begin:BO commit:E", Tx{Explicit: true}},
		{"starts inside", fdeMySQL, false, []fev{tmap(), rowsGoOn(), rows(), xid(), q("COMMIT"), tmap(), rowsGoOn(), xid()},
			"table map:- rows:B rows:E commit:- commit:- table map:- rows:B commit:E", Tx{Implicit: true}},
		{"myisam without begin", fdeMySQL, false, []fev{q("CREATE TABLE t (a INT) ENGINE=MyISAM"), tmap(), rows(), tmap(), rowsGoOn(),
			rowsGoOn(), rows(), tmap(), rowsGoOn(), q("BEGIN"), rows(), fev{WriteRowsEventV2, dummyRows()}, q("COMMIT"), fev{WriteRowsEventV2, dummyRows()}},
			"statement:BE table map:- rows:BE table map:- rows:B rows rows:E table map:- rows:B begin:BOX rows rows commit:E rows:-",
			Tx{Explicit: true}},
		{"no end", fdeMaria, false, []fev{mgtid(0), tmap(), rows(), mgtid(MariaGTIDStandalone), q("DROP TABLE t")},
			"gtid:BO table map rows gtid:BX statement:E", Tx{GTID: TxMariaGTID, MariaFlags: MariaGTIDStandalone}},
		{"file events", fdeMySQL, false, []fev{other(PreviousGTIDsEvent), gtid(9), q("BEGIN"), other(RotateEvent),
			{FormatDescriptionEvent, fdeMySQL.AppendBody(nil)}, tmap(), rows(), other(RowsQueryEvent), xid(), other(StopEvent)},
			"file:- gtid:B begin:O file:- format:- table map rows other commit:E file:-", Tx{GTID: TxMySQLGTID, Explicit: true}},
		{"payload expanded", fdeMySQL, false, []fev{gtid(9), other(TransactionPayloadEvent), q("BEGIN"), tmap(), rows(), xid()},
			"gtid:B payload begin:O table map rows commit:E", Tx{GTID: TxMySQLGTID, Explicit: true}},
		{"payload whole", fdeMySQL, true, []fev{gtid(9), other(TransactionPayloadEvent), other(TransactionPayloadEvent)},
			"gtid:B payload:E payload:BE", Tx{}},
		{"incident", fdeMySQL, false, []fev{other(IncidentEvent), gtid(9), q("BEGIN"), other(IncidentEvent)},
			"lost:- gtid:B begin:O lost", Tx{GTID: TxMySQLGTID, Explicit: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &Framer{WholePayloads: tt.whole}
			got := strings.Join(frameAll(t, f, tt.fde, tt.evs), " ")
			if got != tt.want {
				t.Errorf("steps\n got %s\nwant %s", got, tt.want)
			}
			tx := *f.Tx()
			tx.Start, tx.Time, tx.MySQL, tx.Maria, tx.CommitTS = 0, 0, MySQLGTID{}, MariaGTID{}, 0
			if tx != tt.tx {
				t.Errorf("tx %+v, want %+v", tx, tt.tx)
			}
		})
	}
}

// TestFramerTx checks what Tx says about a transaction: where it began,
// its GTID text, and that it stays readable at the event that ends it.
func TestFramerTx(t *testing.T) {
	f := &Framer{}
	frameAll(t, f, fdeMySQL, []fev{gtid(9), q("BEGIN"), tmap(), rows(), xid()})
	if tx := f.Tx(); tx.Start != 100 || tx.Time != 0 || tx.GTIDString() != "3e11fa47-71ca-11e1-9e33-c80aa9429563:9" {
		t.Errorf("mysql tx %+v (%s)", tx, tx.GTIDString())
	}
	f.Reset()
	if f.InTx() || f.Table(7) != nil {
		t.Error("Reset kept the transaction or the table maps")
	}
	frameAll(t, f, fdeMaria, []fev{xid(), mgtid(0), tmap(), rows()})
	if tx := f.Tx(); !f.InTx() || tx.Start != 200 || tx.Time != 1 || tx.GTIDString() != "0-1-5" {
		t.Errorf("mariadb tx %+v (%s)", tx, tx.GTIDString())
	}
	frameAll(t, f, fdeMySQL, []fev{q("BEGIN")})
	if tx := f.Tx(); tx.GTIDString() != "0-1-5" || !f.InTx() {
		t.Errorf("a BEGIN inside an open transaction began another: %+v", tx)
	}
	if q := f.Query(); q.SQL != "BEGIN" || q.Schema != "d" {
		t.Errorf("Query %+v", q)
	}
}

// TestFramerErrors: damaged GTID, QUERY and TABLE_MAP events give errors
// located at the event.
func TestFramerErrors(t *testing.T) {
	for _, e := range []fev{{GTIDEvent, []byte{1, 2}}, {MariaGTIDEvent, []byte{1}}, {QueryEvent, []byte{1, 2, 3}},
		{MariaQueryCompressedEvent, queryBody(nil, "", "\x81")}, {TableMapEvent, []byte{7, 0, 0}}} {
		f := &Framer{}
		_, err := f.Event(&Event{Source: "bin.000002", Offset: 77, Header: Header{Type: e.t}, Body: e.body, FDE: fdeMySQL})
		var be *Error
		if !errors.As(err, &be) || be.Source != "bin.000002" || be.Offset != 77 || be.Type != e.t {
			t.Errorf("%v: error %v not located at the event", e.t, err)
		}
	}
}

// TestTableMapsReuse: a TABLE_MAP that repeats keeps its decoding; one
// that differs, or follows Clear, is decoded again.
func TestTableMapsReuse(t *testing.T) {
	var m TableMaps
	ev := &Event{Header: Header{Type: TableMapEvent}, Body: tableMapBody(), FDE: fdeMySQL}
	a, err := m.Add(ev)
	if err != nil {
		t.Fatal(err)
	}
	ev.Body = tableMapBody()
	if b, _ := m.Add(ev); b != a {
		t.Error("the same TABLE_MAP was decoded again")
	}
	if n := testing.AllocsPerRun(100, func() { m.Add(ev) }); n != 0 {
		t.Errorf("a repeated TABLE_MAP costs %v allocations", n)
	}
	ev.Body[9] = 'e' // database d -> e
	if b, _ := m.Add(ev); b == a || b.Database != "e" || m.Table(7) != b {
		t.Errorf("a changed TABLE_MAP kept the old decoding: %+v", b)
	}
	m.Clear()
	if m.Table(7) != nil {
		t.Error("Clear kept a table")
	}
}

// TestFramerCorpus frames every file of the corpus: each transaction that
// begins ends before the next begins (or is reported interrupted), every
// rows event is inside one, and the compressed MySQL 8 transactions frame
// like plain ones, expanded or whole.
func TestFramerCorpus(t *testing.T) {
	dir := binlogcorpus.Dir(t)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var txs, rowsEvents, payloads int
	for _, e := range ents {
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, whole := range []bool{false, true} {
			var opts []Option
			if whole {
				opts = append(opts, WithoutPayloadExpansion())
			}
			r := NewReaderBytes(data, e.Name(), opts...)
			f := &Framer{WholePayloads: whole}
			open := false
			for {
				ev, err := r.Next()
				if err != nil {
					break // broken corpus files end in an error; the events before it still frame
				}
				st, err := f.Event(ev)
				if err != nil {
					break
				}
				if st.Begins && open != st.Interrupted {
					t.Errorf("%s@%d: begins with open=%v but Interrupted=%v", e.Name(), ev.Offset, open, st.Interrupted)
				}
				if st.Begins {
					open = true
					txs++
				}
				if st.Ends {
					if !open {
						t.Errorf("%s@%d: ends a transaction that did not begin", e.Name(), ev.Offset)
					}
					open = false
				}
				if open != f.InTx() {
					t.Errorf("%s@%d: InTx %v after %s", e.Name(), ev.Offset, f.InTx(), stepText(st))
				}
				if st.Kind == KindRows && !st.InTx {
					t.Errorf("%s@%d: rows outside a transaction", e.Name(), ev.Offset)
				}
				if st.Kind == KindRows && !whole {
					rowsEvents++
				}
				if st.Kind == KindPayload && whole && (!st.Ends || !st.InTx) {
					t.Errorf("%s@%d: a whole payload did not end its transaction: %s", e.Name(), ev.Offset, stepText(st))
				}
				if st.Kind == KindPayload {
					payloads++
				}
			}
			r.Close()
		}
	}
	if txs < 100 || rowsEvents < 50 || payloads == 0 {
		t.Errorf("%d transactions, %d rows events and %d payloads in the corpus", txs, rowsEvents, payloads)
	}
}

// TestStream pushes the events of a dump one by one: offsets come from
// log_pos when given and from sizes otherwise, artificial events and
// heartbeats do not move them, ROTATE switches the file and forgets the
// table maps, and a payload's inner events follow it.
func TestStream(t *testing.T) {
	crc := func(h Header, body []byte) []byte { return AppendEvent(nil, h, body, true) }
	fdeBody := fdeMaria.AppendBody(nil)
	inner := func(typ EventType, body []byte) []byte { return AppendEvent(nil, Header{Type: typ}, body, false) }
	var payload []byte
	payload = append(payload, inner(QueryEvent, queryBody(nil, "d", "BEGIN"))...)
	payload = append(payload, inner(TableMapEvent, tableMapBody())...)
	payload = append(payload, inner(WriteRowsEventV2, insertBody())...)
	payload = append(payload, inner(XIDEvent, make([]byte, 8))...)
	payBody := (&TransactionPayload{CompressionType: PayloadNone, Payload: payload}).AppendBody(nil)

	s := NewStream("bin.000007", 4)
	defer s.Close()
	type push struct {
		raw  []byte
		want string // steps of the events Next returns, with "@offset"
		file string
		next int64
	}
	gtidBody := mariaGTIDBody(5, MariaGTIDTransactional)
	size := func(body []byte) int64 { return int64(HeaderLenV4 + len(body) + ChecksumLen) }
	at := func(off int64) string { return "@" + itoa(off) }
	afterFDE := 4 + size(fdeBody)
	gtidEnd := 1000 + size(gtidBody)
	tmEnd := gtidEnd + size(tableMapBody())
	xidEnd := tmEnd + size(make([]byte, 8))
	gtid2End := xidEnd + size(mysqlGTIDBody(3))
	payEnd := gtid2End + size(payBody)
	pushes := []push{
		{crc(Header{Type: RotateEvent, Flags: FlagArtificial}, (&Rotate{Position: 4, NextFile: "bin.000008"}).AppendBody(nil)), "file:-@4", "bin.000008", 4},
		{crc(Header{Type: FormatDescriptionEvent, LogPos: 0}, fdeBody), "format:-@4", "bin.000008", afterFDE},
		{crc(Header{Type: MariaGTIDEvent, LogPos: uint32(gtidEnd)}, gtidBody), "gtid:BO@1000", "bin.000008", gtidEnd},
		{crc(Header{Type: HeartbeatLogEventV2}, []byte{1}), "file:-" + at(gtidEnd), "bin.000008", gtidEnd},
		{crc(Header{Type: FormatDescriptionEvent, LogPos: 0}, fdeBody), "format:-" + at(gtidEnd), "bin.000008", gtidEnd},
		{crc(Header{Type: TableMapEvent}, tableMapBody()), "table map" + at(gtidEnd), "bin.000008", tmEnd},
		{crc(Header{Type: XIDEvent}, make([]byte, 8)), "commit:E" + at(tmEnd), "bin.000008", xidEnd},
		{crc(Header{Type: GTIDEvent}, mysqlGTIDBody(3)), "gtid:B" + at(xidEnd), "bin.000008", gtid2End},
		{crc(Header{Type: TransactionPayloadEvent}, payBody), "payload" + at(gtid2End) + " begin:O" + at(gtid2End) +
			" table map" + at(gtid2End) + " rows" + at(gtid2End) + " commit:E" + at(gtid2End), "bin.000008", payEnd},
		{crc(Header{Type: RotateEvent}, (&Rotate{Position: 4, NextFile: "bin.000009"}).AppendBody(nil)), "file:-" + at(payEnd), "bin.000009", 4},
	}
	for i, p := range pushes {
		if err := s.Push(p.raw); err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
		var got []string
		for {
			ev, st, err := s.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("push %d: %v", i, err)
			}
			got = append(got, stepText(st)+"@"+itoa(ev.Offset))
			if st.Kind == KindRows && (s.Table(7) == nil || !ev.Nested || ev.End() != s.Offset()) {
				t.Errorf("push %d: rows event %+v: table %v, stream offset %d", i, ev, s.Table(7), s.Offset())
			}
		}
		if g := strings.Join(got, " "); g != p.want || s.File() != p.file || s.Offset() != p.next {
			t.Errorf("push %d: %s in %s next %d, want %s in %s next %d", i, g, s.File(), s.Offset(), p.want, p.file, p.next)
		}
	}
	if s.Table(7) != nil {
		t.Error("ROTATE kept the table maps")
	}
	if s.Format() == nil || !s.Format().MariaDB {
		t.Errorf("format %+v", s.Format())
	}
	// Damage: a flipped checksum, a size that lies, an event before any format.
	bad := crc(Header{Type: XIDEvent}, make([]byte, 8))
	bad[len(bad)-1] ^= 1
	if err := s.Push(bad); !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "bin.000009@4") {
		t.Errorf("flipped checksum: %v", err)
	}
	if err := s.Push(crc(Header{Type: XIDEvent}, make([]byte, 8))[:20]); !errors.Is(err, ErrEventSize) {
		t.Errorf("short event: %v", err)
	}
	if err := NewStream("bin.000001", 4).Push(crc(Header{Type: XIDEvent}, make([]byte, 8))); err == nil || !strings.Contains(err.Error(), "before any FORMAT_DESCRIPTION_EVENT") {
		t.Errorf("event before the format: %v", err)
	}
}
