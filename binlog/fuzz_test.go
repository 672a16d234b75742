package binlog

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// addCorpusFiles seeds f with every corpus file.
func addCorpusFiles(f *testing.F) {
	for _, name := range corpusFiles(f) {
		f.Add(readCorpus(f, name))
	}
}

// addCorpusBodies seeds f with the bodies of the corpus events of the
// given types (inner payload events included).
func addCorpusBodies(f *testing.F, types ...EventType) {
	want := map[EventType]bool{}
	for _, t := range types {
		want[t] = true
	}
	for _, name := range corpusFiles(f) {
		r := NewReader(bytes.NewReader(readCorpus(f, name)), name)
		for {
			ev, err := r.Next()
			if err != nil {
				break
			}
			if want[ev.Header.Type] {
				f.Add(bytes.Clone(ev.Body))
			}
		}
	}
}

// FuzzReader feeds whole files to the Reader and decodes every non-row
// event: it must never panic, and must end with io.EOF or a located *Error.
func FuzzReader(f *testing.F) {
	addCorpusFiles(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), "fuzz", WithMaxEventSize(1<<20))
		defer r.Close()
		last := int64(-1)
		for i := 0; ; i++ {
			ev, err := r.Next()
			if err == io.EOF {
				if r.Offset() != int64(len(data)) {
					t.Fatalf("EOF at %d of %d bytes", r.Offset(), len(data))
				}
				return
			}
			if err != nil {
				var be *Error
				if !errors.As(err, &be) || be.Source != "fuzz" || be.Offset < 0 || be.Offset > int64(len(data)) {
					t.Fatalf("error %v (%T) is not located in the input", err, err)
				}
				return
			}
			if ev.Offset < last || (!ev.Nested && ev.Offset == last) {
				t.Fatalf("event %d at %d after %d", i, ev.Offset, last)
			}
			last = ev.Offset
			if len(ev.Body) > len(ev.Raw) || int(ev.Header.EventSize) != len(ev.Raw) {
				t.Fatalf("event %d: body %d, raw %d, size %d", i, len(ev.Body), len(ev.Raw), ev.Header.EventSize)
			}
			if _, err := DecodeBody(ev); err != nil {
				var be *Error
				if !errors.As(err, &be) || be.Offset != ev.Offset {
					t.Fatalf("decode error %v is not located at the event", err)
				}
			}
		}
	})
}

// FuzzQuery decodes QUERY_EVENT bodies, plain and compressed.
func FuzzQuery(f *testing.F) {
	addCorpusBodies(f, QueryEvent, ExecuteLoadQueryEvent)
	f.Fuzz(func(t *testing.T, body []byte) {
		var q Query
		if err := q.Decode(body, nil); err == nil {
			if len(q.Schema)+len(q.SQL)+queryHeaderLen+1 > len(body) {
				t.Fatalf("decoded more text than the body holds")
			}
		}
		_ = q.DecodeCompressed(body, nil)
		var e ExecuteLoadQuery
		_ = e.Decode(body, nil)
	})
}

// FuzzGTID decodes MySQL GTID bodies in both serializations and checks
// that a decoded tagged GTID re-encodes to the same value.
func FuzzGTID(f *testing.F) {
	addCorpusBodies(f, GTIDEvent, AnonymousGTIDEvent, GTIDTaggedLogEvent)
	f.Fuzz(func(t *testing.T, body []byte) {
		var g GTID
		_ = g.Decode(body, nil)
		if err := g.DecodeTagged(body, nil); err == nil {
			var back GTID
			if err := back.DecodeTagged(g.AppendTaggedBody(nil), nil); err != nil || back != g {
				t.Fatalf("re-encoded tagged GTID: %+v %v, want %+v", back, err, g)
			}
		}
	})
}

// FuzzGTIDSet parses GTID set text and binary encodings.
func FuzzGTIDSet(f *testing.F) {
	addCorpusBodies(f, PreviousGTIDsEvent)
	f.Add([]byte("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7,55778904-0299-11f1-b1b8-4ef0c4956feb:tag:1"))
	f.Add([]byte("0-1-100,1-2-5"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if s, n, err := DecodeMySQLGTIDSet(in); err == nil {
			if n > len(in) {
				t.Fatalf("used %d of %d bytes", n, len(in))
			}
			back, _, err := DecodeMySQLGTIDSet(s.AppendEncoding(nil))
			if err != nil || back.String() != s.String() {
				t.Fatalf("binary round trip: %v %v", back, err)
			}
		}
		if s, err := ParseMySQLGTIDSet(string(in)); err == nil {
			again, err := ParseMySQLGTIDSet(s.String())
			if err != nil || again.String() != s.String() || !again.ContainsSet(s) || !s.ContainsSet(again) {
				t.Fatalf("text round trip of %q: %q %v", in, again, err)
			}
		}
		if s, err := ParseMariaGTIDSet(string(in)); err == nil {
			again, err := ParseMariaGTIDSet(s.String())
			if err != nil || again.String() != s.String() {
				t.Fatalf("MariaDB text round trip of %q: %q %v", in, again, err)
			}
		}
	})
}

