package canal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/pipeline"
)

// cursor is one (destination, clientId): a pipeline of its own reading the
// destination's source, and Canal's batch bookkeeping over what it
// delivered. It is the pipeline's AsyncSink: every Delivery stays held
// (and counts against the pipeline's queue bound) until the client has
// acknowledged all its changes, so a rollback can hand them out again and
// memory stays bounded whatever the transaction size.
//
// Changes are numbered in delivery order (seq). Everything before ackSeq
// is acknowledged; [ackSeq, fetchSeq) is in outstanding batches, in order;
// [fetchSeq, endSeq) is delivered by the pipeline and not yet fetched.
type cursor struct {
	srv      *Server
	dest     *destination
	clientID string
	log      *slog.Logger

	// life serializes starting and stopping the pipeline.
	life sync.Mutex

	mu       sync.Mutex
	wake     chan struct{} // closed and replaced on every change of state
	filter   string        // the subscription's filter ("" = the destination's)
	subbed   bool          // subscribed in this server's life
	running  bool          // a pipeline is running (or starting)
	gen      int           // incremented per pipeline started
	stop     context.CancelFunc
	done     chan struct{} // closed when the pipeline's Run returned
	failed   error         // why the last pipeline stopped, if it failed
	failedAt time.Time
	slot     int // index among the destination's running cursors

	pending   []held // deliveries not fully acknowledged, in order
	heldSize  int64  // the bytes they count against the queue bound (Delivery.Held)
	ackSeq    uint64
	fetchSeq  uint64
	endSeq    uint64
	batches   []batch
	nextID    int64
	ended     bool  // the pipeline said End
	endErr    error // what it said
	acked     change.Position
	saved     change.Position
	rollbacks int // rollbacks so far: a GET that waited across one answers empty
	taken     int // prepared batches handed out
	conns     int // connections using the cursor
	idle      *time.Timer
}

// held is a Delivery in the cursor, with how many of its changes (from
// the front) are acknowledged.
type held struct {
	d     *pipeline.Delivery
	first uint64
	acked int
	size  int64
}

// batch is a handed-out, unacknowledged range of changes.
type batch struct {
	id       int64
	from, to uint64
	last     change.Position // the position of the last change in it
}

func newCursor(srv *Server, dest *destination, clientID string) *cursor {
	return &cursor{
		srv: srv, dest: dest, clientID: clientID, wake: make(chan struct{}), slot: -1,
		log: srv.log.With("destination", dest.name, "client", clientID),
	}
}

func (c *cursor) signal() {
	close(c.wake)
	c.wake = make(chan struct{})
}

// checkpointID names the cursor's position in the checkpoint store.
func (c *cursor) checkpointID() string { return "canal/" + c.dest.name + "/" + c.clientID }

// --- pipeline.AsyncSink ---

// Send takes a delivery into the cursor. It never blocks: the pipeline's
// queue bound holds back the source until deliveries are released.
func (c *cursor) Send(_ context.Context, d *pipeline.Delivery) error {
	size := d.Held()
	c.mu.Lock()
	c.pending = append(c.pending, held{d: d, first: c.endSeq, size: size})
	c.heldSize += size
	c.endSeq += uint64(len(d.Changes))
	c.signal()
	c.mu.Unlock()
	return nil
}

// End records how the pipeline's input ended.
func (c *cursor) End(err error) {
	c.mu.Lock()
	c.ended, c.endErr = true, err
	c.signal()
	c.mu.Unlock()
}

// Close does nothing: the cursor outlives its pipelines.
func (c *cursor) Close() error { return nil }

// --- pipeline.Metrics ---

// Delivered is not used.
func (c *cursor) Delivered(int, int, int64, time.Duration) {}

// Checkpointed records the position the store now holds.
func (c *cursor) Checkpointed(p change.Position) {
	c.mu.Lock()
	c.saved = p
	c.signal()
	c.mu.Unlock()
}

// --- lifecycle ---

// errStopped is what requests get while the cursor's pipeline stops.
var errStopped = errors.New("the destination's reader stopped")

// ensure starts the cursor's pipeline unless it runs; filter is the
// subscription's (it restarts a pipeline running with another one).
func (c *cursor) ensure(filter string, changeFilter bool) error {
	c.life.Lock()
	defer c.life.Unlock()
	c.mu.Lock()
	if changeFilter && c.running && filter != c.filter {
		c.mu.Unlock()
		c.log.Info("subscription filter changed, restarting the reader from the last acknowledged position", "filter", filter)
		c.stopLocked()
		c.mu.Lock()
	}
	if changeFilter {
		c.filter, c.subbed = filter, true
	}
	if c.running {
		c.mu.Unlock()
		return nil
	}
	if c.failed != nil && time.Since(c.failedAt) < c.srv.cfg.RetryAfter {
		err := c.failed
		c.mu.Unlock()
		return err
	}
	c.mu.Unlock()
	return c.start()
}

