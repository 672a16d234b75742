package nats

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/format"
	"github.com/sluice-cdc/sluice/pipeline"
)

// Header names of every message (unless Config.NoHeaders), besides
// JetStream's own.
const (
	HeaderOp       = "op"
	HeaderDB       = "db"
	HeaderTable    = "table"
	HeaderPosition = "position"
)

// connectTimeout bounds the first contact with the servers when a sink
// opens.
const connectTimeout = 30 * time.Second

// Open opens the sink a nats:// URL names (see ParseURL).
func Open(ctx context.Context, raw string) (*Sink, error) {
	c, err := ParseURL(raw)
	if err != nil {
		return nil, err
	}
	return New(ctx, c)
}

// Sink is the NATS JetStream sink: Write publishes a batch and returns
// once JetStream acknowledged every message (stored, or dropped as a
// duplicate of one stored within the stream's duplicate window).
type Sink struct {
	cfg   Config
	nc    *natsgo.Conn
	js    jetstream.JetStream
	store *kvStore // checkpoint=kv, else nil

	dupWindow time.Duration
	subjects  []string        // the stream's subjects
	checked   map[string]bool // subjects known to be the stream's

	f      format.Encoder
	batch  format.Batch
	out    []outMsg
	ids    []byte
	routes map[change.Namespace]string

	mu         sync.Mutex // guards Stats
	duplicates int64
}

// outMsg is one message of a batch, with what a retry needs.
type outMsg struct {
	msg   natsgo.Msg
	id    string
	index int // of its change in the batch
}

// New connects to the servers, checks that the stream exists (creating it
// with CreateStream) and, with Checkpoint "kv", opens the bucket.
func New(ctx context.Context, cfg Config) (*Sink, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("nats: %w", err)
	}
	f, err := format.New(cfg.Format, format.Target{Headers: true})
	if err != nil {
		return nil, fmt.Errorf("nats: %w", err)
	}
	s := &Sink{cfg: cfg, f: f, checked: map[string]bool{}, routes: map[change.Namespace]string{}}
	if s.nc, err = connect(ctx, &s.cfg); err != nil {
		return nil, err
	}
	s.js, err = jetstream.New(s.nc,
		// The sink keeps MaxPending in flight itself; jetstream's own
		// bound is only a backstop.
		jetstream.WithPublishAsyncMaxPending(2*cfg.MaxPending+16),
		jetstream.WithPublishAsyncTimeout(cfg.AckTimeout))
	if err != nil {
		s.nc.Close()
		return nil, fmt.Errorf("nats: %w", err)
	}
	if err := s.openStream(ctx); err != nil {
		s.nc.Close()
		return nil, err
	}
	if cfg.Checkpoint == "kv" {
		if s.store, err = openKV(ctx, s.js, &s.cfg); err != nil {
			s.nc.Close()
			return nil, err
		}
	}
	return s, nil
}

// connect dials the servers, retrying for up to connectTimeout while none
// answers or a handshake is cut (a restarting server); a refused login or
// certificate fails at once.
func connect(ctx context.Context, cfg *Config) (*natsgo.Conn, error) {
	urls := make([]string, len(cfg.Servers))
	for i, h := range cfg.Servers {
		urls[i] = "nats://" + h
	}
	opts := []natsgo.Option{
		natsgo.Name("sluice"),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(250 * time.Millisecond),
		natsgo.Timeout(5 * time.Second),
		natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) {
			if err != nil {
				cfg.Logger.Warn("nats connection lost, reconnecting", "error", err)
			}
		}),
		natsgo.ReconnectHandler(func(nc *natsgo.Conn) {
			cfg.Logger.Info("nats reconnected", "server", nc.ConnectedAddr())
		}),
		natsgo.ErrorHandler(func(_ *natsgo.Conn, _ *natsgo.Subscription, err error) {
			cfg.Logger.Warn("nats", "error", err)
		}),
	}
	switch {
	case cfg.Password != "" || cfg.User != "":
		opts = append(opts, natsgo.UserInfo(cfg.User, cfg.Password))
	case cfg.Token != "":
		opts = append(opts, natsgo.Token(cfg.Token))
	}
	if cfg.Creds != "" {
		opts = append(opts, natsgo.UserCredentials(cfg.Creds))
	}
	if cfg.NKey != "" {
		o, err := natsgo.NkeyOptionFromSeed(cfg.NKey)
		if err != nil {
			return nil, fmt.Errorf("nats: nkey %s: %w", cfg.NKey, err)
		}
		opts = append(opts, o)
	}
	if cfg.TLS != nil {
		opts = append(opts, natsgo.Secure(cfg.TLS.Clone()))
	}
	began := time.Now()
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		nc, err := natsgo.Connect(strings.Join(urls, ","), opts...)
		if err == nil {
			return nc, nil
		}
		// A refused login or certificate does not go away; anything else
		// (no server answering, a connection cut during the handshake)
		// may.
		var certErr *tls.CertificateVerificationError
		msg := strings.ToLower(err.Error())
		fatal := errors.Is(err, natsgo.ErrAuthorization) || strings.Contains(msg, "authorization") || strings.Contains(msg, "authentication") ||
			strings.Contains(msg, "tls") || strings.Contains(msg, "x509") || errors.As(err, &certErr)
		if fatal || time.Since(began) > connectTimeout || ctx.Err() != nil {
			return nil, fmt.Errorf("nats: servers %v: %w", cfg.Servers, explain(err))
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("nats: servers %v: %w", cfg.Servers, err)
		case <-time.After(wait):
		}
	}
}

