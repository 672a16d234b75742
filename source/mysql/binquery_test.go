package mysql

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/snapshot"
)

// stringsOf runs the prepared statement q with args, whose result has one
// string column, and returns its rows.
func stringsOf(t *testing.T, tr *textReader, q string, args []any) ([]string, error) {
	t.Helper()
	s, err := tr.prepare(q)
	if err != nil {
		return nil, err
	}
	col := snapColumn{name: "c", kind: tkString}
	var out []string
	_, err = tr.execute(s, args, 1, func(wire []wireCol, p []byte) error {
		vals := make([]change.Value, 1)
		if err := decodeBinaryRow([]snapColumn{col}, wire, p, vals); err != nil {
			return err
		}
		out = append(out, string(vals[0].B))
		return nil
	})
	return out, err
}

// TestExecuteArgs: every kind of argument a snapshot's query takes means
// to the server, sent as a prepared statement's parameter, what it means
// written into the query's text as a literal: the same bytes, the same
// character set (binary for bytes), the same NULL.
func TestExecuteArgs(t *testing.T) {
	tr := textReaderOn(t)
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	const q = "SELECT CONCAT_WS('/', HEX(?), CHARSET(?), ? IS NULL, ? + 0)"
	for _, a := range []any{int(7), int64(-1 << 63), int64(-7), uint64(1<<64 - 1), 2.5, -1e-300,
		"", "it's", `back\slash`, "nul\x00", "ünï", string(all), []byte{}, []byte("\xff\x1a'\\"), all, nil} {
		args := []any{a, a, a, a}
		got, err := stringsOf(t, tr, q, args)
		if err != nil {
			t.Fatalf("%#v: %v", a, err)
		}
		lit, err := []byte(strings.ReplaceAll(q, "?", "NULL")), error(nil)
		if a != nil {
			lit, err = interpolate(nil, q, args)
		}
		if err != nil {
			t.Fatal(err)
		}
		want, err := rowsOf(t, tr, string(lit), 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || len(want) != 1 || got[0] != string(want[0][0]) {
			t.Errorf("%#v: prepared %q, as a literal %q", a, got, want)
		}
	}
	// Many parameters: a NULL bitmap of more than one byte.
	args := make([]any, 20)
	for i := range args {
		if i%3 != 0 {
			args[i] = int64(i)
		}
	}
	got, err := stringsOf(t, tr, "SELECT CONCAT_WS(','"+strings.Repeat(", ?", 20)+")", args)
	if err != nil || len(got) != 1 || got[0] != "1,2,4,5,7,8,10,11,13,14,16,17,19" {
		t.Errorf("20 parameters, every third NULL: %q, %v", got, err)
	}
}

// TestExecuteErrors: a statement the server refuses, a wrong number of
// arguments, an error in the middle of a result and an error of the row
// function each come back as errors, and the connection still answers
// after each.
func TestExecuteErrors(t *testing.T) {
	tr := textReaderOn(t)
	stop := errors.New("stop")
	for _, tt := range []struct {
		name, q string
		args    []any
		ncols   int
		row     func([]wireCol, []byte) error
		want    string
	}{
		{"syntax", "SELEC ?", []any{1}, 1, nil, "1064"},
		{"arguments", "SELECT ?, ?", []any{1}, 2, nil, "takes 2 parameters, not 1"},
		{"no result set", "DO ?", []any{1}, 1, nil, "returned no result set"},
		{"columns", "SELECT ?, 2", []any{1}, 1, nil, "returned 2 columns, want 1"},
		{"row error", "SELECT seq FROM mysql.seq_1_to_1000 WHERE seq > ?", []any{0}, 1, func([]wireCol, []byte) error { return stop }, "stop"},
		{"error mid-result", "SELECT IF(seq < 500, seq, (SELECT seq FROM mysql.seq_1_to_2)) FROM mysql.seq_1_to_1000 WHERE seq > ?", []any{0}, 1, nil, "1242"},
		{"argument type", "SELECT ?", []any{struct{}{}}, 1, nil, "no statement parameter for a struct {}"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			row := tt.row
			if row == nil {
				row = func([]wireCol, []byte) error { return nil }
			}
			s, err := tr.prepare(tt.q)
			if err == nil {
				_, err = tr.execute(s, tt.args, tt.ncols, row)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
			if got, err := stringsOf(t, tr, "SELECT CONCAT(?, ' still here')", []any{"and"}); err != nil || len(got) != 1 || got[0] != "and still here" {
				t.Fatalf("after the error: %q, %v", got, err)
			}
		})
	}
}

// TestSnapshotWithoutPrepare: a server that prepares no statement
// (max_prepared_stmt_count = 0) is read with the text protocol, and the
// rows are the same; the log says so once per worker.
func TestSnapshotWithoutPrepare(t *testing.T) {
	exec(t, shared, "DROP DATABASE IF EXISTS noprep", "CREATE DATABASE noprep",
		"CREATE TABLE noprep.t (id INT PRIMARY KEY, at DATETIME(6), f FLOAT, s VARCHAR(10))",
		"INSERT INTO noprep.t SELECT seq, '2024-01-02 03:04:05.5' + INTERVAL seq SECOND, seq / 4, CONCAT('s', seq) FROM mysql.seq_1_to_100")
	read := func() ([]string, string) {
		var log bytes.Buffer
		cfg := testConfig(shared.Addr())
		cfg.ServerID = 7404
		cfg.Logger = slog.New(slog.NewTextHandler(&log, nil))
		cfg.Snapshot = snapshot.Options{Mode: snapshot.ModeOnly, Workers: 2, ChunkRows: 7,
			Tables: func(ns change.Namespace) bool { return ns.Database == "noprep" }}
		src, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var rows []string
		err = src.Stream(context.Background(), change.Position{}, func(cs []change.Change) error {
			for _, c := range cs {
				if c.Op == change.OpRead {
					rows = append(rows, string(change.AppendJSON(nil, &c)))
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return rows, log.String()
	}
	prepared, log := read()
	if strings.Contains(log, "text protocol") {
		t.Fatalf("the server prepares statements, yet: %s", log)
	}
	exec(t, shared, "SET GLOBAL max_prepared_stmt_count = 0")
	t.Cleanup(func() { exec(t, shared, "SET GLOBAL max_prepared_stmt_count = DEFAULT") })
	text, log := read()
	if n := strings.Count(log, "reading with the text protocol"); n != 2 {
		t.Errorf("the log says %d times that a worker reads with the text protocol, want 2:\n%s", n, log)
	}
	if len(prepared) != 100 || len(text) != 100 {
		t.Fatalf("%d rows prepared, %d as text; want 100", len(prepared), len(text))
	}
	strip := func(s string) string { return s[strings.Index(s, `"key"`):] } // read_ts and pos differ
	for i := range prepared {
		if strip(prepared[i]) != strip(text[i]) {
			t.Fatalf("row %d: prepared %s, as text %s", i, prepared[i], text[i])
		}
	}
}

// binRowCols are columns of every kind decodeBin reads, with the wire
// types the server sends them as.
func binRowCols() ([]snapColumn, []wireCol) {
	cols := []snapColumn{
		{name: "i8", kind: tkInt, size: 8}, {name: "u16", kind: tkUint, size: 16}, {name: "i32", kind: tkInt, size: 32},
		{name: "u64", kind: tkUint, size: 64}, {name: "f", kind: tkFloat}, {name: "d", kind: tkDouble},
		{name: "y", kind: tkYear}, {name: "dt", kind: tkDate}, {name: "ts", kind: tkTimestamp, size: 6},
		{name: "dtm", kind: tkDateTime, size: 3}, {name: "tm", kind: tkTime, size: 6}, {name: "s", kind: tkString},
		{name: "dec", kind: tkDecimal},
	}
	wire := []wireCol{{typ: wireTiny}, {typ: wireShort, unsigned: true}, {typ: wireLong}, {typ: wireLongLong, unsigned: true},
		{typ: wireFloat}, {typ: wireDouble}, {typ: wireYear}, {typ: wireDate}, {typ: wireTimestamp}, {typ: wireDateTime},
		{typ: wireTime}, {typ: wireString}, {typ: 246}}
	return cols, wire
}

// binRow is a good binary row of binRowCols: NULL bitmap, then values.
func binRow() []byte {
	p := []byte{0, 0, 0}                  // header, a bitmap of (13+9)/8 = 2 bytes, none NULL
	p = append(p, 0xf9)                   // -7
	p = append(p, 0xff, 0xff)             // 65535
	p = append(p, 0xfe, 0xff, 0xff, 0xff) // -2
	p = append(p, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	p = append(p, 0, 0, 0x20, 0x40)                          // 2.5
	p = append(p, 0, 0, 0, 0, 0, 0, 0xf0, 0xbf)              // -1
	p = append(p, 0xe8, 0x07)                                // 2024
	p = append(p, 4, 0xe8, 0x07, 2, 29)                      // 2024-02-29
	p = append(p, 11, 0xb2, 0x07, 1, 1, 0, 0, 1, 1, 0, 0, 0) // 1970-01-01 00:00:01.000001
	p = append(p, 7, 0xe8, 0x07, 12, 31, 23, 59, 59)         // 2024-12-31 23:59:59
	p = append(p, 12, 1, 2, 0, 0, 0, 3, 4, 5, 6, 0, 0, 0)    // -51:04:05.000006
	p = append(p, 3, 'a', 'b', 'c')
	p = append(p, 4, '1', '.', '5', '0')
	return p
}

// TestDecodeBinaryRow decodes a row of every wire type, then damaged
// copies of it: each damage is an error that names what is wrong.
func TestDecodeBinaryRow(t *testing.T) {
	cols, wire := binRowCols()
	out := make([]change.Value, len(cols))
	if err := decodeBinaryRow(cols, wire, binRow(), out); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range out {
		got = append(got, string(change.AppendText(nil, v)))
	}
	want := "-7|65535|-2|18446744073709551615|2.5|-1|2024|2024-02-29|1970-01-01 00:00:01.000001|2024-12-31 23:59:59.000|-51:04:05.000006|abc|1.50"
	if s := strings.Join(got, "|"); s != want {
		t.Errorf("decoded\n %s\nwant\n %s", s, want)
	}
	if out[8].I != 1 || out[8].Kind != change.KindTimestamp {
		t.Errorf("the TIMESTAMP is %+v, want 1 s after the epoch", out[8])
	}

	// NULLs: bits 2.. of the bitmap.
	nulls := []byte{0, 0xfc, 0x7f}
	if err := decodeBinaryRow(cols, wire, nulls, out); err != nil {
		t.Fatal(err)
	}
	for i, v := range out {
		if v.Kind != change.KindNull {
			t.Errorf("column %d is %+v, want NULL", i, v)
		}
	}

	row := binRow()
	for _, tt := range []struct {
		name string
		p    []byte
		want string
	}{
		{"empty", nil, "a bad binary row (0 bytes)"},
		{"not a row", append([]byte{1}, row[1:]...), "a bad binary row"},
		{"bitmap cut", row[:2], "a bad binary row (2 bytes)"},
		{"integer cut", row[:5], "column u16"},
		{"a value cut", row[:len(row)-2], "column dec"},
		{"trailing bytes", append(append([]byte{}, row...), 0), "has 1 left after its 13 columns"},
		{"date of a bad length", bytes.Replace(row, []byte{4, 0xe8, 0x07, 2, 29}, []byte{3, 0xe8, 0x07, 2}, 1), "a date of a bad length"},
		{"date's length past the row", row[:bytes.Index(row, []byte{11, 0xb2})+5], "column ts"},
		{"microseconds", bytes.Replace(row, []byte{1, 0, 0, 0, 7}, []byte{0x40, 0x42, 0x0f, 0, 7}, 1), "microseconds out of range"},
		{"a TIME's microseconds", bytes.Replace(row, []byte{6, 0, 0, 0, 3}, []byte{0x40, 0x42, 0x0f, 0, 3}, 1), "column tm"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := decodeBinaryRow(cols, wire, tt.p, out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
		})
	}
}

// TestParseColumnType reads a column definition's type and flags, and
// refuses one cut short anywhere.
func TestParseColumnType(t *testing.T) {
	var p []byte
	for _, s := range []string{"def", "db", "t", "t", "c", "c"} {
		p = append(append(p, byte(len(s))), s...)
	}
	p = append(p, 0x0c, 0x21, 0, 10, 0, 0, 0, wireLongLong, wireUnsigned, 0, 0, 0, 0)
	if c, err := parseColumnType(p); err != nil || c.typ != wireLongLong || !c.unsigned {
		t.Fatalf("%+v, %v", c, err)
	}
	for n := range len(p) - 2 {
		if _, err := parseColumnType(p[:n]); err == nil || !strings.Contains(err.Error(), "cut short") {
			t.Fatalf("%d bytes: %v", n, err)
		}
	}
}

// FuzzDecodeBinaryRow: any bytes decode as a row of binRowCols or fail
// with an error, never a panic, and a decoded row's bytes values lie in
// the row.
func FuzzDecodeBinaryRow(f *testing.F) {
	f.Add(binRow())
	f.Add([]byte{0, 0xfc, 0x7f})
	f.Add([]byte{0, 0, 0, 1})
	cols, wire := binRowCols()
	f.Fuzz(func(t *testing.T, p []byte) {
		out := make([]change.Value, len(cols))
		if err := decodeBinaryRow(cols, wire, p, out); err != nil {
			return
		}
		for _, v := range out {
			if len(v.B) > len(p) {
				t.Fatalf("a value of %d bytes from a row of %d", len(v.B), len(p))
			}
		}
	})
}

// TestAppendExecute checks COM_STMT_EXECUTE's body byte by byte, in the
// classic layout (MariaDB) and with MySQL's query attributes, where the
// parameters are counted first and each type has an empty name after it;
// and COM_QUERY's body, which with query attributes starts with a count
// of none and one parameter set.
func TestAppendExecute(t *testing.T) {
	s := stmt{id: 0x01020304, params: 3}
	args := []any{int64(-1), nil, "ab"}
	head := []byte{4, 3, 2, 1, 0, 1, 0, 0, 0}
	values := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 'a', 'b'}
	for _, tt := range []struct {
		attrs bool
		want  []byte
	}{
		{false, append(append(append([]byte{}, head...), 0x02, 1, wireLongLong, 0, wireNull, 0, wireString, 0), values...)},
		{true, append(append(append([]byte{}, head...), 3, 0x02, 1, wireLongLong, 0, 0, wireNull, 0, 0, wireString, 0, 0), values...)},
	} {
		got, err := appendExecute(nil, s, args, tt.attrs)
		if err != nil || !bytes.Equal(got, tt.want) {
			t.Errorf("attrs %t:\n got % x, %v\nwant % x", tt.attrs, got, err, tt.want)
		}
	}
	if got, _ := appendExecute(nil, stmt{id: 1}, nil, true); !bytes.Equal(got, []byte{1, 0, 0, 0, 0, 1, 0, 0, 0}) {
		t.Errorf("no parameters, with attributes: % x", got)
	}
	if got := appendQuery(nil, []byte("DO 1"), false); string(got) != "DO 1" {
		t.Errorf("COM_QUERY: %q", got)
	}
	if got := appendQuery(nil, []byte("DO 1"), true); string(got) != "\x00\x01DO 1" {
		t.Errorf("COM_QUERY with attributes: %q", got)
	}
}

// TestSnapshotClosesStatements: a snapshot of many tables holds the
// prepared statements of the tables its workers are reading only, not
// one set per table read (the server's limit on prepared statements is
// global, shared with every client); every table's rows come.
func TestSnapshotClosesStatements(t *testing.T) {
	const tables = 40
	stmts := []string{"DROP DATABASE IF EXISTS manytables", "CREATE DATABASE manytables"}
	for i := range tables {
		stmts = append(stmts, fmt.Sprintf("CREATE TABLE manytables.t%02d (id INT PRIMARY KEY, v INT)", i),
			fmt.Sprintf("INSERT INTO manytables.t%02d SELECT seq, seq FROM mysql.seq_1_to_5", i))
	}
	exec(t, shared, stmts...)
	admin, err := shared.DB()
	if err != nil {
		t.Fatal(err)
	}
	prepared := func() int {
		var name string
		var n int
		if err := admin.QueryRow("SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'").Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	base := prepared()
	cfg := testConfig(shared.Addr())
	cfg.ServerID = 7405
	cfg.Snapshot = snapshot.Options{Mode: snapshot.ModeOnly, Workers: 2, ChunkRows: 2,
		Tables: func(ns change.Namespace) bool { return ns.Database == "manytables" }}
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	most, rows := 0, map[string]int{}
	err = src.Stream(context.Background(), change.Position{}, func(cs []change.Change) error {
		most = max(most, prepared()-base)
		for _, c := range cs {
			if c.Op == change.OpRead {
				rows[c.Table]++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != tables {
		t.Fatalf("rows of %d tables, want %d", len(rows), tables)
	}
	for tbl, n := range rows {
		if n != 5 {
			t.Errorf("table %s: %d rows, want 5", tbl, n)
		}
	}
	// Two workers, each with the statements of one table (the first
	// chunk's and the next chunks').
	if most > 6 {
		t.Errorf("up to %d statements prepared at once while reading %d tables", most, tables)
	}
	t.Logf("up to %d statements prepared at once", most)
}
