// Package zookeeper is a checkpoint store in ZooKeeper, shared by every
// Sluice process that can reach the ensemble, as Canal and the db-transfer
// design keep their positions:
//
//	zk://[USER:PASSWORD@]HOST:PORT[,HOST:PORT…]/PATH[?PARAMETERS]
//
// A pipeline's position is the data of the node PATH/positions/ID (the
// versioned record of package checkpoint), its fence the data of
// PATH/fences/ID (the owner's token and name); ID is escaped into one node
// name. Parameters: session-timeout and timeout (internal/zkconn); a user
// and password authenticate (digest) and make the nodes private to them.
//
// A plain Save sets the position node in one multi-operation with a check
// that the fence node was never written (version 0). Fence sets the fence
// node conditionally on the version it read, and the owner's Saves check
// that version in the same multi-operation as the write: once a newer
// owner has claimed the pipeline the version has moved and the deposed
// owner's Save fails as a whole. ZooKeeper acknowledges a write once a
// quorum has logged it.
package zookeeper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync"

	"github.com/go-zookeeper/zk"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/zkconn"
)

// Store is a checkpoint store in ZooKeeper. It is a checkpoint.Fencer and
// safe for concurrent use.
type Store struct {
	conn *zk.Conn
	cfg  zkconn.Config

	mu    sync.Mutex
	ready map[string]bool // ids whose nodes exist
}

// Open connects to the ensemble a zk:// URL names and creates PATH if
// missing.
func Open(ctx context.Context, u *url.URL) (*Store, error) {
	cfg, err := zkconn.Parse(u, address.NewParams(u))
	if err != nil {
		return nil, checkpoint.BadURL(err)
	}
	conn, err := zkconn.Connect(ctx, cfg, nil)
	if err != nil {
		return nil, err
	}
	s := &Store{conn: conn, cfg: cfg, ready: map[string]bool{}}
	for _, dir := range []string{cfg.Path + "/positions", cfg.Path + "/fences"} {
		if err := zkconn.EnsurePath(ctx, conn, cfg.Timeout, dir, cfg.ACL()); err != nil {
			conn.Close()
			return nil, fmt.Errorf("create %s: %w", dir, err)
		}
	}
	return s, nil
}

// Path is the store's root node.
func (s *Store) Path() string { return s.cfg.Path }

func (s *Store) posNode(id string) string   { return s.cfg.Path + "/positions/" + zkconn.EscapeName(id) }
func (s *Store) fenceNode(id string) string { return s.cfg.Path + "/fences/" + zkconn.EscapeName(id) }

func (s *Store) do(ctx context.Context, f func() error) error {
	return zkconn.Do(ctx, s.cfg.Timeout, f)
}

// ensure creates id's position and fence nodes (empty) once.
func (s *Store) ensure(ctx context.Context, id string) error {
	s.mu.Lock()
	ok := s.ready[id]
	s.mu.Unlock()
	if ok {
		return nil
	}
	for _, n := range []string{s.posNode(id), s.fenceNode(id)} {
		err := s.do(ctx, func() error {
			_, err := s.conn.Create(n, nil, 0, s.cfg.ACL())
			return err
		})
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return err
		}
	}
	s.mu.Lock()
	s.ready[id] = true
	s.mu.Unlock()
	return nil
}

// Load returns the position saved under id.
func (s *Store) Load(ctx context.Context, id string) (change.Position, error) {
	data, err := zkconn.Call(ctx, s.cfg.Timeout, func() ([]byte, error) {
		d, _, err := s.conn.Get(s.posNode(id))
		return d, err
	})
	if errors.Is(err, zk.ErrNoNode) || (err == nil && len(data) == 0) {
		return change.Position{}, fmt.Errorf("zookeeper: load %q under %s: %w", id, s.cfg.Path, checkpoint.ErrNotFound)
	}
	if err != nil {
		return change.Position{}, fmt.Errorf("zookeeper: load %q: %w", id, err)
	}
	p, err := checkpoint.DecodeRecord(data)
	if err != nil {
		return change.Position{}, fmt.Errorf("zookeeper: load %q: %w", id, err)
	}
	return p, nil
}

// Save records p under id if id has no fence (its fence node was never
// written).
func (s *Store) Save(ctx context.Context, id string, p change.Position) error {
	return s.save(ctx, id, p, 0, checkpoint.Fence{})
}

