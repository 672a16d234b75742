package postgres

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/snapshot"
	"github.com/sluice-cdc/sluice/source"
)

// slotInUseGrace is how long a Stream that has not started yet waits for
// a slot another connection holds (see Stream).
const slotInUseGrace = 5 * time.Second

// heartbeatEvery bounds how often an idle stream emits a heartbeat.
const heartbeatEvery = time.Second

// Source streams the changes of one PostgreSQL database through a logical
// replication slot. It implements the pipeline's Source interface; call Ack
// with each position the pipeline has saved so that the slot may release
// WAL up to it.
type Source struct {
	cfg *Config
	// noBinary is set once binary values failed to decode exactly: every
	// later connection asks for text.
	noBinary atomic.Bool
	// security logs the connections' TLS state once (see noteSecurity).
	security source.SecurityNote

	mu     sync.Mutex
	acked  change.Position
	ackSig chan struct{}
	stats  Stats
}

// Stats counts what a Source did; read them with Source.Stats.
type Stats struct {
	Messages  uint64 // pgoutput messages received
	Changes   uint64 // changes handed to emit
	Streamed  uint64 // streamed transactions committed and replayed
	Spilled   uint64 // streamed transactions that spilled to disk
	Flushed   uint64 // last flush LSN reported to the server
	WALEnd    uint64 // last WAL end the server reported
	Proto     int    // pgoutput protocol version in use
	Streaming bool   // in-progress transactions are streamed
	Binary    bool   // column values come in binary form (Config.Binary)
	// Reconnects counts connections lost and re-made inside Stream;
	// LastError is what ended the last lost one.
	Reconnects uint64
	LastError  string
}

// New returns a Source for cfg (validated, defaults filled in). It does
// not connect: Stream does.
func New(cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Source{cfg: &cfg, ackSig: make(chan struct{}, 1)}, nil
}

// Open parses a postgres:// URL (see ParseURL) and returns its Source.
func Open(rawURL string) (*Source, error) {
	cfg, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return New(cfg)
}

// Config returns the source's configuration.
func (s *Source) Config() *Config { return s.cfg }

// Stats returns a snapshot of the counters.
func (s *Source) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Ack tells the source that every change up to and including p is
// delivered and checkpointed. The slot's confirmed_flush_lsn then advances
// to p's LSN, never further than what was acknowledged. Positions of other
// flavors and positions older than the last one are ignored. Safe to call
// from any goroutine.
func (s *Source) Ack(p change.Position) {
	if p.Flavor != change.FlavorLSN {
		return
	}
	s.mu.Lock()
	if p.Offset > s.acked.Offset || (p.Offset == s.acked.Offset && p.Index > s.acked.Index) {
		s.acked = p
	}
	s.mu.Unlock()
	select {
	case s.ackSig <- struct{}{}:
	default:
	}
}

func (s *Source) ackedLSN() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acked.Offset
}

// inbound is one message from the reader goroutine.
type inbound struct {
	data      []byte // XLogData payload (a pgoutput message)
	keepalive bool
	walEnd    uint64
	err       error
}