// explain adds a hint to an authentication error.
func explain(err error) error {
	if errors.Is(err, natsgo.ErrAuthorization) || strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		return fmt.Errorf("%w (check the user and password, token, creds or nkey of the URL)", err)
	}
	return err
}

// openStream looks the stream up (creating it with CreateStream) and
// notes its subjects and duplicate window.
func (s *Sink) openStream(ctx context.Context) error {
	info, err := s.streamInfo(ctx)
	if errors.Is(err, jetstream.ErrStreamNotFound) && s.cfg.CreateStream {
		sc := jetstream.StreamConfig{
			Name:       s.cfg.Stream,
			Subjects:   streamSubjects(s.cfg.Subject, s.cfg.Prefix),
			Storage:    jetstream.FileStorage,
			Duplicates: s.cfg.Duplicates,
		}
		err = retryJS(ctx, func(ctx context.Context) error {
			st, err := s.js.CreateStream(ctx, sc)
			if err == nil {
				info = st.CachedInfo()
			}
			return err
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			info, err = s.streamInfo(ctx) // created by an attempt whose answer was lost
		}
		if err == nil {
			s.cfg.Logger.Info("created stream", "stream", s.cfg.Stream, "subjects", sc.Subjects, "duplicate_window", sc.Duplicates)
		} else {
			return fmt.Errorf("nats: create stream %s with subjects %v: %w", s.cfg.Stream, sc.Subjects, err)
		}
	}
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return fmt.Errorf("nats: stream %s does not exist: create it (nats stream add), or let sluice create it with create-stream=on", s.cfg.Stream)
	case err != nil:
		return fmt.Errorf("nats: stream %s: %w", s.cfg.Stream, explain(err))
	}
	s.subjects, s.dupWindow = info.Config.Subjects, info.Config.Duplicates
	if s.dupWindow <= 0 {
		s.cfg.Logger.Warn("the stream has no duplicate window: messages sent again after a crash are stored again", "stream", s.cfg.Stream)
	} else {
		s.cfg.Logger.Info("publishing to stream: exactly once within its duplicate window", "stream", s.cfg.Stream, "duplicate_window", s.dupWindow)
	}
	return nil
}

// streamInfo reads the stream's information, retrying while the server
// is unreachable or not ready (a cut connection, a server just started).
func (s *Sink) streamInfo(ctx context.Context) (*jetstream.StreamInfo, error) {
	var info *jetstream.StreamInfo
	err := retryJS(ctx, func(ctx context.Context) error {
		st, err := s.js.Stream(ctx, s.cfg.Stream)
		if err == nil {
			info = st.CachedInfo()
		}
		return err
	})
	return info, err
}

// jsAttempt bounds one JetStream API call of the sink's set-up.
const jsAttempt = 5 * time.Second

