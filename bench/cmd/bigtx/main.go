// Command bigtx is the memory gate for huge transactions: for each source
// it starts a private server (internal/servers), writes one transaction of
// about -mb MiB of row images, then runs the real `sluice stream` binary
// from the position before it with --stop-at the position after it, its
// JSON lines piped here and counted, and reads the process's peak RSS
// (getrusage ru_maxrss of the child, what `/usr/bin/time -v` reports as
// "Maximum resident set size"). The gate fails (exit 1) when a source's
// peak RSS reaches -limit-mb, or when a row is missing or one too many.
//
//	bigtx -sluice PATH [-sources mysql,postgres,mongodb] [-mb 1024] [-limit-mb 64] [-out FILE]
//
// mysql: MariaDB, one INSERT … SELECT of -mb MiB of 1,500-byte VARCHAR
// rows (one transaction, one event group in the binlog).
//
// postgres: PostgreSQL 15 with logical_decoding_work_mem = 64kB, so the
// server streams the transaction in progress (pgoutput streaming, the
// source's default) and Sluice spills it past its memory-bytes bound: one
// transaction inserting -mb MiB of 1 KiB text rows, plus a tenth as many
// rows in a subtransaction rolled back to a savepoint, none of which may
// be delivered.
//
// mongodb (-mongo-mb MiB, 128 by default: FerretDB's SQLite backend
// serves this oplog at about 0.1 MiB/s on the project's machine, and the
// peak follows the entry size, not the number of entries): FerretDB has
// no multi-document transactions, so the gate writes what MongoDB 4.2+
// writes for one: a chain of applyOps oplog
// entries with the same lsid and txnNumber, each up to -mongo-entry-mb MiB
// (MongoDB keeps every entry under its 16 MiB document limit), all but the
// last marked partialTxn. The entries go straight into FerretDB's
// local.oplog.rs, which is what Sluice tails (mode=oplog). The oplog is a
// capped collection (servers.FerretDBOplogSize), so the writer stays at
// most -mongo-ahead entries (1) ahead of what sluice has delivered; that
// also keeps FerretDB, which unlike MongoDB puts every entry it has into
// one reply, from handing sluice several 15 MiB entries at once.
//
// With -out the results are written as Markdown (bench/bigtx-memory.sh
// points it at the body of bench/results/bigtx-memory.md; its header is
// bench/cmd/benchrun's).
package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/sluice-cdc/sluice/bench/internal/machine"
	"github.com/sluice-cdc/sluice/internal/servers"
)

// outcome is one source's measurement.
type outcome struct {
	source     string
	what       string // the transaction
	want, got  int64  // row changes expected and delivered
	rowBytes   int64  // bytes of row images written
	write      time.Duration
	wall, cpu  time.Duration
	maxRSSKB   int64
	err        error
	extraCheck string // what else was checked
}

type options struct {
	sluice      string
	flags       []string
	mb          int
	mongoEntry  int
	mongoMB     int
	mongoAhead  int
	limitMB     int
	sourcesList string
	out         string
}

