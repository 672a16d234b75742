package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/binlog"
	"github.com/sluice-cdc/sluice/binlog/changes"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/binlogcorpus"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// sluiceRun runs sluice with args and returns its exit code and outputs.
func sluiceRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr}
	code := run(context.Background(), e, args)
	return code, stdout.String(), stderr.String()
}

func TestBinlogToolsExitCodes(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.bin")
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"binlog", "stats"}, exitUsage},
		{[]string{"binlog", "stats", "--format", "xml", "testdata/binlogs/bin.000004"}, exitUsage},
		{[]string{"binlog", "stats", "testdata/binlogs/bin.000004"}, exitOK},
		{[]string{"binlog", "stats", "testdata/binlogs/truncated.000001"}, exitFailure},
		{[]string{"binlog", "stats", "testdata/binlogs/badcrc.000001"}, exitFailure},
		{[]string{"binlog", "bigtx", "--top", "0", "testdata/binlogs/bin.000004"}, exitUsage},
		{[]string{"binlog", "bigtx", "--format", "json", "testdata/binlogs/bin.000004"}, exitOK},
		{[]string{"binlog", "bigtx", "testdata/binlogs/truncated.000001"}, exitFailure},
		{[]string{"binlog", "sql", "--type", "upsert", "testdata/binlogs/bin.000004"}, exitUsage},
		{[]string{"binlog", "sql", "testdata/binlogs/badcrc.000001"}, exitFailure},
		{[]string{"binlog", "flashback", "-o", out, "testdata/binlogs/truncated.000001"}, exitFailure},
		{[]string{"binlog", "flashback", "--sql", "testdata/binlogs/missing.000001"}, exitFailure},
		{[]string{"binlog", "split", "-o", out, "testdata/binlogs/bin.000004"}, exitUsage},
		{[]string{"binlog", "split", "--max-rows", "2", "testdata/binlogs/bin.000004"}, exitUsage},
		{[]string{"binlog", "split", "--max-rows", "2", "-o", out, "testdata/binlogs/badcrc.000001"}, exitFailure},
		{[]string{"binlog", "cut", "testdata/binlogs/bin.000004"}, exitUsage},
		{[]string{"binlog", "cut", "--start-position", "-3", "-o", out, "testdata/binlogs/bin.000004"}, exitUsage},
		{[]string{"binlog", "cut", "-o", out, "testdata/binlogs/truncated.000001"}, exitFailure},
		{[]string{"binlog", "join", "-o", out, "testdata/binlogs/bin.000003", "testdata/binlogs/bin.000004"}, exitOK},
	} {
		if code, stdout, stderr := sluiceRun(t, tc.args...); code != tc.code {
			t.Errorf("sluice %s: exit %d, want %d\n%s%s", strings.Join(tc.args, " "), code, tc.code, stdout, stderr)
		} else if code == exitFailure && !strings.HasPrefix(stderr, "sluice: ") {
			t.Errorf("sluice %s: error is not a clear one-liner: %q", strings.Join(tc.args, " "), stderr)
		}
	}
}