// start builds and runs a pipeline; the caller holds life.
func (c *cursor) start() error {
	spec := pipeline.FilterSpec{Include: c.dest.include, Exclude: c.dest.exclude}
	c.mu.Lock()
	if c.filter != "" {
		spec.Include = caseInsensitive(c.filter)
	}
	slot := c.dest.takeSlot()
	c.mu.Unlock()
	raw, err := cursorURL(c.dest.url, c.clientID, slot)
	if err != nil {
		c.dest.freeSlot(slot)
		return err
	}
	ctx, cancel := context.WithCancel(c.srv.ctx)
	src, err := c.srv.open(ctx, raw)
	if err != nil {
		cancel()
		c.dest.freeSlot(slot)
		return fmt.Errorf("destination %s: %w", c.dest.name, err)
	}
	p, err := pipeline.NewAsync(src, c, c.srv.cfg.Store,
		pipeline.WithID(c.checkpointID()), pipeline.WithFilter(spec), pipeline.WithBeginCommit(true),
		pipeline.WithQueueBytes(c.srv.cfg.QueueBytes), pipeline.WithCheckpointInterval(0),
		pipeline.WithMetrics(c), pipeline.WithLogger(c.log))
	if err != nil {
		cancel()
		c.dest.freeSlot(slot)
		return fmt.Errorf("destination %s: %w", c.dest.name, err)
	}
	done := make(chan struct{})
	c.mu.Lock()
	c.reset()
	c.running, c.stop, c.done, c.failed, c.slot = true, cancel, done, nil, slot
	c.gen++
	gen := c.gen
	c.nextID = max(c.nextID, time.Now().UnixMicro())
	c.mu.Unlock()
	c.log.Info("reader started", "source", redacted(raw), "from", "the last acknowledged position, else the source's start")
	go func() {
		defer close(done)
		err := p.Run(ctx)
		c.mu.Lock()
		if c.gen == gen {
			c.running = false
			if err != nil {
				c.failed, c.failedAt = err, time.Now()
			}
			c.reset()
			c.signal()
		}
		c.mu.Unlock()
		c.dest.freeSlot(slot)
		if err != nil {
			c.log.Error("reader stopped", "err", c.srv.redactErr(err))
		} else {
			c.log.Info("reader stopped")
		}
	}()
	return nil
}

// reset forgets the deliveries and batches of a stopped pipeline (they
// are read again from the saved position); the caller holds mu.
func (c *cursor) reset() {
	for _, h := range c.pending {
		h.d.Release()
	}
	clear(c.pending)
	c.pending, c.batches, c.heldSize = c.pending[:0], nil, 0
	c.ackSeq, c.fetchSeq, c.endSeq = 0, 0, 0
	c.ended, c.endErr = false, nil
	c.acked, c.saved = change.Position{}, change.Position{}
}

// stopLocked stops the pipeline and waits for it; the caller holds life.
func (c *cursor) stopLocked() {
	c.mu.Lock()
	stop, done := c.stop, c.done
	c.mu.Unlock()
	if stop == nil {
		return
	}
	stop()
	<-done
}

// shutdown stops the pipeline for good (server close).
func (c *cursor) shutdown() {
	c.life.Lock()
	defer c.life.Unlock()
	c.mu.Lock()
	if c.idle != nil {
		c.idle.Stop()
	}
	c.mu.Unlock()
	c.stopLocked()
}

// attach counts a connection using the cursor.
func (c *cursor) attach() {
	c.mu.Lock()
	c.conns++
	if c.idle != nil {
		c.idle.Stop()
		c.idle = nil
	}
	c.mu.Unlock()
}

// detach uncounts a connection; the last one leaving starts the idle timer
// after which the pipeline stops (unacknowledged batches are then read
// again by the next reader).
func (c *cursor) detach() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conns--
	if c.conns > 0 || c.srv.cfg.IdleStop < 0 {
		return
	}
	c.idle = time.AfterFunc(c.srv.cfg.IdleStop, func() {
		c.life.Lock()
		defer c.life.Unlock()
		c.mu.Lock()
		idle := c.conns == 0 && c.running
		c.mu.Unlock()
		if idle {
			c.log.Info("no client for a while, stopping the reader", "after", c.srv.cfg.IdleStop)
			c.stopLocked()
		}
	})
}