// Stream reads changes after from (see the pipeline's resume contract)
// and hands them to emit in batches until ctx ends or emit fails. A zero
// from starts where the slot's confirmed_flush_lsn is (for a new slot: the
// current end of WAL). A from the slot has already released gives
// ErrPositionLost. One Stream runs at a time per Source.
//
// Once streaming has started, a lost connection or a server restart does
// not end Stream: it reconnects with capped exponential backoff
// (Config.RetryMin doubling up to Config.RetryMax) and resumes strictly
// after the last change emit accepted, so nothing is skipped and nothing
// emitted twice. Errors that retrying cannot cure end Stream at once: an
// error from emit, ErrAuth, ErrWALLevel, ErrPrivilege, ErrNoPublication,
// source.ErrPositionLost, ErrSlotMismatch and malformed protocol data; so does
// any error of the first attempt (a wrong address should fail fast), and
// every error when RetryMax is negative.
//
// With a snapshot mode (Config.Snapshot), a zero from first reads every
// table of the publication (see package snapshot) in the exported snapshot
// of a replication slot's creation, and then streams from that slot's
// consistent point; a from inside a snapshot resumes the snapshot after the
// row it names.
func (s *Source) Stream(ctx context.Context, from change.Position, emit func([]change.Change) error) error {
	if !from.IsZero() && from.Flavor != change.FlavorLSN {
		return fmt.Errorf("postgres: resume position %v is not an LSN position", from)
	}
	mode := s.cfg.Snapshot.Mode
	st, err := snapshot.ParseState(from.Snapshot)
	if err != nil {
		return fmt.Errorf("postgres: resume position %s: %w", from, err)
	}
	switch {
	case from.IsZero() && mode.Snapshots():
		_, point, err := s.snapshotRun(ctx, snapshot.State{}, 0, change.Position{}, emit)
		if err != nil || mode == snapshot.ModeOnly {
			return err
		}
		from = point
	case st.Table != (change.Namespace{}) && st.Incremental == "":
		point := from
		point.Row, point.Snapshot = 0, ""
		if _, _, err := s.snapshotRun(ctx, st, from.Row, point, emit); err != nil || mode == snapshot.ModeOnly {
			return err
		}
		from = point
	case mode == snapshot.ModeOnly && !from.IsZero():
		return nil // the snapshot was done before
	}
	// Incremental snapshots asked for through the signalling table.
	ictx, stopInc := context.WithCancel(ctx)
	inc, closeInc, err := s.incremental(ictx, from)
	if err != nil {
		stopInc()
		return err
	}
	defer func() {
		stopInc()
		inc.Wait()
		closeInc()
	}()
	emit = inc.Wrap(ictx, emit)
	err = s.stream(ctx, from, emit)
	if errors.Is(err, source.ErrPositionLost) && mode == snapshot.ModeWhenNeeded && ctx.Err() == nil {
		s.cfg.Logger.Warn("the slot has released the saved position: snapshotting again (snapshot=when-needed)",
			"slot", s.cfg.Slot, "position", from.String(), "err", err.Error())
		_, point, serr := s.snapshotRun(ctx, snapshot.State{}, 0, change.Position{}, emit)
		if serr != nil {
			return serr
		}
		return s.stream(ctx, point, emit)
	}
	return err
}