func main() {
	var o options
	var flags string
	flag.StringVar(&o.sluice, "sluice", "", "path of the sluice binary")
	flag.StringVar(&flags, "sluice-flags", "", "extra flags for sluice stream, space-separated (default: none, the defaults are what the gate checks)")
	flag.IntVar(&o.mb, "mb", 1024, "MiB of row images in the transaction")
	flag.IntVar(&o.mongoMB, "mongo-mb", 128, "mongodb: MiB of row images in its transaction (0: -mb); FerretDB serves this oplog at about 0.1 MiB/s here, so 128 MiB takes 20 minutes")
	flag.IntVar(&o.mongoEntry, "mongo-entry-mb", 15, "mongodb: MiB of operations per applyOps oplog entry")
	flag.IntVar(&o.mongoAhead, "mongo-ahead", 1, "mongodb: entries the writer may be ahead of what sluice delivered (the oplog is capped)")
	flag.IntVar(&o.limitMB, "limit-mb", 64, "fail when sluice's peak RSS reaches this many MiB")
	flag.StringVar(&o.sourcesList, "sources", "mysql,postgres,mongodb", "sources to measure, in order")
	flag.StringVar(&o.out, "out", "", "write the results as Markdown to this file")
	flag.Parse()
	if o.sluice == "" {
		fmt.Fprintln(os.Stderr, "bigtx: -sluice is required")
		os.Exit(2)
	}
	o.flags = strings.Fields(flags)
	ctx := context.Background()
	var results []outcome
	for _, s := range strings.Split(o.sourcesList, ",") {
		var r outcome
		switch s {
		case "mysql":
			r = runMySQL(ctx, o)
		case "postgres":
			r = runPostgres(ctx, o)
		case "mongodb":
			r = runMongoDB(ctx, o)
		default:
			fmt.Fprintf(os.Stderr, "bigtx: unknown source %q\n", s)
			os.Exit(2)
		}
		r.source = s
		results = append(results, r)
		fmt.Printf("%-8s %s: %d of %d row changes, write %.1fs, sluice %.1fs wall %.1fs CPU, peak RSS %.1f MiB, err %v\n",
			s, r.what, r.got, r.want, r.write.Seconds(), r.wall.Seconds(), r.cpu.Seconds(), float64(r.maxRSSKB)/1024, r.err)
	}
	failed := false
	var md strings.Builder
	sizes := fmt.Sprintf("%d MiB", o.mb)
	if o.mongoMB > 0 && o.mongoMB != o.mb && strings.Contains(o.sourcesList, "mongodb") {
		sizes += fmt.Sprintf(" (MongoDB: %d MiB)", o.mongoMB)
	}
	fmt.Fprintf(&md, "One transaction of about %s of row images per source, written first; then `sluice stream URL --to stdout:// --state TMP --from START --stop-at END%s` reads it from the position before it and exits by itself at the position after it. Its JSON lines are piped to the gate and counted; peak RSS is getrusage's ru_maxrss of the sluice process (what `/usr/bin/time -v` calls \"Maximum resident set size\"). The gate fails when a peak reaches %d MiB, or when any row change is missing or extra.\n\n",
		sizes, prefixed(strings.Join(o.flags, " ")), o.limitMB)
	md.WriteString("| source | transaction | row images written | row changes delivered | written in | sluice wall | sluice CPU | **peak RSS** | result |\n|---|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range results {
		verdict := "pass"
		switch {
		case r.err != nil:
			verdict = "**fail**: " + oneLine(r.err.Error())
		case r.got != r.want:
			verdict = fmt.Sprintf("**fail**: %d row changes, want %d", r.got, r.want)
		case r.maxRSSKB >= int64(o.limitMB)<<10:
			verdict = fmt.Sprintf("**fail**: peak RSS ≥ %d MiB", o.limitMB)
		}
		if verdict != "pass" {
			failed = true
		}
		fmt.Fprintf(&md, "| %s | %s | %.0f MiB | %d of %d | %.1f s | %.1f s | %.1f s | **%.1f MiB** | %s |\n", r.source, r.what,
			float64(r.rowBytes)/(1<<20), r.got, r.want, r.write.Seconds(), r.wall.Seconds(), r.cpu.Seconds(), float64(r.maxRSSKB)/1024, verdict)
	}
	md.WriteString("\n")
	for _, r := range results {
		if r.extraCheck != "" {
			fmt.Fprintf(&md, "- %s: %s\n", r.source, r.extraCheck)
		}
	}
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(md.String()), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bigtx:", err)
			os.Exit(1)
		}
	}
	fmt.Print(md.String())
	if failed {
		fmt.Fprintln(os.Stderr, "bigtx: FAIL")
		os.Exit(1)
	}
}

// stream runs sluice stream on url from start to stopAt, counts the row
// changes it prints (and, if bad is set, the lines bad reports) and
// returns its usage.
func stream(ctx context.Context, o options, url, from, stopAt string, r *outcome, bad func([]byte) bool) (nbad int64) {
	state, err := os.MkdirTemp("", "bigtx")
	if err != nil {
		r.err = err
		return 0
	}
	defer os.RemoveAll(state)
	args := []string{"stream", url, "--to", "stdout://", "--state", state + "/state.db", "--stop-at", stopAt, "--log-level", "warn"}
	if from != "" {
		args = append(args, "--from", from)
	} else {
		// From the slot's own position: without a saved position a stream
		// would begin with a snapshot of the tables and stream from after
		// it, past the transaction.
		args = append(args, "--snapshot", "never")
	}
	cmd := exec.CommandContext(ctx, o.sluice, append(args, o.flags...)...)
	cmd.Stderr = os.Stderr
	// Under GNU time for sluice's own peak RSS (wait4's would count this
	// program's, which builds the transactions).
	peakKB, err := machine.UnderTime(cmd)
	if err != nil {
		r.err = err
		return 0
	}
	defer func() {
		kb, err := peakKB()
		if err != nil && r.err == nil {
			r.err = err
		}
		r.maxRSSKB = kb
	}()
	out, err := cmd.StdoutPipe()
	if err != nil {
		r.err = err
		return 0
	}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		r.err = err
		return 0
	}
	br := bufio.NewReaderSize(out, 1<<20)
	for {
		line, err := br.ReadSlice('\n')
		head := line[:min(len(line), 20)]
		for err == bufio.ErrBufferFull {
			_, err = br.ReadSlice('\n')
		}
		if err != nil {
			if err != io.EOF {
				r.err = err
			}
			break
		}
		if isRowChange(head) {
			r.got++
			if bad != nil && bad(line) {
				nbad++
			}
		}
	}
	werr := cmd.Wait()
	r.wall = time.Since(began)
	if werr != nil && r.err == nil {
		r.err = fmt.Errorf("sluice stream: %w", werr)
	}
	r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return nbad
}

