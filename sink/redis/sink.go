package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/tlsparam"
	"github.com/sluice-cdc/sluice/pipeline"
)

// Open opens the sink a redis:// URL names (see ParseURL).
func Open(ctx context.Context, raw string) (*Sink, error) {
	c, err := ParseURL(raw)
	if err != nil {
		return nil, err
	}
	return New(ctx, c)
}

// Sink is the Redis sink. It is a pipeline.PositionWriter and its own
// checkpoint.Store (CheckpointStore): every WriteAt runs one Lua script
// that checks the stored position, applies the batch and stores the
// position the batch brings the pipeline to, in one atomic step. Load
// reads the position back; Save stores a position that only moved
// (changes the filter dropped). The pipeline's name is the one given to
// Load, which must come before the first write for the position to be
// kept; without it (a pipeline with a store of its own) the sink writes
// no position and a retried write may be applied twice.
type Sink struct {
	cfg       Config
	cl        *goredis.Client
	positions string
	w         writer

	mu        sync.Mutex // one script at a time: WriteAt and Save
	id        string     // the pipeline's name, after Load
	committed change.Position
	head, cmd argv
	call      []any
}

// writer builds the commands of a batch for one mode.
type writer interface {
	// build adds the commands of batch[from:] to s.cmd, up to a change
	// that must be applied on its own (a truncate in hash mode), and
	// returns the index after the last change added.
	build(ctx context.Context, s *Sink, batch []change.Change, from int) (int, error)
	// alone applies batch[i], which build stopped at, outside a script.
	alone(ctx context.Context, s *Sink, c *change.Change) error
}