// stream follows the slot strictly after from.
func (s *Source) stream(ctx context.Context, from change.Position, emit func([]change.Change) error) error {
	cfg := s.cfg
	s.mu.Lock()
	s.acked = from
	s.stats = Stats{}
	s.mu.Unlock()

	var emitErr error
	last := from
	tracked := func(batch []change.Change) error {
		if err := emit(batch); err != nil {
			emitErr = err
			return err
		}
		last = batch[len(batch)-1].Pos
		return nil
	}
	failures := 0
	begun, everStreamed, reached := time.Now(), false, false
	for attempt := 0; ; attempt++ {
		began := last
		started := time.Now()
		streaming, err := s.streamOnce(ctx, &last, tracked, attempt > 0, &started)
		everStreamed = everStreamed || streaming
		if emitErr != nil {
			return emitErr
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, errBinaryFallback) && !cfg.Temporary && !s.noBinary.Load() {
			// Start again from the last position with text values.
			s.noBinary.Store(true)
			s.mu.Lock()
			s.stats.Reconnects++
			s.stats.LastError = err.Error()
			s.mu.Unlock()
			cfg.Logger.Warn("postgres binary mode cannot decode a value exactly; continuing in text mode",
				"slot", cfg.Slot, "position", last.String(), "reason", err.Error())
			continue
		}
		// Errors before the server was ever reached fail fast (a wrong
		// address or password should), except a slot still held by the
		// connection of a reader that just died: its walsender lets go
		// within moments (the server sees the closed socket), so wait for
		// it a little. The server is reached once the stream ran, or once
		// it said it is shutting down, crashed or starting up (a restart
		// while the first START_REPLICATION was still setting up): from
		// then on a refused connection is the restart, retried.
		reached = reached || everStreamed || serverRestarting(err)
		if cfg.Temporary || !retryable(err) ||
			(!reached && !(errors.Is(err, ErrSlotInUse) && time.Since(begun) < slotInUseGrace)) {
			return err
		}
		// The last attempt got somewhere (changes out, or streaming for a
		// while: a server re-decoding WAL to the resume point sends
		// nothing for a time), so start the backoff over.
		if last != began || (streaming && time.Since(started) > time.Second) || time.Since(started) > cfg.Retry.Max {
			failures = 0
		}
		failures++
		if cfg.Retry.GiveUp(failures) {
			return err
		}
		delay := cfg.Retry.Wait(failures)
		s.mu.Lock()
		s.stats.Reconnects++
		s.stats.LastError = err.Error()
		s.mu.Unlock()
		msg := "postgres connection lost, reconnecting"
		if errors.Is(err, ErrSlotInUse) {
			msg = "postgres slot still held by another connection, waiting for it"
		}
		cfg.Logger.Warn(msg, "slot", cfg.Slot, "after", delay, "position", last.String(), "error", err.Error())
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// errServerEnded: the server closed the replication stream (CopyDone),
// as it does when shutting down.
var errServerEnded = errors.New("postgres: server ended the replication stream")

// retryable reports whether err may go away by reconnecting: the network
// failed, the server is shutting down, restarting or short of connection
// slots, or the slot is still held by our previous, dying connection.
func retryable(err error) bool {
	if err == nil {
		return false
	}
	for _, perm := range []error{ErrAuth, ErrWALLevel, ErrPrivilege, ErrNoPublication, source.ErrPositionLost, ErrSlotMismatch,
		context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, perm) {
			return false
		}
	}
	if errors.Is(err, ErrSlotInUse) || errors.Is(err, errServerEnded) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			serverRestarting(err),
			pgErr.Code == "53300", // too many connections
			pgErr.Code == "55006": // object in use (the slot)
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	return errors.As(err, &connectErr) || pgconn.SafeToRetry(err) || pgconn.Timeout(err)
}

// serverRestarting reports whether err is the server saying it is
// shutting down, has crashed or is starting up (SQLSTATE 57P01, 57P02,
// 57P03).
func serverRestarting(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03")
}

// streamOnce is one connection's worth of Stream: it connects, checks,
// starts replication after from and streams until something fails.
// streaming reports whether START_REPLICATION succeeded. A retry keeps the
// acknowledged position and counters of the attempts before it.
//
// A zero *start with Config.Start set to source.StartLatest is set to the
// current end of WAL, once: later attempts resume there.
func (s *Source) streamOnce(ctx context.Context, start *change.Position, emit func([]change.Change) error, retry bool, started *time.Time) (streaming bool, err error) {
	cfg := s.cfg
	catConn, err := connect(ctx, cfg.Conn, false)
	if err != nil {
		return false, err
	}
	defer closeConn(catConn)
	cat := newCatalog(catConn)
	info, err := preflight(ctx, cat)
	if err != nil {
		return false, err
	}
	if err := ensurePublication(ctx, cat, cfg); err != nil {
		return false, err
	}
	repl, replBuf, err := connectReplication(ctx, cfg.Conn)
	if err != nil {
		return false, err
	}
	defer closeConn(repl)
	s.noteSecurity(catConn, repl)
	if err := ensureSlot(ctx, cat, repl, cfg, info.database); err != nil {
		return false, err
	}
	if start.IsZero() && cfg.Start == source.StartLatest {
		lsn, err := currentLSN(ctx, cat)
		if err != nil {
			return false, err
		}
		*start = change.Position{Flavor: change.FlavorLSN, Offset: lsn}
		cfg.Logger.Info("postgres: starting at the current end of WAL (from=latest), skipping what the slot holds",
			"slot", cfg.Slot, "lsn", formatLSN(lsn))
	}
	from := *start
	if !from.IsZero() {
		si, err := lookupSlot(ctx, cat, cfg.Slot)
		if err != nil {
			return false, err
		}
		if si.confirmed > from.Offset {
			return false, fmt.Errorf("postgres: %w: slot %q confirmed_flush_lsn is %s, resume position is %s", source.ErrPositionLost,
				cfg.Slot, formatLSN(si.confirmed), formatLSN(from.Offset))
		}
	}
	proto := protoVersion(info.version, cfg.ProtoVersion)
	binaryValues := cfg.Binary && info.version >= 140000 && !s.noBinary.Load()
	if err := startReplication(ctx, repl, cfg, proto, binaryValues, from.Offset); err != nil {
		return false, err
	}
	*started = time.Now()
	spill, err := newSpillStore(cfg.SpillDir, cfg.MemoryBytes)
	if err != nil {
		return true, err
	}
	defer spill.close()

	s.mu.Lock()
	flushed := s.acked.Offset
	s.stats.Proto, s.stats.Streaming, s.stats.Binary = proto, proto >= 2 && cfg.Streaming, binaryValues
	base := s.stats
	s.mu.Unlock()

	st := &streamer{
		src:    s,
		status: &statusWriter{conn: repl},
		base:   base,
		dec: &decoder{
			cat:      cat,
			rels:     make(map[uint32]*relation),
			spill:    spill,
			from:     from,
			messages: cfg.Messages,
			now:      time.Now,
			out:      &batcher{max: cfg.BatchSize, emit: emit, last: from},
		},
	}
	st.flushed.Store(flushed)
	return true, st.run(ctx, repl, replBuf)
}

// closeConn closes a connection, giving the server a few seconds to take
// the goodbye.
func closeConn(c *pgconn.PgConn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.Close(ctx)
}

// streamer is one Stream call: a reader goroutine that owns receiving and
// answers keepalives at once, and the calling goroutine that decodes,
// emits and reports progress.
type streamer struct {
	src     *Source
	status  *statusWriter
	dec     *decoder
	base    Stats         // counters of the attempts before this one
	flushed atomic.Uint64 // flush LSN last reported (never past an acknowledged position)

	messages      uint64 // pgoutput messages received
	walEnd        uint64 // latest WAL end from a keepalive
	lastHeartbeat time.Time
	lastStatus    time.Time
}

func (st *streamer) run(ctx context.Context, repl *pgconn.PgConn, replBuf *bufio.Reader) error {
	ctx, cancel := context.WithCancel(ctx)
	in := make(chan []inbound, chunkQueue)
	free := make(chan []inbound, chunkQueue+2)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		st.read(ctx, repl, replBuf, in, free)
	}()
	defer func() {
		cancel()
		wg.Wait()
	}()

	tick := time.NewTicker(heartbeatEvery / 2)
	defer tick.Stop()
	cfg := st.src.cfg
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case chunk := <-in:
			if err := st.chunk(ctx, chunk, free); err != nil {
				return err
			}
			// Drain what is already queued before emitting, so that a
			// burst becomes one batch and a lone change leaves at once.
			for drained := false; !drained; {
				select {
				case chunk := <-in:
					if err := st.chunk(ctx, chunk, free); err != nil {
						return err
					}
				default:
					drained = true
				}
			}
			if err := st.emitPending(); err != nil {
				return err
			}
		case <-st.src.ackSig:
			if err := st.report(false); err != nil {
				return err
			}
		case now := <-tick.C:
			if err := st.maybeHeartbeat(now); err != nil {
				return err
			}
			if now.Sub(st.lastStatus) >= cfg.StatusInterval {
				if err := st.report(true); err != nil {
					return err
				}
			}
		}
	}
}

