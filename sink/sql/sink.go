package sql

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/sqldb"
)

// Sink applies changes to a MySQL/MariaDB or PostgreSQL database. It is a
// pipeline.PositionWriter and its own checkpoint.Store (CheckpointStore):
// every transaction it commits also updates the pipeline's row of the
// checkpoint table, so the target holds exactly the changes up to the
// position it stores, whatever crashes.
type Sink struct {
	cfg Config
	eng sqldb.Engine
	cat *sqldb.Conn // catalog reads, table creation, positions read back
	x   executor    // the apply connection
	cp  checkpointTable

	mu        sync.Mutex
	id        string // the pipeline, from Load
	committed change.Position
	// moved is a position that only moved past changes nobody applies
	// (filtered, begin/commit, heartbeats), noted while no transaction was
	// open: Save writes it.
	moved change.Position
	// open is set while a target transaction holds applied changes across
	// writes (a source transaction larger than one write); spill holds
	// them, last is the position of the last of them.
	open  bool
	last  change.Position
	spill spill
	// committing is the position a COMMIT in flight writes: after a lost
	// connection, reading it back tells whether the commit took effect.
	committing change.Position
	// ddlMarker is the position of a DDL statement begun but not
	// confirmed, from the checkpoint row.
	ddlMarker string
	tables    map[change.Namespace]*table
	plan      plan
	nextIdx   int // start of the part of the current batch not yet committed
	// commitNext is where nextIdx goes once the commit in flight is done.
	commitNext int
}

// checkpointTable is where positions are kept.
type checkpointTable struct{ schema, name, quoted string }

// executor runs statements on the apply connection, the only one that
// writes changes.
type executor interface {
	// connect opens (again) the apply connection; statements prepared on
	// an earlier one are forgotten.
	connect(ctx context.Context) error
	// run executes the statements of p in order, in the open transaction
	// (begin: BEGIN first). It returns the index of the statement that
	// failed, or affected other than the rows it must (a *rowsError), with
	// the error.
	run(ctx context.Context, p *plan, begin bool) (int, error)
	// exec runs one statement text on the apply connection.
	exec(ctx context.Context, sql string) error
	close()
}

// rowsError is a statement that affected other than the rows it must.
type rowsError struct{ got, want int64 }

func (e *rowsError) Error() string { return fmt.Sprintf("affected %d rows, want %d", e.got, e.want) }

