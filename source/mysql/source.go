package mysql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sluice-cdc/sluice/binlog"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/snapshot"
	"github.com/sluice-cdc/sluice/source"
)

// Source streams the binlog of one MySQL or MariaDB server as changes. It
// implements the pipeline's Source interface. A Source runs one Stream at
// a time.
type Source struct {
	cfg Config

	// State carried across reconnects of one Stream.
	gtid     gtidState
	schema   *schemaTracker
	resume   change.Position // last position handed to emit (or the start)
	floor    change.Position // no heartbeat at or before it (a snapshot's last row)
	opened   bool            // schema opened for this Stream
	progress bool            // the current session delivered something
	dumping  time.Time       // when the current session's dump started (zero: not yet)

	// Warnings logged once per Source.
	warnedFormat    bool                // binlog_format is not ROW (allowed)
	warnedImage     bool                // binlog_row_image is not FULL
	warnedStatement bool                // a statement-logged DML arrived without allow-statement
	security        source.SecurityNote // the connection's TLS state

	reconnects atomic.Int64 // connections lost and re-made (see Reconnects)
}

// healthySession is how long a session must stream, even without
// delivering anything, for its loss to count as a fresh failure rather
// than one more in a row: an idle stream whose connection drops now and
// then must not back off towards Retry.Max.
const healthySession = time.Second

// New returns a Source for cfg (validated, defaults filled in).
func New(cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Source{cfg: cfg}, nil
}

// Open parses a mysql:// (or mariadb://) address and returns its Source.
func Open(url string) (*Source, error) {
	cfg, err := ParseURL(url)
	if err != nil {
		return nil, err
	}
	return New(cfg)
}

// emitError marks an error returned by emit, so that it is returned as is
// and never mistaken for a connection failure.
type emitError struct{ err error }

func (e *emitError) Error() string { return e.err.Error() }
func (e *emitError) Unwrap() error { return e.err }

// Stream reads the binlog from strictly after from (a zero from starts at
// Config.From) and emits changes in commit order until ctx ends, emit
// fails, or the stream fails for good. Lost connections, server restarts
// and silent dead connections (no packet for three heartbeat periods) are
// retried with capped exponential backoff, resuming after the last change
// handed to emit. It returns source.ErrPositionLost (wrapped) when the server no
// longer has from, a *SchemaMismatchError when rows do not fit the schema
// held, and what emit returned when emit fails.
//
// With a snapshot mode (Config.Snapshot), a zero from first reads every
// table (see package snapshot) from a consistent snapshot that takes no
// lock on MariaDB, and then streams from its consistent point; a from
// inside a snapshot resumes the snapshot after the row it names.
func (s *Source) Stream(ctx context.Context, from change.Position, emit func([]change.Change) error) error {
	if !from.IsZero() && from.Flavor != change.FlavorBinlog {
		return fmt.Errorf("mysql: cannot resume from a position of another source (flavor %d)", from.Flavor)
	}
	mode := s.cfg.Snapshot.Mode
	st, err := snapshot.ParseState(from.Snapshot)
	if err != nil {
		return fmt.Errorf("mysql: resume position %s: %w", from, err)
	}
	start, floor := from, change.Position{}
	switch {
	case from.IsZero() && mode.Snapshots():
		res, point, err := s.snapshotRun(ctx, snapshot.State{}, 0, change.Position{}, emit)
		if err != nil {
			return err
		}
		if mode == snapshot.ModeOnly {
			return nil
		}
		start, floor = point, res.Last
	case st.Table != (change.Namespace{}) && st.Incremental == "":
		point := snapshotStart(from)
		res, _, err := s.snapshotRun(ctx, st, from.Row, point, emit)
		if err != nil {
			return err
		}
		if mode == snapshot.ModeOnly {
			return nil
		}
		start, floor = point, res.Last
		if floor.IsZero() {
			floor = from
		}
	case mode == snapshot.ModeOnly && !from.IsZero():
		return nil // the snapshot was done before
	}
	// Incremental snapshots asked for through the signalling table.
	ictx, stopInc := context.WithCancel(ctx)
	inc, incDB, err := s.incremental(ictx, from, "")
	if err != nil {
		stopInc()
		return err
	}
	defer func() {
		stopInc()
		inc.Wait()
		incDB.Close()
	}()
	emit = inc.Wrap(ictx, emit)
	err = s.stream(ctx, start, floor, emit)
	if errors.Is(err, source.ErrPositionLost) && mode == snapshot.ModeWhenNeeded && ctx.Err() == nil {
		s.cfg.Logger.Warn("the saved position is no longer in the binlog: snapshotting again (snapshot=when-needed)",
			"position", from.String(), "err", err.Error())
		res, point, serr := s.snapshotRun(ctx, snapshot.State{}, 0, change.Position{}, emit)
		if serr != nil {
			return serr
		}
		return s.stream(ctx, point, res.Last, emit)
	}
	return err
}

