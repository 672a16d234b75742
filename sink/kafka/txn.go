package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// loadIdle bounds the wait for the next record while Load reads the
// offsets topic up to its last stable offset.
const loadIdle = 15 * time.Second

// TxSink is the exactly-once Kafka sink. It is a pipeline.PositionWriter
// and its own checkpoint.Store (CheckpointStore): every WriteAt produces
// its batch and a record of the position it brings the pipeline to (key:
// the pipeline's name, topic: the compacted offsets topic) in one Kafka
// transaction, so the changes and the position are committed together or
// not at all. Load reads the last committed position back (read_committed),
// after taking over the transactional.id, which fences any other instance
// still producing under it. Save writes a position that only moved
// (changes the filter dropped) in a transaction of its own, and does
// nothing for positions a WriteAt committed.
//
// It is also a pipeline.AsyncSink (txasync.go), which sluice stream runs
// with pipeline.NewAsync: Send encodes each batch while the previous
// one's transaction is at the brokers, and the transactions run one at a
// time, in order, each committing its batch with the position of its last
// change.
//
// The pipeline's name (the id given to Load) names the offsets record and,
// unless Config.TransactionalID is set, the transactional.id
// ("sluice-" + name): Load must come before the first write.
type TxSink struct {
	p *producer

	mu        sync.Mutex // one transaction at a time: WriteAt, Save and the committer
	tx        *kgo.Client
	id, txID  string
	committed change.Position // the last position committed
	offsets   kgo.Record      // the position record, reused

	async txAsync // Send's flights and committer (txasync.go)
}

// NewTx opens an exactly-once sink (cfg.Delivery is ignored). The
// transactional client starts in Load.
func NewTx(ctx context.Context, cfg Config) (*TxSink, error) {
	cfg.Delivery = ExactlyOnce
	p, err := newProducer(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &TxSink{p: p}, nil
}

// CheckpointStore returns s: the offsets topic is where its pipeline's
// position is kept.
func (s *TxSink) CheckpointStore() checkpoint.Store { return s }

// offsetsValue is the value of a position record.
type offsetsValue struct {
	Pipeline string    `json:"pipeline"`
	Position string    `json:"position"`
	Time     time.Time `json:"time"`
}

// Load takes over the transactional.id of pipeline id (fencing a previous
// instance and aborting its open transaction), makes sure the offsets
// topic exists (compacted, one partition), and returns the last position
// committed for id, or an error wrapping checkpoint.ErrNotFound.
func (s *TxSink) Load(ctx context.Context, id string) (change.Position, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tx != nil && id != s.id {
		return change.Position{}, fmt.Errorf("kafka: the sink serves pipeline %q, not %q", s.id, id)
	}
	if s.tx == nil {
		compact := "compact"
		if err := s.p.ensureTopics(ctx, []string{s.p.cfg.OffsetsTopic}, map[string]*string{"cleanup.policy": &compact}); err != nil {
			return change.Position{}, err
		}
		txID := s.p.cfg.TransactionalID
		if txID == "" {
			txID = "sluice-" + id
		}
		cl, err := kgo.NewClient(append(s.p.cfg.clientOpts(), s.p.cfg.producerOpts(txID)...)...)
		if err != nil {
			return change.Position{}, fmt.Errorf("kafka: %w", err)
		}
		// Initializing the producer id bumps the epoch of txID: an older
		// producer is fenced and its open transaction aborted, so what
		// is read below is final.
		err = whileBrokersGone(ctx, func() error {
			_, _, err := cl.ProducerID(ctx)
			return err
		})
		if err != nil {
			cl.Close()
			return change.Position{}, fmt.Errorf("kafka: take over transactional.id %s: %w", txID, err)
		}
		s.tx, s.id, s.txID = cl, id, txID
	}
	pos, err := s.readPosition(ctx, id)
	if err != nil {
		return change.Position{}, err
	}
	s.committed = pos
	if pos.IsZero() {
		return pos, fmt.Errorf("kafka: pipeline %q in topic %s: %w", id, s.p.cfg.OffsetsTopic, checkpoint.ErrNotFound)
	}
	return pos, nil
}

// readPosition reads the offsets topic up to its last stable offset with
// read_committed and returns the last position recorded for id (zero when
// none is).
func (s *TxSink) readPosition(ctx context.Context, id string) (change.Position, error) {
	topic := s.p.cfg.OffsetsTopic
	start, end, err := s.offsetsBounds(ctx)
	if err != nil {
		return change.Position{}, err
	}
	if end <= start {
		return change.Position{}, nil // empty
	}
	cl, err := kgo.NewClient(append(s.p.cfg.clientOpts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Commit markers count: the last offset before the stable end
		// may be one.
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return change.Position{}, fmt.Errorf("kafka: %w", err)
	}
	defer cl.Close()
	var last []byte
	for {
		pctx, cancel := context.WithTimeout(ctx, loadIdle)
		fs := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return change.Position{}, err
		}
		if fs.IsClientClosed() {
			return change.Position{}, errors.New("kafka: offsets reader closed")
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) {
			if ferr == nil && !errors.Is(err, context.DeadlineExceeded) {
				ferr = err
			}
		})
		if ferr != nil {
			return change.Position{}, fmt.Errorf("kafka: read offsets topic %s: %w", topic, ferr)
		}
		if fs.NumRecords() == 0 {
			return change.Position{}, fmt.Errorf("kafka: read offsets topic %s: nothing received for %s before its last stable offset %d", topic, loadIdle, end)
		}
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() && string(r.Key) == id {
				last = r.Value // nil for a tombstone
			}
			if r.Offset >= end-1 {
				done = true
			}
		})
		if done {
			break
		}
	}
	if last == nil {
		return change.Position{}, nil
	}
	var v offsetsValue
	if err := json.Unmarshal(last, &v); err != nil {
		return change.Position{}, fmt.Errorf("kafka: offsets topic %s: record of pipeline %q: %w", topic, id, err)
	}
	pos, err := change.ParsePosition(v.Position)
	if err != nil {
		return change.Position{}, fmt.Errorf("kafka: offsets topic %s: record of pipeline %q: %w", topic, id, err)
	}
	return pos, nil
}

