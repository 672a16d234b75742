package kafka

import (
	"context"
	"errors"
	"sync"

	"github.com/sluice-cdc/sluice/pipeline"
)

// errTxNotLoaded is the error of a write before Load.
var errTxNotLoaded = errors.New("kafka: exactly-once: Load was not called: the sink's CheckpointStore must be the pipeline's store")

// The exactly-once TxSink is a pipeline.AsyncSink too: Send encodes a
// Delivery into a flight of its own and queues it, and one goroutine
// commits the queued flights in order, in transactions holding the
// position of their last change, acknowledging each Delivery once its
// transaction is committed. Encoding the next batches thus overlaps the
// brokers' work on the current transaction, while transactions stay one
// at a time and in order; a transaction takes every flight queued when it
// begins, so transactions grow with the load. Positions the pipeline moves
// past without a
// change (changes the filter dropped, hidden commits) reach Save, which
// commits them between transactions. After a failed transaction nothing
// queued behind it is committed: the pipeline stops at the last position
// committed.

// txFlight is a Delivery encoded and waiting for, or in, its transaction.
type txFlight struct {
	enc encoder
	d   *pipeline.Delivery
	ctx context.Context // Send's: the transaction stops when the pipeline does
}

// txAsync is the TxSink's asynchronous side.
type txAsync struct {
	once  sync.Once
	free  chan *txFlight
	queue chan *txFlight
	done  chan struct{} // closed when the committer ends
	firstError
	closing chan struct{} // closed by Close
}

// startAsync makes the flights and starts the committer, once.
func (s *TxSink) startAsync() {
	s.async.once.Do(func() {
		a := &s.async
		n := s.p.cfg.InFlight
		a.free = make(chan *txFlight, n)
		a.queue = make(chan *txFlight, n)
		a.done = make(chan struct{})
		a.failed = make(chan struct{})
		a.closing = make(chan struct{})
		for range n {
			a.free <- &txFlight{enc: encoder{cfg: &s.p.cfg, f: s.p.enc.f}}
		}
		go s.committer()
	})
}

// committer commits the queued flights in order until Close: each
// transaction takes every flight queued when it begins (as the pipeline
// takes every batch queued into one write), so transactions grow with the
// load and their cost is shared.
func (s *TxSink) committer() {
	a := &s.async
	defer close(a.done)
	var group []*txFlight
	var parts []part
	for {
		var ok bool
		if group, ok = gather(a.queue, a.closing, group); !ok {
			return
		}
		last := group[len(group)-1]
		if s.asyncFailure() == nil {
			parts = parts[:0]
			for _, g := range group {
				parts = append(parts, part{&g.enc, g.d.Changes})
			}
			batch := last.d.Changes
			s.mu.Lock()
			err := s.commitEncoded(last.ctx, parts, batch[len(batch)-1].Pos)
			s.mu.Unlock()
			for _, g := range group {
				if err == nil {
					g.d.Ack()
				} else if g == group[0] && last.ctx.Err() == nil {
					s.asyncFail(err)
					g.d.Fail(err)
				}
			}
		}
		// After a failure (or a stop) the flights behind it are only
		// given back: their transactions never begin.
		for _, g := range group {
			g.d.Release()
			g.d, g.ctx = nil, nil
			a.free <- g
		}
		clear(parts)
	}
}

// asyncFail keeps the first failure and wakes a waiting Send.
func (s *TxSink) asyncFail(err error) { s.async.fail(err) }

// asyncFailure returns the first failure, or nil.
func (s *TxSink) asyncFailure() error { return s.async.failure() }

// Send encodes d into a free flight and queues it for its transaction,
// waiting only while every flight is taken (Config.InFlight). It returns
// an error when a change cannot be encoded or an earlier transaction
// failed.
func (s *TxSink) Send(ctx context.Context, d *pipeline.Delivery) error {
	if s.tx == nil {
		return errTxNotLoaded
	}
	s.startAsync()
	a := &s.async
	if err := s.asyncFailure(); err != nil {
		return err
	}
	var f *txFlight
	select {
	case f = <-a.free:
	case <-a.failed:
		return s.asyncFailure()
	case <-ctx.Done():
		return ctx.Err()
	}
	// The encoder's state (Debezium's transaction counters) moves in the
	// order of the changes: Send is called in that order, from one
	// goroutine, and the committer does not encode.
	if err := s.p.encode(&f.enc, d.Changes, true); err != nil {
		a.free <- f
		return err
	}
	// A batch without records (heartbeats) still commits its position.
	f.d, f.ctx = d, ctx
	a.queue <- f // never blocks: the queue holds every flight
	return nil
}

// End notes that no Delivery follows; the committer commits those queued.
func (s *TxSink) End(error) {}

// RecycleReleased marks the TxSink as a pipeline.RecyclingSink: nothing
// refers to a Delivery once it is committed (or failed) and released.
func (s *TxSink) RecycleReleased() {}

var _ pipeline.RecyclingSink = (*TxSink)(nil)

// stopAsync stops the committer (Close): flights still queued are not
// committed.
func (s *TxSink) stopAsync() {
	a := &s.async
	if a.closing == nil {
		return
	}
	close(a.closing)
	<-a.done
}