// --- Canal operations ---

// getRequest is a GET: at most max entries and about maxBytes of them;
// wait says how long to wait for max entries (0: answer at once with what
// is there; negative: until there are max).
type getRequest struct {
	max      int
	maxBytes int
	wait     time.Duration
}

// answer is a MESSAGES packet answering a GET, and what must hold
// before its last byte goes out.
type answer struct {
	b  []byte
	id int64 // the batch, -1 for none
	// acked is the acknowledged position the store must hold before the
	// client may have the answer (zero: none); gen is the pipeline it
	// belongs to.
	acked change.Position
	gen   int
	pre   bool // b is the prepared batch's
}

// get answers r with a MESSAGES packet appended to dst: a new batch of the
// entries after the last handed-out one, or batch id -1 when there are
// none. It waits as r says. The batch is pre, when pre was prepared for
// this very answer (see prepare), else built here. The caller sends the
// answer's last byte only once waitSaved says that the acknowledgements
// received before the request are saved.
func (c *cursor) get(ctx context.Context, r getRequest, enc *entryEncoder, dst []byte, pre *prepared) (answer, error) {
	var deadline <-chan time.Time
	if r.wait > 0 {
		t := time.NewTimer(r.wait)
		defer t.Stop()
		deadline = t.C
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rollbacks := c.rollbacks
	for {
		if err := c.usableLocked(); err != nil {
			return answer{}, err
		}
		avail := int(min(c.endSeq-c.fetchSeq, 1<<30))
		// The wait ends early when the cursor holds half the queue bound:
		// no more deliveries come until the client acknowledges.
		if r.wait == 0 || avail >= r.max || c.ended || len(c.batches) >= c.srv.cfg.MaxBatches ||
			c.heldSize*2 >= c.srv.cfg.QueueBytes {
			break
		}
		w := c.wake
		c.mu.Unlock()
		select {
		case <-w:
		case <-deadline:
			r.wait = 0
		case <-ctx.Done():
			c.mu.Lock()
			return answer{}, ctx.Err()
		}
		c.mu.Lock()
	}
	a := answer{id: -1, acked: c.acked, gen: c.gen}
	// A rollback while this GET waited (another connection of the same
	// client id, after this one's client vanished) wins: nothing is handed
	// out to a request older than it.
	switch {
	case len(c.batches) >= c.srv.cfg.MaxBatches || c.fetchSeq == c.endSeq || c.rollbacks != rollbacks:
		if len(c.batches) >= c.srv.cfg.MaxBatches {
			c.log.Warn("GET refused: too many unacknowledged batches", "batches", len(c.batches))
		}
		a.b = appendEmptyMessages(dst)
	case c.takeLocked(pre, r):
		a.b, a.id, a.pre = pre.b, pre.id, true
	default:
		a.b, a.id = c.fetchLocked(r, enc, dst)
	}
	return a, nil
}

// usableLocked returns why the cursor cannot serve, if it cannot.
func (c *cursor) usableLocked() error {
	switch {
	case c.running:
		return nil
	case c.failed != nil:
		return c.failed
	}
	return errStopped
}

// saved reports whether the store holds acknowledged position acked (of
// pipeline gen), or why it never will.
func (c *cursor) savedLocked(acked change.Position, gen int) (bool, error) {
	if acked.IsZero() {
		return true, nil
	}
	if err := c.usableLocked(); err != nil {
		return false, err
	}
	if c.gen != gen {
		return false, errStopped
	}
	return change.Compare(c.saved, acked) >= 0, nil
}

// isSaved reports whether a's acknowledgements are saved already.
func (c *cursor) isSaved(a answer) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ok, _ := c.savedLocked(a.acked, a.gen)
	return ok
}

// waitSaved waits until the store holds the acknowledged position a
// needs, at most SaveTimeout.
func (c *cursor) waitSaved(ctx context.Context, a answer) error {
	timeout := time.NewTimer(c.srv.cfg.SaveTimeout)
	defer timeout.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		ok, err := c.savedLocked(a.acked, a.gen)
		if ok || err != nil {
			return err
		}
		w := c.wake
		c.mu.Unlock()
		select {
		case <-w:
		case <-timeout.C:
			c.mu.Lock()
			return fmt.Errorf("acknowledged position %s not saved within %v", a.acked, c.srv.cfg.SaveTimeout)
		case <-ctx.Done():
			c.mu.Lock()
			return ctx.Err()
		}
		c.mu.Lock()
	}
}