// save sets id's position node if its fence node is at version.
func (s *Store) save(ctx context.Context, id string, p change.Position, version int32, want checkpoint.Fence) error {
	rec, err := checkpoint.EncodeRecord(p)
	if err != nil {
		return fmt.Errorf("zookeeper: save %q: %w", id, err)
	}
	if err := s.ensure(ctx, id); err != nil {
		return fmt.Errorf("zookeeper: save %q: %w", id, err)
	}
	res, err := zkconn.Call(ctx, s.cfg.Timeout, func() ([]zk.MultiResponse, error) {
		return s.conn.Multi(
			&zk.CheckVersionRequest{Path: s.fenceNode(id), Version: version},
			&zk.SetDataRequest{Path: s.posNode(id), Data: rec, Version: -1})
	})
	if err == nil {
		return nil
	}
	if len(res) > 0 && errors.Is(res[0].Error, zk.ErrBadVersion) {
		held, ferr := s.readFence(ctx, id)
		if ferr != nil {
			return fmt.Errorf("zookeeper: save %q: %w (reading the fence: %v)", id, checkpoint.ErrFenced, ferr)
		}
		return fmt.Errorf("zookeeper: save: %w", &checkpoint.FencedError{ID: id, Held: held.Fence, Want: want})
	}
	return fmt.Errorf("zookeeper: save %q: %w", id, err)
}

// fenceData is the stored form of a fence.
type fenceData struct {
	Token uint64 `json:"token"`
	Owner string `json:"owner"`
}

// heldFence is a fence node's content and version.
type heldFence struct {
	checkpoint.Fence
	version int32
}

func (s *Store) readFence(ctx context.Context, id string) (heldFence, error) {
	type got struct {
		data []byte
		st   *zk.Stat
	}
	g, err := zkconn.Call(ctx, s.cfg.Timeout, func() (got, error) {
		d, st, err := s.conn.Get(s.fenceNode(id))
		return got{d, st}, err
	})
	if err != nil {
		return heldFence{}, err
	}
	data, st := g.data, g.st
	h := heldFence{version: st.Version}
	if len(data) > 0 {
		var f fenceData
		if err := json.Unmarshal(data, &f); err != nil {
			return heldFence{}, fmt.Errorf("fence node %s: %q: %w", s.fenceNode(id), data, err)
		}
		h.Fence = checkpoint.Fence{Token: f.Token, Owner: f.Owner}
	}
	return h, nil
}

// Fence records f as the owner of id (see checkpoint.Fencer): the fence
// node is set conditionally on the version read, retried when another
// claim came between.
func (s *Store) Fence(ctx context.Context, id string, f checkpoint.Fence) (checkpoint.Store, error) {
	if err := f.Check(); err != nil {
		return nil, fmt.Errorf("zookeeper: fence %q: %w", id, err)
	}
	if err := s.ensure(ctx, id); err != nil {
		return nil, fmt.Errorf("zookeeper: fence %q: %w", id, err)
	}
	data, _ := json.Marshal(fenceData{Token: f.Token, Owner: f.Owner})
	for {
		held, err := s.readFence(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("zookeeper: fence %q: %w", id, err)
		}
		if !checkpoint.CanClaim(held.Fence, f) {
			return nil, fmt.Errorf("zookeeper: fence: %w", &checkpoint.FencedError{ID: id, Held: held.Fence, Want: f})
		}
		st, err := zkconn.Call(ctx, s.cfg.Timeout, func() (*zk.Stat, error) {
			return s.conn.Set(s.fenceNode(id), data, held.version)
		})
		if errors.Is(err, zk.ErrBadVersion) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("zookeeper: fence %q: %w", id, err)
		}
		return &fenced{s: s, id: id, f: f, version: st.Version}, nil
	}
}

// fenced is the Store of one owner of one pipeline.
type fenced struct {
	s       *Store
	id      string
	f       checkpoint.Fence
	version int32 // of the fence node after the claim
}

func (f *fenced) Load(ctx context.Context, id string) (change.Position, error) {
	return f.s.Load(ctx, id)
}

func (f *fenced) Save(ctx context.Context, id string, p change.Position) error {
	if id != f.id {
		return fmt.Errorf("zookeeper: save %q: the store is fenced for pipeline %q", id, f.id)
	}
	return f.s.save(ctx, id, p, f.version, f.f)
}

// Close ends the session.
func (s *Store) Close() error {
	s.conn.Close()
	return nil
}