// retryJS runs f, each attempt with jsAttempt to answer, again while it
// fails for a reason a new attempt may overcome (a connection cut, a
// server restarting, an attempt out of time), for up to connectTimeout.
func retryJS(ctx context.Context, f func(context.Context) error) error {
	began := time.Now()
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		actx, cancel := context.WithTimeout(ctx, jsAttempt)
		err := f(actx)
		cancel()
		again := retriable(err) || errors.Is(err, natsgo.ErrNoResponders) || errors.Is(err, context.DeadlineExceeded)
		if err == nil || !again || ctx.Err() != nil || time.Since(began) > connectTimeout {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// checkSubjectOf makes sure the stream captures subject, reading its
// subjects again once when it seems not to (they may have been changed).
func (s *Sink) checkSubjectOf(ctx context.Context, subject string, c *change.Change) error {
	if s.checked[subject] {
		return nil
	}
	if err := checkSubject(subject); err != nil {
		return fmt.Errorf("nats: %s %s.%s at %s: %w", c.Op, c.Database, c.Table, c.Pos, err)
	}
	for fresh := false; ; fresh = true {
		for _, f := range s.subjects {
			if subjectMatch(f, subject) {
				s.checked[subject] = true
				return nil
			}
		}
		if fresh {
			return fmt.Errorf("nats: %s %s.%s at %s: subject %s is not one of stream %s's subjects %v: add it to the stream, or choose another subject template",
				c.Op, c.Database, c.Table, c.Pos, subject, s.cfg.Stream, s.subjects)
		}
		info, err := s.streamInfo(ctx)
		if err != nil {
			return fmt.Errorf("nats: stream %s: %w", s.cfg.Stream, err)
		}
		s.subjects = info.Config.Subjects
	}
}

// CheckpointStore returns the key-value bucket's store with
// checkpoint=kv, nil otherwise (the pipeline's own store keeps the
// position).
func (s *Sink) CheckpointStore() checkpoint.Store {
	if s.store == nil {
		return nil
	}
	return s.store
}

// DuplicateWindow is the stream's duplicate window: messages sent again
// within it (after a crash, by the same positions) are dropped.
func (s *Sink) DuplicateWindow() time.Duration { return s.dupWindow }

// Duplicates returns how many messages JetStream dropped as duplicates so
// far.
func (s *Sink) Duplicates() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.duplicates
}

// encode builds the messages of batch.
func (s *Sink) encode(ctx context.Context, batch []change.Change) error {
	s.batch.Reset()
	s.out = s.out[:0]
	for i := range batch {
		c := &batch[i]
		if c.Op == change.OpHeartbeat {
			continue
		}
		first := s.batch.Len()
		if err := s.f.Encode(&s.batch, c); err != nil {
			return fmt.Errorf("nats: %w", err)
		}
		n := 0
		var pos string
		for j := first; j < s.batch.Len(); j++ {
			m := &s.batch.Messages[j]
			if m.Value == nil {
				continue // a tombstone: nothing to compact here
			}
			subject := m.Topic
			if subject == "" {
				subject = s.subjectOf(c)
			}
			if err := s.checkSubjectOf(ctx, subject, c); err != nil {
				return err
			}
			s.ids = msgID(s.ids[:0], c.Pos, n)
			n++
			h := make(natsgo.Header, len(m.Headers)+6)
			for _, fh := range m.Headers {
				h[fh.Key] = []string{string(fh.Value)}
			}
			if !s.cfg.NoHeaders {
				if pos == "" {
					pos = c.Pos.String()
				}
				h[HeaderOp] = []string{c.Op.String()}
				h[HeaderDB] = []string{c.Database}
				h[HeaderTable] = []string{c.Table}
				h[HeaderPosition] = []string{pos}
			}
			id := string(s.ids)
			h[jetstream.MsgIDHeader] = []string{id}
			h[jetstream.ExpectedStreamHeader] = []string{s.cfg.Stream}
			s.out = append(s.out, outMsg{msg: natsgo.Msg{Subject: subject, Data: m.Value, Header: h}, id: id, index: i})
		}
	}
	return nil
}

// subjectOf returns the subject of c's table, remembered per namespace.
func (s *Sink) subjectOf(c *change.Change) string {
	ns := c.Namespace
	switch {
	case c.Op == change.OpBegin || c.Op == change.OpCommit:
		ns = change.Namespace{Table: "\x00transaction"}
	case ns.Table == "":
		ns = change.Namespace{Table: "\x00ddl"}
	}
	if subj, ok := s.routes[ns]; ok {
		return subj
	}
	subj := subjectOf(&s.cfg, c)
	s.routes[ns] = subj
	return subj
}

// Write publishes batch and returns once every message is acknowledged.
func (s *Sink) Write(ctx context.Context, batch []change.Change) error {
	if err := s.encode(ctx, batch); err != nil {
		return err
	}
	if len(s.out) == 0 {
		return nil
	}
	if max := s.nc.MaxPayload(); max > 0 {
		for i := range s.out {
			if size := msgSize(&s.out[i].msg); size > max {
				c := &batch[s.out[i].index]
				return fmt.Errorf("nats: %s %s.%s at %s: message of %d bytes is over the server's max_payload of %d bytes",
					c.Op, c.Database, c.Table, c.Pos, size, max)
			}
		}
	}
	return s.publish(ctx, batch)
}

// msgSize is the bytes of a message's payload and headers.
func msgSize(m *natsgo.Msg) int64 {
	n := len(m.Data)
	for k, vs := range m.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return int64(n + 12)
}

// Close closes the connection. Write waits for every acknowledgement, so
// nothing is left in flight.
func (s *Sink) Close() error {
	s.nc.Close()
	return nil
}

// Interface check.
var _ pipeline.Sink = (*Sink)(nil)
