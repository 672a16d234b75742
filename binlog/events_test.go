package binlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"testing"
)

// corpusEvent returns a copy of the outer event at off in a corpus file.
func corpusEvent(t *testing.T, name string, off int64) *Event {
	t.Helper()
	r := NewReader(bytes.NewReader(readCorpus(t, name)), name)
	for {
		ev, err := r.Next()
		if err == io.EOF {
			t.Fatalf("%s: no event at %d", name, off)
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Offset == off && !ev.Nested {
			return ev.Clone()
		}
	}
}

// TestDecodeCorpusEvents decodes one event of each family from the corpus
// and checks its fields. The expected values were read off the hex dumps
// of these events (and, for MySQL 8 GTIDs, agree with the file offsets).
func TestDecodeCorpusEvents(t *testing.T) {
	tagUUID, _ := ParseUUID("55778904-0299-11f1-b1b8-4ef0c4956feb")
	invUUID, _ := ParseUUID("97c7af02-4c50-11ec-acd8-681842034964")
	for _, tc := range []struct {
		file string
		off  int64
		want any
	}{
		{"binlog_transaction_with_GTID_TAG.000001", 245, &GTID{UUID: tagUUID, Tag: "mytag", GNO: 3, SequenceNumber: 1,
			ImmediateCommitTS: 1770368687207196, OriginalCommitTS: 1770368687207196, TransactionLength: 296,
			ImmediateServerVersion: 90600, OriginalServerVersion: 90600}},
		{"binlog-invisible-columns.000001", 156, &GTID{Flags: 1, UUID: invUUID, GNO: 1, SequenceNumber: 1,
			ImmediateCommitTS: 1637666960682295, OriginalCommitTS: 1637666960682295, TransactionLength: 335,
			ImmediateServerVersion: 80026, OriginalServerVersion: 80026}},
		{"binlog_transaction_with_anonymous_GTID.000001", 153, &GTID{Flags: 1, SequenceNumber: 1}},
		{"binlog-invisible-columns.000001", 1089, &XIDCommit{XID: 53}},
		{"binlog_savepoint.000001", 106, &Rotate{Position: 4, NextFile: "master-bin.000003"}},
		{"mariadb-bin.000001", 285, &BinlogCheckpoint{File: "mariadb-bin.000001"}},
		{"mariadb-bin.000001", 330, &MariaGTIDStart{Seq: 1, Flags: MariaGTIDTransactional | MariaGTIDAllowParallel}},
		{"mariadb-bin.000001", 256, &MariaGTIDList{GTIDs: []MariaGTID{}}},
		{"mariadb-bin.000001", 372, &AnnotateRows{SQL: `insert into outbox (topic, event_type, event) values ('foo', 'JSON', '{"foo":1}')`}},
		{"bug33029-slave-relay-bin.000001", 1646, &Intvar{Type: IntvarInsertID, Value: 1}},
		{"ver_5_1-wl2325_s.001", 577, &Rand{Seed1: 772351849, Seed2: 669803438}},
		{"bug11747887-bin.000003", 422, &UserVar{Name: "2", IsNull: true, Charset: 63}},
	} {
		ev := corpusEvent(t, tc.file, tc.off)
		got, err := DecodeBody(ev)
		if err != nil {
			t.Errorf("%s@%d: %v", tc.file, tc.off, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s@%d %v:\n got %+v\nwant %+v", tc.file, tc.off, ev.Header.Type, got, tc.want)
		}
	}
}

func TestDecodeQueryStatusVars(t *testing.T) {
	ev := corpusEvent(t, "json.binlog.000001", 235)
	var q Query
	if err := q.Decode(ev.Body, ev.FDE); err != nil {
		t.Fatal(err)
	}
	if q.ThreadID != 8 || q.Schema != "" || q.InvokerUser != "root" || q.InvokerHost != "localhost" ||
		q.TimeZone != "SYSTEM" || q.DDLXID != 3 || q.Microseconds != 669125 || q.Catalog != "std" ||
		q.CharsetClient != 255 || q.CollationServer != 255 || q.DefaultCollationForUTF8MB4 != 255 ||
		!reflect.DeepEqual(q.UpdatedDBs, []string{"mysql"}) || !q.Has(QInvoker) || !q.Has(QDDLLoggedWithXID) || q.Has(QMariaXID) ||
		q.SQLMode != 1168113696 {
		t.Errorf("ALTER USER query: %+v", q)
	}
	ev = corpusEvent(t, "binlog_transaction_with_GTID_TAG.000001", 328)
	if err := q.Decode(ev.Body, ev.FDE); err != nil || q.SQL != "BEGIN" || !q.UpdatedDBsOverflow || q.Has(QInvoker) {
		t.Errorf("BEGIN: %+v, %v", q, err)
	}
}

// queryBody builds a QUERY_EVENT body with the given status block.
func queryBody(status []byte, db, sql string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 42)
	b = binary.LittleEndian.AppendUint32(b, 3)
	b = append(b, byte(len(db)))
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(status)))
	b = append(b, status...)
	b = append(b, db...)
	b = append(b, 0)
	return append(b, sql...)
}

