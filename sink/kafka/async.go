package kafka

import (
	"context"
	"sync"

	"github.com/sluice-cdc/sluice/pipeline"
)

// The at-least-once Sink is a pipeline.AsyncSink: Send encodes a
// Delivery's changes into records in a flight of its own (Config.InFlight
// flights) and queues it, and one goroutine, the flusher, produces the
// queued flights and flushes them: each flush takes every flight queued
// when it begins, so the brokers get record batches as large as a
// synchronous write of that many changes would make, while the next
// batches are encoded. Once a flush returns, its deliveries are
// acknowledged (every record is in Kafka) or the first is failed with the
// change the brokers refused. The pipeline saves only the acknowledged
// prefix: a flush waiting for a slow or stalled partition holds the
// checkpoint back. Partitions keep the order the records were produced in:
// one flush at a time, in order, on an idempotent producer. After a failed
// flush nothing queued is produced.

// flight is one Delivery encoded and waiting for, or in, its flush.
type flight struct {
	enc encoder
	d   *pipeline.Delivery
}

// flusher is the Sink's asynchronous side.
type flusher struct {
	free   chan *flight
	queue  chan *flight
	ctx    context.Context // the records' context, canceled by Close
	cancel context.CancelFunc
	done   chan struct{} // closed when the flusher ends
	firstError
	closing chan struct{} // closed by Close
	started sync.Once
}

// initAsync makes the flights.
func (s *Sink) initAsync() {
	a := &s.async
	n := s.p.cfg.InFlight
	a.free = make(chan *flight, n)
	a.queue = make(chan *flight, n)
	a.done = make(chan struct{})
	a.failed = make(chan struct{})
	a.closing = make(chan struct{})
	a.ctx, a.cancel = context.WithCancel(context.Background())
	for range n {
		a.free <- &flight{enc: encoder{cfg: &s.p.cfg, f: s.p.enc.f}}
	}
}

// flush produces and flushes the queued flights until Close.
func (s *Sink) flush() {
	a := &s.async
	defer close(a.done)
	var group []*flight
	var parts []part
	for {
		var ok bool
		if group, ok = gather(a.queue, a.closing, group); !ok {
			return
		}
		if s.failure() == nil {
			parts = parts[:0]
			for _, g := range group {
				parts = append(parts, part{&g.enc, g.d.Changes})
			}
			// The sink's own context: records are not failed when the
			// pipeline stops (a canceled Run saves only what was
			// acknowledged), only when the sink closes.
			err := s.p.produce(a.ctx, s.p.admin, parts, nil)
			switch {
			case err == nil:
				for _, g := range group {
					g.d.Ack()
				}
			case a.ctx.Err() == nil:
				s.fail(err)
				group[0].d.Fail(err)
			}
		}
		// After a failure the flights behind it are only given back.
		for _, g := range group {
			g.d.Release()
			g.d = nil
			a.free <- g
		}
		clear(parts)
	}
}

// fail keeps the first failure and wakes a waiting Send.
func (s *Sink) fail(err error) { s.async.fail(err) }

// failure returns the first failure, or nil.
func (s *Sink) failure() error { return s.async.failure() }

// Send encodes d's changes into a free flight and queues it for the
// flusher, waiting only while every flight is taken (Config.InFlight). It
// returns an error when a change cannot be encoded, a topic is missing,
// or an earlier flush failed.
func (s *Sink) Send(ctx context.Context, d *pipeline.Delivery) error {
	a := &s.async
	a.started.Do(func() { go s.flush() })
	if err := s.failure(); err != nil {
		return err
	}
	var f *flight
	select {
	case f = <-a.free:
	case <-a.failed:
		return s.failure()
	case <-ctx.Done():
		return ctx.Err()
	}
	// The flight is free: nothing refers to its buffers any more. The
	// format's state moves in the order of the changes: Send is called
	// in that order, from one goroutine, and the flusher does not encode.
	if err := s.p.prepare(ctx, &f.enc, d.Changes, true); err != nil {
		a.free <- f
		return err
	}
	f.d = d
	a.queue <- f // never blocks: the queue holds every flight
	return nil
}

// End notes that no Delivery follows; the flusher flushes those queued.
func (s *Sink) End(error) {}

// RecycleReleased marks the Sink as a pipeline.RecyclingSink: a
// Delivery's changes are encoded into records of the sink's own, and
// nothing refers to them once it is acknowledged (or failed) and
// released.
func (s *Sink) RecycleReleased() {}

var _ pipeline.RecyclingSink = (*Sink)(nil)

// stopAsync stops the flusher (Close): a flush in progress fails its
// records, flights still queued are not produced.
func (s *Sink) stopAsync() {
	a := &s.async
	a.cancel()
	close(a.closing)
	started := true
	a.started.Do(func() { started = false })
	if started {
		<-a.done
	}
}
