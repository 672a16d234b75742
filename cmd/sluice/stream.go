package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/format"
	"github.com/sluice-cdc/sluice/metrics"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/sluice-cdc/sluice/sink"
	"github.com/sluice-cdc/sluice/sinks"
	"github.com/sluice-cdc/sluice/snapshot"
	"github.com/sluice-cdc/sluice/source"
	_ "github.com/sluice-cdc/sluice/sources" // registers every source scheme
	"github.com/sluice-cdc/sluice/stores"
)

// The source schemes (mysql, mariadb, postgres, postgresql, mongodb,
// mongodb+srv) are registered by the sources package, imported for that.

// runStream runs "sluice stream" with the registered sources and the
// built-in sinks. The first SIGINT/SIGTERM cancels ctx (see main) and the
// stream stops cleanly; a second one exits at once, for a shutdown stuck on
// an unresponsive sink.
func runStream(ctx context.Context, e *env, args []string) error {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for n := 0; ; n++ {
			select {
			case <-done:
				return
			case <-sigs:
				if n == 1 {
					fmt.Fprintln(e.Stderr, "sluice: stream: second signal, exiting without saving the position")
					os.Exit(exitFailure)
				}
			}
		}
	}()
	return streamWith(ctx, e, args, source.Default(), sinks.BuiltinTo(e.Stdout))
}

const streamSynopsis = "sluice stream SOURCE-URL [--to stdout://|file:///path.jsonl|kafka://BROKERS/?topic=…|nats://HOST/?stream=…|redis://HOST/?mode=…|https://HOOK|mysql://…|postgres://…] [--format NAME[?OPTIONS]] [--include REGEXES] [--exclude REGEXES] [--mask|--hash TABLE:COLS] [--rename RE=REPL] [--snapshot initial|never|when-needed|only] [--snapshot-workers N] [--from latest|earliest|FILE:POS|GTIDSET|LSN] [--stop-at FILE:POS|LSN] [--state ./sluice.db] [--begin-commit]"

