package binlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// TestWriterRoundTrip reads every valid corpus file and writes each event
// back through Writer. Events whose original log_pos was their true end
// must come out byte for byte; the others (relayed events that carry
// another file's positions) must differ only in log_pos and checksum.
func TestWriterRoundTrip(t *testing.T) {
	exact, repositioned := 0, 0
	for _, name := range corpusFiles(t) {
		if _, bad := damagedCorpus[name]; bad {
			continue
		}
		data := readCorpus(t, name)
		var out bytes.Buffer
		w := NewWriter(&out)
		r := NewReader(bytes.NewReader(data), name, WithoutPayloadExpansion())
		for {
			ev, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			// The on-disk header: Header.Type is mapped for old type codes.
			h, _ := DecodeHeader(ev.Raw)
			if w.Offset() != ev.Offset {
				t.Fatalf("%s@%d: writer at %d", name, ev.Offset, w.Offset())
			}
			if err := w.WriteEvent(h, ev.Body); err != nil {
				t.Fatalf("%s@%d: %v", name, ev.Offset, err)
			}
			got := out.Bytes()[ev.Offset:]
			if int64(h.LogPos) == ev.End() {
				exact++
				if !bytes.Equal(got, ev.Raw) {
					t.Errorf("%s@%d %v: re-encoded bytes differ\n got % x\nwant % x", name, ev.Offset, ev.Header.Type, got, ev.Raw)
				}
				continue
			}
			repositioned++
			g := bytes.Clone(got)
			copy(g[13:17], ev.Raw[13:17])
			n := len(g)
			if ev.Checksummed {
				n -= ChecksumLen
			}
			if !bytes.Equal(g[:n], ev.Raw[:n]) {
				t.Errorf("%s@%d %v: re-encoded event differs beyond log_pos", name, ev.Offset, ev.Header.Type)
			}
			if ev.Checksummed {
				if _, _, ok := checksumOK(got); !ok {
					t.Errorf("%s@%d: written checksum is wrong", name, ev.Offset)
				}
			}
		}
		// The written file must read back with the same events.
		back := walkFile(name+" (rewritten)", out.Bytes(), WithoutPayloadExpansion())
		orig := walkFile(name, data, WithoutPayloadExpansion())
		if back.err != io.EOF || back.events != orig.events {
			t.Errorf("%s: rewritten file: %d events, %v; original %d", name, back.events, back.err, orig.events)
		}
	}
	if exact < 500 || repositioned == 0 {
		t.Errorf("%d exact and %d repositioned events: the corpus should give both", exact, repositioned)
	}
}

func TestAppendEventChecksum(t *testing.T) {
	body := []byte("hello")
	h := Header{Timestamp: 1, Type: QueryEvent, ServerID: 7, LogPos: 100, Flags: FlagSuppressUse}
	ev := AppendEvent([]byte("prefix"), h, body, true)[len("prefix"):]
	if len(ev) != 19+5+4 {
		t.Fatalf("length %d", len(ev))
	}
	got, err := DecodeHeader(ev)
	if err != nil {
		t.Fatal(err)
	}
	h.EventSize = 28
	if got != h {
		t.Errorf("header %+v, want %+v", got, h)
	}
	if _, _, ok := checksumOK(ev); !ok {
		t.Error("checksum does not verify")
	}
	// FDE rule: the in-use flag does not enter the checksum.
	f := NewFormatDescription("8.0.40", ChecksumCRC32)
	fb := f.AppendBody(nil)
	a := AppendEvent(nil, Header{Type: FormatDescriptionEvent}, fb, true)
	b := AppendEvent(nil, Header{Type: FormatDescriptionEvent, Flags: FlagBinlogInUse}, fb, true)
	if !bytes.Equal(a[len(a)-4:], b[len(b)-4:]) {
		t.Error("in-use flag changed the FDE checksum")
	}
	if _, _, ok := checksumOK(b); !ok {
		t.Error("FDE checksum with in-use flag does not verify")
	}
}

