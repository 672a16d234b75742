package binlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/klauspost/compress/zstd"
)

// eventEnds returns the offsets where the events of a valid file end.
func eventEnds(t *testing.T, name string, data []byte) map[int64]bool {
	t.Helper()
	ends := map[int64]bool{}
	r := NewReader(bytes.NewReader(data), name)
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return ends
		}
		if err != nil {
			t.Fatal(err)
		}
		ends[ev.End()] = true
	}
}

// TestReaderTruncatedAnywhere cuts valid files at every length: the Reader
// must end cleanly exactly at event boundaries and give a located
// ErrTruncated (or ErrNotBinlog before the first event) everywhere else.
func TestReaderTruncatedAnywhere(t *testing.T) {
	for _, name := range []string{"transaction_compression.000001", "mariadb-bin.000001", "binlog_transaction_with_GTID_TAG.000001", "bug16266.000001"} {
		data := readCorpus(t, name)
		ends := eventEnds(t, name, data)
		for n := 0; n < len(data); n++ {
			res := walkFile(name, data[:n])
			if ends[int64(n)] {
				if res.err != io.EOF {
					t.Fatalf("%s cut at event end %d: %v", name, n, res.err)
				}
				continue
			}
			var be *Error
			if !errors.As(res.err, &be) {
				t.Fatalf("%s cut at %d: got %v, want *Error", name, n, res.err)
			}
			if be.Source != name || be.Offset > int64(n) {
				t.Fatalf("%s cut at %d: error located at %s@%d", name, n, be.Source, be.Offset)
			}
			if !errors.Is(res.err, ErrTruncated) && !errors.Is(res.err, ErrNotBinlog) {
				t.Fatalf("%s cut at %d: %v is neither truncated nor not-a-binlog", name, n, res.err)
			}
		}
	}
}

// TestReaderChecksumFlip flips one bit in every byte of a CRC32 file: the
// damage must never pass silently.
func TestReaderChecksumFlip(t *testing.T) {
	const name = "binlog_transaction_with_GTID_TAG.000001"
	data := readCorpus(t, name)
	for i := 4; i < len(data); i++ {
		d := bytes.Clone(data)
		d[i] ^= 0x10
		res := walkFile(name, d)
		var be *Error
		if !errors.As(res.err, &be) {
			t.Fatalf("bit flip at %d: got %v after %d events", i, res.err, res.events)
		}
	}
	// Without verification a flip inside a query text goes through.
	d := bytes.Clone(data)
	i := bytes.Index(d, []byte("BEGIN"))
	if i < 0 {
		t.Fatal("no BEGIN in the file")
	}
	d[i] = 'b'
	if res := walkFile(name, d); !errors.Is(res.err, ErrChecksum) {
		t.Errorf("verified read: %v", res.err)
	}
	if res := walkFile(name, d, WithoutChecksums()); res.err != io.EOF {
		t.Errorf("unverified read: %v", res.err)
	}
}

func TestReaderBadInput(t *testing.T) {
	valid := readCorpus(t, "bug16266.000001")
	big := bytes.Clone(valid)
	binary.LittleEndian.PutUint32(big[4+9:], 0xfffffff0)
	small := bytes.Clone(valid)
	binary.LittleEndian.PutUint32(small[4+9:], 10)
	noFDE := bytes.Clone(valid[:4])
	noFDE = AppendEvent(noFDE, Header{Type: QueryEvent}, make([]byte, 20), false)
	for _, tc := range []struct {
		name string
		data []byte
		is   error
		msg  string
	}{
		{"empty", nil, ErrNotBinlog, "@0: not a binlog file: empty file"},
		{"short magic", []byte{0xfe, 'b'}, ErrNotBinlog, "@0: not a binlog file: file is 2 bytes"},
		{"wrong magic", []byte("GIF89a........................"), ErrNotBinlog, "@0: not a binlog file: starts with"},
		{"magic only", valid[:4], ErrTruncated, "@4: truncated: no events after the magic"},
		{"huge size", big, ErrEventSize, "@4 FORMAT_DESCRIPTION_EVENT: bad event size: event size 4294967280 exceeds"},
		{"tiny size", small, ErrEventSize, "@4 FORMAT_DESCRIPTION_EVENT: bad event size: event size 10 is smaller"},
		{"no FDE", noFDE, ErrNotBinlog, "@4 QUERY_EVENT: not a binlog file: first event is QUERY_EVENT"},
	} {
		res := walkFile("f.000001", tc.data)
		if !errors.Is(res.err, tc.is) || !strings.Contains(res.err.Error(), "binlog: f.000001"+tc.msg) {
			t.Errorf("%s: got %v, want %v %q", tc.name, res.err, tc.is, tc.msg)
		}
	}
}

