package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/sluice-cdc/sluice/change"
)

// ErrNotFound is returned (wrapped) by Load when no position was saved under an id.
var ErrNotFound = errors.New("no saved position")

// Store saves and loads the last delivered Position of a pipeline, keyed by
// the pipeline's id. Save must be durable when it returns: after a crash,
// Load returns the last position whose Save returned nil (or a later one
// whose Save was in flight), never a mix of two and never an error.
type Store interface {
	// Load returns the position saved under id, or an error wrapping
	// ErrNotFound when there is none.
	Load(ctx context.Context, id string) (change.Position, error)
	// Save durably records p under id, replacing the previous position.
	Save(ctx context.Context, id string, p change.Position) error
}

// record is the stored form of a Position: explicit field names and a
// version, so the encoding does not change when Position grows methods.
type record struct {
	V        int    `json:"v"`
	Flavor   uint8  `json:"flavor"`
	File     string `json:"file,omitempty"`
	Offset   uint64 `json:"offset"`
	Index    uint64 `json:"index"`
	GTIDSet  string `json:"gtid_set,omitempty"`
	Token    string `json:"token,omitempty"`
	Row      uint64 `json:"row,omitempty"`
	Snapshot string `json:"snapshot,omitempty"`
}

// Record versions. Version 1 holds stream positions; version 2 adds the
// snapshot fields (Row, Snapshot) and is written only for positions that
// have them, so that a release that knows only version 1 refuses such a
// position (it would drop the snapshot's progress and resume wrongly)
// while every other position stays readable by it.
const (
	recordVersion         = 1
	recordVersionSnapshot = 2
)

// encodePosition returns the stored form of p.
func encodePosition(p change.Position) ([]byte, error) {
	r := record{
		V: recordVersion, Flavor: uint8(p.Flavor), File: p.File, Offset: p.Offset,
		Index: p.Index, GTIDSet: p.GTIDSet, Token: p.Token, Row: p.Row, Snapshot: p.Snapshot,
	}
	if p.Row != 0 || p.Snapshot != "" {
		r.V = recordVersionSnapshot
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode position: %w", err)
	}
	return b, nil
}

// decodePosition parses the stored form of a position.
func decodePosition(b []byte) (change.Position, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return change.Position{}, fmt.Errorf("decode position %q: %w", b, err)
	}
	if r.V != recordVersion && r.V != recordVersionSnapshot {
		return change.Position{}, fmt.Errorf("decode position: unknown record version %d", r.V)
	}
	return change.Position{
		Flavor: change.Flavor(r.Flavor), File: r.File, Offset: r.Offset,
		Index: r.Index, GTIDSet: r.GTIDSet, Token: r.Token, Row: r.Row, Snapshot: r.Snapshot,
	}, nil
}

// Memory is a Store held in memory, safe for concurrent use. Its zero value
// is ready to use. It is meant for tests and for callers that accept
// restarting from their configured start after a restart.
type Memory struct {
	mu     sync.Mutex
	pos    map[string]change.Position
	fences map[string]Fence // see Fencer
	n      int
}

// Load returns the position saved under id.
func (m *Memory) Load(ctx context.Context, id string) (change.Position, error) {
	if err := ctx.Err(); err != nil {
		return change.Position{}, fmt.Errorf("checkpoint: load %q: %w", id, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.pos[id]
	if !ok {
		return change.Position{}, fmt.Errorf("checkpoint: load %q: %w", id, ErrNotFound)
	}
	return p, nil
}

// Save records p under id, unless id has been fenced (see Fencer).
func (m *Memory) Save(ctx context.Context, id string, p change.Position) error {
	return m.save(ctx, id, p, Fence{})
}

// save records p under id if f is id's fence.
func (m *Memory) save(ctx context.Context, id string, p change.Position, f Fence) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("checkpoint: save %q: %w", id, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if held := m.fences[id]; held != f {
		return fmt.Errorf("checkpoint: save: %w", &FencedError{ID: id, Held: held, Want: f})
	}
	if m.pos == nil {
		m.pos = make(map[string]change.Position)
	}
	m.pos[id] = p
	m.n++
	return nil
}

// Saves returns how many times Save succeeded, for tests that check how
// often a pipeline checkpoints.
func (m *Memory) Saves() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n
}
