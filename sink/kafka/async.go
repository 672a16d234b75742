package kafka

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The at-least-once Sink is a pipeline.AsyncSink: Send encodes a
// Delivery's changes into records and hands them to the producer without
// waiting, and the records' promises acknowledge the Delivery once every
// one of them is in Kafka. Up to Config.InFlight deliveries are at the
// brokers at once, each with buffers of its own (a flight), so encoding
// the next batch overlaps the brokers' work on the previous ones. The
// pipeline saves only the acknowledged prefix: a Delivery whose records
// wait for a stalled partition holds the checkpoint back, however many
// later ones are acknowledged. Per-partition order holds across
// deliveries: the idempotent producer keeps each partition's records in
// the order they were produced, retries included.

// flight is one Delivery being produced: its records, in buffers of their
// own, and how many of them are not yet acknowledged.
type flight struct {
	s       *Sink
	enc     encoder
	d       *pipeline.Delivery
	left    atomic.Int64
	promise func(*kgo.Record, error)
	busy    bool // its records are at the brokers (guarded by s.flightMu)

	mu      sync.Mutex
	failed  *kgo.Record
	failErr error
}

// done is every record's promise.
func (f *flight) done(r *kgo.Record, err error) {
	if err != nil {
		f.mu.Lock()
		if f.failErr == nil {
			f.failed, f.failErr = r, err
		}
		f.mu.Unlock()
	}
	if f.left.Add(-1) == 0 {
		f.finish()
	}
}

// finish acknowledges (or fails) the flight's Delivery once every record
// is done, and frees the flight for the next one.
func (f *flight) finish() {
	d := f.d
	f.mu.Lock()
	failed, err := f.failed, f.failErr
	f.failed, f.failErr = nil, nil
	f.mu.Unlock()
	switch {
	case err == nil:
		d.Ack()
	case f.s.closing.Load():
		// The client was closed under the records (Run had returned):
		// nothing is acknowledged and nobody waits for an error.
	default:
		err = f.s.recordError(f, failed, err)
		f.s.fail(err)
		d.Fail(err)
	}
	d.Release()
	f.s.flightMu.Lock()
	f.d, f.busy = nil, false
	f.s.flightMu.Unlock()
	f.s.free <- f // never blocks: free holds every flight
}

// recordError describes the failure of record failed of flight f. The
// brokers refuse a record too large with the whole record batch it is in,
// which may hold the records of several flights: the record named is the
// largest one of that partition in any flight at the brokers.
func (s *Sink) recordError(f *flight, failed *kgo.Record, err error) error {
	if !errors.Is(err, kerr.MessageTooLarge) {
		return s.p.recordError(&f.enc, f.d.Changes, failed, err)
	}
	s.flightMu.Lock()
	defer s.flightMu.Unlock()
	best, size := f, -1
	for _, o := range s.flights {
		if !o.busy {
			continue
		}
		if j := o.enc.largest(failed.Topic, failed.Partition); j >= 0 && recordSize(&o.enc.recs[j]) > size {
			best, size = o, recordSize(&o.enc.recs[j])
		}
	}
	j := best.enc.largest(failed.Topic, failed.Partition)
	if j < 0 {
		return s.p.recordError(&f.enc, f.d.Changes, failed, err)
	}
	return s.p.recordError(&best.enc, best.d.Changes, &best.enc.recs[j], err)
}

// initAsync makes the flights.
func (s *Sink) initAsync() {
	n := s.p.cfg.InFlight
	s.free = make(chan *flight, n)
	s.failed = make(chan struct{})
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for range n {
		f := &flight{s: s, enc: encoder{cfg: &s.p.cfg, f: s.p.enc.f}}
		f.promise = f.done
		s.flights = append(s.flights, f)
		s.free <- f
	}
}

// fail keeps the first failure of a record and wakes a waiting Send.
func (s *Sink) fail(err error) {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if s.err == nil {
		s.err = err
		close(s.failed)
	}
}

// failure returns the first failure of a record, or nil.
func (s *Sink) failure() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// Send encodes d's changes and produces them, waiting only for a free
// flight (Config.InFlight deliveries are at the brokers). The records'
// promises acknowledge d once all of them are in Kafka, or fail it. Send
// returns an error when a change cannot be encoded, a topic is missing,
// or a record of an earlier Delivery failed.
func (s *Sink) Send(ctx context.Context, d *pipeline.Delivery) error {
	if err := s.failure(); err != nil {
		return err
	}
	var f *flight
	select {
	case f = <-s.free:
	case <-s.failed:
		return s.failure()
	case <-ctx.Done():
		return ctx.Err()
	}
	// The flight is free: nothing refers to its buffers any more. Its
	// records change under flightMu, which recordError reads them under.
	s.flightMu.Lock()
	err := s.p.prepare(ctx, &f.enc, d.Changes, true)
	n := len(f.enc.recs)
	if err == nil && n > 0 {
		f.d, f.busy = d, true
		f.left.Store(int64(n))
	}
	s.flightMu.Unlock()
	if err != nil {
		s.free <- f
		return err
	}
	if n == 0 { // heartbeats only
		s.free <- f
		d.Ack()
		d.Release()
		return nil
	}
	// The sink's own context: records are not failed when the pipeline
	// stops (a canceled Run saves only what was acknowledged), only when
	// the sink closes. Produce does not block: the flights bound the
	// records buffered far below kgo.MaxBufferedRecords.
	recs := f.enc.recs
	for i := range recs {
		s.p.admin.Produce(s.ctx, &recs[i], f.promise)
	}
	// The last promise may have finished f and freed it: f is not
	// touched after the loop.
	return nil
}

// End notes that no Delivery follows; the promises acknowledge those in
// flight.
func (s *Sink) End(error) {}

// RecycleReleased marks the Sink as a pipeline.RecyclingSink: a
// Delivery's changes are encoded into records of the sink's own, and
// nothing refers to them once it is acknowledged (or failed) and
// released.
func (s *Sink) RecycleReleased() {}

var _ pipeline.RecyclingSink = (*Sink)(nil)