// TestReaderLyingSize: a header that claims a huge event in a tiny file
// must fail without allocating the claimed size.
func TestReaderLyingSize(t *testing.T) {
	data := readCorpus(t, "bug16266.000001")
	d := bytes.Clone(data[:200])
	binary.LittleEndian.PutUint32(d[98+9:], 900<<20)
	ms1 := memStats()
	res := walkFile("lying", d)
	ms2 := memStats()
	if !errors.Is(res.err, ErrTruncated) {
		t.Fatalf("got %v", res.err)
	}
	if grew := ms2 - ms1; grew > 64<<20 {
		t.Errorf("allocated %d MiB for a 200-byte file", grew>>20)
	}
}

// TestReaderSlowSource reads through a source that returns one byte at a
// time and one that returns data with io.EOF.
func TestReaderSlowSource(t *testing.T) {
	const name = "transaction_compression.000001"
	data := readCorpus(t, name)
	want := walkFile(name, data)
	for _, src := range []io.Reader{iotest.OneByteReader(bytes.NewReader(data)), iotest.DataErrReader(bytes.NewReader(data)), iotest.HalfReader(bytes.NewReader(data))} {
		r := NewReader(src, name)
		n := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != want.events {
			t.Errorf("%T: %d events, want %d", src, n, want.events)
		}
	}
	r := NewReader(iotest.ErrReader(errors.New("disk on fire")), name)
	if _, err := r.Next(); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("read error: %v", err)
	}
	if _, err := r.Next(); err == nil {
		t.Error("error is not sticky")
	}
}

// TestReaderStartOffset reads a file from the middle with a known format.
func TestReaderStartOffset(t *testing.T) {
	const name = "binlog-invisible-columns.000001"
	data := readCorpus(t, name)
	var fde *FormatDescription
	var offs []int64
	r := NewReader(bytes.NewReader(data), name)
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		fde = ev.FDE
		offs = append(offs, ev.Offset)
	}
	start := offs[3]
	r = NewReader(bytes.NewReader(data[start:]), name, WithStartOffset(start), WithFormat(fde))
	for i := 3; ; i++ {
		ev, err := r.Next()
		if err == io.EOF {
			if i != len(offs) {
				t.Errorf("ended after %d events, want %d", i, len(offs))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Offset != offs[i] {
			t.Fatalf("event %d at %d, want %d", i, ev.Offset, offs[i])
		}
	}
}

func TestParseEvent(t *testing.T) {
	const name = "mariadb-bin.000001"
	data := readCorpus(t, name)
	r := NewReader(bytes.NewReader(data), name)
	var raws [][]byte
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, bytes.Clone(ev.Raw))
	}
	// A stream: the FDE first, then events parsed one by one.
	fde := DefaultFormatDescription()
	for i, raw := range raws {
		ev, err := ParseEvent(raw, fde, WithStartOffset(int64(i)))
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		fde = ev.FDE
		if _, err := DecodeBody(ev); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	if !fde.MariaDB {
		t.Error("stream format is not MariaDB after its FDE")
	}
	bad := bytes.Clone(raws[3])
	bad[len(bad)-1] ^= 1
	if _, err := ParseEvent(bad, fde); !errors.Is(err, ErrChecksum) {
		t.Errorf("bad checksum: %v", err)
	}
	if _, err := ParseEvent(raws[3][:10], fde); !errors.Is(err, ErrTruncated) {
		t.Errorf("short: %v", err)
	}
	if _, err := ParseEvent(raws[3][:len(raws[3])-1], fde); !errors.Is(err, ErrEventSize) {
		t.Errorf("size mismatch: %v", err)
	}
}