func isRowChange(head []byte) bool {
	s := string(head)
	return strings.HasPrefix(s, `{"op":"insert"`) || strings.HasPrefix(s, `{"op":"update"`) || strings.HasPrefix(s, `{"op":"delete"`)
}

// mysqlWidth is the VARCHAR payload of each MariaDB row.
const mysqlWidth = 1500

func runMySQL(ctx context.Context, o options) (r outcome) {
	srv, err := servers.StartMariaDB(ctx, servers.MariaDBOptions{ExtraConfig: []string{
		"max_binlog_size=1073741824", "innodb_buffer_pool_size=256M", "max_allowed_packet=1G",
		"binlog_cache_size=1M", "max_binlog_cache_size=16G", "innodb_log_file_size=512M", "innodb_flush_log_at_trx_commit=2"}})
	if err != nil {
		r.err = err
		return r
	}
	defer srv.Close()
	db, err := srv.DB()
	if err != nil {
		r.err = err
		return r
	}
	n := int64(o.mb) << 20 / mysqlWidth
	r.want, r.rowBytes = n, n*(4+2+mysqlWidth)
	r.what = fmt.Sprintf("one INSERT … SELECT of %d rows (INT key, VARCHAR(%d) of %d bytes)", n, mysqlWidth, mysqlWidth)
	if err := srv.Exec(ctx, "CREATE DATABASE b", fmt.Sprintf("CREATE TABLE b.t (id INT PRIMARY KEY, p VARCHAR(%d) NOT NULL)", mysqlWidth)); err != nil {
		r.err = err
		return r
	}
	startFile, startPos, err := masterStatus(ctx, db)
	if err != nil {
		r.err = err
		return r
	}
	t0 := time.Now()
	if err := srv.Exec(ctx, fmt.Sprintf("INSERT INTO b.t SELECT seq, REPEAT(CHAR(97 + seq %% 26), %d) FROM b.seq_1_to_%d", mysqlWidth, n)); err != nil {
		r.err = err
		return r
	}
	r.write = time.Since(t0)
	// The transaction's binlog outgrows max_binlog_size (1 GiB at most),
	// so the server rotates after it and the position after its commit is
	// the start of the next file, which no change reaches: a one-row
	// marker transaction after it gives --stop-at a commit to end on.
	logs, err := srv.BinaryLogs(ctx)
	if err != nil {
		r.err = err
		return r
	}
	txBytes := int64(0)
	for _, l := range logs {
		if l.Name == startFile {
			txBytes = l.Size - startPos
		}
	}
	if err := srv.Exec(ctx, "CREATE TABLE b.marker (id INT PRIMARY KEY)", "INSERT INTO b.marker VALUES (1)"); err != nil {
		r.err = err
		return r
	}
	stopFile, stopPos, err := masterStatus(ctx, db)
	if err != nil {
		r.err = err
		return r
	}
	r.want++ // the marker row
	url := fmt.Sprintf("mysql://%s:%s@%s/?server-id=7101", servers.MariaDBReplUser, servers.MariaDBReplPassword, srv.Addr())
	stream(ctx, o, url, fmt.Sprintf("binlog:%s:%d", startFile, startPos), fmt.Sprintf("%s:%d", stopFile, stopPos), &r, nil)
	r.extraCheck = fmt.Sprintf("the transaction starts at %s:%d and fills that binlog file (%.0f MiB to its end); the stream stops at the commit of a one-row marker transaction after it (%s:%d), whose row is counted",
		startFile, startPos, float64(txBytes)/(1<<20), stopFile, stopPos)
	return r
}