// stream follows the binlog strictly after from; no heartbeat is emitted
// at or before floor (the last row of a snapshot just delivered).
func (s *Source) stream(ctx context.Context, from, floor change.Position, emit func([]change.Change) error) error {
	s.resume, s.opened, s.floor = from, false, floor
	s.schema = newSchemaTracker(s.cfg.SchemaHistory, s.cfg.Logger)
	wrapped := func(b []change.Change) error {
		if err := emit(b); err != nil {
			return &emitError{err}
		}
		return nil
	}
	failures := 0
	for {
		s.progress, s.dumping = false, time.Time{}
		err := s.session(ctx, wrapped)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ee *emitError
		if errors.As(err, &ee) {
			return ee.err
		}
		if !retryable(err) {
			return err
		}
		if s.progress || (!s.dumping.IsZero() && time.Since(s.dumping) >= healthySession) {
			failures = 0
		}
		failures++
		if s.cfg.Retry.GiveUp(failures) {
			return fmt.Errorf("giving up after %d failed attempts: %w", failures, err)
		}
		wait := s.cfg.Retry.Wait(failures)
		s.reconnects.Add(1)
		// err.Error(), not err: text handlers print an error value with
		// %+v, which for go-mysql's traced errors is a stack trace.
		s.cfg.Logger.Warn("binlog connection lost, reconnecting", "err", err.Error(), "attempt", failures, "wait", wait, "resume", s.resume.String())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// delivered records the position of the last change handed to emit.
func (s *Source) delivered(p change.Position) {
	s.resume = p
	s.progress = true
}

// session runs one connection: connect, position, dump, decode.
func (s *Source) session(ctx context.Context, emit func([]change.Change) error) error {
	r, err := dial(ctx, &s.cfg)
	if err != nil {
		return err
	}
	defer r.Close()
	s.security.Log(s.cfg.Logger, r.flavor(), s.cfg.Addr, r.security())
	stop := r.watch(ctx)
	defer stop()
	if err := s.checkBinlogFormat(r); err != nil {
		return err
	}

	if !s.opened {
		s.gtid = newGTIDState(r.mariadb)
	}
	start := s.resume
	fresh := false
	if start.IsZero() {
		fresh = s.cfg.Start != source.StartEarliest
		if start, err = s.startPosition(r); err != nil {
			return err
		}
		s.resume = start
	}
	if err := s.gtid.set(start.GTIDSet); err != nil {
		return err
	}
	if r.mariadb && start.GTIDSet == "" {
		s.gtid.known = false // learn it from GTID_LIST at the file start
	}
	if !s.opened {
		s.schema.reload = func(db string) (schemaSet, error) { return s.loadSchema(ctx, db) }
		if err := s.schema.open(start, fresh, func() (schemaSet, error) { return readSchema(r, "") }); err != nil {
			return err
		}
		s.opened = true
	} else if err := s.schema.rewind(start); err != nil {
		return err
	}

	if err := r.prepare(); err != nil {
		return err
	}
	if err := r.register(); err != nil {
		return err
	}
	where := start.String()
	// A position with a GTID set but no file (given by hand) resumes by GTID.
	byGTID := start.GTIDSet != "" && (s.cfg.GTID || start.File == "")
	switch {
	case byGTID && r.mariadb:
		state, err := connectState(start.GTIDSet)
		if err != nil {
			return err
		}
		err = r.dumpMariaGTID(state)
		if err != nil {
			return err
		}
		where = "GTID " + state
	case byGTID:
		set, err := binlog.ParseMySQLGTIDSet(start.GTIDSet)
		if err != nil {
			return fmt.Errorf("mysql: resume GTID set: %w", err)
		}
		if err := r.dumpMySQLGTID(set.AppendEncoding(nil)); err != nil {
			return err
		}
		where = "GTID " + start.GTIDSet
	case start.File == "":
		return fmt.Errorf("mysql: position %s has no binlog file (and GTID mode is off)", start.String())
	default:
		if start.Offset > 1<<32-1 {
			return fmt.Errorf("mysql: position %s: offset beyond 4 GiB", start.String())
		}
		if err := r.dumpFile(start.File, uint32(start.Offset)); err != nil {
			return err
		}
	}

	ss := &session{cfg: &s.cfg, src: s, flavor: r.flavor(), emit: emit, tables: map[uint64]*tableState{},
		stream: binlog.NewStream(start.File, int64(start.Offset)), skip: start.Index, skipArmed: start.Index > 0, last: start}
	if change.Compare(s.floor, ss.last) > 0 {
		ss.last = s.floor
	}
	defer ss.stream.Close()
	// Where the next event is, for errors only: formatted when asked (per
	// event it cost two allocations).
	handled := false
	whereFn := func() string {
		if handled {
			return ss.where()
		}
		return where
	}
	s.dumping = time.Now()
	for {
		raw, err := r.nextEvent(whereFn)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		handled = true
		if err := ss.handle(raw); err != nil {
			return err
		}
	}
}

// startPosition resolves Config.Start on the connected server.
func (s *Source) startPosition(r *replica) (change.Position, error) {
	if s.cfg.Start == source.StartEarliest {
		logs, err := r.binaryLogs()
		if err != nil {
			return change.Position{}, err
		}
		if len(logs) == 0 {
			return change.Position{}, errors.New("mysql: SHOW BINARY LOGS is empty: is log_bin enabled?")
		}
		return change.Position{Flavor: change.FlavorBinlog, File: logs[0].Name, Offset: 4}, nil
	}
	st, err := r.status()
	if err != nil {
		return change.Position{}, err
	}
	return change.Position{Flavor: change.FlavorBinlog, File: st.File, Offset: st.Offset, GTIDSet: st.GTIDSet}, nil
}

// loadSchema reads tables from information_schema on a connection of its
// own (the dump connection is busy streaming).
func (s *Source) loadSchema(ctx context.Context, db string) (schemaSet, error) {
	r, err := dial(ctx, &s.cfg)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return readSchema(r, db)
}

// systemSchemas are never tracked.
var systemSchemas = []string{"mysql", "information_schema", "performance_schema", "sys"}

// readSchema reads the columns of every table (of db, or of every
// non-system database when db is "") from information_schema.COLUMNS.
func readSchema(r *replica, db string) (schemaSet, error) {
	q := "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_KEY " +
		"FROM information_schema.COLUMNS WHERE TABLE_SCHEMA NOT IN ('" + strings.Join(systemSchemas, "','") + "')"
	if db != "" {
		q += " AND TABLE_SCHEMA = '" + strings.ReplaceAll(strings.ReplaceAll(db, `\`, `\\`), "'", "''") + "'"
	}
	q += " ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION"
	rows, err := r.queryRows(q)
	if err != nil {
		return nil, err
	}
	set := schemaSet{}
	for _, row := range rows {
		t := set.get(row[0], row[1])
		if t == nil {
			t = &tableDef{Database: row[0], Table: row[1]}
			set.put(t)
		}
		t.Columns = append(t.Columns, colDef{
			Name:     row[2],
			Type:     strings.ToLower(row[3]),
			Nullable: row[4] == "YES",
			Key:      row[5] == "PRI",
		})
	}
	return set, nil
}