// chunk handles the messages of one chunk from the reader in order and
// returns the emptied chunk to free for reuse.
func (st *streamer) chunk(ctx context.Context, chunk []inbound, free chan<- []inbound) error {
	for i := range chunk {
		if err := st.inbound(ctx, chunk[i]); err != nil {
			return err
		}
	}
	clear(chunk) // drop references to message memory
	select {
	case free <- chunk[:0]:
	default:
	}
	return nil
}

// inbound handles one message from the reader.
func (st *streamer) inbound(ctx context.Context, msg inbound) error {
	switch {
	case msg.err != nil:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return msg.err
	case msg.keepalive:
		if msg.walEnd > st.walEnd {
			st.walEnd = msg.walEnd
		}
		st.src.mu.Lock()
		st.src.stats.WALEnd = st.walEnd
		st.src.mu.Unlock()
		return st.maybeHeartbeat(time.Now())
	}
	st.messages++
	if err := st.dec.handle(ctx, msg.data); err != nil {
		return err
	}
	return nil
}

// emitPending hands the collected batch to emit, then lets the decoder
// reuse the row images emit has copied.
func (st *streamer) emitPending() error {
	err := st.dec.out.flush()
	if err == nil {
		st.dec.recycle()
	}
	st.src.mu.Lock()
	st.src.stats.Changes = st.base.Changes + st.dec.out.emitted
	st.src.stats.Messages = st.base.Messages + st.messages
	st.src.stats.Spilled = st.base.Spilled + uint64(st.dec.spill.spills)
	st.src.stats.Streamed = st.base.Streamed + st.dec.streamed
	st.src.mu.Unlock()
	return err
}