func TestWriterErrors(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	if err := w.WriteEvent(Header{Type: QueryEvent}, nil); !errors.Is(err, ErrWriter) {
		t.Errorf("event before FDE: %v", err)
	}
	if err := w.WriteEvent(Header{Type: FormatDescriptionEvent}, []byte{1, 2}); !errors.Is(err, ErrWriter) {
		t.Errorf("bad FDE: %v", err)
	}
	fail := NewWriter(failWriter{})
	f := NewFormatDescription("10.11.6-MariaDB", ChecksumCRC32)
	if err := fail.WriteEvent(Header{Type: FormatDescriptionEvent}, f.AppendBody(nil)); err == nil {
		t.Error("write error not reported")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestWriterSynthetic writes a small file with a MariaDB format and reads
// it back.
func TestWriterSynthetic(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	f := NewFormatDescription("10.11.6-MariaDB-log", ChecksumCRC32)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.WriteEvent(Header{Type: FormatDescriptionEvent, ServerID: 1}, f.AppendBody(nil)))
	gl := []byte{1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0}
	must(w.WriteEvent(Header{Type: MariaGTIDListEvent, ServerID: 1}, gl))
	rot := (&Rotate{Position: 4, NextFile: "mariadb-bin.000002"}).AppendBody(nil)
	must(w.WriteEvent(Header{Type: RotateEvent, ServerID: 1}, rot))
	res := walkFile("synthetic", out.Bytes())
	if res.err != io.EOF || res.events != 3 {
		t.Fatalf("%d events, %v", res.events, res.err)
	}
	if l := res.decoded[1].(*MariaGTIDList); len(l.GTIDs) != 1 || l.GTIDs[0] != (MariaGTID{0, 1, 9}) {
		t.Errorf("GTID list %+v", l)
	}
	if r := res.decoded[2].(*Rotate); r.NextFile != "mariadb-bin.000002" || r.Position != 4 {
		t.Errorf("rotate %+v", r)
	}
	if fd := res.decoded[0].(*FormatDescription); !fd.MariaDB || !fd.HasChecksum() || fd.PostHeaderLen(MariaGTIDEvent) != 19 {
		t.Errorf("format %+v", fd)
	}
}

// TestFormatDescriptionAppendBody: AppendBody reproduces every corpus FDE
// body (checksum value aside), old type codes included.
func TestFormatDescriptionAppendBody(t *testing.T) {
	for _, name := range corpusFiles(t) {
		data := readCorpus(t, name)
		r := NewReader(bytes.NewReader(data), name)
		for {
			ev, err := r.Next()
			if err != nil {
				break
			}
			if ev.Header.Type != FormatDescriptionEvent {
				continue
			}
			if got := ev.FDE.AppendBody(nil); !bytes.Equal(got, ev.Body) {
				t.Errorf("%s@%d: AppendBody\n got % x\nwant % x", name, ev.Offset, got, ev.Body)
			}
		}
	}
}

// TestRewriteHelpers: SameFormat ignores only the creation timestamp;
// AppendQueryBody and XIDCommit.AppendBody decode back; ClosedHeader
// clears the in-use flag alone.
func TestRewriteHelpers(t *testing.T) {
	f := NewFormatDescription("10.11.6-MariaDB-log", ChecksumCRC32)
	a := f.AppendBody(nil)
	b := bytes.Clone(a)
	binary.LittleEndian.PutUint32(b[fdeCreateTimestampOff:], 1700000000)
	if !SameFormat(a, b) {
		t.Error("bodies that differ in the timestamp are not the same format")
	}
	c := bytes.Clone(a)
	c[len(c)-1] = ChecksumOff
	if SameFormat(a, c) || SameFormat(a, a[:len(a)-1]) {
		t.Error("a different checksum algorithm or length is the same format")
	}
	var q Query
	if err := q.Decode(AppendQueryBody(nil, "COMMIT"), f); err != nil || q.SQL != "COMMIT" || q.Schema != "" || q.ErrorCode != 0 {
		t.Errorf("query body: %+v, %v", q, err)
	}
	var x XIDCommit
	if err := x.Decode((&XIDCommit{XID: 77}).AppendBody(nil), f); err != nil || x.XID != 77 {
		t.Errorf("xid body: %+v, %v", x, err)
	}
	if h := ClosedHeader(Header{Flags: FlagBinlogInUse | FlagArtificial}); h.Flags != FlagArtificial {
		t.Errorf("flags %#x", h.Flags)
	}
}

// TestAppendQueryBodyAllocs: appending a BEGIN to a buffer with room
// allocates nothing, and to an empty one once.
func TestAppendQueryBodyAllocs(t *testing.T) {
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = AppendQueryBody(buf[:0], "BEGIN") }); n != 0 {
		t.Errorf("%v allocations with room", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = AppendQueryBody(nil, "BEGIN") }); n > 1 {
		t.Errorf("%v allocations from nil", n)
	}
}