// decodedNoPos decodes files to JSON lines without positions.
func decodedNoPos(t *testing.T, files ...string) []string {
	t.Helper()
	var out []string
	var buf []byte
	err := changes.DecodeFiles(context.Background(), files, changes.NewDecoder(changes.Filter{}), func(c *change.Change) error {
		c.Pos = change.Position{}
		buf = change.AppendJSON(buf[:0], c)
		out = append(out, string(buf))
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBinlogCutJoinCommands cuts two binlog files into three parts with
// "sluice binlog cut", by positions (the middle part spans the files) and
// by datetimes, and joins them with "sluice binlog join": the parts'
// changes follow each other without gap or overlap and the joined file
// decodes to exactly the original's changes.
func TestBinlogCutJoinCommands(t *testing.T) {
	src := []string{"testdata/binlogs/bin.000003", "testdata/binlogs/bin.000004"}
	want := decodedNoPos(t, src...)
	// The transactions, from bigtx --format json.
	code, stdout, stderr := sluiceRun(t, append([]string{"binlog", "bigtx", "--format", "json", "--top", "100"}, src...)...)
	if code != exitOK {
		t.Fatalf("bigtx: %s", stderr)
	}
	var rep struct {
		ByRows []struct {
			File      string `json:"file"`
			Start     int64  `json:"start"`
			FirstTime int64  `json:"first_time"`
		} `json:"by_rows"`
		Transactions int `json:"transactions"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	var starts [2][]int64
	var times []int64
	for _, tx := range rep.ByRows {
		if tx.File == filepath.Base(src[1]) {
			starts[1] = append(starts[1], tx.Start)
		} else {
			starts[0] = append(starts[0], tx.Start)
		}
		times = append(times, tx.FirstTime)
	}
	if len(rep.ByRows) != rep.Transactions || len(starts[0]) < 3 || len(starts[1]) < 3 {
		t.Fatalf("bigtx listed %d of %d transactions: %v", len(rep.ByRows), rep.Transactions, starts)
	}
	for _, s := range starts {
		slices.Sort(s)
	}
	slices.Sort(times)
	a, b := itoa64(starts[0][len(starts[0])/2]), itoa64(starts[1][len(starts[1])/2])
	ta, tb := rfc3339(times[len(times)/3]), rfc3339(times[2*len(times)/3])
	for _, tc := range []struct {
		name  string
		parts [][]string // arguments of each cut
	}{
		{"positions", [][]string{
			{"--stop-position", a, src[0]},
			{"--start-position", a, "--stop-position", b, src[0], src[1]},
			{"--start-position", b, src[1]},
		}},
		{"datetimes", [][]string{
			{"--stop-datetime", ta, src[0], src[1]},
			{"--start-datetime", ta, "--stop-datetime", tb, src[0], src[1]},
			{"--start-datetime", tb, src[0], src[1]},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var parts, concat []string
			for i, args := range tc.parts {
				p := filepath.Join(dir, "part"+itoa64(int64(i+1))+".bin")
				if code, _, stderr := sluiceRun(t, append([]string{"binlog", "cut", "-o", p}, args...)...); code != exitOK {
					t.Fatalf("cut %v: %s", args, stderr)
				} else if !strings.Contains(stderr, " transactions, ") {
					t.Errorf("cut %v did not report what it wrote: %q", args, stderr)
				}
				got := decodedNoPos(t, p)
				if len(got) == 0 {
					t.Errorf("cut %v decodes to nothing", args)
				}
				parts, concat = append(parts, p), append(concat, got...)
			}
			if strings.Join(concat, "\n") != strings.Join(want, "\n") {
				t.Errorf("the parts one after the other decode to\n%s\nwant\n%s", strings.Join(concat, "\n"), strings.Join(want, "\n"))
			}
			all := filepath.Join(dir, "all.bin")
			code, _, stderr := sluiceRun(t, append([]string{"binlog", "join", "-o", all}, parts...)...)
			if code != exitOK {
				t.Fatalf("join: %s", stderr)
			}
			if want := "sluice: binlog join: " + itoa64(int64(rep.Transactions)) + " transactions, "; !strings.HasPrefix(stderr, want) {
				t.Errorf("join reported %q, want %q...", stderr, want)
			}
			if got := decodedNoPos(t, all); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("the joined parts decode to\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func itoa64(i int64) string { return strconv.FormatInt(i, 10) }

func rfc3339(unix int64) string { return time.Unix(unix, 0).UTC().Format(time.RFC3339) }

// TestBinlogCounter writes binlogs through the counter behind the
// progress of split, cut and join, in chunks of every size: it passes the
// bytes on unchanged and counts the events a binlog reader sees.
func TestBinlogCounter(t *testing.T) {
	for _, file := range []string{"testdata/binlogs/bin.000003", "testdata/binlogs/bin.000004"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var events int64
		r := binlog.NewReaderBytes(data, file)
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			events++
		}
		for chunk := 1; chunk <= 64; chunk++ {
			var out bytes.Buffer
			c := newBinlogCounter(&out, nil)
			for rest := data; len(rest) > 0; {
				n := min(chunk, len(rest))
				if _, err := c.Write(rest[:n]); err != nil {
					t.Fatal(err)
				}
				rest = rest[n:]
			}
			if !bytes.Equal(out.Bytes(), data) || c.bytes != int64(len(data)) || c.events != events || c.lost {
				t.Fatalf("%s in chunks of %d: %d bytes, %d events (lost %v); want %d, %d", file, chunk, c.bytes, c.events, c.lost, len(data), events)
			}
		}
	}
	// An impossible event size stops the count instead of inventing one.
	c := newBinlogCounter(io.Discard, nil)
	c.Write(append(binlog.Magic[:], make([]byte, 40)...))
	if !c.lost || c.events != 0 || c.bytes != 44 {
		t.Errorf("zero-sized event: %d events, lost %v, %d bytes", c.events, c.lost, c.bytes)
	}
}

// TestBinlogWriteProgress runs split, cut and join on a terminal standard
// error, reading a binlog through a named pipe that a writer fills slowly,
// so that the runs take over a second: each draws a progress line (bytes,
// events, rate, ETA), clears it, and writes the same binlog as without
// progress.
func TestBinlogWriteProgress(t *testing.T) {
	src := "testdata/binlogs/bin.000003"
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string // FIFO stands for the slow input
	}{
		{"split", []string{"binlog", "split", "--max-rows", "1", "FIFO"}},
		{"cut", []string{"binlog", "cut", "--start-position", "1143", "FIFO"}},
		{"join", []string{"binlog", "join", "FIFO", "testdata/binlogs/bin.000004"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fifo := filepath.Join(dir, "fifo")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Skipf("no named pipes here: %v", err)
			}
			args := func(in, out string) []string {
				a := append([]string{}, tc.args...)
				for i := range a {
					if a[i] == "FIFO" {
						a[i] = in
					}
				}
				return append(a, "-o", out)
			}
			want := filepath.Join(dir, "want.bin")
			if code, _, stderr := sluiceRun(t, args(src, want)...); code != exitOK {
				t.Fatalf("%s: %s", tc.name, stderr)
			}
			// Fill the pipe in 20 chunks over about 1.5 s.
			done := make(chan error, 1)
			go func() {
				f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
				if err != nil {
					done <- err
					return
				}
				defer f.Close()
				step := len(data)/20 + 1
				for rest := data; len(rest) > 0; {
					time.Sleep(75 * time.Millisecond)
					n := min(step, len(rest))
					if _, err := f.Write(rest[:n]); err != nil {
						done <- err
						return
					}
					rest = rest[n:]
				}
				done <- nil
			}()
			got := filepath.Join(dir, "got.bin")
			var stdout, stderr bytes.Buffer
			e := &env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, StderrTerminal: true}
			code := run(context.Background(), e, args(fifo, got))
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if code != exitOK {
				t.Fatalf("%s from a pipe: exit %d: %s", tc.name, code, stderr.String())
			}
			line, _, _ := strings.Cut(strings.TrimPrefix(stderr.String(), "\r"), "\r")
			for _, w := range []string{" MB", " events", " MB/s"} {
				if !strings.HasPrefix(stderr.String(), "\r") || !strings.Contains(line, w) {
					t.Errorf("no progress line with %q on standard error: %q", w, stderr.String())
				}
			}
			if !strings.Contains(stderr.String(), "\r"+strings.Repeat(" ", len(strings.TrimRight(line, " ")))) {
				t.Errorf("the progress line was not cleared: %q", stderr.String())
			}
			a, _ := os.ReadFile(want)
			b, _ := os.ReadFile(got)
			if !bytes.Equal(a, b) {
				t.Errorf("%s wrote %d bytes with progress, %d without", tc.name, len(b), len(a))
			}
		})
	}
}

// TestBinlogToolsCorpus runs stats on every valid MySQL corpus file, and
// sql and flashback on the files with FULL row images and column names.
func TestBinlogToolsCorpus(t *testing.T) {
	dir := binlogcorpus.Dir(t)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	damaged := map[string]bool{"binlog_truncated_event.000001": true, "binlog_truncated_prev_gtid_event.000001": true,
		"corrupt-relay-bin.000624": true,
		// An INCIDENT event (malformed body, from a crash test): changes may be lost there.
		"bug40482-bin.000001": true,
		// A MySQL 5.1 pre-GA row format preview whose rows package binlog does not read.
		"ver_5_1-wl2325_r.001": true}
	var valid int
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		code, stdout, stderr := sluiceRun(t, "binlog", "stats", "--format", "json", p)
		if damaged[e.Name()] {
			if code != exitFailure || !strings.Contains(stderr, e.Name()) {
				t.Errorf("stats %s: exit %d, stderr %q; want a failure naming the file", e.Name(), code, stderr)
			}
			continue
		}
		if code != exitOK {
			t.Errorf("stats %s: exit %d: %s", e.Name(), code, stderr)
			continue
		}
		var rep struct{ Tables []json.RawMessage }
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Errorf("stats %s: output is not JSON: %v", e.Name(), err)
		}
		valid++
	}
	if valid < 30 {
		t.Errorf("stats ran on %d valid files", valid)
	}
	// sql and flashback on every valid file with rows: each either works
	// or refuses with a clear reason (images or metadata not FULL, partial
	// JSON updates).
	refusals := []string{"binlog_row_image=FULL", "binlog_row_metadata=FULL", "rows event type not supported", "no FORMAT_DESCRIPTION_EVENT"}
	refused := func(stderr string) bool {
		for _, r := range refusals {
			if strings.Contains(stderr, r) {
				return true
			}
		}
		return false
	}
	var sqlDone, flashDone []string
	for _, e := range ents {
		name, p := e.Name(), filepath.Join(dir, e.Name())
		if damaged[name] || len(countOps(t, p)) == 0 {
			continue
		}
		code, stdout, stderr := sluiceRun(t, "binlog", "sql", p)
		switch {
		case code == exitOK:
			if !strings.Contains(stdout, "INSERT INTO") && !strings.Contains(stdout, "UPDATE ") && !strings.Contains(stdout, "DELETE FROM") {
				t.Errorf("sql %s: no row statement in\n%s", name, stdout)
			}
			sqlDone = append(sqlDone, name)
		case !refused(stderr):
			t.Errorf("sql %s: exit %d: %s", name, code, stderr)
		}
		out := filepath.Join(t.TempDir(), "undo.bin")
		if code, _, stderr := sluiceRun(t, "binlog", "flashback", "-o", out, p); code != exitOK {
			if !refused(stderr) {
				t.Errorf("flashback %s: exit %d: %s", name, code, stderr)
			}
			continue
		}
		flashDone = append(flashDone, name)
		// The undo is a valid binlog with as many row changes as the
		// original, inserts and deletes exchanged.
		orig, undo := countOps(t, p), countOps(t, out)
		if orig[change.OpInsert] != undo[change.OpDelete] || orig[change.OpDelete] != undo[change.OpInsert] ||
			orig[change.OpUpdate] != undo[change.OpUpdate] {
			t.Errorf("flashback %s: original ops %v, undo ops %v", name, orig, undo)
		}
		// Undoing the undo gives the original row changes back.
		again := filepath.Join(t.TempDir(), "again.bin")
		if code, _, stderr := sluiceRun(t, "binlog", "flashback", "-o", again, out); code != exitOK {
			t.Errorf("flashback of the undo of %s: %s", name, stderr)
			continue
		}
		if a, b := rowsOnly(decodedNoPos(t, p)), rowsOnly(decodedNoPos(t, again)); strings.Join(a, "\n") != strings.Join(b, "\n") {
			t.Errorf("flashback twice of %s differs:\n%s\nwant\n%s", name, strings.Join(b, "\n"), strings.Join(a, "\n"))
		}
	}
	t.Logf("sql on %v; flashback on %v", sqlDone, flashDone)
	// The MySQL 8 compressed payload has no column names (sql refuses it);
	// the others are MySQL 8 files with FULL metadata.
	for _, must := range []struct{ file, in string }{
		{"transaction_compression.000001", strings.Join(flashDone, " ")},
		{"json-opaque.binlog", strings.Join(flashDone, " ")},
		{"json-opaque.binlog", strings.Join(sqlDone, " ")},
		{"mysql-enum-string-set.000001", strings.Join(sqlDone, " ")},
	} {
		if !strings.Contains(must.in, must.file) {
			t.Errorf("%s: not among the files the tool ran on: %s", must.file, must.in)
		}
	}
}

func countOps(t *testing.T, file string) map[change.Op]int {
	t.Helper()
	n := map[change.Op]int{}
	err := changes.DecodeFiles(context.Background(), []string{file}, changes.NewDecoder(changes.Filter{}), func(c *change.Change) error {
		if c.Op == change.OpInsert || c.Op == change.OpUpdate || c.Op == change.OpDelete {
			n[c.Op]++
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// rowsOnly keeps the row changes, without the transaction fields that
// flashback changes (GTIDs are dropped).
func rowsOnly(lines []string) []string {
	var out []string
	for _, l := range lines {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) != nil {
			continue
		}
		switch m["op"] {
		case "insert", "update", "delete":
			delete(m, "tx")
			delete(m, "ts")
			b, _ := json.Marshal(m)
			out = append(out, string(b))
		}
	}
	return out
}

// TestBinlogToolsLive runs the binlog tools as a user types them on the
// binlog of a real MariaDB: flashback of a position range as a binlog and
// as SQL, applied with mariadb-binlog | mariadb and mariadb, brings the
// tables back to their checksums; sql of the same range replays it; a
// table-only flashback undoes one table; split --max-rows and
// --max-bytes output applies with the same checksums and bigtx shows no
// transaction over the limit; stats counts the workload's rows exactly.
func TestBinlogToolsLive(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MariaDB")
	}
	srv := testenv.NewMariaDB(t, testenv.MariaDBOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sqlExec := func(stmts ...string) {
		t.Helper()
		if err := srv.Exec(ctx, stmts...); err != nil {
			t.Fatal(err)
		}
	}
	sdb, err := srv.DB()
	if err != nil {
		t.Fatal(err)
	}
	// sums returns CHECKSUM TABLE of the tables, as "big=… small=… tail=…".
	sums := func() string {
		t.Helper()
		var out []string
		for _, tb := range []string{"big", "small", "tail"} {
			var name, sum string
			if err := sdb.QueryRowContext(ctx, "CHECKSUM TABLE live."+tb).Scan(&name, &sum); err != nil {
				t.Fatal(err)
			}
			out = append(out, tb+"="+sum)
		}
		return strings.Join(out, " ")
	}
	// mix takes the checksum of each table from a or, for the tables
	// named, from b.
	mix := func(a, b string, fromB ...string) string {
		sa, sb := strings.Fields(a), strings.Fields(b)
		for i := range sa {
			for _, tb := range fromB {
				if strings.HasPrefix(sa[i], tb+"=") {
					sa[i] = sb[i]
				}
			}
		}
		return strings.Join(sa, " ")
	}
	mark := func() string {
		t.Helper()
		var file, doDB, ignoreDB string
		var pos int64
		if err := sdb.QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&file, &pos, &doDB, &ignoreDB); err != nil {
			t.Fatal(err)
		}
		return itoa64(pos)
	}
	pipe := func(name string, cmd *exec.Cmd, stdin io.Reader) []byte {
		t.Helper()
		var out, errs bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, &errs
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v: %s", name, err, errs.String())
		}
		return out.Bytes()
	}
	mariadb := func(stdin io.Reader) {
		t.Helper()
		cmd, err := srv.ClientCmd(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pipe("mariadb", cmd, stdin)
	}
	applyBinlog := func(path string) {
		t.Helper()
		cmd, err := srv.BinlogCmd(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		mariadb(bytes.NewReader(pipe("mariadb-binlog "+filepath.Base(path), cmd, nil)))
	}
	applySQL := func(path string) {
		t.Helper()
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		mariadb(f)
	}
	sluice := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := sluiceRun(t, args...)
		if code != exitOK {
			t.Fatalf("sluice %s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
		return stdout + stderr
	}
	schema := []string{"DROP DATABASE IF EXISTS live", "CREATE DATABASE live", "USE live",
		"CREATE TABLE big (id INT PRIMARY KEY, v INT, s VARCHAR(40), d DECIMAL(10,2), ts TIMESTAMP(6) NULL, b BLOB)",
		"CREATE TABLE small (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(20))",
		"CREATE TABLE tail (id INT PRIMARY KEY)"}
	fill := []string{"USE live",
		"INSERT INTO big SELECT seq, seq % 13, CONCAT('row ', seq), seq / 3, FROM_UNIXTIME(1700000000 + seq + 0.5), UNHEX(HEX(seq)) FROM seq_1_to_20000",
		"INSERT INTO small (name) VALUES ('a'), ('b')"}
	sqlExec(schema...)
	sqlExec(fill...)
	start := sums()
	from := mark()
	sqlExec("USE live",
		"UPDATE big SET v = v + 1, s = CONCAT(s, '!')",
		"BEGIN", "INSERT INTO small (name) VALUES ('c')", "DELETE FROM big WHERE id <= 100", "UPDATE small SET name = 'z' WHERE id = 1", "COMMIT",
		"DELETE FROM big")
	to := mark()
	sqlExec("INSERT INTO live.tail VALUES (1)") // after the range: stays
	logs, err := srv.FlushBinaryLogs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	file := logs[len(logs)-2].Path
	end := sums()
	wantUndone := mix(start, end, "tail")
	if ss, se := strings.Fields(start), strings.Fields(end); ss[0] == se[0] || ss[1] == se[1] || ss[2] == se[2] {
		t.Fatalf("the workload left a table as it was: %s, then %s", start, end)
	}
	dir := t.TempDir()

	for _, asSQL := range []bool{false, true} {
		undo := filepath.Join(dir, "undo")
		args := []string{"binlog", "flashback", "--start-position", from, "--stop-position", to, file, "-o", undo}
		if asSQL {
			args = append(args, "--sql")
		}
		if out := sluice(args...); !strings.Contains(out, "40002 rows in 3 transactions undone") {
			t.Errorf("flashback %v reported %q", args, out)
		}
		if asSQL {
			applySQL(undo)
		} else {
			applyBinlog(undo)
		}
		if got := sums(); got != wantUndone {
			t.Fatalf("after flashback %v: %s, want %s", args, got, wantUndone)
		}
		redo := filepath.Join(dir, "redo.sql")
		sluice("binlog", "sql", "--start-position", from, "--stop-position", to, file, "-o", redo)
		applySQL(redo)
		if got := sums(); got != end {
			t.Fatalf("after sql of the range: %s, want %s", got, end)
		}
	}
	// One table only, from the start of the range to the end of the file.
	undo := filepath.Join(dir, "undo-small.sql")
	sluice("binlog", "flashback", "--sql", "--table", "live.small", "--start-position", from, file, "-o", undo)
	applySQL(undo)
	wantSmall := mix(end, start, "small")
	if got := sums(); got != wantSmall {
		t.Fatalf("after undoing live.small: %s, want %s", got, wantSmall)
	}

	// stats counts the workload (the range plus the setup and the tail).
	var rep struct {
		Tables []struct {
			Table                     string
			Inserts, Updates, Deletes int64
			Transactions              int64
		}
	}
	code, stdout, stderr := sluiceRun(t, "binlog", "stats", "--format", "json", file)
	if code != exitOK {
		t.Fatal(stderr)
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(rep.Tables)
	if want := "[{live.big 20000 20000 20000 4} {live.small 3 1 0 2} {live.tail 1 0 0 1}]"; got != want {
		t.Errorf("stats: %s, want %s", got, want)
	}

	// split applies to a fresh copy with the same checksums.
	for _, limit := range [][]string{{"--max-rows", "1000"}, {"--max-bytes", "65536"}} {
		split := filepath.Join(dir, "split.bin")
		if out := sluice(append([]string{"binlog", "split", file, "-o", split}, limit...)...); !strings.Contains(out, "no longer atomic") {
			t.Errorf("split %v did not warn: %q", limit, out)
		}
		code, stdout, stderr := sluiceRun(t, "binlog", "bigtx", "--format", "json", "--top", "1", split)
		if code != exitOK {
			t.Fatal(stderr)
		}
		var big struct {
			ByRows  []struct{ Rows int64 } `json:"by_rows"`
			ByBytes []struct {
				Start, End int64
			} `json:"by_bytes"`
		}
		if err := json.Unmarshal([]byte(stdout), &big); err != nil {
			t.Fatal(err)
		}
		if limit[0] == "--max-rows" && big.ByRows[0].Rows != 1000 {
			t.Errorf("split %v: largest transaction %d rows", limit, big.ByRows[0].Rows)
		}
		if b := big.ByBytes[0].End - big.ByBytes[0].Start; limit[0] == "--max-bytes" && (b > 65536*5/4 || b < 65536/2) {
			t.Errorf("split %v: largest transaction %d bytes in the file", limit, b)
		}
		sqlExec(schema...)
		sqlExec("SET GLOBAL gtid_strict_mode = OFF")
		applyBinlog(split)
		sqlExec("SET GLOBAL gtid_strict_mode = ON")
		if got := sums(); got != end {
			t.Errorf("after applying the split binlog (%v) to a fresh copy: %s, want %s", limit, got, end)
		}
	}
}