// maybeHeartbeat emits a heartbeat at the server's WAL end when nothing is
// open, so that an idle (or filtered-out) slot follows the server once the
// pipeline saves and acknowledges it, without writing to the source.
func (st *streamer) maybeHeartbeat(now time.Time) error {
	d := st.dec
	if d.busy() || st.walEnd <= d.out.last.Offset || now.Sub(st.lastHeartbeat) < heartbeatEvery {
		return nil
	}
	st.lastHeartbeat = now
	c := change.Change{
		Op:       change.OpHeartbeat,
		Source:   "postgres",
		Pos:      change.Position{Flavor: change.FlavorLSN, Offset: st.walEnd},
		ReadTime: now,
	}
	if err := d.push(c); err != nil {
		return err
	}
	return st.emitPending()
}

// report sends a status update when the acknowledged LSN moved (or always, when forced).
func (st *streamer) report(force bool) error {
	lsn := st.src.ackedLSN()
	if lsn <= st.flushed.Load() && !force {
		return nil
	}
	if lsn > st.flushed.Load() {
		st.flushed.Store(lsn)
	}
	st.lastStatus = time.Now()
	st.src.mu.Lock()
	st.src.stats.Flushed = st.flushed.Load()
	st.src.mu.Unlock()
	return st.status.send(st.flushed.Load(), false)
}

// Chunks of messages go from the reader goroutine to the decoding one.
// A chunk holds what one read from the socket brought (at most chunkMax
// messages or about chunkBytes of payload), so that a goroutine hand-over
// costs per read, not per message; at most chunkQueue chunks wait.
const (
	chunkMax   = 512
	chunkBytes = 256 << 10
	chunkQueue = 8
)

// Coalescing of a steady trickle (see read): a chunk of fewer than
// coalesceBytes sent within coalesceAfter of the one before makes the
// reader wait coalesceWait before reading again. That bounds the delay it
// adds to any change to coalesceWait.
const (
	coalesceBytes = 64 << 10
	coalesceAfter = 2 * time.Millisecond
	coalesceWait  = 500 * time.Microsecond
)

