package nats

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluice-cdc/sluice/change"
)

// publish sends s.out in rounds until JetStream has every message. A
// round publishes the messages not known to be stored, in order, with at
// most MaxPending awaiting their acknowledgement; unless Unordered, every
// message but a round's first carries Nats-Expected-Last-Msg-Id, the id
// of the message before it, so JetStream stores it only right after that
// one: when a message is lost (a connection cut), the ones after it fail
// too instead of overtaking it, and the next round sends them again, in
// order. A round's first message needs no such check: everything before
// it is known to be in the stream and nothing else of the sink's is in
// flight. Messages sent again that the stream already holds are dropped
// by JetStream as duplicates of their Nats-Msg-Id (within the stream's
// duplicate window).
func (s *Sink) publish(ctx context.Context, batch []change.Change) error {
	n := len(s.out)
	r := 0
	stalled := time.Now() // since the last round that made progress
	wait := 100 * time.Millisecond
	for {
		stored, err := s.round(ctx, r)
		if stored == n {
			return nil
		}
		if stored > r {
			stalled, wait = time.Now(), 100*time.Millisecond
		}
		r = stored
		c := &batch[s.out[r].index]
		what := fmt.Sprintf("%s %s.%s at %s (subject %s)", c.Op, c.Database, c.Table, c.Pos, s.out[r].msg.Subject)
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("nats: %s: %w", what, ctx.Err())
		case chainBroken(err):
			// Another message came between: the one before was lost,
			// or another publisher wrote to the stream. Send again from
			// here at once.
			continue
		case !retriable(err):
			return fmt.Errorf("nats: %s: %w", what, explainPublish(err, s.cfg.Stream))
		case time.Since(stalled) > s.cfg.RetryFor:
			return fmt.Errorf("nats: %s: gave up after %s without progress: %w", what, s.cfg.RetryFor, err)
		}
		s.cfg.Logger.Warn("nats publish failed, sending again", "error", err, "message", what, "retry_in", wait)
		select {
		case <-ctx.Done():
			return fmt.Errorf("nats: %s: %w", what, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// round publishes s.out[r:] and waits for every acknowledgement of what
// it published. It returns the number of leading messages of s.out known
// to be in the stream, and when that is not all, the error of the first
// one that is not.
func (s *Sink) round(ctx context.Context, r int) (stored int, err error) {
	n := len(s.out)
	futs := make([]jetstream.PubAckFuture, n-r)
	errs := make([]error, n-r)
	ok := make([]bool, n-r)
	next, done := r, r
	stop := false
	for done < n {
		for !stop && next < n && next-done < s.cfg.MaxPending {
			m := &s.out[next].msg
			if !s.cfg.Unordered && next > r {
				m.Header[jetstream.ExpectedLastMsgIDHeader] = []string{s.out[next-1].id}
			} else {
				delete(m.Header, jetstream.ExpectedLastMsgIDHeader)
			}
			paf, perr := s.js.PublishMsgAsync(m)
			if perr != nil {
				errs[next-r], stop = perr, true
				break
			}
			futs[next-r] = paf
			next++
		}
		if done == next {
			break // nothing in flight: the next one could not be sent
		}
		f := futs[done-r]
		select {
		case ack := <-f.Ok():
			ok[done-r] = true
			if ack.Duplicate {
				s.mu.Lock()
				s.duplicates++
				s.mu.Unlock()
			}
		case ferr := <-f.Err():
			errs[done-r], stop = ferr, true
		case <-ctx.Done():
			return r, ctx.Err()
		}
		done++
	}
	// Unordered, only the acknowledged prefix is known to be stored.
	// Ordered, an acknowledged message vouches for every one before it:
	// it was stored right after its predecessor, which was stored right
	// after its own, and so on back to the round's first.
	stored = r
	for i := r; i < n; i++ {
		if ok[i-r] {
			stored = i + 1
		} else if s.cfg.Unordered {
			break
		}
	}
	if stored == n {
		return n, nil
	}
	err = errs[stored-r]
	if err == nil {
		// Not sent: the error that stopped the round.
		for _, e := range errs {
			if e != nil {
				err = e
				break
			}
		}
	}
	if err == nil {
		err = errors.New("not acknowledged")
	}
	return stored, err
}

// chainBroken reports whether err is JetStream refusing a message because
// the stream's last message is not the one it names.
func chainBroken(err error) bool {
	var ae *jetstream.APIError
	return errors.As(err, &ae) && strings.Contains(strings.ToLower(ae.Description), "wrong last msg id")
}

// retriable reports whether sending again may succeed where err failed: a
// lost connection, a missing acknowledgement, a server (re)starting.
func retriable(err error) bool {
	var ae *jetstream.APIError
	if errors.As(err, &ae) {
		return ae.Code == 503 || ae.Code == 408
	}
	return errors.Is(err, jetstream.ErrAsyncPublishTimeout) || errors.Is(err, natsgo.ErrDisconnected) ||
		errors.Is(err, natsgo.ErrConnectionReconnecting) || errors.Is(err, natsgo.ErrReconnectBufExceeded) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, natsgo.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrTooManyStalledMsgs) || errors.Is(err, natsgo.ErrTimeout) ||
		errors.Is(err, natsgo.ErrStaleConnection)
}

// explainPublish adds what a JetStream refusal means for the sink.
func explainPublish(err error, stream string) error {
	var ae *jetstream.APIError
	if !errors.As(err, &ae) {
		return err
	}
	d := strings.ToLower(ae.Description)
	switch {
	case strings.Contains(d, "expected stream does not match"):
		return fmt.Errorf("%w: the subject belongs to another stream than %s", err, stream)
	case strings.Contains(d, "exceeds maximum"):
		return fmt.Errorf("%w: the message is larger than the stream's max_msg_size", err)
	}
	return err
}
