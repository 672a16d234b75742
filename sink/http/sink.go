package http

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	nethttp "net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/format"
	"github.com/sluice-cdc/sluice/internal/tlsparam"
	"github.com/sluice-cdc/sluice/pipeline"
)

// Header names of every request besides the signature.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderFirstPosition  = "X-Sluice-First-Position"
	HeaderLastPosition   = "X-Sluice-Last-Position"
)

// maxErrorBody is how much of an answer's body an error quotes.
const maxErrorBody = 512

// Open opens the sink an http:// or https:// URL names (see ParseURL).
func Open(raw string) (*Sink, error) {
	c, err := ParseURL(raw)
	if err != nil {
		return nil, err
	}
	return New(c)
}

// Sink is the HTTP webhook sink: WriteAt posts a batch in one or more
// requests and returns once the webhook answered each with a 2xx status.
// It is a pipeline.PositionWriter, for the position every request brings
// the pipeline to, and a sink.StoreWrapper: with the store WrapStore
// returns, it notes in the pipeline's store the end of each request
// before sending it and the position after it, so that after a crash the
// first request repeats the interrupted one exactly, with its
// Idempotency-Key.
type Sink struct {
	cfg    Config
	client *nethttp.Client
	f      format.Encoder
	msgs   format.Batch
	mac    hash.Hash
	j      *journal // nil until WrapStore

	items     []item // the messages of the running write, held ones first
	heldItems []item // messages held for the next write
	body      []byte
	hook      string // the webhook URL, redacted, for errors and logs
	tlsAddr   string // host:port of an https webhook, for tlsparam.Refusal
}

// item is one message to send.
type item struct {
	value []byte
	pos   change.Position
}

// New builds a sink; it connects at the first request.
func New(cfg Config) (*Sink, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	f, err := format.New(cfg.Format, format.Target{})
	if err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	tr := nethttp.DefaultTransport.(*nethttp.Transport).Clone()
	tr.TLSClientConfig = cfg.TLS
	tr.MaxIdleConnsPerHost = 2
	s := &Sink{cfg: cfg, f: f, hook: address.Redact(cfg.URL),
		client: &nethttp.Client{Transport: tr, CheckRedirect: func(*nethttp.Request, []*nethttp.Request) error {
			return nethttp.ErrUseLastResponse // a redirect is an answer like any other
		}}}
	if len(cfg.Secret) > 0 {
		s.mac = hmac.New(sha256.New, cfg.Secret)
	}
	if u, err := url.Parse(cfg.URL); err == nil && u.Scheme == "https" && cfg.TLS != nil {
		s.tlsAddr = u.Host
		if u.Port() == "" {
			s.tlsAddr = net.JoinHostPort(u.Hostname(), "443")
		}
	}
	return s, nil
}

// WrapStore returns store with the sink's notes of its requests kept in
// it beside the pipeline's position (see StoreWrapper).
func (s *Sink) WrapStore(store checkpoint.Store) checkpoint.Store {
	s.j = &journal{inner: store}
	return s.j
}

// Write is WriteAt without a position.
func (s *Sink) Write(ctx context.Context, batch []change.Change) error {
	return s.WriteAt(ctx, batch, change.Position{})
}

// WriteAt posts the messages of batch, in requests of at most MaxMessages
// messages and about MaxBytes bytes, and returns once every request was
// answered with a 2xx status. through is the position batch brings the
// pipeline to. After a crash, the first requests reproduce the one that
// was interrupted: changes are held until it is complete.
func (s *Sink) WriteAt(ctx context.Context, batch []change.Change, through change.Position) error {
	if err := s.encode(batch); err != nil {
		return err
	}
	for start := 0; ; {
		if start == len(s.items) {
			s.heldItems = s.heldItems[:0]
			s.j.moved(through)
			return nil
		}
		end := s.cut(start)
		if r := s.j.replaying(); !r.IsZero() {
			k := start - 1
			for k+1 < len(s.items) && change.ComparePlace(s.items[k+1].pos, r) <= 0 {
				k++
			}
			switch {
			case k < start:
				// Nothing of the interrupted request comes again (a
				// changed filter): no request to repeat.
				s.j.replayed()
			case k == len(s.items)-1 && (through.IsZero() || change.ComparePlace(through, r) < 0):
				// Its end is still to come: hold what there is.
				s.hold(start)
				return nil
			default:
				end = k + 1
			}
		}
		at := through
		if end < len(s.items) {
			at = s.items[end-1].pos
		}
		if err := s.send(ctx, s.items[start:end], at); err != nil {
			return err
		}
		s.j.replayed()
		start = end
	}
}