func masterStatus(ctx context.Context, db *sql.DB) (string, int64, error) {
	rows, err := db.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		return "", 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", 0, err
	}
	if !rows.Next() {
		return "", 0, errors.New("SHOW MASTER STATUS: no row")
	}
	var file string
	var pos int64
	vals := []any{&file, &pos}
	for len(vals) < len(cols) {
		vals = append(vals, new(any))
	}
	if err := rows.Scan(vals...); err != nil {
		return "", 0, err
	}
	return file, pos, rows.Err()
}

func runPostgres(ctx context.Context, o options) (r outcome) {
	srv, err := servers.StartPostgres(ctx, servers.PostgresOptions{ExtraConfig: []string{
		"logical_decoding_work_mem = 64kB", "max_wal_size = 4GB", "fsync = off", "synchronous_commit = off"}})
	if err != nil {
		r.err = err
		return r
	}
	defer srv.Close()
	n := int64(o.mb) << 10 // rows of 1 KiB
	rolled := n / 10
	r.want, r.rowBytes = n, n*(8+1024)
	r.what = fmt.Sprintf("one transaction: %d rows (bigint key, 1 KiB text), then %d more rolled back to a savepoint", n, rolled)
	if err := srv.Exec(ctx, "postgres",
		"CREATE TABLE big (id bigint PRIMARY KEY, pad text NOT NULL)",
		"CREATE PUBLICATION bench FOR TABLE big",
		"SELECT pg_create_logical_replication_slot('bigtx', 'pgoutput')"); err != nil {
		r.err = err
		return r
	}
	conn, err := srv.Connect(ctx, "postgres")
	if err != nil {
		r.err = err
		return r
	}
	defer conn.Close(context.Background())
	t0 := time.Now()
	for _, q := range []string{
		"BEGIN",
		fmt.Sprintf("INSERT INTO big SELECT g, repeat('x', 1024) FROM generate_series(1, %d) g", n),
		"SAVEPOINT s",
		fmt.Sprintf("INSERT INTO big SELECT g, 'rolled-back' || repeat('y', 1013) FROM generate_series(%d, %d) g", n+1, n+rolled),
		"ROLLBACK TO SAVEPOINT s",
		"COMMIT",
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			r.err = fmt.Errorf("%.60s: %w", q, err)
			return r
		}
	}
	r.write = time.Since(t0)
	var end string
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&end); err != nil {
		r.err = err
		return r
	}
	url := srv.DSN("postgres") + "&slot=bigtx&publication=bench&create-publication=no"
	bad := stream(ctx, o, url, "", end, &r, func(line []byte) bool { return strings.Contains(string(line), "rolled-back") })
	r.extraCheck = fmt.Sprintf("rolled-back rows delivered: %d (must be 0); server setting logical_decoding_work_mem = 64kB, so the server streamed the transaction in progress; end LSN %s", bad, end)
	if bad != 0 && r.err == nil {
		r.err = fmt.Errorf("%d rolled-back rows delivered", bad)
	}
	return r
}

