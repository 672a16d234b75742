package mysql

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/snapshot"
)

func TestSplitRow(t *testing.T) {
	long := bytes.Repeat([]byte("y"), 300)
	tests := []struct {
		name    string
		p       []byte
		n       int
		want    [][]byte // nil entry: NULL
		wantErr string
	}{
		{"values", []byte("\x02ab\x00\xfb\x01c"), 4, [][]byte{[]byte("ab"), {}, nil, []byte("c")}, ""},
		{"two-byte length", append([]byte{0xfc, 0x2c, 0x01}, long...), 1, [][]byte{long}, ""},
		{"three-byte length", append([]byte{0xfd, 0x2c, 0x01, 0x00}, long...), 1, [][]byte{long}, ""},
		{"eight-byte length", append([]byte{0xfe, 0x2c, 0x01, 0, 0, 0, 0, 0, 0}, long...), 1, [][]byte{long}, ""},
		{"ends early", []byte("\x01a"), 2, nil, "ends before its column 2"},
		{"value past the end", []byte("\x05ab"), 1, nil, "ends inside its column 1"},
		{"bad length byte", []byte{0xff}, 1, nil, "bad length byte 0xff at column 1"},
		{"short length", []byte{0xfc, 0x01}, 1, nil, "bad length byte 0xfc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vals := make([][]byte, tt.n)
			err := splitRow(tt.p, vals)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range vals {
				if (vals[i] == nil) != (tt.want[i] == nil) || !bytes.Equal(vals[i], tt.want[i]) {
					t.Errorf("value %d: %q (nil %t), want %q (nil %t)", i, vals[i], vals[i] == nil, tt.want[i], tt.want[i] == nil)
				}
			}
		})
	}
}

func TestInterpolate(t *testing.T) {
	tests := []struct {
		q       string
		args    []any
		want    string
		wantErr string
	}{
		{"SELECT `a?b` FROM `t` WHERE `id` > ? AND `x``?` <= ? LIMIT ?", []any{int64(-5), "it's\\", 10},
			"SELECT `a?b` FROM `t` WHERE `id` > -5 AND `x``?` <= 'it\\'s\\\\' LIMIT 10", ""},
		{"? ? ?", []any{uint64(18446744073709551615), 1.5, []byte{0, '\n', '\r', 0x1a, '"'}},
			`18446744073709551615 1.5 _binary'\0\n\r\Z\"'`, ""},
		{"? ?", []any{int64(1)}, "", "more placeholders than its 1 arguments"},
		{"?", []any{int64(1), int64(2)}, "", "1 placeholders for 2 arguments"},
		{"?", []any{true}, "", "no SQL literal for a bool"},
	}
	for _, tt := range tests {
		got, err := interpolate(nil, tt.q, tt.args)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: err %v, want %q", tt.q, err, tt.wantErr)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("%q: %q, %v\nwant %q", tt.q, got, err, tt.want)
		}
	}
}

// TestGrantErrorServer: a server error that go-mysql returns names the
// missing privilege, as one from database/sql does.
func TestGrantErrorServer(t *testing.T) {
	err := grantError(fmt.Errorf("wrapped: %w", &gmysql.MyError{Code: 1142, Message: "SELECT command denied to user"}), "")
	if !strings.Contains(err.Error(), "lacks the SELECT privilege") {
		t.Fatalf("%v", err)
	}
}