// FuzzPayload decodes TRANSACTION_PAYLOAD bodies and expands them through
// the Reader.
func FuzzPayload(f *testing.F) {
	addCorpusBodies(f, TransactionPayloadEvent)
	inner := innerEvents(3)
	f.Add((&TransactionPayload{CompressionType: PayloadNone, Payload: inner}).AppendBody(nil))
	f.Fuzz(func(t *testing.T, body []byte) {
		var p TransactionPayload
		if p.Decode(body, nil) != nil {
			return
		}
		if len(p.Payload) > len(body) {
			t.Fatal("payload longer than the body")
		}
		var out bytes.Buffer
		w := NewWriter(&out)
		fd := NewFormatDescription("8.0.40", ChecksumCRC32)
		if err := w.WriteEvent(Header{Type: FormatDescriptionEvent}, fd.AppendBody(nil)); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteEvent(Header{Type: TransactionPayloadEvent}, body); err != nil {
			t.Fatal(err)
		}
		r := NewReader(&out, "payload", WithMaxEventSize(1<<20))
		defer r.Close()
		for {
			_, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				var be *Error
				if !errors.As(err, &be) {
					t.Fatalf("unlocated error %v", err)
				}
				return
			}
		}
	})
}

// FuzzMariaEvents decodes MariaDB GTID, GTID_LIST, BINLOG_CHECKPOINT bodies
// and compressed records.
func FuzzMariaEvents(f *testing.F) {
	addCorpusBodies(f, MariaGTIDEvent, MariaGTIDListEvent, MariaBinlogCheckpointEvent)
	rec, _ := AppendMariaDBCompressed(nil, []byte("INSERT INTO t VALUES (1)"))
	f.Add(rec)
	f.Fuzz(func(t *testing.T, body []byte) {
		var g MariaGTIDStart
		_ = g.Decode(body, nil)
		var l MariaGTIDList
		if l.Decode(body, nil) == nil && 4+16*len(l.GTIDs) > len(body) {
			t.Fatal("more GTIDs than bytes")
		}
		var c BinlogCheckpoint
		_ = c.Decode(body, nil)
		out, err := DecompressMariaDB(nil, body)
		if err == nil {
			rec, err := AppendMariaDBCompressed(nil, out)
			if err != nil {
				t.Fatal(err)
			}
			back, err := DecompressMariaDB(nil, rec)
			if err != nil || !bytes.Equal(back, out) {
				t.Fatal("compressed record round trip")
			}
		}
	})
}

// FuzzControlEvents decodes every other non-row event family from one
// body, with the event type picked by the first byte.
func FuzzControlEvents(f *testing.F) {
	types := []EventType{RotateEvent, XIDEvent, IntvarEvent, RandEvent, UserVarEvent, RowsQueryEvent,
		PreviousGTIDsEvent, HeartbeatEvent, HeartbeatLogEventV2, IncidentEvent, TransactionContextEvent,
		ViewChangeEvent, XAPrepareLogEvent, BeginLoadQueryEvent, AppendBlockEvent, DeleteFileEvent,
		MariaAnnotateRowsEvent, MariaStartEncryptionEvent, MariaQueryCompressedEvent}
	for _, name := range corpusFiles(f) {
		r := NewReader(bytes.NewReader(readCorpus(f, name)), name)
		for {
			ev, err := r.Next()
			if err != nil {
				break
			}
			for i, t := range types {
				if t == ev.Header.Type {
					f.Add(append([]byte{byte(i)}, ev.Body...))
				}
			}
		}
	}
	fdes := []*FormatDescription{DefaultFormatDescription(), NewFormatDescription("10.11.6-MariaDB", ChecksumCRC32)}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 1 {
			return
		}
		typ := types[int(in[0])%len(types)]
		for _, fd := range fdes {
			ev := &Event{Source: "fuzz", Header: Header{Type: typ}, Body: in[1:], FDE: fd}
			if _, err := DecodeBody(ev); err != nil {
				var be *Error
				if !errors.As(err, &be) {
					t.Fatalf("unlocated error %v", err)
				}
			}
		}
	})
}