// New connects to the target, creates the checkpoint table if missing and
// returns the sink. A target that refuses connections is waited for, a
// while (the server may be starting); a refused login is not.
func New(ctx context.Context, cfg Config) (*Sink, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	schema, name, _ := cfg.checkpointName()
	s := &Sink{cfg: cfg, eng: cfg.DB.Engine, tables: map[change.Namespace]*table{}}
	s.cp = checkpointTable{schema: schema, name: name, quoted: s.eng.QuoteTable(schema, name)}
	s.plan.s = s
	if s.eng == sqldb.Postgres {
		s.x = &pgExec{s: s}
	} else {
		s.x = &myExec{s: s}
	}
	wait := min(cfg.RetryFor, 30*time.Second)
	err := retryOpen(ctx, wait, func() error {
		var err error
		if s.cat == nil {
			if s.cat, err = sqldb.Open(ctx, cfg.DB); err != nil {
				return err
			}
		}
		if err := s.createCheckpointTable(ctx); err != nil {
			return err
		}
		return s.x.connect(ctx)
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// retryOpen runs open until it succeeds, fails with an error a retry
// cannot cure, or for longer than wait.
func retryOpen(ctx context.Context, wait time.Duration, open func() error) error {
	began := time.Now()
	for d := 100 * time.Millisecond; ; d = min(2*d, 2*time.Second) {
		err := open()
		if err == nil || !retriable(err) || time.Since(began) > wait {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(d):
		}
	}
}

func (s *Sink) createCheckpointTable(ctx context.Context) error {
	var create string
	if s.eng == sqldb.Postgres {
		create = `CREATE TABLE IF NOT EXISTS ` + s.cp.quoted + ` (
  pipeline text PRIMARY KEY,
  position text NOT NULL,
  ddl text,
  updated_at timestamptz(6) NOT NULL
)`
	} else {
		create = "CREATE TABLE IF NOT EXISTS " + s.cp.quoted + ` (
  pipeline VARCHAR(191) NOT NULL PRIMARY KEY,
  position TEXT NOT NULL,
  ddl TEXT NULL,
  updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`
	}
	ensure := "CREATE SCHEMA IF NOT EXISTS " + s.eng.Quote(s.cp.schema)
	if s.eng == sqldb.MySQL {
		ensure = "CREATE DATABASE IF NOT EXISTS " + s.eng.Quote(s.cp.schema)
	}
	if err := s.cat.Exec(ctx, ensure, create); err != nil {
		return fmt.Errorf("create checkpoint table %s.%s: %w", s.cp.schema, s.cp.name, err)
	}
	return nil
}

// CheckpointStore returns s: the checkpoint table is where its pipeline's
// position is kept.
func (s *Sink) CheckpointStore() checkpoint.Store { return s }

// Load returns the position stored for pipeline id in the checkpoint
// table (adding its row when missing), or an error wrapping
// checkpoint.ErrNotFound. Load must come before the first write; a
// transaction left open by an earlier run is rolled back.
func (s *Sink) Load(ctx context.Context, id string) (change.Position, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.id != "" && s.id != id {
		return change.Position{}, fmt.Errorf("sql: the sink serves pipeline %q, not %q", s.id, id)
	}
	s.abandon(ctx)
	s.id = id
	var pos change.Position
	err := retryOpen(ctx, max(s.cfg.RetryFor, 0), func() error {
		var err error
		pos, err = s.readPosition(ctx, true)
		if err != nil && retriable(err) {
			s.reconnectCatalog(ctx)
		}
		return err
	})
	if err != nil {
		return change.Position{}, err
	}
	s.committed = pos
	if pos.IsZero() {
		return pos, fmt.Errorf("sql: pipeline %q in %s.%s: %w", id, s.cp.schema, s.cp.name, checkpoint.ErrNotFound)
	}
	return pos, nil
}

// readPosition reads the pipeline's stored position (and DDL marker) on
// the catalog connection; with ensure it first adds the row if missing.
func (s *Sink) readPosition(ctx context.Context, ensure bool) (change.Position, error) {
	var text, ddl *string
	if s.eng == sqldb.Postgres {
		if ensure {
			if _, err := s.cat.PG.Exec(ctx, `INSERT INTO `+s.cp.quoted+` (pipeline, position, updated_at) VALUES ($1, '', now()) ON CONFLICT DO NOTHING`, s.id); err != nil {
				return change.Position{}, fmt.Errorf("sql: checkpoint table %s.%s: %w", s.cp.schema, s.cp.name, err)
			}
		}
		if err := s.cat.PG.QueryRow(ctx, `SELECT position, ddl FROM `+s.cp.quoted+` WHERE pipeline = $1`, s.id).Scan(&text, &ddl); err != nil {
			return change.Position{}, fmt.Errorf("sql: read position of pipeline %q: %w", s.id, err)
		}
	} else {
		if ensure {
			if _, err := s.cat.My.ExecContext(ctx, `INSERT IGNORE INTO `+s.cp.quoted+` (pipeline, position, updated_at) VALUES (?, '', CURRENT_TIMESTAMP(6))`, s.id); err != nil {
				return change.Position{}, fmt.Errorf("sql: checkpoint table %s.%s: %w", s.cp.schema, s.cp.name, err)
			}
		}
		if err := s.cat.My.QueryRowContext(ctx, `SELECT position, ddl FROM `+s.cp.quoted+` WHERE pipeline = ?`, s.id).Scan(&text, &ddl); err != nil {
			return change.Position{}, fmt.Errorf("sql: read position of pipeline %q: %w", s.id, err)
		}
	}
	s.ddlMarker = ""
	if ddl != nil {
		s.ddlMarker = *ddl
	}
	if text == nil || *text == "" {
		return change.Position{}, nil
	}
	pos, err := change.ParsePosition(*text)
	if err != nil {
		return change.Position{}, fmt.Errorf("sql: position of pipeline %q in %s.%s: %w", s.id, s.cp.schema, s.cp.name, err)
	}
	return pos, nil
}

// reconnectCatalog opens the catalog connection again after a failure
// (PostgreSQL; MySQL's pool reconnects by itself).
func (s *Sink) reconnectCatalog(ctx context.Context) {
	if s.eng != sqldb.Postgres || s.cat == nil || !s.cat.PG.IsClosed() {
		return
	}
	if c, err := sqldb.Open(ctx, s.cfg.DB); err == nil {
		s.cat.Close()
		s.cat = c
	}
}

// Save writes p when only the position moved since the last commit
// (changes nobody applies); positions a write committed, or that lie in
// a transaction still open, need nothing.
func (s *Sink) Save(ctx context.Context, id string, p change.Position) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.id == "" || id != s.id {
		return fmt.Errorf("sql: save position of pipeline %q: the sink was not loaded for it", id)
	}
	if s.open || s.moved.IsZero() || change.Compare(s.moved, s.committed) <= 0 {
		return nil
	}
	moved := s.moved
	return s.withRetry(ctx, func() error {
		if change.Compare(moved, s.committed) <= 0 {
			return nil
		}
		return s.commit(ctx, moved, true)
	})
}

// Write applies batch in one target transaction, without a position
// (the sink used as a plain pipeline.Sink, with a store of its own).
func (s *Sink) Write(ctx context.Context, batch []change.Change) error {
	return s.write(ctx, batch, change.Position{}, true)
}

// applies reports whether c is applied (or, DDL, handled) by the sink.
func applies(c *change.Change) bool {
	switch c.Op {
	case change.OpInsert, change.OpRead, change.OpUpdate, change.OpDelete, change.OpTruncate, change.OpDDL, change.OpStatement:
		return true
	}
	return false
}

// WriteAt applies batch and records through in the same target
// transaction. The transaction commits when through is a transaction
// boundary (Index 0) — several source transactions may share it; inside
// a source transaction (a transaction larger than one write) it stays
// open, the changes spilled to a temporary file, until the write that
// completes it. A failure a new attempt may overcome (a lost connection,
// a restarting server, a deadlock) is retried for Config.RetryFor on a
// new connection, after reading back whether a commit in flight took
// effect; any other error stops here, naming the change, its position and
// the server's error.
func (s *Sink) WriteAt(ctx context.Context, batch []change.Change, through change.Position) error {
	// A write without a position of its own (its changes held back from
	// an earlier batch, with begin/commit shown) ends nothing.
	return s.write(ctx, batch, through, !through.IsZero() && through.Index == 0)
}

// write is Write and WriteAt: boundary says whether the target
// transaction commits after batch.
func (s *Sink) write(ctx context.Context, batch []change.Change, through change.Position, boundary bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	data := false
	for i := range batch {
		if applies(&batch[i]) {
			data = true
			break
		}
	}
	if !data && !s.open {
		if !through.IsZero() && change.Compare(through, s.committed) > 0 {
			s.moved = through
		}
		return nil
	}
	if s.id == "" && !through.IsZero() {
		return errors.New("sql: Load was not called: the sink's CheckpointStore must be the pipeline's store")
	}
	s.nextIdx = 0
	return s.withRetry(ctx, func() error { return s.applyOnce(ctx, batch, through, boundary) })
}

// withRetry runs attempt, and after a failure a new attempt may overcome
// reconnects, reconciles what was committed and runs it again, for at
// most Config.RetryFor.
func (s *Sink) withRetry(ctx context.Context, attempt func() error) error {
	began := time.Now()
	wait := 100 * time.Millisecond
	for {
		err := attempt()
		if err == nil {
			return nil
		}
		if !retriable(err) || ctx.Err() != nil || s.cfg.RetryFor < 0 || time.Since(began) > s.cfg.RetryFor {
			if ctx.Err() == nil {
				s.abandon(ctx)
			}
			return err
		}
		s.cfg.Logger.Warn("apply failed, reconnecting", "error", err, "retry_in", wait)
		for {
			select {
			case <-ctx.Done():
				return err
			case <-time.After(wait):
			}
			wait = min(2*wait, 5*time.Second)
			rerr := s.recover(ctx)
			if rerr == nil {
				break
			}
			if !retriable(rerr) || time.Since(began) > s.cfg.RetryFor {
				return fmt.Errorf("%w (and after it: %v)", err, rerr)
			}
		}
	}
}

// recover reconnects after a lost connection and finds out what the
// target holds: a COMMIT in flight that took effect, or the last commit
// (the open transaction, if any, was rolled back and is applied again
// from the spill).
func (s *Sink) recover(ctx context.Context) error {
	s.x.close()
	s.reconnectCatalog(ctx)
	if err := s.x.connect(ctx); err != nil {
		return err
	}
	s.open = false
	if s.id == "" {
		return nil
	}
	pos, err := s.readPosition(ctx, false)
	if err != nil {
		return err
	}
	switch {
	case !s.committing.IsZero() && pos == s.committing:
		s.cfg.Logger.Info("the commit in flight took effect", "position", pos.String())
		s.committed = pos
		s.committing = change.Position{}
		s.nextIdx = s.commitNext
		return s.spill.reset()
	case pos == s.committed:
		s.committing = change.Position{}
		return nil
	}
	return fmt.Errorf("sql: the position of pipeline %q in %s.%s is %s, not %s: another process applies this pipeline",
		s.id, s.cp.schema, s.cp.name, pos, s.committed)
}

// abandon rolls back an open transaction; its changes are read again from
// the source on the next run (the stored position is before them).
func (s *Sink) abandon(ctx context.Context) {
	// Whatever ran since the last commit goes: a failed statement leaves
	// the others of its transaction applied (MySQL) or the transaction
	// aborted (PostgreSQL).
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	s.x.exec(rctx, "ROLLBACK")
	cancel()
	if s.spill.n > 0 {
		s.cfg.Logger.Warn("rolled back the open transaction; the next run applies it again", "changes", s.spill.n, "after", s.committed.String())
	}
	s.open = false
	s.spill.reset()
}

// applyOnce is one attempt at WriteAt. It starts from what was committed:
// the spill (an open transaction lost with its connection), then the part
// of batch after s.nextIdx.
func (s *Sink) applyOnce(ctx context.Context, batch []change.Change, through change.Position, boundary bool) error {
	if s.nextIdx >= len(batch) && !s.open && (through.IsZero() || through == s.committed) {
		return nil // a commit whose answer was lost had taken effect
	}
	if !s.open && s.spill.n > 0 {
		begin := true
		err := s.spill.each(512, func(cs []change.Change) error {
			err := s.applyChanges(ctx, cs, begin)
			begin = false
			return err
		})
		if err != nil {
			return err
		}
		s.open = true
	}
	i := s.nextIdx
	for i < len(batch) {
		j := i
		for j < len(batch) && batch[j].Op != change.OpDDL && batch[j].Op != change.OpStatement {
			j++
		}
		if j > i {
			if err := s.applyChanges(ctx, batch[i:j], !s.open); err != nil {
				return err
			}
			s.open = true
			for k := j - 1; k >= i; k-- {
				if !batch[k].Pos.IsZero() {
					s.last = batch[k].Pos
					break
				}
			}
		}
		if j == len(batch) {
			break
		}
		s.commitNext = j
		if err := s.ddl(ctx, batch, j); err != nil {
			return err
		}
		i = j + 1
		s.nextIdx = i
	}
	if boundary {
		s.commitNext = len(batch)
		if err := s.commit(ctx, through, !s.open); err != nil {
			return err
		}
		s.nextIdx = len(batch)
		return nil
	}
	if s.nextIdx < len(batch) {
		if err := s.spill.add(batch[s.nextIdx:]); err != nil {
			return err
		}
	}
	s.nextIdx = len(batch)
	if !through.IsZero() {
		s.last = through
	}
	return nil
}

// applyChanges plans changes and runs the statements; a failed statement
// of several rows is pinpointed to its change.
func (s *Sink) applyChanges(ctx context.Context, changes []change.Change, begin bool) error {
	p := &s.plan
	p.reset(changes)
	p.single = false
	if err := p.build(ctx); err != nil {
		return err
	}
	if len(p.stmts) == 0 && !begin {
		return nil
	}
	n, err := s.x.run(ctx, p, begin)
	if err == nil {
		return nil
	}
	if retriable(err) || n < 0 {
		return err
	}
	st := p.stmts[n]
	err = explain(st, err)
	var re *rowsError
	if errors.As(err, &re) {
		return p.failChange(st.first, fmt.Errorf("the row is not in the target (the statement %s): the target has diverged from the source", re))
	}
	if st.first == st.last {
		return p.failChange(st.first, err)
	}
	// A statement of several rows failed: find the row, one statement
	// per row, then give the target back its state.
	first := st.first
	orig := err
	if perr := s.pinpoint(ctx, changes, first); perr != nil {
		return perr
	}
	return fmt.Errorf("sql: applying changes %d-%d of a batch (%s.%s at %s to %s): %w",
		st.first+1, st.last+1, changes[st.first].Database, changes[st.first].Table, changes[st.first].Pos, changes[st.last].Pos, orig)
}

// pinpoint applies again, one row per statement, everything since the
// last commit up to and past change first of changes, and returns the
// error of the change that fails (nil if none does). It rolls back
// either way: the caller stops.
func (s *Sink) pinpoint(ctx context.Context, changes []change.Change, first int) error {
	if err := s.x.exec(ctx, "ROLLBACK"); err != nil {
		return nil
	}
	s.open = false
	defer s.x.exec(context.WithoutCancel(ctx), "ROLLBACK")
	begin := true
	err := s.spill.each(512, func(cs []change.Change) error {
		p := &s.plan
		p.reset(cs)
		if err := p.build(ctx); err != nil {
			return err
		}
		_, err := s.x.run(ctx, p, begin)
		begin = false
		return err
	})
	if err != nil {
		return nil
	}
	p := &s.plan
	p.reset(changes)
	p.single = true
	defer func() { p.single = false }()
	if err := p.build(ctx); err != nil {
		return err
	}
	n, err := s.x.run(ctx, p, begin)
	if err == nil || n < 0 {
		return nil
	}
	return p.failChange(p.stmts[n].first, explain(p.stmts[n], err))
}

// explain rewords the error of MySQL's guarded upsert (see buildSQL): a
// NULL key means the row collided with another on a unique key besides
// the primary key.
func explain(st stmt, err error) error {
	var me *mysql.MySQLError
	if st.key.op == opUpsert && st.key.t != nil && st.key.t.meta.OtherUnique && errors.As(err, &me) && me.Number == 1048 {
		return fmt.Errorf("the row collides with another row of the target on a unique key besides the primary key (the guard of the upsert: %w)", err)
	}
	return err
}

// commit writes pos as the pipeline's position (when a pipeline is
// loaded and pos is not zero) and commits; begin starts the transaction
// first (nothing else was applied in it).
func (s *Sink) commit(ctx context.Context, pos change.Position, begin bool) error {
	if begin && pos == s.committed {
		return nil // nothing applied, the position did not move
	}
	if s.id != "" && !pos.IsZero() {
		p := &s.plan
		p.reset(nil)
		p.checkpoint(pos.String(), s.id, s.committedText())
		n, err := s.x.run(ctx, p, begin)
		if err != nil {
			var re *rowsError
			if n >= 0 && errors.As(err, &re) {
				stored, rerr := s.readPosition(ctx, false)
				if rerr == nil {
					return fmt.Errorf("sql: the position of pipeline %q in %s.%s is %s, not %s: another process applies this pipeline",
						s.id, s.cp.schema, s.cp.name, stored, s.committed)
				}
			}
			return err
		}
	} else if begin {
		return nil // nothing to commit
	}
	s.committing = pos
	if err := s.x.exec(ctx, "COMMIT"); err != nil {
		return err
	}
	s.committing = change.Position{}
	s.open = false
	if !pos.IsZero() {
		s.committed = pos
		if change.Compare(s.moved, pos) <= 0 {
			s.moved = change.Position{}
		}
	}
	return s.spill.reset()
}

// committedText is the stored text of the last committed position.
func (s *Sink) committedText() string {
	if s.committed.IsZero() {
		return ""
	}
	return s.committed.String()
}

// checkpoint adds the statement that moves the pipeline's position from
// old to pos.
func (p *plan) checkpoint(pos, id, old string) {
	a0 := p.argLen()
	for _, v := range []string{pos, id, old} {
		if p.s.eng == sqldb.Postgres {
			p.pgVals = append(p.pgVals, []byte(v))
			p.pgFmts = append(p.pgFmts, 0)
		} else {
			p.my = append(p.my, v)
		}
	}
	p.stmts = append(p.stmts, stmt{key: stmtKey{op: opCheckpoint}, a0: a0, a1: p.argLen(), first: -1, last: -1, expect: 1})
}

// ddl handles the DDL (or statement) change at batch[j]: what was applied
// before it is committed at the position of the last change applied;
// then, with ddl=apply and a source of the target's engine, the statement
// runs (the checkpoint row marks it begun, so that a restart after a
// crash between the two knows it may already be applied) and its
// position is committed; otherwise it is logged and skipped.
func (s *Sink) ddl(ctx context.Context, batch []change.Change, j int) error {
	c := &batch[j]
	if c.Op == change.OpStatement {
		return &applyError{c: c, err: errors.New("a statement-based change (binlog_format=STATEMENT or MIXED) cannot be applied: its rows are unknown")}
	}
	// Tables of this namespace are read again on next use.
	for ns := range s.tables {
		if ns.Database == c.Database && (c.Table == "" || ns.Table == c.Table) {
			delete(s.tables, ns)
		}
	}
	src, _ := sqldb.EngineOfSource(c.Source)
	if s.cfg.DDL != DDLApply || src != s.eng || s.eng != sqldb.MySQL {
		why := "ddl=skip"
		if s.cfg.DDL == DDLApply {
			why = fmt.Sprintf("ddl=apply applies DDL from a %s source to %s only", s.eng, s.eng)
		}
		s.cfg.Logger.Warn("DDL not applied", "why", why, "db", c.Database, "position", c.Pos.String(), "sql", c.SQL)
		return nil
	}
	if s.open {
		if err := s.commit(ctx, s.last, false); err != nil {
			return err
		}
	}
	// A marker for this DDL from before (a crash, a lost connection)
	// says it may have run already.
	begun := s.ddlMarker == c.Pos.String()
	if s.id != "" {
		if err := s.markDDL(ctx, c.Pos.String()); err != nil {
			return err
		}
	}
	db := c.Database
	if s.cfg.Schema != "" {
		db = s.cfg.Schema
	}
	if db != "" {
		if err := s.x.exec(ctx, "USE "+s.eng.Quote(db)); err != nil {
			return &applyError{c: c, err: err}
		}
	}
	if err := s.x.exec(ctx, c.SQL); err != nil {
		if retriable(err) {
			return err
		}
		if begun && ddlDone(err) {
			s.cfg.Logger.Warn("the DDL was applied before a crash; skipping it", "position", c.Pos.String(), "sql", c.SQL, "error", err)
		} else {
			// It failed for sure: a restart must run it again, not take it
			// for done.
			if s.id != "" && s.markDDL(ctx, "") == nil {
				s.ddlMarker = ""
			}
			return &applyError{c: c, err: fmt.Errorf("%w\n%s", err, c.SQL)}
		}
	}
	s.ddlMarker = ""
	s.commitNext = j + 1
	return s.commit(ctx, c.Pos, true)
}

// markDDL records, committed, that the DDL at pos is about to run ("":
// none is).
func (s *Sink) markDDL(ctx context.Context, pos string) error {
	var mark any = pos
	if pos == "" {
		mark = nil
	}
	var err error
	if s.eng == sqldb.Postgres {
		_, err = s.cat.PG.Exec(ctx, `UPDATE `+s.cp.quoted+` SET ddl = $1 WHERE pipeline = $2`, mark, s.id)
	} else {
		_, err = s.cat.My.ExecContext(ctx, `UPDATE `+s.cp.quoted+` SET ddl = ? WHERE pipeline = ?`, mark, s.id)
	}
	if err == nil {
		s.ddlMarker = pos
	}
	return err
}

// alter runs an ALTER TABLE that adds columns. On MySQL it commits what
// the open transaction applied first (at the position of the last change
// applied): an ALTER commits implicitly and waits for the transactions
// that touched the table.
func (s *Sink) alter(ctx context.Context, sql string) error {
	if s.eng == sqldb.MySQL && s.open {
		if err := s.commit(ctx, s.last, false); err != nil {
			return err
		}
	}
	if s.eng == sqldb.Postgres && s.open {
		return s.x.exec(ctx, sql) // transactional: part of the open transaction
	}
	return s.cat.Exec(ctx, sql)
}

// Close rolls back an open transaction (its changes come again from the
// source on the next run) and closes the connections.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.x != nil {
		s.abandon(context.Background())
		s.x.close()
	}
	s.spill.close()
	if s.cat != nil {
		s.cat.Close()
		s.cat = nil
	}
	return nil
}
