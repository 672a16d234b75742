// Package webhooktest is a webhook receiver for tests of the HTTP sink: an
// http.Handler that checks every request the way a careful receiver would
// — the HMAC-SHA256 signature over the body, computed here with the
// shared secret, the content type, an Idempotency-Key on every request and
// never one key for two different sets of changes — and records what it
// accepted. Changes are told apart by the "pos" member of their messages
// (Sluice JSON); a request sent again after a crash holds the same changes
// but may differ in bytes that record when they were read (read_ts).
// A test can make it fail requests (Fail) to exercise the sink's retries,
// and reads back the messages, the keys and the problems it found.
package webhooktest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Request is one request the receiver accepted.
type Request struct {
	Key      string   // Idempotency-Key
	First    string   // X-Sluice-First-Position
	Last     string   // X-Sluice-Last-Position
	Messages [][]byte // the body's messages, in order
	Repeat   bool     // the key was seen before (with the same changes)
}

// Answer is what Fail makes the receiver do with a request instead of
// accepting it.
type Answer struct {
	// Status is the status to answer (with Body), 0 to accept.
	Status int
	Body   string
	// Header is added to the answer (Retry-After).
	Header http.Header
	// Record accepts and records the request before answering Status
	// (or, with Hang, dropping the connection): the sink then sends what
	// the receiver already has.
	Record bool
	// Hang drops the connection without an answer.
	Hang bool
}

// Receiver is the webhook. The zero value is not ready: use New.
type Receiver struct {
	secret []byte
	header string

	mu       sync.Mutex
	requests []Request
	bodies   map[string][32]byte // key -> fingerprint of its changes
	problems []string
	fail     func(n int, r *http.Request) Answer
	delay    time.Duration
	n        int
}

// New returns a receiver checking signatures with secret (none when nil)
// in the header named sigHeader.
func New(secret []byte, sigHeader string) *Receiver {
	return &Receiver{secret: secret, header: sigHeader, bodies: map[string][32]byte{}}
}

// Fail makes the receiver ask f, for the n-th request (0-based, counting
// every request received), what to answer instead of accepting it (a
// zero Answer accepts it).
func (rc *Receiver) Fail(f func(n int, r *http.Request) Answer) {
	rc.mu.Lock()
	rc.fail = f
	rc.mu.Unlock()
}

// Delay makes the receiver wait d after recording an accepted request
// before it answers: a sender killed meanwhile has its request taken but
// not answered.
func (rc *Receiver) Delay(d time.Duration) {
	rc.mu.Lock()
	rc.delay = d
	rc.mu.Unlock()
}

// ServeHTTP checks and records one request.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	n := rc.n
	rc.n++
	fail := rc.fail
	rc.mu.Unlock()
	var ans Answer
	if fail != nil {
		ans = fail(n, r)
	}
	if ans.Status != 0 || ans.Hang {
		if ans.Record {
			if msg, ok := rc.accept(r, body); !ok {
				http.Error(w, msg, http.StatusBadRequest)
				return
			}
		}
		if ans.Hang {
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		}
		for k, vs := range ans.Header {
			w.Header()[k] = vs
		}
		http.Error(w, ans.Body, ans.Status)
		return
	}
	if msg, ok := rc.accept(r, body); !ok {
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	d := rc.delay
	rc.mu.Unlock()
	if d > 0 {
		time.Sleep(d)
	}
	w.WriteHeader(http.StatusNoContent)
}

// accept checks a request and records it; it returns false with the
// problem when the request is refused.
func (rc *Receiver) accept(r *http.Request, body []byte) (string, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	problem := func(format string, args ...any) (string, bool) {
		msg := fmt.Sprintf(format, args...)
		rc.problems = append(rc.problems, msg)
		return msg, false
	}
	if r.Method != http.MethodPost {
		return problem("method %s", r.Method)
	}
	if rc.secret != nil {
		m := hmac.New(sha256.New, rc.secret)
		m.Write(body)
		want := "sha256=" + hex.EncodeToString(m.Sum(nil))
		if got := r.Header.Get(rc.header); !hmac.Equal([]byte(got), []byte(want)) {
			return problem("signature %q, want %q", got, want)
		}
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		return problem("no Idempotency-Key")
	}
	var msgs [][]byte
	switch ct := r.Header.Get("Content-Type"); ct {
	case "application/x-ndjson":
		if len(body) == 0 || body[len(body)-1] != '\n' {
			return problem("NDJSON body not ending in a newline")
		}
		for _, line := range bytes.Split(body[:len(body)-1], []byte{'\n'}) {
			if !json.Valid(line) {
				return problem("line %.80q is not JSON", line)
			}
			msgs = append(msgs, line)
		}
	case "application/json":
		var arr []json.RawMessage
		if err := json.Unmarshal(body, &arr); err != nil {
			return problem("body is not a JSON array: %v", err)
		}
		for _, m := range arr {
			msgs = append(msgs, []byte(m))
		}
	default:
		return problem("Content-Type %q", ct)
	}
	sum := fingerprint(body, msgs)
	prev, seen := rc.bodies[key]
	if seen && prev != sum {
		return problem("Idempotency-Key %s sent again with other changes", key)
	}
	rc.bodies[key] = sum
	rc.requests = append(rc.requests, Request{Key: key, First: r.Header.Get("X-Sluice-First-Position"),
		Last: r.Header.Get("X-Sluice-Last-Position"), Messages: msgs, Repeat: seen})
	return "", true
}

// fingerprint identifies the changes of a request: the SHA-256 of the
// "pos" members of its messages, or of the body when a message has none.
func fingerprint(body []byte, msgs [][]byte) [32]byte {
	h := sha256.New()
	for _, m := range msgs {
		var v struct {
			Pos string `json:"pos"`
		}
		if json.Unmarshal(m, &v) != nil || v.Pos == "" {
			return sha256.Sum256(body)
		}
		h.Write([]byte(v.Pos))
		h.Write([]byte{'\n'})
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Requests returns the requests accepted so far, in order.
func (rc *Receiver) Requests() []Request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Request(nil), rc.requests...)
}

// Problems returns what the receiver refused, in order.
func (rc *Receiver) Problems() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.problems...)
}

// Received returns how many requests reached the receiver (accepted or
// not).
func (rc *Receiver) Received() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.n
}

// Deduplicated returns the messages of the requests accepted, each
// repeated key's messages once: what a receiver that drops repeated keys
// processes.
func (rc *Receiver) Deduplicated() [][]byte {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out [][]byte
	for _, r := range rc.requests {
		if !r.Repeat {
			out = append(out, r.Messages...)
		}
	}
	return out
}

// String summarizes the receiver's state.
func (rc *Receiver) String() string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	repeats := 0
	for _, r := range rc.requests {
		if r.Repeat {
			repeats++
		}
	}
	return fmt.Sprintf("%d requests received, %d accepted (%d with a repeated key), problems: %s",
		rc.n, len(rc.requests), repeats, strings.Join(rc.problems, "; "))
}