func runMongoDB(ctx context.Context, o options) (r outcome) {
	srv, err := servers.StartFerretDB(ctx)
	if err != nil {
		r.err = err
		return r
	}
	defer srv.Close()
	client, err := srv.Connect()
	if err != nil {
		r.err = err
		return r
	}
	defer client.Disconnect(context.Background())
	oplog := client.Database("local").Collection("oplog.rs")

	const docBytes = 1024
	perEntry := int64(o.mongoEntry) << 20 / (docBytes + 64)
	mb := o.mb
	if o.mongoMB > 0 {
		mb = o.mongoMB
	}
	n := int64(mb) << 20 / docBytes
	entries := (n + perEntry - 1) / perEntry
	r.want, r.rowBytes = n, n*docBytes
	r.what = fmt.Sprintf("a transaction of %d inserts of 1 KiB documents as MongoDB writes it: %d applyOps oplog entries of up to %d operations (≤ %d MiB), all but the last partialTxn", n, entries, perEntry, o.mongoEntry)

	// FerretDB logs its own writes at the current time; the transaction's
	// entries get timestamps a day ahead, so that every entry FerretDB
	// writes meanwhile sorts before them, and sluice reads from just
	// before the first (it refuses a position older than the oldest
	// entry, so one document is written first).
	if _, err := client.Database("bench").Collection("warm").InsertOne(ctx, bson.D{{Key: "_id", Value: 0}}); err != nil {
		r.err = err
		return r
	}
	base := uint32(time.Now().Unix()) + 86400
	ts := func(i int64) bson.Timestamp { return bson.Timestamp{T: base, I: uint32(i + 1)} }
	from := fmt.Sprintf("mongo:%d.0", base)
	stopAt := fmt.Sprintf("mongo:%d.%d#%d", base, entries, n+2) // the commit: begin is #1, the inserts #2 … #n+1
	lsid := bson.D{{Key: "id", Value: bson.Binary{Subtype: 4, Data: []byte("bigtx-session-01")}}}
	pad := strings.Repeat("m", docBytes-40)

	var delivered atomic.Int64
	var sr outcome
	done := make(chan struct{})
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(done)
		stream(sctx, o, srv.DirectURI()+"&mode=oplog", from, stopAt, &sr, func([]byte) bool { delivered.Add(1); return false })
	}()
	finish := func() outcome {
		if r.err != nil {
			cancel() // the writer failed: sluice would wait for ever
		}
		<-done
		r.got, r.wall, r.cpu, r.maxRSSKB = sr.got, sr.wall, sr.cpu, sr.maxRSSKB
		if r.err == nil {
			r.err = sr.err
		}
		return r
	}
	t0 := time.Now()
	var written int64
	for e := int64(0); e < entries; e++ {
		// Stay at most mongoAhead entries ahead of the reader: the oplog
		// is capped, and FerretDB (unlike MongoDB, which answers at most
		// 16 MiB per batch) puts every entry it has into one batch.
		for written-delivered.Load() >= int64(o.mongoAhead)*perEntry {
			select {
			case <-done:
				r.err = fmt.Errorf("sluice ended after %d of %d row changes, while the writer was at entry %d", delivered.Load(), n, e)
				return finish()
			case <-time.After(20 * time.Millisecond):
			}
		}
		k := min(perEntry, n-written)
		ops := make(bson.A, 0, k)
		for i := int64(0); i < k; i++ {
			id := written + i + 1
			ops = append(ops, bson.D{{Key: "op", Value: "i"}, {Key: "ns", Value: "bench.big"},
				{Key: "ui", Value: bson.Binary{Subtype: 4, Data: []byte("bigtx-collection")}},
				{Key: "o", Value: bson.D{{Key: "_id", Value: id}, {Key: "pad", Value: pad}}}})
		}
		o := bson.D{{Key: "applyOps", Value: ops}}
		if e < entries-1 {
			o = append(o, bson.E{Key: "partialTxn", Value: true})
		}
		entry := bson.D{{Key: "ts", Value: ts(e)}, {Key: "t", Value: int64(1)}, {Key: "v", Value: int64(2)},
			{Key: "op", Value: "c"}, {Key: "ns", Value: "admin.$cmd"}, {Key: "wall", Value: time.Now()},
			{Key: "lsid", Value: lsid}, {Key: "txnNumber", Value: int64(1)},
			{Key: "prevOpTime", Value: bson.D{{Key: "ts", Value: prevTS(e, ts)}, {Key: "t", Value: int64(-1)}}},
			{Key: "o", Value: o}}
		if _, err := oplog.InsertOne(ctx, entry); err != nil {
			r.err = fmt.Errorf("insert oplog entry %d: %w", e, err)
			return finish()
		}
		written += k
	}
	r.write = time.Since(t0)
	finish()
	r.extraCheck = fmt.Sprintf("FerretDB %s; the gate's writer wrote the applyOps entries into local.oplog.rs (capped at %d MiB) at most %d entries ahead of what sluice had delivered; sluice read them with mode=oplog", ferretVersion(ctx, client), servers.FerretDBOplogSize>>20, o.mongoAhead)
	return r
}

// prevTS is the prevOpTime of entry e: the entry before it, or a null
// timestamp for the first.
func prevTS(e int64, ts func(int64) bson.Timestamp) bson.Timestamp {
	if e == 0 {
		return bson.Timestamp{}
	}
	return ts(e - 1)
}

func ferretVersion(ctx context.Context, c *mongo.Client) string {
	var res struct {
		Version string `bson:"version"`
	}
	if err := c.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&res); err != nil {
		return "?"
	}
	return "(MongoDB version reported: " + res.Version + ")"
}

func prefixed(s string) string {
	if s == "" {
		return ""
	}
	return " " + s
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