func TestDecodeQuerySynthetic(t *testing.T) {
	mariaStatus := []byte{
		byte(QFlags2), 0, 0, 0, 0,
		byte(QAutoIncrement), 2, 0, 1, 0,
		byte(QMariaHRNow), 0x40, 0x42, 0x0f,
		byte(QMariaXID), 9, 0, 0, 0, 0, 0, 0, 0,
		byte(QMariaGTIDFlags3), MariaGTIDExtraCommitAlter, 7, 0, 0, 0, 0, 0, 0, 0,
	}
	var q Query
	if err := q.Decode(queryBody(mariaStatus, "db1", "ALTER TABLE t ADD c INT"), nil); err != nil {
		t.Fatal(err)
	}
	if q.Schema != "db1" || q.SQL != "ALTER TABLE t ADD c INT" || q.AutoIncrementIncrement != 2 || q.AutoIncrementOffset != 1 ||
		q.MariaHRNow != 0x0f4240 || q.MariaXID != 9 || q.MariaStartAlterSeqNo != 7 || !q.Has(QMariaGTIDFlags3) || q.ExecTime != 3 {
		t.Errorf("%+v", q)
	}
	// Unknown code: the rest of the status block is kept, the query still decodes.
	unk := append([]byte{byte(QLCTimeNames), 1, 0, 200}, 1, 2, 3)
	if err := q.Decode(queryBody(unk, "", "SELECT 1"), nil); err != nil || q.SQL != "SELECT 1" || !bytes.Equal(q.UnknownStatus, []byte{200, 1, 2, 3}) || q.LCTimeNames != 1 {
		t.Errorf("unknown status: %+v %v", q, err)
	}
	// Compressed query (MariaDB QUERY_COMPRESSED_EVENT).
	rec, _ := AppendMariaDBCompressed(nil, []byte("INSERT INTO t VALUES (1)"))
	if err := q.DecodeCompressed(queryBody(nil, "d", string(rec)), nil); err != nil || q.SQL != "INSERT INTO t VALUES (1)" {
		t.Errorf("compressed: %q %v", q.SQL, err)
	}
	bad := map[string][]byte{
		"status past end":  func() []byte { b := queryBody(nil, "", "x"); b[11] = 0xff; return b }(),
		"db past end":      func() []byte { b := queryBody(nil, "", "x"); b[8] = 50; return b }(),
		"var past block":   queryBody([]byte{byte(QSQLMode), 1, 2}, "", "x"),
		"invoker past":     queryBody([]byte{byte(QInvoker), 9, 'a'}, "", "x"),
		"db not NUL":       append(queryBody(nil, "", "")[:13], 'x'),
		"updated dbs zero": queryBody([]byte{byte(QUpdatedDBNames), 0}, "", "x"),
		"updated dbs cut":  queryBody([]byte{byte(QUpdatedDBNames), 2, 'a', 0, 'b'}, "", "x"),
		"short":            {1, 2, 3},
	}
	for name, b := range bad {
		if err := q.Decode(b, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if err := q.DecodeCompressed(queryBody(nil, "", "plain"), nil); !errors.Is(err, ErrCompressed) {
		t.Errorf("uncompressed text in QUERY_COMPRESSED: %v", err)
	}
}

func TestDecodeMariaGTIDFlags(t *testing.T) {
	body := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	u64 := func(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
	u32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	for _, tc := range []struct {
		name string
		in   []byte
		want MariaGTIDStart
		bad  bool
	}{
		{"group commit", body(u64(77), u32(3), []byte{MariaGTIDGroupCommitID | MariaGTIDTransactional}, u64(12)),
			MariaGTIDStart{Seq: 77, Domain: 3, Flags: MariaGTIDGroupCommitID | MariaGTIDTransactional, CommitID: 12}, false},
		{"standalone ddl", body(u64(5), u32(0), []byte{MariaGTIDStandalone | MariaGTIDDDL}, make([]byte, 6)),
			MariaGTIDStart{Seq: 5, Flags: MariaGTIDStandalone | MariaGTIDDDL}, false},
		{"xa prepare", body(u64(6), u32(1), []byte{MariaGTIDPreparedXA}, u32(1), []byte{2, 1}, []byte("abc")),
			MariaGTIDStart{Seq: 6, Domain: 1, Flags: MariaGTIDPreparedXA, XID: &XID{FormatID: 1, GTRID: []byte("ab"), BQual: []byte("c")}}, false},
		{"flags extra", body(u64(8), u32(0), []byte{0}, make([]byte, 6), []byte{MariaGTIDExtraMultiEngine | MariaGTIDExtraCommitAlter, 2}, u64(4)),
			MariaGTIDStart{Seq: 8, FlagsExtra: MariaGTIDExtraMultiEngine | MariaGTIDExtraCommitAlter, ExtraEngines: 2, StartAlterSeq: 4}, false},
		{"thread id", body(u64(8), u32(0), []byte{0}, make([]byte, 6), []byte{MariaGTIDExtraThreadID}, u64(99)),
			MariaGTIDStart{Seq: 8, FlagsExtra: MariaGTIDExtraThreadID, ThreadID: 99}, false},
		{"xa too long", body(u64(6), u32(1), []byte{MariaGTIDCompletedXA}, u32(1), []byte{65, 1}), MariaGTIDStart{}, true},
		{"extra cut", body(u64(8), u32(0), []byte{0}, make([]byte, 6), []byte{MariaGTIDExtraCommitAlter}, []byte{1}), MariaGTIDStart{}, true},
		{"short", u64(1), MariaGTIDStart{}, true},
	} {
		var g MariaGTIDStart
		err := g.Decode(tc.in, nil)
		if tc.bad {
			if err == nil {
				t.Errorf("%s: no error", tc.name)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(g, tc.want) {
			t.Errorf("%s: got %+v %v, want %+v", tc.name, g, err, tc.want)
		}
	}
}

func TestDecodeGTIDTaggedRoundTrip(t *testing.T) {
	u, _ := ParseUUID("55778904-0299-11f1-b1b8-4ef0c4956feb")
	for _, g := range []GTID{
		{UUID: u, Tag: "t", GNO: 1, ImmediateCommitTS: 5, OriginalCommitTS: 5, ImmediateServerVersion: 90100, OriginalServerVersion: 90100},
		{Flags: 1, UUID: u, Tag: "a_long_tag_of_32_characters_xxxx", GNO: 1<<62 + 3, LastCommitted: 1000, SequenceNumber: 1001,
			ImmediateCommitTS: 1 << 54, OriginalCommitTS: 1<<54 - 9, TransactionLength: 1 << 33,
			ImmediateServerVersion: 90600, OriginalServerVersion: 80040, CommitGroupTicket: 77},
	} {
		body := g.AppendTaggedBody(nil)
		var back GTID
		if err := back.DecodeTagged(body, nil); err != nil || back != g {
			t.Errorf("round trip: got %+v %v, want %+v", back, err, g)
		}
		for n := 0; n < len(body); n++ {
			var x GTID
			if err := x.DecodeTagged(body[:n], nil); err == nil {
				t.Errorf("cut at %d of %d: no error", n, len(body))
			}
		}
	}
}

func TestDecodeOtherFamilies(t *testing.T) {
	var x XAPrepare
	xa := append([]byte{1}, binary.LittleEndian.AppendUint32(nil, 1)...)
	xa = binary.LittleEndian.AppendUint32(xa, 3)
	xa = binary.LittleEndian.AppendUint32(xa, 2)
	xa = append(xa, "gtrbq"...)
	if err := x.Decode(xa, nil); err != nil || !x.OnePhase || string(x.XID.GTRID) != "gtr" || string(x.XID.BQual) != "bq" {
		t.Errorf("XA_PREPARE %+v %v", x, err)
	}
	var h Heartbeat
	hb := []byte{hbFile, 10}
	hb = append(hb, "bin.000042"...)
	hb = append(hb, hbPosition, 3, 0xfc, 0x10, 0x27, hbEndMark)
	if err := h.DecodeV2(hb, nil); err != nil || h.File != "bin.000042" || h.Position != 10000 {
		t.Errorf("heartbeat v2 %+v %v", h, err)
	}
	if err := h.DecodeV2([]byte{hbFile, 99, 'a'}, nil); err == nil {
		t.Error("heartbeat v2 with a lying length")
	}
	var in Incident
	if err := in.Decode([]byte{1, 0, 4, 'l', 'o', 's', 't'}, nil); err != nil || in.Message != "lost" {
		t.Errorf("incident %+v %v", in, err)
	}
	if err := in.Decode([]byte{1, 0, 9, 'x'}, nil); err == nil {
		t.Error("incident message past the end")
	}
	var tcx TransactionContext
	tc := []byte{3, 7, 0, 0, 0, 1}
	tc = binary.LittleEndian.AppendUint32(tc, 2)
	tc = binary.LittleEndian.AppendUint32(tc, 1)
	tc = binary.LittleEndian.AppendUint32(tc, 0)
	tc = append(tc, "abc"...)
	tc = append(tc, 9, 9, 2, 0, 'h', 'i')
	if err := tcx.Decode(tc, nil); err != nil || tcx.ServerUUID != "abc" || tcx.ThreadID != 7 || !tcx.GTIDSpecified || len(tcx.WriteSet) != 1 || string(tcx.WriteSet[0]) != "hi" {
		t.Errorf("transaction context %+v %v", tcx, err)
	}
	var vc ViewChange
	v := append([]byte("15000:1"), make([]byte, 33)...)
	v = binary.LittleEndian.AppendUint64(v, 12)
	v = binary.LittleEndian.AppendUint32(v, 1)
	v = append(v, 1, 0, 'k')
	v = binary.LittleEndian.AppendUint32(v, 2)
	v = append(v, "vv"...)
	if err := vc.Decode(v, nil); err != nil || vc.ViewID != "15000:1" || vc.SeqNumber != 12 || string(vc.CertificationInfo["k"]) != "vv" {
		t.Errorf("view change %+v %v", vc, err)
	}
	var p PreviousGTIDs
	if err := p.Decode([]byte{5, 0, 0, 0, 0, 0, 0, 0}, nil); err == nil {
		t.Error("PREVIOUS_GTIDS claiming 5 sids in 8 bytes")
	}
	var se StartEncryption
	if err := se.Decode(append([]byte{1, 2, 0, 0, 0}, make([]byte, 12)...), nil); err != nil || se.KeyVersion != 2 {
		t.Errorf("start encryption %+v %v", se, err)
	}
}

// TestStartEncryptionStops: a file with START_ENCRYPTION_EVENT ends with a
// clear ErrEncrypted at that event.
func TestStartEncryptionStops(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	f := NewFormatDescription("10.6.16-MariaDB", ChecksumCRC32)
	if err := w.WriteEvent(Header{Type: FormatDescriptionEvent}, f.AppendBody(nil)); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteEvent(Header{Type: MariaStartEncryptionEvent}, append([]byte{1, 1, 0, 0, 0}, make([]byte, 12)...)); err != nil {
		t.Fatal(err)
	}
	res := walkFile("enc-bin.000001", out.Bytes())
	var be *Error
	if !errors.Is(res.err, ErrEncrypted) || !errors.As(res.err, &be) || be.Offset != int64(4+19+len(f.AppendBody(nil))+4) {
		t.Errorf("got %v", res.err)
	}
}