// fetchLocked appends a MESSAGES packet of the next entries and records
// the batch; the caller holds mu.
func (c *cursor) fetchLocked(r getRequest, enc *entryEncoder, dst []byte) ([]byte, int64) {
	id := c.nextID
	bt := encodeBatch(dst, c.pending[c.heldIndex(c.fetchSeq):], c.fetchSeq, r, enc, id)
	if bt.entries == 0 {
		// Only changes that are no entries. With no batch outstanding they
		// are acknowledged now; else they wait for the acknowledgements.
		if len(c.batches) == 0 {
			c.ackRangeLocked(c.fetchSeq, bt.to, bt.last)
			c.fetchSeq = bt.to
		}
		return appendEmptyMessages(dst), -1
	}
	c.nextID++
	c.batches = append(c.batches, batch{id: id, from: c.fetchSeq, to: bt.to, last: bt.last})
	c.fetchSeq = bt.to
	return bt.b, id
}

// built is a MESSAGES packet of a batch, as encodeBatch built it.
type built struct {
	b       []byte // the packet, from the caller's dst on
	idAt    int    // where in b the batch id's varint is
	entries int
	to      uint64          // the sequence number after the batch's last change
	last    change.Position // the position of its last change
	full    bool            // it stopped at the request's entries or bytes, not at the changes held
}

// encodeBatch appends to dst a MESSAGES packet with batch id id of the
// entries of hs (deliveries held, in order) from sequence number from, as
// many as r allows. It reads the deliveries' changes only, so it may run
// without the cursor's lock over a copy of its pending list.
func encodeBatch(dst []byte, hs []held, from uint64, r getRequest, enc *entryEncoder, id int64) built {
	start := len(dst)
	// Room for the frame and Packet header, written once the size is known.
	const room = 4 + 2 + 2 + 1 + 5
	for range room {
		dst = append(dst, 0)
	}
	body := len(dst)
	dst = protowire.AppendTag(dst, fMessagesBatchID, protowire.VarintType)
	dst = protowire.AppendVarint(dst, uint64(id))
	bt := built{to: from}
	seq := from
	i := 0
	for ; i < len(hs) && bt.entries < r.max && len(dst)-body < r.maxBytes; i++ {
		h := &hs[i]
		for k := int(seq - h.first); k < len(h.d.Changes) && bt.entries < r.max && len(dst)-body < r.maxBytes; {
			mark := len(dst)
			dst = protowire.AppendTag(dst, fMessagesMessages, protowire.BytesType)
			var m lenMark
			dst, m = appendLenBegin(dst, 3)
			var n int
			var ok bool
			if dst, n, ok = enc.appendEntry(dst, h.d.Changes[k:]); ok {
				dst = appendLenEnd(dst, m)
				bt.entries++
			} else {
				dst = dst[:mark] // not an entry (a heartbeat): acknowledged with the batch
			}
			bt.last = h.d.Changes[k+n-1].Pos
			k += n
			seq += uint64(n)
		}
	}
	bt.to = seq
	bt.full = bt.entries >= r.max || len(dst)-body >= r.maxBytes
	// Write the header right before the body, then move the packet to start.
	var hb [room]byte
	hdr := appendPacketHeader(hb[:0], pktMessages, len(dst)-body)
	off := body - len(hdr)
	copy(dst[off:], hdr)
	n := copy(dst[start:], dst[off:])
	bt.b = dst[:start+n]
	bt.idAt = start + len(hdr) + 1
	return bt
}

// heldIndex returns the index in pending of the delivery holding seq.
func (c *cursor) heldIndex(seq uint64) int {
	for i := range c.pending {
		h := &c.pending[i]
		if seq < h.first+uint64(len(h.d.Changes)) {
			return i
		}
	}
	return len(c.pending)
}

// prepared is a batch built ahead, while the client decodes the previous
// one, for the connection's next GET: the entries after the batch just
// handed out, for a request like the last one. It is handed out only if
// nothing changed meanwhile (takeLocked), else built again.
type prepared struct {
	c    *cursor
	r    getRequest
	done chan struct{} // closed once built
	built
	from      uint64
	id        int64
	gen       int
	rollbacks int
}

