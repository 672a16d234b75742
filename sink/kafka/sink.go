package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/format"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// pingTimeout bounds the first contact with the brokers when a sink opens.
const pingTimeout = 30 * time.Second

// Open opens the sink a kafka:// URL names (see ParseURL): a *Sink for
// at-least-once delivery, a *TxSink for exactly-once. It checks that the
// brokers answer and accept the credentials.
func Open(ctx context.Context, raw string) (pipeline.Sink, error) {
	c, err := ParseURL(raw)
	if err != nil {
		return nil, err
	}
	return New(ctx, c)
}

// New opens a sink: a *Sink for at-least-once delivery, a *TxSink for
// exactly-once.
func New(ctx context.Context, cfg Config) (pipeline.Sink, error) {
	if cfg.withDefaults().Delivery == ExactlyOnce {
		return NewTx(ctx, cfg)
	}
	return NewSink(ctx, cfg)
}

// producer is what both sinks share: the admin client, routing, topic
// checks, record encoding and producing a batch.
type producer struct {
	cfg     Config
	admin   *kgo.Client // metadata and topic creation (and at-least-once producing)
	adm     *kadm.Client
	router  *router
	topics  map[string]bool // topics known to exist
	enc     encoder         // the records of a synchronous write
	reuse   bool            // nothing refers to enc's buffers: reuse them
	onePart [1]part         // see one

	promise func(*kgo.Record, error)
	errMu   sync.Mutex
	failed  *kgo.Record
	failErr error
}