// encode makes s.items the held messages and those of batch.
func (s *Sink) encode(batch []change.Change) error {
	s.msgs.Reset()
	s.items = append(s.items[:0], s.heldItems...)
	for i := range batch {
		c := &batch[i]
		if c.Op == change.OpHeartbeat {
			continue
		}
		first := s.msgs.Len()
		if err := s.f.Encode(&s.msgs, c); err != nil {
			return fmt.Errorf("http: %w", err)
		}
		for j := first; j < s.msgs.Len(); j++ {
			if v := s.msgs.Messages[j].Value; v != nil {
				s.items = append(s.items, item{value: v, pos: c.Pos})
			}
		}
	}
	return nil
}

// hold keeps s.items[start:] for the next write, copying their values.
// The journal's position stays before them (safe does not move).
func (s *Sink) hold(start int) {
	rest := s.items[start:]
	n := 0
	for _, it := range rest {
		n += len(it.value)
	}
	buf := make([]byte, 0, n)
	kept := make([]item, len(rest))
	for i, it := range rest {
		off := len(buf)
		buf = append(buf, it.value...)
		kept[i] = item{value: buf[off:len(buf):len(buf)], pos: it.pos}
	}
	s.heldItems = kept
}

// cut returns the end of the request starting at s.items[start]: at most
// MaxMessages messages, and no more once MaxBytes is reached (at least
// one message). The messages of one change stay in one request.
func (s *Sink) cut(start int) int {
	n := 0
	end := start
	for end < len(s.items) {
		if end > start && (end-start >= s.cfg.MaxMessages || n+len(s.items[end].value) > s.cfg.MaxBytes) &&
			s.items[end].pos != s.items[end-1].pos {
			break
		}
		n += len(s.items[end].value) + 1
		end++
	}
	return end
}

// IdempotencyKey returns the Idempotency-Key of a request of pipeline id
// whose messages are those of the changes at first to last: the hex of
// the first 16 bytes of the SHA-256 of the pipeline's name and where
// first and last are in the log. The same changes sent again in one
// request get the same key.
func IdempotencyKey(id string, first, last change.Position) string {
	first.GTIDSet, first.Token, last.GTIDSet, last.Token = "", "", "", ""
	h := sha256.New()
	h.Write([]byte(id))
	h.Write([]byte{'\n'})
	h.Write(first.Append(nil))
	h.Write([]byte{'\n'})
	h.Write(last.Append(nil))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Sign returns the signature header's value for body under secret:
// "sha256=" and the hex HMAC-SHA256.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// send posts items as one request, noting its end in the journal before
// and the position at after.
func (s *Sink) send(ctx context.Context, items []item, at change.Position) error {
	first, last := items[0].pos, items[len(items)-1].pos
	s.body = s.body[:0]
	if s.cfg.Body == BodyArray {
		s.body = append(s.body, '[')
	}
	for i, it := range items {
		if s.cfg.Body == BodyArray && i > 0 {
			s.body = append(s.body, ',')
		}
		s.body = append(s.body, it.value...)
		if s.cfg.Body == BodyNDJSON {
			s.body = append(s.body, '\n')
		}
	}
	if s.cfg.Body == BodyArray {
		s.body = append(s.body, ']')
	}
	if err := s.j.sending(ctx, last); err != nil {
		return err
	}
	key := IdempotencyKey(s.j.pipeline(), first, last)
	if err := s.post(ctx, len(items), key, first, last); err != nil {
		return err
	}
	return s.j.sent(ctx, at)
}

// post sends s.body until the webhook accepts it, retrying connection
// errors, timeouts, 408, 429 and 5xx with capped exponential backoff
// (honouring Retry-After) for up to RetryFor.
func (s *Sink) post(ctx context.Context, n int, key string, first, last change.Position) error {
	var sig string
	if s.mac != nil {
		s.mac.Reset()
		s.mac.Write(s.body)
		sig = "sha256=" + hex.EncodeToString(s.mac.Sum(nil))
	}
	contentType := "application/x-ndjson"
	if s.cfg.Body == BodyArray {
		contentType = "application/json"
	}
	what := fmt.Sprintf("request of %d messages, changes %s to %s, Idempotency-Key %s", n, first, last, key)
	began := time.Now()
	for wait := 200 * time.Millisecond; ; wait = min(2*wait, s.cfg.BackoffMax) {
		retryAfter, err := s.attempt(ctx, contentType, key, sig, first, last)
		if err == nil {
			return nil
		}
		var fatal fatalError
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("http: POST %s (%s): %w", s.hook, what, ctx.Err())
		case errors.As(err, &fatal):
			return fmt.Errorf("http: POST %s (%s): %w", s.hook, what, fatal.err)
		}
		d := max(wait, retryAfter)
		if left := s.cfg.RetryFor - time.Since(began); d > left {
			return fmt.Errorf("http: POST %s (%s): gave up after %s of retries: %w", s.hook, what, time.Since(began).Round(time.Millisecond), err)
		}
		s.cfg.Logger.Warn("webhook request failed, retrying", "url", s.hook, "error", err, "retry_in", d, "idempotency_key", key)
		select {
		case <-ctx.Done():
			return fmt.Errorf("http: POST %s (%s): %w", s.hook, what, ctx.Err())
		case <-time.After(d):
		}
	}
}

