package binlog

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/internal/binlogcorpus"
)

// damagedCorpus lists the corpus files that are broken on purpose, with
// the error each must give: where (file@offset and event type) and why.
var damagedCorpus = map[string]struct {
	where string
	why   string
	is    error
}{
	"binlog_truncated_event.000001":           {"binlog_truncated_event.000001@4:", "file ends 10 bytes into an event header", ErrTruncated},
	"binlog_truncated_prev_gtid_event.000001": {"binlog_truncated_prev_gtid_event.000001@120:", "file ends 9 bytes into an event header", ErrTruncated},
	"corrupt-relay-bin.000624":                {"corrupt-relay-bin.000624@91204 QUERY_EVENT:", "status var length 16949 points past the event", ErrMalformed},
	"bug40482-bin.000001":                     {"bug40482-bin.000001@106 INCIDENT_EVENT:", "incident type 66", ErrMalformed},
}

// corpusFiles returns the corpus file names, sorted.
func corpusFiles(t testing.TB) []string {
	t.Helper()
	ents, err := os.ReadDir(binlogcorpus.Dir(t))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) < 40 {
		t.Fatalf("corpus has %d files, want the 41 of testdata/binlog-corpus/mysql", len(names))
	}
	return names
}

// walkResult is what reading and decoding a whole file gave.
type walkResult struct {
	events, nested int
	types          map[EventType]int
	err            error // first framing or decoding error (io.EOF at a clean end)
	outer          []Header
	offsets        map[int64]bool
	end            int64
	decoded        []any
}

// walkFile reads every event of data, inner payload events included, and
// decodes every non-row body.
func walkFile(name string, data []byte, opts ...Option) walkResult {
	res := walkResult{types: map[EventType]int{}, offsets: map[int64]bool{}}
	r := NewReader(bytes.NewReader(data), name, opts...)
	defer r.Close()
	for {
		ev, err := r.Next()
		if err != nil {
			res.err = err
			res.end = r.Offset()
			return res
		}
		res.events++
		res.types[ev.Header.Type]++
		if ev.Nested {
			res.nested++
		} else {
			res.outer = append(res.outer, ev.Header)
			res.offsets[ev.Offset] = true
		}
		v, err := DecodeBody(ev)
		if err != nil {
			res.err = err
			return res
		}
		res.decoded = append(res.decoded, v)
	}
}