// New connects to the server, checks the credentials and loads the script.
func New(ctx context.Context, cfg Config) (*Sink, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	s := &Sink{cfg: cfg, positions: expand(cfg.Positions, cfg.Prefix, change.Namespace{})}
	var err error
	switch cfg.Mode {
	case ModeStream, ModePubSub:
		s.w, err = newMessageWriter(&s.cfg)
	case ModeHash:
		s.w = newHashWriter(&s.cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	s.cl = goredis.NewClient(&goredis.Options{
		Addr:            cfg.Addr,
		Username:        cfg.User,
		Password:        cfg.Password,
		DB:              cfg.DB,
		TLSConfig:       cfg.TLS,
		Protocol:        2,
		DisableIdentity: true,
		// Retries are the sink's: a write whose answer was lost must
		// not be sent again before the stored position says whether it
		// took effect.
		MaxRetries:   -1,
		DialTimeout:  5 * time.Second,
		ReadTimeout:  30 * time.Second,
		WriteTimeout: 30 * time.Second,
		PoolSize:     2,
	})
	if err := s.connect(ctx); err != nil {
		s.cl.Close()
		return nil, err
	}
	return s, nil
}

// connect pings the server and loads the script, retrying while the
// server is unreachable or loading its data, for up to RetryFor.
func (s *Sink) connect(ctx context.Context) error {
	began := time.Now()
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		err := s.cl.Ping(ctx).Err()
		if err == nil {
			err = s.loadScript(ctx)
		}
		if err == nil {
			return nil
		}
		// A TLS failure (an unknown authority, a refused certificate)
		// does not go away. A refused client certificate can look like a
		// reset connection (TLS 1.3): ask the server without writing.
		tlsFailed := tlsparam.IsFailure(err)
		if !tlsFailed && s.cfg.TLS != nil && retriable(err) {
			if rerr := tlsparam.Refusal(ctx, s.cfg.Addr, s.cfg.TLS, time.Second); rerr != nil {
				err, tlsFailed = rerr, true
			}
		}
		if !retriable(err) || tlsFailed || ctx.Err() != nil || time.Since(began) > min(s.cfg.RetryFor, 30*time.Second) {
			return fmt.Errorf("redis: %s: %w", s.cfg.Addr, explain(err))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis: %s: %w", s.cfg.Addr, err)
		case <-time.After(wait):
		}
	}
}

// loadScript loads the script into the server's script cache.
func (s *Sink) loadScript(ctx context.Context) error {
	sha, err := s.cl.ScriptLoad(ctx, script).Result()
	if err != nil {
		return fmt.Errorf("load script: %w", err)
	}
	if sha != scriptSHA {
		return fmt.Errorf("load script: the server named it %s, not %s", sha, scriptSHA)
	}
	return nil
}

// explain adds a hint to an authentication error and to a refusal by a
// Redis at its maxmemory.
func explain(err error) error {
	msg := err.Error()
	if strings.Contains(msg, "WRONGPASS") || strings.Contains(msg, "NOAUTH") || strings.Contains(msg, "invalid password") {
		return fmt.Errorf("%w (check the user and password of the URL)", err)
	}
	if goredis.HasErrorPrefix(err, "OOM") {
		return fmt.Errorf("%w (Redis is at its maxmemory: nothing of the batch was written; raise maxmemory, trim the streams with maxlen, or free memory, then start sluice again)", err)
	}
	return err
}

// CheckpointStore returns s: the positions hash is where its pipeline's
// position is kept.
func (s *Sink) CheckpointStore() checkpoint.Store { return s }

// Load returns the position stored for pipeline id, or an error wrapping
// checkpoint.ErrNotFound, and makes id the pipeline whose position the
// sink writes.
func (s *Sink) Load(ctx context.Context, id string) (change.Position, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.id != "" && id != s.id {
		return change.Position{}, fmt.Errorf("redis: the sink serves pipeline %q, not %q", s.id, id)
	}
	if id == "" {
		return change.Position{}, errors.New("redis: empty pipeline name")
	}
	var text string
	var err error
	began := time.Now()
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		text, err = s.cl.HGet(ctx, s.positions, id).Result()
		if err == nil || errors.Is(err, goredis.Nil) || !retriable(err) || ctx.Err() != nil || time.Since(began) > s.cfg.RetryFor {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	switch {
	case errors.Is(err, goredis.Nil):
		s.id, s.committed = id, change.Position{}
		return change.Position{}, fmt.Errorf("redis: pipeline %q in hash %s: %w", id, s.positions, checkpoint.ErrNotFound)
	case err != nil:
		return change.Position{}, fmt.Errorf("redis: load position of pipeline %q from hash %s: %w", id, s.positions, err)
	}
	p, err := change.ParsePosition(text)
	if err != nil {
		return change.Position{}, fmt.Errorf("redis: hash %s field %q: %w", s.positions, id, err)
	}
	s.id, s.committed = id, p
	return p, nil
}

// Save stores p as pipeline id's position when it is past the stored one
// (a position that moved over changes nobody sees; positions of written
// batches are stored by WriteAt).
func (s *Sink) Save(ctx context.Context, id string, p change.Position) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.id == "" || id != s.id {
		return fmt.Errorf("redis: save position of pipeline %q: the sink was not loaded for it", id)
	}
	if change.Compare(p, s.committed) <= 0 {
		return nil
	}
	s.cmd.reset()
	s.head.reset()
	return s.run(ctx, p)
}

// Write is WriteAt without a position.
func (s *Sink) Write(ctx context.Context, batch []change.Change) error {
	return s.WriteAt(ctx, batch, change.Position{})
}

// WriteAt applies batch and stores through (when not zero) in one atomic
// step, and returns once Redis answered. A batch without changes only
// moves the position, which Save stores.
func (s *Sink) WriteAt(ctx context.Context, batch []change.Change, through change.Position) error {
	if len(batch) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; ; {
		s.cmd.reset()
		s.head.reset()
		next, err := s.w.build(ctx, s, batch, i)
		if err != nil {
			return err
		}
		last := next == len(batch)
		// A change to apply on its own (a truncate in hash mode) ends the
		// commands before it, stored with the position of their last
		// change; the last call stores through.
		var at change.Position
		switch {
		case last:
			at = through
		case next > i:
			at = batch[next-1].Pos
		}
		if next > i || last && s.advances(at) {
			if err := s.run(ctx, at); err != nil {
				return err
			}
		}
		if last {
			return nil
		}
		if err := s.w.alone(ctx, s, &batch[next]); err != nil {
			return err
		}
		i = next + 1
	}
}

// advances reports whether storing p moves the stored position.
func (s *Sink) advances(p change.Position) bool {
	return !p.IsZero() && s.id != "" && change.Compare(p, s.committed) > 0
}

// check adds a type check to the running call: key must hold a typ or
// nothing.
func (s *Sink) check(key, typ string) {
	s.head.str(key)
	s.head.lit(typ)
}

// run calls the script with the commands in s.cmd, the checks in s.head
// and through as the position to store (none when zero), retrying while
// it fails for a reason a new attempt may overcome.
func (s *Sink) run(ctx context.Context, through change.Position) error {
	checks := s.head.list
	nchecks := len(checks) / 2
	checksArgs := s.head.finish()
	body := s.cmd.finish()
	var want, next string
	if s.id != "" {
		want, next = s.committed.String(), through.String()
	}
	s.call = append(s.call[:0], argEvalSHA, scriptSHA, argZero, s.positions, s.id, want, next, nchecks)
	s.call = append(s.call, checksArgs...)
	s.call = append(s.call, body...)
	defer func() {
		s.head.reset()
		clear(s.call)
	}()
	began := time.Now()
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		err := s.cl.Do(ctx, s.call...).Err()
		if err == nil {
			if s.id != "" && !through.IsZero() {
				s.committed = through
			}
			return nil
		}
		msg := err.Error()
		switch {
		case goredis.HasErrorPrefix(err, "NOSCRIPT"):
			// A restarted server forgot the script: nothing ran.
			if lerr := s.loadScript(ctx); lerr == nil {
				continue
			} else {
				err = lerr
			}
		case strings.HasPrefix(msg, errMoved):
			cur := strings.TrimPrefix(msg, errMoved)
			if !through.IsZero() && cur == next {
				// The attempt whose answer was lost took effect.
				s.committed = through
				return nil
			}
			if cur == "" {
				return fmt.Errorf("redis: the position of pipeline %q in hash %s is gone (the sink last stored %s): was the database flushed, or the server restarted without persistence? Delete the hash field to start over", s.id, s.positions, want)
			}
			return fmt.Errorf("redis: the position of pipeline %q in hash %s is %s, not %s as this sink last stored: another sluice writes this pipeline, or the hash was changed", s.id, s.positions, cur, orNone(want))
		case strings.HasPrefix(msg, errType):
			has, wantType, key := typeError(msg)
			return fmt.Errorf("redis: key %q holds a %s, where the sink writes a %s: nothing of the batch was written (rename or delete the key, or choose other names with the URL's templates)", key, has, wantType)
		}
		if !retriable(err) || ctx.Err() != nil {
			return fmt.Errorf("redis: %w", explain(err))
		}
		if time.Since(began) > s.cfg.RetryFor {
			return fmt.Errorf("redis: gave up after %s of retries: %w", s.cfg.RetryFor, err)
		}
		s.cfg.Logger.Warn("redis write failed, retrying", "error", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis: %w", err)
		case <-time.After(wait):
		}
	}
}

// orNone is s, or "none" when s is empty.
func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// Boxed constants of the call.
var (
	argEvalSHA any = "EVALSHA"
	argZero    any = "0"
)

// retriable reports whether an attempt may succeed where err failed: a
// connection lost or refused, a timeout, a server loading its data or
// busy with a script.
func retriable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed),
		errors.Is(err, goredis.ErrPoolTimeout), errors.As(err, &ne):
		return true
	case goredis.IsLoadingError(err), goredis.HasErrorPrefix(err, "BUSY"), goredis.HasErrorPrefix(err, "TRYAGAIN"),
		goredis.HasErrorPrefix(err, "MASTERDOWN"), goredis.IsReadOnlyError(err):
		return true
	}
	return strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe")
}

// Close closes the connections.
func (s *Sink) Close() error {
	return s.cl.Close()
}

// Interface checks.
var (
	_ pipeline.PositionWriter = (*Sink)(nil)
	_ checkpoint.Store        = (*Sink)(nil)
)