// newProducer validates cfg and connects the admin client.
func newProducer(ctx context.Context, cfg Config, opts ...kgo.Opt) (*producer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	p := &producer{cfg: cfg, topics: map[string]bool{}}
	p.router = newRouter(&p.cfg)
	f, err := format.New(cfg.Format, format.Target{Headers: true})
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	p.enc = encoder{cfg: &p.cfg, f: f}
	p.promise = p.recordDone
	cl, err := kgo.NewClient(append(cfg.clientOpts(), opts...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	if err := ping(ctx, cl, &cfg); err != nil {
		cl.Close()
		return nil, err
	}
	p.admin, p.adm = cl, kadm.NewClient(cl)
	return p, nil
}

// ping waits until a broker answers, retrying for up to pingTimeout while
// none is reachable (a cluster restarting): an answer with an error, or a
// connection closed during SASL authentication for a few seconds, fails
// at once.
func ping(ctx context.Context, cl *kgo.Client, cfg *Config) error {
	began := time.Now()
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		pctx, cancel := context.WithTimeout(ctx, pingTimeout)
		err := cl.Ping(pctx)
		cancel()
		if err == nil {
			return nil
		}
		var kerrErr *kerr.Error
		closed := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
		if cfg.SASL != "" && closed && time.Since(began) > 5*time.Second {
			// Some brokers close the connection on a failed SASL
			// exchange instead of answering with an error.
			return fmt.Errorf("kafka: brokers %v closed the connection during sasl=%s authentication of user %q (wrong user, password or mechanism?): %w",
				cfg.Brokers, cfg.SASL, cfg.User, err)
		}
		// A TLS failure (an unknown authority, a refused certificate)
		// does not go away either.
		var certErr *tls.CertificateVerificationError
		tlsFailed := errors.As(err, &certErr) || strings.Contains(err.Error(), "tls: ")
		if errors.As(err, &kerrErr) || tlsFailed || time.Since(began) > pingTimeout || ctx.Err() != nil {
			return fmt.Errorf("kafka: brokers %v: %w", cfg.Brokers, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafka: brokers %v: %w", cfg.Brokers, err)
		case <-time.After(wait):
		}
	}
}

// brokersGone reports whether err is a request's failure to reach the
// brokers, as while the cluster restarts (a connection refused, or closed
// before an answer: kgo then suspects TLS or SASL settings, which the
// open's ping already checked): not an answer with an error, a TLS
// failure or the end of a context.
func brokersGone(err error) bool {
	var kerrErr *kerr.Error
	var certErr *tls.CertificateVerificationError
	return err != nil && !errors.As(err, &kerrErr) && !errors.As(err, &certErr) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// whileBrokersGone runs the request fn, and again while it fails because
// no broker can be reached (brokersGone), for up to pingTimeout, waiting
// between attempts as ping does. fn must be a single request, whose other
// errors are final.
func whileBrokersGone(ctx context.Context, fn func() error) error {
	began := time.Now()
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		err := fn()
		if !brokersGone(err) || time.Since(began) > pingTimeout {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// recordDone is every record's promise of a synchronous write: it keeps
// the first failure.
func (p *producer) recordDone(r *kgo.Record, err error) {
	if err == nil {
		return
	}
	p.errMu.Lock()
	if p.failErr == nil {
		p.failed, p.failErr = r, err
	}
	p.errMu.Unlock()
}

// prepare encodes batch into e's records and makes sure their topics
// exist. reuse says that nothing refers to e's buffers any more.
func (p *producer) prepare(ctx context.Context, e *encoder, batch []change.Change, reuse bool) error {
	if err := p.encode(e, batch, reuse); err != nil {
		return err
	}
	return p.checkTopics(ctx, e)
}

// encode routes batch and encodes it into e's records.
func (p *producer) encode(e *encoder, batch []change.Change, reuse bool) error {
	e.reset(reuse)
	e.routes = slices.Grow(e.routes[:0], len(batch))[:len(batch)]
	var noted []*route
	for i := range batch {
		rt, isNew := p.router.routeOf(&batch[i])
		e.routes[i] = rt
		if isNew {
			noted = append(noted, rt)
		}
	}
	if err := e.encode(batch); err != nil {
		return err
	}
	for j := range e.recs {
		r := &e.recs[j]
		rt := e.routes[e.index[j]]
		if r.Key == nil && !rt.keyless && slices.Contains(noted, rt) {
			if c := &batch[e.index[j]]; c.Op >= change.OpInsert && c.Op <= change.OpDelete {
				rt.keyless = true
				p.cfg.Logger.Info("table without a primary key: its changes carry no message key and go by the keyless partitioner",
					"table", c.Database+"."+c.Table, "topic", r.Topic, "keyless", string(p.cfg.Keyless))
			}
		}
	}
	return nil
}

// checkTopics makes sure the topics of e's records exist (see
// ensureTopics).
func (p *producer) checkTopics(ctx context.Context, e *encoder) error {
	var fresh []string
	for j := range e.recs {
		if t := e.recs[j].Topic; !p.topics[t] && !slices.Contains(fresh, t) {
			fresh = append(fresh, t)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	for _, t := range fresh {
		if err := checkTopicName(t); err != nil {
			return fmt.Errorf("kafka: %w", err)
		}
	}
	return p.ensureTopics(ctx, fresh, nil)
}

// ensureTopics checks that topics exist and creates the missing ones when
// CreateTopics is on (or configs is not nil: the sink's own topics);
// otherwise a missing topic is an error.
func (p *producer) ensureTopics(ctx context.Context, topics []string, configs map[string]*string) error {
	var details kadm.TopicDetails
	err := whileBrokersGone(ctx, func() (err error) {
		details, err = p.adm.ListTopics(ctx, topics...)
		return err
	})
	if err != nil {
		return fmt.Errorf("kafka: look up topics %v: %w", topics, err)
	}
	var missing []string
	for _, t := range topics {
		d, ok := details[t]
		switch {
		case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition):
			missing = append(missing, t)
		case d.Err != nil:
			return fmt.Errorf("kafka: topic %s: %w", t, d.Err)
		default:
			p.topics[t] = true
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if !p.cfg.CreateTopics && configs == nil {
		return fmt.Errorf("kafka: topic %s does not exist: create it, or let sluice create topics with create-topics=on", missing[0])
	}
	partitions, replication := p.cfg.Partitions, p.cfg.Replication
	if configs != nil {
		partitions = 1
	}
	if partitions == 0 {
		partitions = -1
	}
	if replication == 0 {
		replication = -1
	}
	// A retried request may find the topics made by the first: they
	// already exist.
	var resps kadm.CreateTopicResponses
	err = whileBrokersGone(ctx, func() (err error) {
		resps, err = p.adm.CreateTopics(ctx, partitions, replication, configs, missing...)
		return err
	})
	if err != nil {
		return fmt.Errorf("kafka: create topics %v: %w", missing, err)
	}
	for _, t := range missing {
		r, ok := resps[t]
		if ok && r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("kafka: create topic %s: %w", t, r.Err)
		}
		p.topics[t] = true
		p.cfg.Logger.Info("created topic", "topic", t, "partitions", r.NumPartitions, "replication", r.ReplicationFactor)
	}
	return nil
}

// part is a batch and the records an encoder made of it.
type part struct {
	e     *encoder
	batch []change.Change
}

// produce hands the records of parts (and extra, when not nil) to cl and
// waits until every one is acknowledged or failed. The error names the
// first change that failed. One produce runs at a time.
func (p *producer) produce(ctx context.Context, cl *kgo.Client, parts []part, extra *kgo.Record) error {
	for _, pt := range parts {
		for i := range pt.e.recs {
			cl.Produce(ctx, &pt.e.recs[i], p.promise)
		}
	}
	if extra != nil {
		cl.Produce(ctx, extra, p.promise)
	}
	if err := cl.Flush(ctx); err != nil {
		// Records may still be in flight: their buffers stay theirs.
		return fmt.Errorf("kafka: wait for acknowledgements: %w", err)
	}
	if len(parts) == 1 && parts[0].e == &p.enc {
		p.reuse = true
	}
	p.errMu.Lock()
	failed, err := p.failed, p.failErr
	p.failed, p.failErr = nil, nil
	p.errMu.Unlock()
	if err == nil {
		return nil
	}
	if failed != nil && failed == extra {
		return fmt.Errorf("kafka: position record to topic %s: %w", failed.Topic, err)
	}
	return p.recordError(parts, failed, err)
}

// one is parts of the synchronous write's encoder and batch.
func (p *producer) one(batch []change.Change) []part {
	p.onePart[0] = part{&p.enc, batch}
	return p.onePart[:]
}

// recordError describes the failure err of record failed, one of the
// records of parts: which change it holds and, for a record too large,
// its size and the limits. The brokers refuse a record too large with the
// whole record batch it is in, which may hold records of every part: the
// record named is then the largest of that partition.
func (p *producer) recordError(parts []part, failed *kgo.Record, err error) error {
	for _, pt := range parts {
		e := pt.e
		for j := range e.recs {
			if &e.recs[j] != failed {
				continue
			}
			if errors.Is(err, kerr.MessageTooLarge) {
				best, bj, size := pt, j, recordSize(failed)
				for _, o := range parts {
					if k := o.e.largest(failed.Topic, failed.Partition); k >= 0 && recordSize(&o.e.recs[k]) > size {
						best, bj, size = o, k, recordSize(&o.e.recs[k])
					}
				}
				r := &best.e.recs[bj]
				return fmt.Errorf("kafka: %s: record of %d bytes to topic %s is over the topic's max.message.bytes (or the sink's max-message-bytes=%d): %w",
					best.e.describe(best.batch, bj), size, r.Topic, p.cfg.MaxMessageBytes, err)
			}
			return fmt.Errorf("kafka: %s: record to topic %s: %w", e.describe(pt.batch, j), failed.Topic, err)
		}
	}
	return fmt.Errorf("kafka: %w", err)
}

// largest returns the index of e's largest record produced to a
// partition, -1 when none was.
func (e *encoder) largest(topic string, partition int32) int {
	best, size := -1, -1
	for j := range e.recs {
		r := &e.recs[j]
		if r.Topic == topic && r.Partition == partition && recordSize(r) > size {
			best, size = j, recordSize(r)
		}
	}
	return best
}

// recordSize is the bytes of a record's key, value and headers.
func recordSize(r *kgo.Record) int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// close closes the admin client.
func (p *producer) close() { p.admin.Close() }

// Sink is the at-least-once Kafka sink (acks=all, idempotent producer):
// the pipeline checkpoints only what every in-sync replica holds. It is
// both a pipeline.Sink, whose Write produces a batch and waits for it,
// and a pipeline.AsyncSink (run with pipeline.NewAsync, as sluice stream
// does), whose Send encodes the next batches while earlier ones are
// flushed (async.go). One run uses one or the other.
type Sink struct {
	p     *producer
	async flusher // the asynchronous side (async.go)
}

// NewSink opens an at-least-once sink (cfg.Delivery is ignored).
func NewSink(ctx context.Context, cfg Config) (*Sink, error) {
	cfg.Delivery = AtLeastOnce
	cfg = cfg.withDefaults()
	p, err := newProducer(ctx, cfg, cfg.producerOpts("")...)
	if err != nil {
		return nil, err
	}
	s := &Sink{p: p}
	s.initAsync()
	return s, nil
}

// Write produces batch and waits for the brokers' acknowledgement of every
// record. On an error nothing of the batch counts as delivered (some
// records may be in Kafka: they are produced again after a restart).
func (s *Sink) Write(ctx context.Context, batch []change.Change) error {
	if err := s.p.prepare(ctx, &s.p.enc, batch, s.p.reuse); err != nil {
		s.p.reuse = false
		return err
	}
	s.p.reuse = false
	return s.p.produce(ctx, s.p.admin, s.p.one(batch), nil)
}

// Close stops the flusher and closes the client. Records still in
// flight (after a canceled Run) are dropped unacknowledged: they are
// produced again after a restart.
func (s *Sink) Close() error {
	s.stopAsync()
	s.p.close()
	return nil
}