// read receives from the replication connection until ctx ends or it
// fails, and hands the messages to out in chunks: everything the last
// socket read brought goes out together. Keepalives asking for a reply are
// answered here, at once, even while the other goroutine is blocked in
// emit; and while this goroutine itself waits for room in out
// (backpressure), it keeps sending status updates, so the server's
// wal_sender_timeout never fires because the sink is slow. Message bytes
// are cut from large shared blocks, so receiving costs no allocation per
// message. Emptied chunks come back through free.
//
// It reads through the connection's pgproto3.Frontend directly, not
// PgConn.ReceiveMessage, which would set up and tear down a context watch
// for every message; ctx ending sets a past read deadline instead.
func (st *streamer) read(ctx context.Context, conn *pgconn.PgConn, buffered *bufio.Reader, out chan<- []inbound, free <-chan []inbound) {
	const block = 256 << 10
	var slab []byte
	tick := time.NewTicker(st.src.cfg.StatusInterval)
	defer tick.Stop()
	stop := context.AfterFunc(ctx, func() { _ = conn.Conn().SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	var chunk []inbound
	var chunkSize int
	var lastChunk time.Time
	send := func(chunk []inbound) bool {
		for {
			select {
			case out <- chunk:
				return true
			case <-ctx.Done():
				return false
			case <-tick.C:
				if err := st.status.send(st.flushed.Load(), false); err != nil {
					chunk = append(chunk, inbound{err: err})
				}
			}
		}
	}
	// fail hands on what was read before err, then err.
	fail := func(err error) {
		send(append(chunk, inbound{err: err}))
	}
	fe := conn.Frontend()
	lowat := newRcvLowat(conn.Conn())
	for {
		msg, err := fe.Receive()
		if err != nil {
			fail(fmt.Errorf("postgres: receive from replication connection: %w", err))
			return
		}
		var data []byte
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			data = m.Data
		case *pgproto3.ErrorResponse:
			fail(fmt.Errorf("postgres: replication stream: %w", pgconn.ErrorResponseToPgError(m)))
			return
		case *pgproto3.CopyDone:
			fail(errServerEnded)
			return
		}
		if len(data) > 0 {
			switch data[0] {
			case 'k': // primary keepalive: walEnd, time, reply requested
				if len(data) < 18 {
					fail(fmt.Errorf("postgres: keepalive of %d bytes", len(data)))
					return
				}
				walEnd := binary.BigEndian.Uint64(data[1:])
				if walEnd > st.status.received.Load() {
					st.status.received.Store(walEnd)
				}
				if data[17] == 1 {
					if err := st.status.send(st.flushed.Load(), false); err != nil {
						fail(err)
						return
					}
				}
				chunk = append(chunk, inbound{keepalive: true, walEnd: walEnd})
			case 'w': // XLogData: walStart, walEnd, time, payload
				if len(data) < 25 {
					fail(fmt.Errorf("postgres: XLogData of %d bytes", len(data)))
					return
				}
				payload := data[25:]
				var buf []byte
				if len(payload) > block/4 {
					buf = append([]byte(nil), payload...)
				} else {
					if cap(slab)-len(slab) < len(payload) {
						slab = make([]byte, 0, block)
					}
					n := len(slab)
					slab = append(slab, payload...)
					buf = slab[n:len(slab):len(slab)]
				}
				chunk = append(chunk, inbound{data: buf})
				chunkSize += len(buf)
			}
		}
		// Keep collecting while the last read left bytes in the buffers;
		// hand the chunk on before a read that may block.
		more := fe.ReadBufferLen() > 0 || (buffered != nil && buffered.Buffered() > 0)
		if len(chunk) == 0 || (more && len(chunk) < chunkMax && chunkSize < chunkBytes) {
			continue
		}
		if !send(chunk) {
			return
		}
		// A small chunk right after another one means the server is
		// sending a stream of messages a little slower than they are
		// read: wait a moment so that the next read takes many at once,
		// instead of waking this goroutine, the decoder and the sink for
		// every few messages. A lone change after a quiet spell is not
		// delayed. While it waits, the socket's low-water mark is high,
		// so the packets arriving meanwhile (one per message) do not wake
		// the Go runtime's poller either: on the 2-core bench that cut
		// context switches from ~30 k/s to ~6 k/s and this process's CPU
		// by 40 %, CPU the walsender gets instead.
		now := time.Now()
		if chunkSize < coalesceBytes && now.Sub(lastChunk) < coalesceAfter {
			lowat.set(coalesceBytes)
			time.Sleep(coalesceWait)
			lowat.set(1)
		}
		lastChunk = now
		chunkSize = 0
		select {
		case chunk = <-free:
		default:
			chunk = make([]inbound, 0, 64)
		}
	}
}