const streamHelp = `Stream the changes of a source database to a sink as Sluice JSON lines,
one change per line, checkpointing the position of what the sink has
acknowledged in a state file. Run it again to resume where it stopped;
after a crash the changes since the last checkpoint (at most one
--checkpoint-interval) are delivered again with the same positions.

SOURCE-URL is mysql://user:pass@host:3306/?server-id=N, postgres://user:pass@host/db?slot=S,
mongodb://host/?… (whichever sources this build registers).

--include and --exclude take Canal-style lists of regular expressions
matched against the whole "database.table": 'shop\.orders,crm\..*'.
--include-columns and --exclude-columns take 'table-regex:col1/col2,…'.

Transforms, applied after the filters (their column rules name the
source's tables and columns): --mask replaces the named columns' values
with --mask-with; --hash replaces them with the hex HMAC-SHA256 of their
text under a secret key (--hash-key-file, or $SLUICE_HASH_KEY), so equal
values stay equal and joins still work; NULL stays NULL for both.
--rename 'shop\.(.*)=archive.$1' renames tables on the way out (Go regexp
replacement on "db.table"; DDL text is not rewritten).

--snapshot says whether the stream begins with the rows the tables
already hold: initial (the default, unless --from names a start) reads
every table --include/--exclude select, as "read" changes, from a
consistent snapshot (no lock on MariaDB and PostgreSQL), then streams
from the snapshot's consistent point, so a consumer that applies the
output holds exactly the tables; it happens only when the state file
holds no position. when-needed also snapshots again when the saved
position is no longer in the log (instead of failing); only stops after
the snapshot; never reads the log alone. A snapshot interrupted (even by
SIGKILL) resumes at the last delivered row, not from the start.
--snapshot-workers N reads N tables, or key ranges of a large table, at once (default 2).

--from applies only when the state file holds no position for --id; it
names where the log is read from, so it means --snapshot never unless
--snapshot says otherwise (and then it is an error).

--state names the checkpoint store: the path of a bbolt file (the
default, ./sluice.db), or the URL of a store several sluice processes can
share: etcd://host:2379/prefix, zk://host:2181/path,
mysql://user:pass@host:3306/db?table=sluice_checkpoint,
postgres://user:pass@host/db?table=sluice_checkpoint or
redis://:pass@host:6379/0?key=sluice:checkpoint. The README says what
each promises.

--stop-at ends the stream, exit status 0, where the source reaches that
position: changes at or before it are delivered and checkpointed, the
first change or idle heartbeat after it is not. A commit sits just past
its transaction, so a transaction boundary (SHOW MASTER STATUS, an
end_log_pos, pg_current_wal_insert_lsn()) ends the stream with the
transactions committed up to there, as mysqlbinlog --stop-position and
pg_recvlogical --endpos do. It takes FILE:POS, an LSN, or a position as
sluice prints it (binlog:…, lsn:…#N, mongo:…); a GTID set has no order
and is refused. Without it the stream runs until a signal.

--format chooses what is written: sluice (the default, Sluice JSON),
debezium, maxwell, canal-json or cloudevents, with the format's options
in URL query form: --format 'debezium?schemas=true&decimal.handling.mode=string'.
docs/formats.md describes each format and its options.

--to mysql://USER:PASSWORD@HOST/DB or postgres://USER:PASSWORD@HOST/DB
applies the changes to that database (docs/sql-apply.md): each write and
its position are committed in one transaction there, the position in its
table sluice_checkpoint (keyed by --id), so no state file is used and
nothing is applied twice or lost; ?create-tables=on creates missing tables.

--to kafka://host:9092,…/?topic={db}.{table} produces to Kafka, keyed
by primary key; with ?delivery=exactly-once every batch is committed in a
Kafka transaction together with the position, the cluster keeps the
checkpoint (offsets topic sluice_offsets, keyed by --id) and no state file
is used. See the README for its parameters.

--to nats://host:4222/?stream=NAME publishes to JetStream (exactly once
within the stream's duplicate window; ?checkpoint=kv keeps the position in
a key-value bucket instead of the state file). --to redis://host:6379/0
writes to Redis: mode=stream (XADD per table), mode=hash (a mirror of the
rows) or mode=pubsub, each batch and the position in one atomic step
(exactly once; Redis keeps the position, no state file). --to
https://hook.example/path posts batches to a webhook, signed with ?secret=,
each request with an Idempotency-Key that a request repeated after a
crash keeps (at least once; the state file also notes the request in
flight). See the README for their parameters.

SIGINT or SIGTERM stops the stream cleanly: the last acknowledged position
is saved before exit. Logs go to standard error; passwords never appear.`