// fatalError is an answer that no retry changes.
type fatalError struct{ err error }

func (e fatalError) Error() string { return e.err.Error() }

// attempt makes one request. It returns nil on a 2xx answer, a
// fatalError when retrying cannot help, and otherwise the error with the
// wait the answer asked for (Retry-After).
func (s *Sink) attempt(ctx context.Context, contentType, key, sig string, first, last change.Position) (time.Duration, error) {
	actx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := nethttp.NewRequestWithContext(actx, nethttp.MethodPost, s.cfg.URL, bytes.NewReader(s.body))
	if err != nil {
		return 0, fatalError{err}
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "sluice")
	req.Header.Set(HeaderIdempotencyKey, key)
	req.Header.Set(HeaderFirstPosition, first.String())
	req.Header.Set(HeaderLastPosition, last.String())
	if sig != "" {
		req.Header.Set(s.cfg.SignatureHeader, sig)
	}
	switch {
	case s.cfg.Token != "":
		req.Header.Set("Authorization", "Bearer "+s.cfg.Token)
	case s.cfg.User != "" || s.cfg.Password != "":
		req.SetBasicAuth(s.cfg.User, s.cfg.Password)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the URL
		}
		if tlsparam.IsFailure(err) {
			return 0, fatalError{err} // a refused certificate does not go away
		}
		if ctx.Err() == nil && actx.Err() != nil {
			return 0, fmt.Errorf("no answer within %s", s.cfg.Timeout)
		}
		// A refused client certificate can look like a reset connection
		// (TLS 1.3): ask the server without writing.
		if s.tlsAddr != "" {
			if rerr := tlsparam.Refusal(ctx, s.tlsAddr, s.cfg.TLS, time.Second); rerr != nil {
				return 0, fatalError{rerr}
			}
		}
		return 0, err
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return 0, nil
	}
	err = fmt.Errorf("the webhook answered %s: %q", resp.Status, truncate(text))
	if code == nethttp.StatusRequestTimeout || code == nethttp.StatusTooManyRequests || code >= 500 {
		return retryAfter(resp.Header.Get("Retry-After")), err
	}
	return 0, fatalError{fmt.Errorf("%w: the pipeline stops, its position before this request's changes", err)}
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := nethttp.ParseTime(v); err == nil {
		return max(0, time.Until(t))
	}
	return 0
}

// truncate cuts an answer's body for an error.
func truncate(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > maxErrorBody {
		return s[:maxErrorBody] + "…"
	}
	return s
}

// Close drops held messages (the store's position is before them, so the
// next run sends them) and closes idle connections.
func (s *Sink) Close() error {
	if len(s.heldItems) > 0 {
		s.cfg.Logger.Info("messages held to repeat an interrupted request are sent by the next run", "messages", len(s.heldItems))
	}
	s.client.CloseIdleConnections()
	return nil
}

// Interface checks.
var _ pipeline.PositionWriter = (*Sink)(nil)