func readCorpus(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(binlogcorpus.Path(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCorpusValidFiles(t *testing.T) {
	for _, name := range corpusFiles(t) {
		if _, bad := damagedCorpus[name]; bad {
			continue
		}
		t.Run(name, func(t *testing.T) {
			data := readCorpus(t, name)
			res := walkFile(name, data)
			if res.err != io.EOF {
				t.Fatalf("after %d events: %v", res.events, res.err)
			}
			if res.end != int64(len(data)) {
				t.Errorf("stopped at %d of %d bytes", res.end, len(data))
			}
			if res.events < 3 {
				t.Errorf("only %d events", res.events)
			}
		})
	}
}

// TestCorpusTransactionLength checks GTID transaction_length against the
// offsets the Reader computed: both come from the file independently.
func TestCorpusTransactionLength(t *testing.T) {
	checked := 0
	for _, name := range corpusFiles(t) {
		if _, bad := damagedCorpus[name]; bad {
			continue
		}
		data := readCorpus(t, name)
		r := NewReader(bytes.NewReader(data), name)
		starts := map[int64]bool{int64(len(data)): true}
		type gtidAt struct {
			off int64
			n   uint64
		}
		var gtids []gtidAt
		for {
			ev, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if ev.Nested {
				continue
			}
			starts[ev.Offset] = true
			if ev.Header.Type == GTIDEvent || ev.Header.Type == AnonymousGTIDEvent || ev.Header.Type == GTIDTaggedLogEvent {
				v, err := DecodeBody(ev)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if n := v.(*GTID).TransactionLength; n != 0 {
					gtids = append(gtids, gtidAt{ev.Offset, n})
				}
			}
		}
		for _, g := range gtids {
			checked++
			if !starts[g.off+int64(g.n)] {
				t.Errorf("%s: GTID at %d says the transaction is %d bytes, but no event starts at %d", name, g.off, g.n, g.off+int64(g.n))
			}
		}
	}
	if checked < 20 {
		t.Errorf("checked only %d transaction lengths", checked)
	}
}

func TestCorpusDamagedFiles(t *testing.T) {
	for name, want := range damagedCorpus {
		t.Run(name, func(t *testing.T) {
			res := walkFile(name, readCorpus(t, name))
			var be *Error
			if !errors.As(res.err, &be) {
				t.Fatalf("got %v (%T) after %d events, want a *Error", res.err, res.err, res.events)
			}
			msg := be.Error()
			if !strings.HasPrefix(msg, "binlog: "+want.where) || !strings.Contains(msg, want.why) {
				t.Errorf("got %q, want %q ... %q", msg, want.where, want.why)
			}
			if !errors.Is(res.err, want.is) {
				t.Errorf("error %q does not wrap %v", msg, want.is)
			}
		})
	}
}

// TestCorpusOldTypeCodes: the pre-GA 5.1/5.2 "a_drop" files use other type
// codes; mapped as MySQL maps them, they decode.
func TestCorpusOldTypeCodes(t *testing.T) {
	for name, want := range map[string]map[EventType]int{
		// Raw codes 16-18 are TABLE_MAP and pre-GA rows events here.
		"ver_5_1-wl2325_r.001": {TableMapEvent: 3, PreGAWriteRowsEvent: 1, PreGAUpdateRowsEvent: 1, PreGADeleteRowsEvent: 1, XIDEvent: 0},
		// Raw codes 20-22 are XID, BEGIN_LOAD_QUERY, EXECUTE_LOAD_QUERY.
		"ver_5_1-wl2325_s.001": {XIDEvent: 1, BeginLoadQueryEvent: 1, ExecuteLoadQueryEvent: 1, PreGAWriteRowsEvent: 0},
	} {
		res := walkFile(name, readCorpus(t, name))
		if res.err != io.EOF {
			t.Errorf("%s: %v", name, res.err)
			continue
		}
		for typ, n := range want {
			if res.types[typ] != n {
				t.Errorf("%s: %d %v events, want %d (all: %v)", name, res.types[typ], typ, n, res.types)
			}
		}
	}
}

// TestCorpusPayload checks the expansion of the compressed transaction.
func TestCorpusPayload(t *testing.T) {
	const name = "transaction_compression.000001"
	r := NewReader(bytes.NewReader(readCorpus(t, name)), name)
	defer r.Close()
	type seen struct {
		typ     EventType
		off     int64
		poff    int64
		size    uint32
		logPos  uint32
		summed  bool
		nested  bool
		bodyLen int
	}
	var got []seen
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Header.Type == TransactionPayloadEvent {
			var p TransactionPayload
			if err := p.Decode(ev.Body, ev.FDE); err != nil {
				t.Fatal(err)
			}
			if p.CompressionType != PayloadZstd || p.UncompressedSize != 179 || p.PayloadSize != 124 || len(p.Payload) != 124 {
				t.Errorf("payload header %+v, want zstd 179 124", p)
			}
		}
		got = append(got, seen{ev.Header.Type, ev.Offset, ev.PayloadOffset, ev.Header.EventSize, ev.Header.LogPos, ev.Checksummed, ev.Nested, len(ev.Body)})
	}
	want := []seen{
		{FormatDescriptionEvent, 4, 0, 122, 126, true, false, 122 - 19 - 4},
		{PreviousGTIDsEvent, 126, 0, 71, 197, true, false, 71 - 19 - 4},
		{AnonymousGTIDEvent, 197, 0, 77, 274, true, false, 77 - 19 - 4},
		{TransactionPayloadEvent, 274, 0, 157, 431, true, false, 157 - 19 - 4},
		{QueryEvent, 274, 0, 71, 0, false, true, 71 - 19},
		{TableMapEvent, 274, 71, 45, 0, false, true, 45 - 19},
		{WriteRowsEventV2, 274, 116, 36, 0, false, true, 36 - 19},
		{XIDEvent, 274, 152, 27, 0, false, true, 8},
		{RotateEvent, 431, 0, 44, 475, true, false, 44 - 19 - 4},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d events %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	// Without expansion the payload is one event.
	res := walkFile(name, readCorpus(t, name), WithoutPayloadExpansion())
	if res.err != io.EOF || res.nested != 0 || res.events != 5 {
		t.Errorf("without expansion: %d events, %d nested, %v", res.events, res.nested, res.err)
	}
}

// relayedCorpus lists files whose events (after the first few) carry the
// log_pos of another server's binlog: relay logs, and files built from
// relayed events.
var relayedCorpus = map[string]bool{
	"binlog_savepoint.000001":           true,
	"rpl_unfiltered_hidden_gcol.000001": true,
	"ver_5_1-wl2325_s.001":              true,
	"bug33029-slave-relay-bin.000001":   true,
	"slave-relay-bin.000001":            true,
}

// TestCorpusLogPos: outside relay logs, log_pos equals the end offset the
// Reader computed, for every outer event.
func TestCorpusLogPos(t *testing.T) {
	for _, name := range corpusFiles(t) {
		if _, bad := damagedCorpus[name]; bad || relayedCorpus[name] {
			continue
		}
		r := NewReader(bytes.NewReader(readCorpus(t, name)), name)
		for {
			ev, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !ev.Nested && int64(ev.Header.LogPos) != ev.End() {
				t.Errorf("%s@%d %v: log_pos %d, computed end %d", name, ev.Offset, ev.Header.Type, ev.Header.LogPos, ev.End())
			}
		}
	}
}