// streamWith is runStream with explicit registries, for tests.
func streamWith(ctx context.Context, e *env, args []string, sources *source.Registry, sinks *sink.Registry) error {
	fs := newFlagSet(e, "stream", streamSynopsis, streamHelp)
	to := fs.String("to", "stdout://", "sink URL: stdout://, file:///path/changes.jsonl, kafka://host:9092,…/?topic=…, nats://host:4222/?stream=…, redis://host:6379/0?mode=…, https://hook/path, mysql://…/DB or postgres://…/DB")
	formatText := fs.String("format", format.Default, "output format and its options: "+strings.Join(format.Names(), ", ")+"; e.g. 'debezium?schemas=true'")
	var spec pipeline.FilterSpec
	fs.StringVar(&spec.Include, "include", "", "only these tables (comma-separated regexes on db.table)")
	fs.StringVar(&spec.Exclude, "exclude", "", "not these tables (comma-separated regexes on db.table)")
	fs.StringVar(&spec.IncludeColumns, "include-columns", "", "only these columns (plus keys): 'table-regex:col/col,…'")
	fs.StringVar(&spec.ExcludeColumns, "exclude-columns", "", "drop these columns: 'table-regex:col/col,…'")
	var tspec pipeline.TransformSpec
	fs.StringVar(&tspec.Mask, "mask", "", "replace these columns' values with --mask-with: 'table-regex:col/col,…'")
	fs.StringVar(&tspec.MaskWith, "mask-with", "***", "text of masked values")
	fs.StringVar(&tspec.Hash, "hash", "", "replace these columns' values with their HMAC-SHA256 (hex) under the key of --hash-key-file or $SLUICE_HASH_KEY: 'table-regex:col/col,…'")
	hashKeyFile := fs.String("hash-key-file", "", "file holding the --hash key (default: $SLUICE_HASH_KEY)")
	fs.StringVar(&tspec.Rename, "rename", "", "rename tables on the way out: 'regex=replacement,…' on \"db.table\", e.g. 'shop\\.(.*)=archive.$1'")
	from := fs.String("from", "", "where to start without a saved position: latest, earliest, FILE:POS, a GTID set, an LSN (default: the snapshot's point, or the source's own default)")
	snapMode := fs.String("snapshot", "", "initial, never, when-needed or only (default initial, or never with --from)")
	snapWorkers := fs.Int("snapshot-workers", snapshot.DefaultWorkers, "tables, or key ranges of one table, a snapshot reads at once")
	stopAt := fs.String("stop-at", "", "end the stream, exit 0, on reaching this position: FILE:POS, an LSN, or a sluice position (default: never)")
	state := fs.String("state", "./sluice.db", "checkpoint store: a state file path, or a URL (etcd://, zk://, mysql://, postgres://, redis://; not used when the sink keeps it: kafka delivery=exactly-once, redis, nats checkpoint=kv, the SQL sinks mysql:// and postgres://)")
	id := fs.String("id", "stream", "name of this stream's checkpoint in the state file")
	beginCommit := fs.Bool("begin-commit", false, "also write begin and commit events")
	queueBytes := fs.Int64("queue-bytes", pipeline.DefaultQueueBytes, "bytes of changes held between source and sink")
	interval := fs.Duration("checkpoint-interval", pipeline.DefaultCheckpointInterval, "save the position at most this often (0: after every write)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logJSON := fs.Bool("log-json", false, "write logs as JSON instead of text")
	memLimit := fs.String("memory-limit", "", "soft limit of the Go heap (e.g. 48MiB): the garbage collector works harder near it; default none, or $GOMEMLIMIT")
	cpuProfile := fs.String("cpuprofile", "", "write a Go CPU profile (pprof) of the run to this file, for performance work")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics of this stream on ADDR/metrics (e.g. :9090; no token: bind it to a private address)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile("stream", *cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if len(pos) != 1 {
		return usagef("stream: want one SOURCE-URL, got %d arguments", len(pos))
	}
	if *memLimit != "" {
		n, err := address.ParseSize(*memLimit)
		if err != nil || n == 0 {
			return usagef("stream: --memory-limit %q: want a size such as 48MiB", *memLimit)
		}
		debug.SetMemoryLimit(n)
	}
	srcURL := pos[0]
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usagef("stream: --log-level %q: want debug, info, warn or error", *logLevel)
	}
	start, fromPos, err := source.ParseFrom(*from)
	if err != nil {
		return usagef("stream: --from %v", err)
	}
	mode, err := snapshot.ParseMode(*snapMode)
	if err != nil {
		return usagef("stream: --%v", err)
	}
	// The URL's own snapshot= or from= stands when the flags say nothing.
	var urlSays bool
	if u, err := url.Parse(srcURL); err == nil {
		urlSays = u.Query().Has("snapshot") || u.Query().Has("from")
	}
	switch {
	case mode == snapshot.ModeDefault && urlSays:
	case mode == snapshot.ModeDefault && *from != "":
		mode = snapshot.ModeNever
	case mode == snapshot.ModeDefault:
		mode = snapshot.ModeInitial
	case mode.Snapshots() && *from != "":
		return usagef("stream: --snapshot %s starts at the snapshot's consistent point; --from %s contradicts it", mode, *from)
	}
	if *snapWorkers < 1 || *snapWorkers > 64 {
		return usagef("stream: --snapshot-workers %d: want 1 to 64", *snapWorkers)
	}
	var stopPos change.Position
	if *stopAt != "" {
		if stopPos, err = parseStopAt(*stopAt); err != nil {
			return usagef("stream: --stop-at %v", err)
		}
	}
	if _, err := pipeline.NewFilter(spec); err != nil {
		return usagef("stream: %v", err)
	}
	if tspec.Hash != "" {
		if tspec.HashKey, err = hashKey(*hashKeyFile); err != nil {
			return usagef("stream: --hash: %v", err)
		}
	}
	if _, err := pipeline.NewTransform(tspec); err != nil {
		return usagef("stream: %v", err)
	}
	outFormat, err := format.Parse(withSourceDatabase(*formatText, srcURL))
	if err != nil {
		return usagef("stream: --format: %v", err)
	}
	if outFormat.NeedsBeginCommit() && !*beginCommit {
		// The format writes transaction events of its own from them.
		*beginCommit = true
	}
	if *queueBytes <= 0 || *interval < 0 {
		return usagef("stream: --queue-bytes must be positive and --checkpoint-interval not negative")
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(e.Stderr, opts)
	if *logJSON {
		h = slog.NewJSONHandler(e.Stderr, opts)
	}
	log := slog.New(h)

	err = stream(ctx, log, streamConfig{
		srcURL: srcURL, sinkURL: *to, state: *state, id: *id, start: start, from: fromPos, stopAt: stopPos,
		snapshot: snapshot.Options{Mode: mode, Workers: *snapWorkers},
		filter:   spec, transform: tspec, format: outFormat.String(), beginCommit: *beginCommit, queueBytes: *queueBytes, interval: *interval,
		metrics: *metricsAddr,
	}, sources, sinks)
	// A last guard: whatever a source or sink put in its error, the
	// secrets of the two URLs do not reach the terminal.
	return address.RedactError(err, srcURL, *to)
}

// hashKey reads the --hash key from path, or from $SLUICE_HASH_KEY when
// path is empty. A key file's trailing newline is not part of the key.
func hashKey(path string) ([]byte, error) {
	if path == "" {
		k := os.Getenv("SLUICE_HASH_KEY")
		if k == "" {
			return nil, errors.New("no key: give --hash-key-file or set SLUICE_HASH_KEY")
		}
		return []byte(k), nil
	}
	k, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k = bytes.TrimRight(k, "\r\n")
	if len(k) == 0 {
		return nil, fmt.Errorf("key file %s is empty", path)
	}
	return k, nil
}

// startCPUProfile starts a pprof CPU profile written to path for the
// command cmd ("stream"); stop ends it and closes the file.
func startCPUProfile(cmd, path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("%s: --cpuprofile: %w", cmd, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: --cpuprofile %s: %w", cmd, path, err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// streamConfig is the validated form of the stream command's arguments.
type streamConfig struct {
	srcURL, sinkURL, state, id string
	start                      source.Start
	from, stopAt               change.Position
	filter                     pipeline.FilterSpec
	transform                  pipeline.TransformSpec
	format                     string // --format, checked
	beginCommit                bool
	queueBytes                 int64
	interval                   time.Duration
	snapshot                   snapshot.Options
	metrics                    string // --metrics address, "" for none
}

// stream opens the source, sink and state file and runs the pipeline until
// the source ends, ctx is canceled (a signal), or something fails.
func stream(ctx context.Context, log *slog.Logger, c streamConfig, sources *source.Registry, sinks *sink.Registry) error {
	filter, err := pipeline.NewFilter(c.filter)
	if err != nil {
		return usagef("%v", err)
	}
	// A snapshot reads only the tables the filter keeps.
	c.snapshot.Tables = func(ns change.Namespace) bool { return filter.Keep(change.OpRead, ns) }
	src, err := source.Open(ctx, sources, c.srcURL, source.Config{Start: c.start, Logger: log, Snapshot: c.snapshot})
	if err != nil {
		// A source only checks its URL here (it connects in Stream): a
		// usage error.
		return usagef("%v", err)
	}
	out, err := sink.Open(ctx, sinks, c.sinkURL, sink.Config{Logger: log, Format: c.format})
	if errors.Is(err, address.ErrUnknownScheme) || errors.Is(err, address.ErrMalformed) || errors.Is(err, sink.ErrBadURL) ||
		errors.Is(err, format.ErrInvalid) {
		return usagef("%v", err)
	}
	if err != nil {
		return err
	}
	// A sink that writes the position with the changes (Kafka in
	// exactly-once mode, Redis) or keeps it itself (NATS with
	// checkpoint=kv) is the checkpoint store: no state file.
	var store checkpoint.Store
	state := c.state
	if sp, ok := out.(sink.StoreProvider); ok && sp.CheckpointStore() != nil {
		store, state = sp.CheckpointStore(), "(kept by the sink)"
	} else {
		st, err := stores.Open(ctx, c.state, checkpoint.Config{Logger: log})
		if err != nil {
			out.Close()
			if errors.Is(err, address.ErrUnknownScheme) || errors.Is(err, address.ErrMalformed) || errors.Is(err, checkpoint.ErrBadURL) {
				return usagef("%v", err)
			}
			return err
		}
		defer st.Close()
		store, state = st, address.Redact(c.state)
		// A sink that notes its own state beside the position (the HTTP
		// sink's request in flight) does so in the checkpoint store.
		if sw, ok := out.(sink.StoreWrapper); ok {
			store = sw.WrapStore(store)
		}
	}
	var counters pipeline.Counters
	var m pipeline.Metrics = &counters
	var exported *streamMetrics
	if c.metrics != "" {
		exported = &streamMetrics{Counters: &counters, set: metrics.New()}
		exported.p = exported.set.Pipeline(c.id, strings.ToLower(strings.SplitN(c.srcURL, "://", 2)[0]))
		m = exported
	}
	opts := []pipeline.Option{
		pipeline.WithID(c.id), pipeline.WithFrom(c.from), pipeline.WithFilter(c.filter), pipeline.WithTransform(c.transform),
		pipeline.WithBeginCommit(c.beginCommit), pipeline.WithQueueBytes(c.queueBytes),
		pipeline.WithCheckpointInterval(c.interval), pipeline.WithMetrics(m), pipeline.WithLogger(log),
		pipeline.WithStopAt(c.stopAt),
	}
	var p *pipeline.Pipeline
	// A sink that acknowledges later (Kafka at-least-once: the records'
	// promises) keeps several batches in flight.
	if as, ok := out.(pipeline.AsyncSink); ok {
		p, err = pipeline.NewAsync(src, as, store, opts...)
	} else {
		p, err = pipeline.New(src, out, store, opts...)
	}
	if err != nil {
		out.Close()
		return err
	}
	if exported != nil {
		stop, err := exported.serve(ctx, c.metrics, src, p, log)
		if err != nil {
			out.Close()
			return err
		}
		defer stop()
	}
	log.Info("streaming", "source", address.Redact(c.srcURL), "to", address.Redact(c.sinkURL), "state", state, "id", c.id)
	began := time.Now()
	runErr := p.Run(ctx)
	closeErr := out.Close()
	snap := counters.Snapshot()
	log.Info("summary", "read", snap.Read, "written", snap.Written, "bytes", snap.Bytes,
		"checkpoints", snap.Checkpoints, "position", snap.LastSaved.String(), "elapsed", time.Since(began).Round(time.Millisecond))
	if runErr != nil {
		return runErr
	}
	if closeErr != nil {
		return closeErr
	}
	switch {
	case ctx.Err() != nil:
		log.Info("stopped by signal; position saved")
	case !c.stopAt.IsZero():
		log.Info("reached --stop-at; position saved", "stop-at", c.stopAt.String())
	}
	return nil
}

// parseStopAt reads --stop-at: what --from takes, less the words and GTID
// sets, which name no single point of the log.
func parseStopAt(s string) (change.Position, error) {
	start, p, err := source.ParseFrom(s)
	switch {
	case err != nil:
		return change.Position{}, err
	case start != "" || p.IsZero():
		return change.Position{}, fmt.Errorf("%q: want FILE:POS, an LSN or a position", s)
	case p.Flavor == change.FlavorBinlog && p.File == "":
		return change.Position{}, fmt.Errorf("%q: a GTID set has no order; give FILE:POS", s)
	}
	return p, nil
}

// withSourceDatabase adds database.dbname, the PostgreSQL database of the
// source URL, to a debezium format text that does not set it: Debezium's
// source.db names the database, which PostgreSQL changes do not carry.
func withSourceDatabase(formatText, srcURL string) string {
	name, query, _ := strings.Cut(formatText, "?")
	if !strings.EqualFold(strings.TrimSpace(name), "debezium") {
		return formatText
	}
	u, err := url.Parse(srcURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return formatText
	}
	db := strings.TrimPrefix(u.Path, "/")
	q, err := url.ParseQuery(query)
	if err != nil || db == "" || q.Has("database.dbname") {
		return formatText
	}
	q.Set("database.dbname", db)
	return name + "?" + q.Encode()
}
