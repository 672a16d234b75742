package binlog

import (
	"bytes"
	"encoding/binary"
	"io"
	"runtime"
	"testing"
)

func memStats() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// benchStream builds a corpus-like binlog of about size bytes: the events
// of the corpus's MySQL 8 and 5.7 files after their FDE, repeated, under
// one CRC32 format, with positions and checksums rewritten by Writer.
func benchStream(tb testing.TB, size int) []byte {
	tb.Helper()
	var evs []struct {
		h    Header
		body []byte
	}
	for _, name := range []string{"json.binlog.000001", "mysql-enum-string-set.000001", "vector.binlog", "bug27213339-bin.000001", "binlog-invisible-columns.000001"} {
		r := NewReader(bytes.NewReader(readCorpus(tb, name)), name, WithoutPayloadExpansion())
		for {
			ev, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				tb.Fatal(err)
			}
			switch ev.Header.Type {
			case FormatDescriptionEvent, RotateEvent, StopEvent, PreviousGTIDsEvent:
				continue
			}
			evs = append(evs, struct {
				h    Header
				body []byte
			}{ev.Header, bytes.Clone(ev.Body)})
		}
	}
	var out bytes.Buffer
	w := NewWriter(&out)
	f := NewFormatDescription("8.0.40", ChecksumCRC32)
	if err := w.WriteEvent(Header{Type: FormatDescriptionEvent}, f.AppendBody(nil)); err != nil {
		tb.Fatal(err)
	}
	for out.Len() < size {
		for _, e := range evs {
			if err := w.WriteEvent(e.h, e.body); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return out.Bytes()
}

func benchmarkScan(b *testing.B, opts ...Option) {
	stream := benchStream(b, 64<<20)
	events := 0
	r := NewReader(bytes.NewReader(stream), "bench", opts...)
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		events++
	}
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	br := bytes.NewReader(stream)
	for i := 0; i < b.N; i++ {
		br.Reset(stream)
		r := NewReader(br, "bench", opts...)
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	if cpu := processCPU() - cpu0; cpu > 0 {
		// Throughput per CPU second: stable when the machine is shared.
		b.ReportMetric(float64(len(stream))*float64(b.N)/cpu.Seconds()/1e6, "MB/cpu-s")
	}
	b.ReportMetric(float64(events), "events/op")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(events), "ns/event")
}

// BenchmarkReaderScan reads a 64 MiB corpus-like stream from memory,
// verifying every CRC32.
func BenchmarkReaderScan(b *testing.B) { benchmarkScan(b) }

// BenchmarkReaderScanNoCRC is the same scan without checksum verification.
func BenchmarkReaderScanNoCRC(b *testing.B) { benchmarkScan(b, WithoutChecksums()) }

// BenchmarkReaderScanBytes scans the stream in place with NewReaderBytes
// (no copy into the read buffer), verifying every CRC32.
func BenchmarkReaderScanBytes(b *testing.B) {
	stream := benchStream(b, 64<<20)
	events := 0
	r := NewReaderBytes(stream, "bench")
	for {
		if _, err := r.Next(); err == io.EOF {
			break
		} else if err != nil {
			b.Fatal(err)
		}
		events++
	}
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; i < b.N; i++ {
		r := NewReaderBytes(stream, "bench")
		for {
			if _, err := r.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
	if cpu := processCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(len(stream))*float64(b.N)/cpu.Seconds()/1e6, "MB/cpu-s")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(events), "ns/event")
}

// BenchmarkReaderPayload expands a zstd TRANSACTION_PAYLOAD of 5000 events.
func BenchmarkReaderPayload(b *testing.B) {
	inner := innerEvents(5000)
	data := buildPayloadFile(b, inner, true, uint64(len(inner)))
	b.SetBytes(int64(len(inner)))
	b.ReportAllocs()
	br := bytes.NewReader(data)
	for i := 0; i < b.N; i++ {
		br.Reset(data)
		r := NewReader(br, "bench")
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		r.Close()
	}
}

// BenchmarkReaderPayloadSteady reads a file of 50 zstd payload events of
// 500 inner events each with one Reader: the per-payload cost once the
// decoder exists.
func BenchmarkReaderPayloadSteady(b *testing.B) {
	inner := innerEvents(500)
	one := buildPayloadFile(b, inner, true, uint64(len(inner)))
	fdeEnd := 4 + int(binary.LittleEndian.Uint32(one[4+9:]))
	payloadEv := one[fdeEnd:]
	var out bytes.Buffer
	w := NewWriter(&out)
	f := NewFormatDescription("8.0.40", ChecksumCRC32)
	if err := w.WriteEvent(Header{Type: FormatDescriptionEvent}, f.AppendBody(nil)); err != nil {
		b.Fatal(err)
	}
	const payloads = 50
	for i := 0; i < payloads; i++ {
		h, _ := DecodeHeader(payloadEv)
		if err := w.WriteEvent(h, payloadEv[HeaderLenV4:len(payloadEv)-ChecksumLen]); err != nil {
			b.Fatal(err)
		}
	}
	data := out.Bytes()
	b.SetBytes(int64(payloads * len(inner)))
	b.ReportAllocs()
	br := bytes.NewReader(data)
	for i := 0; i < b.N; i++ {
		br.Reset(data)
		r := NewReader(br, "bench")
		n := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		r.Close()
		if n != 1+payloads*(1+501) {
			b.Fatalf("%d events", n)
		}
	}
}