// offsetsBounds returns the start offset and the last stable offset of
// partition 0 of the offsets topic, waiting a little for a topic created
// a moment ago to be known.
func (s *TxSink) offsetsBounds(ctx context.Context) (start, end int64, err error) {
	topic := s.p.cfg.OffsetsTopic
	for wait := 50 * time.Millisecond; ; wait *= 2 {
		var starts, ends kadm.ListedOffsets
		err = whileBrokersGone(ctx, func() (err error) {
			starts, err = s.p.adm.ListStartOffsets(ctx, topic)
			return err
		})
		if err == nil {
			err = whileBrokersGone(ctx, func() (err error) {
				ends, err = s.p.adm.ListCommittedOffsets(ctx, topic)
				return err
			})
		}
		if err == nil {
			err = starts.Error()
		}
		if err == nil {
			err = ends.Error()
		}
		if err == nil {
			so, ok := starts.Lookup(topic, 0)
			eo, ok2 := ends.Lookup(topic, 0)
			if ok && ok2 {
				return so.Offset, eo.Offset, nil
			}
			err = fmt.Errorf("no partition 0: %w", kerr.UnknownTopicOrPartition)
		}
		if !errors.Is(err, kerr.UnknownTopicOrPartition) || wait > 5*time.Second {
			return 0, 0, fmt.Errorf("kafka: offsets topic %s: %w", topic, err)
		}
		select {
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// Save commits p as pipeline id's position when a WriteAt has not already
// committed it (p only moved past changes nobody sees).
func (s *TxSink) Save(ctx context.Context, id string, p change.Position) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tx == nil || id != s.id {
		return fmt.Errorf("kafka: save position of pipeline %q: the sink was not loaded for it", id)
	}
	if change.Compare(p, s.committed) <= 0 {
		return nil
	}
	return s.commit(ctx, nil, p)
}

// Write is WriteAt without a position.
func (s *TxSink) Write(ctx context.Context, batch []change.Change) error {
	return s.WriteAt(ctx, batch, change.Position{})
}

// WriteAt produces batch and, when through is not zero, the position
// record in one transaction, and returns once it is committed. A batch
// without changes only notes the position, which the next transaction (or
// Save) commits.
func (s *TxSink) WriteAt(ctx context.Context, batch []change.Change, through change.Position) error {
	if len(batch) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tx == nil {
		return errTxNotLoaded
	}
	return s.commit(ctx, batch, through)
}

// txRetryFor is how long a failing transaction is retried (a broker
// restarting, a connection cut) before the error stops the pipeline.
const txRetryFor = 2 * time.Minute

// commit runs the transaction of batch and through, retrying it after a
// failure that a new attempt may overcome. The batch is encoded once (a
// format keeps state across changes: Debezium's transaction counters);
// a retry produces records built again from the same messages. Before
// each retry it reads the committed position back: a commit whose answer
// was lost but which took effect is not repeated.
func (s *TxSink) commit(ctx context.Context, batch []change.Change, through change.Position) error {
	err := s.p.encode(&s.p.enc, batch, s.p.reuse)
	s.p.reuse = false
	if err != nil {
		return err
	}
	return s.commitEncoded(ctx, s.p.one(batch), through)
}

// commitEncoded is commit of the records encoded in parts, all in one
// transaction.
func (s *TxSink) commitEncoded(ctx context.Context, parts []part, through change.Position) error {
	began := time.Now()
	for wait := 200 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		var err error
		for _, pt := range parts {
			if err = s.p.checkTopics(ctx, pt.e); err != nil {
				break
			}
		}
		if err == nil {
			if err = s.transact(ctx, parts, through); err == nil {
				return nil
			}
		}
		if through.IsZero() || !retriable(err) || ctx.Err() != nil || time.Since(began) > txRetryFor {
			return err
		}
		s.p.cfg.Logger.Warn("transaction failed, retrying", "error", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		pos, rerr := s.readPosition(ctx, s.id)
		if rerr == nil && pos == through {
			s.p.cfg.Logger.Info("the failed transaction's commit had taken effect", "position", through.String())
			s.committed = through
			return nil
		}
		for _, pt := range parts {
			pt.e.rebuild(pt.batch)
		}
	}
}

// retriable reports whether a new transaction may succeed where err failed:
// not for a record too large, a fenced producer, or a canceled write.
func retriable(err error) bool {
	return !errors.Is(err, kerr.MessageTooLarge) && !errors.Is(err, kerr.ProducerFenced) &&
		!errors.Is(err, kerr.InvalidProducerEpoch) && !errors.Is(err, context.Canceled) &&
		!errors.Is(err, kerr.TopicAuthorizationFailed) && !errors.Is(err, kerr.TransactionalIDAuthorizationFailed)
}

// transact runs one transaction: the records of parts and the position
// record of through (when not zero).
func (s *TxSink) transact(ctx context.Context, parts []part, through change.Position) error {
	if err := s.tx.BeginTransaction(); err != nil {
		return s.txError("begin transaction", err)
	}
	var extra *kgo.Record
	if !through.IsZero() {
		val, err := json.Marshal(offsetsValue{Pipeline: s.id, Position: through.String(), Time: time.Now().UTC()})
		if err != nil {
			return fmt.Errorf("kafka: %w", err)
		}
		s.offsets = kgo.Record{Topic: s.p.cfg.OffsetsTopic, Key: []byte(s.id), Value: val}
		extra = &s.offsets
	}
	err := s.p.produce(ctx, s.tx, parts, extra)
	if err == nil {
		if err = s.tx.EndTransaction(ctx, kgo.TryCommit); err == nil {
			if !through.IsZero() {
				s.committed = through
			}
			return nil
		}
		err = s.txError("commit", err)
	} else {
		err = s.explainFence(err)
	}
	// Abort what was produced; a failed abort leaves the transaction to
	// the broker's timeout or the next instance's Load.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if aerr := s.tx.AbortBufferedRecords(actx); aerr == nil {
		_ = s.tx.EndTransaction(actx, kgo.TryAbort)
	}
	return err
}

// txError wraps a transaction error, explaining a fence.
func (s *TxSink) txError(what string, err error) error {
	return s.explainFence(fmt.Errorf("kafka: %s: %w", what, err))
}

// explainFence adds to err, when it says the producer was fenced, who
// fenced it.
func (s *TxSink) explainFence(err error) error {
	if errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) {
		return fmt.Errorf("%w (another sluice took over transactional.id %s: this one is fenced)", err, s.txID)
	}
	return err
}

// Close closes the clients. An open transaction (none, between writes)
// would be aborted by the broker.
func (s *TxSink) Close() error {
	s.stopAsync()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tx != nil {
		s.tx.Close()
	}
	s.p.close()
	return nil
}