// prepare starts building, in a goroutine of its own with enc and dst,
// the batch that the next request like r would get from the changes held
// now, and returns it; nil when there are none.
func (c *cursor) prepare(r getRequest, enc *entryEncoder, dst []byte) *prepared {
	c.mu.Lock()
	if !c.running || c.fetchSeq == c.endSeq {
		c.mu.Unlock()
		return nil
	}
	p := &prepared{c: c, r: r, done: make(chan struct{}), from: c.fetchSeq, id: c.nextID, gen: c.gen, rollbacks: c.rollbacks}
	hs := slices.Clone(c.pending[c.heldIndex(c.fetchSeq):])
	c.mu.Unlock()
	go func() {
		defer close(p.done)
		p.built = encodeBatch(dst, hs, p.from, r, enc, p.id)
	}()
	return p
}

// takeLocked hands out the prepared batch p, if it is what r would get
// now: built for the same request from the same place of the same
// pipeline, no rollback since, and full (a batch that is not full might
// have taken changes that came since). The caller holds mu and has
// waited for p.done.
func (c *cursor) takeLocked(p *prepared, r getRequest) bool {
	if p == nil || p.c != c || p.r.max != r.max || p.r.maxBytes != r.maxBytes || p.gen != c.gen || p.rollbacks != c.rollbacks ||
		p.from != c.fetchSeq || !p.full || p.entries == 0 {
		return false
	}
	if p.id != c.nextID {
		// Another batch went out meanwhile (another connection of the
		// client id): the id in the packet changes, in place if its
		// varint keeps its length.
		if protowire.SizeVarint(uint64(p.id)) != protowire.SizeVarint(uint64(c.nextID)) {
			return false
		}
		protowire.AppendVarint(p.b[p.idAt:p.idAt], uint64(c.nextID))
		p.id = c.nextID
	}
	c.nextID++
	c.batches = append(c.batches, batch{id: p.id, from: p.from, to: p.to, last: p.last})
	c.fetchSeq = p.to
	c.taken++
	return true
}

// appendEmptyMessages appends the answer to a GET with nothing to deliver.
func appendEmptyMessages(dst []byte) []byte {
	var body [11]byte
	none := int64(-1)
	b := protowire.AppendTag(body[:0], fMessagesBatchID, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(none))
	return appendPacket(dst, pktMessages, b)
}

// ack acknowledges batch id, which must be the oldest outstanding one.
func (c *cursor) ack(id int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.batches) == 0 || !c.hasBatch(id) {
		return fmt.Errorf("ack error , clientId:%s batchId:%d is not exist , please check", c.clientID, id)
	}
	if c.batches[0].id != id {
		return fmt.Errorf("batchId:%d is not the firstly:%d", id, c.batches[0].id)
	}
	b := c.batches[0]
	c.batches = c.batches[1:]
	c.ackRangeLocked(b.from, b.to, b.last)
	return nil
}

func (c *cursor) hasBatch(id int64) bool {
	for _, b := range c.batches {
		if b.id == id {
			return true
		}
	}
	return false
}

// ackRangeLocked acknowledges changes [from, to) (from == ackSeq) to the
// pipeline and releases the deliveries it completes.
func (c *cursor) ackRangeLocked(from, to uint64, last change.Position) {
	for len(c.pending) > 0 && from < to {
		h := &c.pending[0]
		n := uint64(len(h.d.Changes))
		end := min(to, h.first+n)
		if end == h.first+n {
			h.d.Ack()
		} else {
			for s := from; s < end; s++ {
				h.d.AckAt(h.d.Changes[s-h.first].Pos)
			}
		}
		h.acked = int(end - h.first)
		from = end
		if uint64(h.acked) == n {
			h.d.Release()
			c.heldSize -= h.size
			c.pending[0] = held{}
			c.pending = c.pending[1:]
		}
	}
	c.ackSeq = to
	if !last.IsZero() {
		c.acked = last
	}
	c.signal()
}

// rollback hands out again everything not acknowledged: all batches
// (id 0) or batch id, which must be the oldest outstanding, and all after it.
func (c *cursor) rollback(id int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if id != 0 {
		if !c.hasBatch(id) {
			return fmt.Errorf("rollback error, clientId:%s batchId:%d is not exist , please check", c.clientID, id)
		}
		if c.batches[0].id != id {
			return fmt.Errorf("batchId:%d is not the firstly:%d", id, c.batches[0].id)
		}
	}
	c.batches = nil
	c.fetchSeq = c.ackSeq
	c.rollbacks++
	c.signal()
	return nil
}

// unfetch forgets batch id if it is the newest outstanding one: its
// answer could not be sent, so its entries go out again with the next GET.
func (c *cursor) unfetch(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.batches); n > 0 && c.batches[n-1].id == id {
		c.fetchSeq = c.batches[n-1].from
		c.batches = c.batches[:n-1]
		c.signal()
	}
}