// textReaderOn dials the shared server as the snapshot does and returns a
// textReader on the connection.
func textReaderOn(t *testing.T) *textReader {
	t.Helper()
	cfg := testConfig(shared.Addr())
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r, err := dial(context.Background(), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	tr := newTextReader(r)
	for _, q := range snapSession {
		if _, err := r.exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

// rowsOf runs q through tr and returns copies of its rows.
func rowsOf(t *testing.T, tr *textReader, q string, ncols int) ([][][]byte, error) {
	t.Helper()
	var rows [][][]byte
	_, err := tr.query([]byte(q), ncols, func(vals [][]byte) error {
		row := make([][]byte, len(vals))
		for i, v := range vals {
			if v != nil {
				row[i] = append([]byte{}, v...)
			}
		}
		rows = append(rows, row)
		return nil
	})
	return rows, err
}

// TestTextReaderLive reads result sets through a textReader on a live
// server: every byte value through the literals interpolate writes, NULL
// and empty values, a value larger than the read buffer and one split
// over two packets; and its errors, after each of which the connection
// still answers, also to go-mysql.
func TestTextReaderLive(t *testing.T) {
	tr := textReaderOn(t)
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	q, err := interpolate(nil, "SELECT ?, ?, NULL, '', ?", []any{string(all), all, int64(-7)})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := rowsOf(t, tr, string(q), 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("%d rows, want 1", len(rows))
	}
	r := rows[0]
	if !bytes.Equal(r[0], all) || !bytes.Equal(r[1], all) {
		t.Errorf("every byte value came back as %q and %q", r[0], r[1])
	}
	if r[2] != nil || r[3] == nil || len(r[3]) != 0 || string(r[4]) != "-7" {
		t.Errorf("NULL, '', -7 came back as %q (nil %t), %q (nil %t), %q", r[2], r[2] == nil, r[3], r[3] == nil, r[4])
	}

	// A row over the read buffer, and one over a packet's payload.
	exec(t, shared, "SET GLOBAL max_allowed_packet = 64 * 1024 * 1024")
	t.Cleanup(func() { exec(t, shared, "SET GLOBAL max_allowed_packet = DEFAULT") })
	big := textReaderOn(t) // a session that sees the new max_allowed_packet
	for _, n := range []int{100 << 10, 17 << 20} {
		rows, err := rowsOf(t, big, fmt.Sprintf("SELECT REPEAT('x', %d), 1 UNION ALL SELECT 'after', 2", n), 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2 || len(rows[0][0]) != n || string(rows[1][0]) != "after" {
			t.Fatalf("a %d-byte value: %d rows, first of %d bytes", n, len(rows), len(rows[0][0]))
		}
	}

	// Errors; the connection still answers after each.
	stop := errors.New("stop")
	for _, tt := range []struct {
		name, q string
		ncols   int
		row     func([][]byte) error
		want    string
	}{
		{"syntax", "SELEC 1", 1, nil, "1064"},
		{"no result set", "DO 1", 1, nil, "returned no result set"},
		{"columns", "SELECT 1, 2 UNION ALL SELECT 3, 4", 1, nil, "returned 2 columns, want 1"},
		{"row error", "SELECT seq FROM mysql.seq_1_to_1000", 1, func([][]byte) error { return stop }, "stop"},
		{"error mid-result", "SELECT IF(seq < 500, seq, (SELECT seq FROM mysql.seq_1_to_2)) FROM mysql.seq_1_to_1000", 1, nil, "1242"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			row := tt.row
			if row == nil {
				row = func([][]byte) error { return nil }
			}
			_, err := tr.query([]byte(tt.q), tt.ncols, row)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
			if rows, err := rowsOf(t, tr, "SELECT 'still here'", 1); err != nil || len(rows) != 1 || string(rows[0][0]) != "still here" {
				t.Fatalf("after the error: %q, %v", rows, err)
			}
			if _, err := tr.r.exec("DO 1"); err != nil {
				t.Fatalf("go-mysql after the error: %v", err)
			}
		})
	}
}

// TestSnapshotKeysOfEveryKind snapshots a table whose key is a string, a
// binary string and a datetime, in chunks of two rows, so that keys with
// quotes, backslashes, NUL, Ctrl-Z, newlines and non-ASCII bytes are
// written into the workers' queries: every row comes once, in key order,
// as SELECT reads it.
func TestSnapshotKeysOfEveryKind(t *testing.T) {
	exec(t, shared, "CREATE DATABASE snapkeys",
		"CREATE TABLE snapkeys.t (s VARCHAR(20), b VARBINARY(16), at DATETIME(6), v INT, PRIMARY KEY (s, b, at))")
	var stmts []string
	for i, s := range []string{"it's", `back\slash`, "nul\x00", "ctrl-z\x1a", "line\nbreak", "quote\"", "ünï", "?", "`"} {
		for j, b := range []string{"\x00", "\xff\x1a'\\", "?"} {
			stmts = append(stmts, fmt.Sprintf("INSERT INTO snapkeys.t VALUES (%s, %s, '2024-01-02 03:04:05.%06d', %d)",
				sqlQuote(s), "0x"+fmt.Sprintf("%x", b), j, i*10+j))
		}
	}
	exec(t, shared, stmts...)
	cfg := testConfig(shared.Addr())
	cfg.ServerID = 7403
	cfg.Snapshot = snapshot.Options{Mode: snapshot.ModeOnly, Workers: 2, ChunkRows: 2,
		Tables: func(ns change.Namespace) bool { return ns.Database == "snapkeys" }}
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = src.Stream(context.Background(), change.Position{}, func(cs []change.Change) error {
		for _, c := range cs {
			if c.Op == change.OpRead {
				got = append(got, fmt.Sprintf("%q %q %s %d", c.After[0].B, c.After[1].B, change.AppendText(nil, c.After[2]), c.After[3].I))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db, err := shared.DB()
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query("SELECT s, b, DATE_FORMAT(at, '%Y-%m-%d %H:%i:%s.%f'), v FROM snapkeys.t ORDER BY s, b, at")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var want []string
	for rows.Next() {
		var s, b []byte
		var at string
		var v int64
		if err := rows.Scan(&s, &b, &at, &v); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("%q %q %s %d", s, b, at, v))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("snapshot rows:\n%s\nSELECT:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// sqlQuote quotes s as a hex literal converted to utf8mb4.
func sqlQuote(s string) string { return fmt.Sprintf("CONVERT(0x%x USING utf8mb4)", s) }

// TestSnapshotSurvivesStalledSink: the sink stalls longer than the
// server's net_write_timeout while a worker is in the middle of a result
// set. The server, unable to send, would drop the query; the snapshot's
// sessions raise the timeout, so the snapshot goes on when the sink does.
func TestSnapshotSurvivesStalledSink(t *testing.T) {
	const n = 100000
	exec(t, shared, "CREATE DATABASE snapstall", "CREATE TABLE snapstall.t (id INT PRIMARY KEY, p VARCHAR(200))",
		fmt.Sprintf("INSERT INTO snapstall.t SELECT seq, REPEAT('x', 200) FROM snapstall.seq_1_to_%d", n),
		"SET GLOBAL net_write_timeout = 1")
	t.Cleanup(func() { exec(t, shared, "SET GLOBAL net_write_timeout = DEFAULT") })
	cfg := testConfig(shared.Addr())
	cfg.ServerID = 7405
	cfg.Snapshot = snapshot.Options{Mode: snapshot.ModeOnly, Workers: 1, ChunkRows: n, MemoryBytes: 64 << 10,
		Tables: func(ns change.Namespace) bool { return ns.Database == "snapstall" }}
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rows, stalled := 0, false
	err = src.Stream(context.Background(), change.Position{}, func(cs []change.Change) error {
		if !stalled {
			stalled = true
			time.Sleep(4 * time.Second)
		}
		for _, c := range cs {
			if c.Op == change.OpRead {
				rows++
			}
		}
		return nil
	})
	if err != nil || rows != n {
		t.Fatalf("snapshot with a sink stalled past net_write_timeout: %d rows, %v; want %d", rows, err, n)
	}
}

// pkt frames payload as one protocol packet with sequence seq.
func pkt(seq byte, payload []byte) []byte {
	n := len(payload)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq}, payload...)
}

// TestTextReaderPackets feeds textReader.packet framed bytes, whole,
// split over two packets and damaged: a packet in the wrong order or cut
// short is a clear error, never a panic or a short value.
func TestTextReaderPackets(t *testing.T) {
	big := bytes.Repeat([]byte("z"), maxPayload)
	tests := []struct {
		name    string
		stream  []byte
		bufSize int
		want    []byte
		wantErr string
	}{
		{"one packet", pkt(1, []byte("abc")), 0, []byte("abc"), ""},
		{"over the buffer", pkt(1, bytes.Repeat([]byte("y"), 100)), 16, bytes.Repeat([]byte("y"), 100), ""},
		{"split over two packets", append(pkt(1, big), pkt(2, []byte("tail"))...), 0, append(append([]byte{}, big...), "tail"...), ""},
		{"wrong sequence", pkt(5, []byte("abc")), 0, nil, "packet out of order: sequence 5, want 1"},
		{"second part out of order", append(pkt(1, big), pkt(7, []byte("tail"))...), 0, nil, "sequence 7, want 2"},
		{"header cut short", []byte{3, 0}, 0, nil, "read a result: unexpected EOF"},
		{"payload cut short", pkt(1, []byte("abc"))[:6], 0, nil, "read a result: unexpected EOF"},
		{"payload cut short, over the buffer", pkt(1, bytes.Repeat([]byte("y"), 100))[:50], 16, nil, "read a result: unexpected EOF"},
		{"nothing", nil, 0, nil, "read a result: unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size := tt.bufSize
			if size == 0 {
				size = 64 << 10
			}
			tr := &textReader{br: bufio.NewReaderSize(bytes.NewReader(tt.stream), size), seq: 1}
			p, err := tr.packet()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(p, tt.want) {
				t.Fatalf("%d bytes, %v; want %d bytes", len(p), err, len(tt.want))
			}
		})
	}
}

// FuzzSplitRow: any bytes split into any number of columns give values
// inside the row or a clear error, never a panic.
func FuzzSplitRow(f *testing.F) {
	f.Add([]byte("\x02ab\x00\xfb\x01c"), 4)
	f.Add([]byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 'x'}, 1)
	f.Add([]byte{0xfd, 0x01}, 2)
	f.Fuzz(func(t *testing.T, p []byte, n int) {
		if n < 0 || n > 64 {
			return
		}
		vals := make([][]byte, n)
		if err := splitRow(p, vals); err != nil {
			return
		}
		total := 0
		for _, v := range vals {
			total += len(v)
		}
		if total > len(p) {
			t.Fatalf("values of %d bytes from a row of %d", total, len(p))
		}
	})
}