// buildPayloadFile writes a file holding one TRANSACTION_PAYLOAD_EVENT of
// the given inner events, compressed with zstd or stored.
func buildPayloadFile(t testing.TB, inner []byte, compress bool, uncompressed uint64) []byte {
	t.Helper()
	var out bytes.Buffer
	w := NewWriter(&out)
	f := NewFormatDescription("8.0.40", ChecksumCRC32)
	if err := w.WriteEvent(Header{Type: FormatDescriptionEvent}, f.AppendBody(nil)); err != nil {
		t.Fatal(err)
	}
	p := TransactionPayload{CompressionType: PayloadNone, Payload: inner}
	if compress {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		p = TransactionPayload{CompressionType: PayloadZstd, UncompressedSize: uncompressed, Payload: enc.EncodeAll(inner, nil)}
		enc.Close()
	}
	if err := w.WriteEvent(Header{Type: TransactionPayloadEvent}, p.AppendBody(nil)); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func innerEvents(n int) []byte {
	var b []byte
	for i := 0; i < n; i++ {
		q := []byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
		q = append(q, []byte("INSERT INTO t VALUES (1, 'some row text that compresses well')")...)
		b = AppendEvent(b, Header{Type: QueryEvent}, q, false)
	}
	return append(b, AppendEvent(nil, Header{Type: XIDEvent}, make([]byte, 8), false)...)
}

func TestReaderPayloadSynthetic(t *testing.T) {
	inner := innerEvents(5000) // ~440 KB: several zstd blocks and buffer refills
	for _, tc := range []struct {
		name     string
		data     []byte
		events   int
		is       error
		contains string
	}{
		{"zstd", buildPayloadFile(t, inner, true, uint64(len(inner))), 5001, nil, ""},
		{"stored", buildPayloadFile(t, inner, false, 0), 5001, nil, ""},
		{"size lies low", buildPayloadFile(t, inner, true, uint64(len(inner))-1), 0, ErrMalformed, "past the uncompressed size"},
		{"size lies high", buildPayloadFile(t, inner, true, uint64(len(inner))+1), 0, ErrMalformed, "payload expands to"},
		{"cut event", buildPayloadFile(t, inner[:len(inner)-3], true, 0), 0, ErrTruncated, "payload ends 24 bytes into a 27-byte event"},
		{"nested FDE", buildPayloadFile(t, append(bytes.Clone(inner[:binary.LittleEndian.Uint32(inner[9:])]), AppendEvent(nil, Header{Type: FormatDescriptionEvent}, make([]byte, 60), false)...), true, 0), 0, ErrMalformed, "FORMAT_DESCRIPTION_EVENT inside a payload"},
	} {
		res := walkFile(tc.name, tc.data)
		if tc.is == nil {
			if res.err != io.EOF || res.nested != tc.events {
				t.Errorf("%s: %d nested events, %v", tc.name, res.nested, res.err)
			}
			continue
		}
		var be *Error
		if !errors.Is(res.err, tc.is) || !errors.As(res.err, &be) || !strings.Contains(res.err.Error(), tc.contains) || be.Offset != 127 {
			t.Errorf("%s: got %v, want %v %q at offset 127", tc.name, res.err, tc.is, tc.contains)
		}
	}
}

// TestReaderZeroAllocs: reading events in steady state allocates nothing.
func TestReaderZeroAllocs(t *testing.T) {
	stream := benchStream(t, 1<<20)
	br := bytes.NewReader(stream)
	r := NewReader(br, "alloc")
	for i := 0; i < 100; i++ { // warm up: the buffer reaches its size
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%.2f allocations per event", allocs)
	}
}

// TestReaderBytesMatchesReader: NewReaderBytes gives the same events and
// errors as NewReader over every corpus file.
func TestReaderBytesMatchesReader(t *testing.T) {
	for _, name := range corpusFiles(t) {
		data := readCorpus(t, name)
		a := NewReader(bytes.NewReader(data), name)
		b := NewReaderBytes(data, name)
		for {
			ea, erra := a.Next()
			eb, errb := b.Next()
			if (erra == nil) != (errb == nil) || (erra != nil && erra.Error() != errb.Error()) {
				t.Fatalf("%s: %v vs %v", name, erra, errb)
			}
			if erra != nil {
				break
			}
			if ea.Offset != eb.Offset || ea.Header != eb.Header || !bytes.Equal(ea.Raw, eb.Raw) || !bytes.Equal(ea.Body, eb.Body) {
				t.Fatalf("%s@%d: events differ", name, ea.Offset)
			}
		}
	}
}
