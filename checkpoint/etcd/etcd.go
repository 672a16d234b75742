// Package etcd is a checkpoint store in etcd, shared by every Sluice
// process that can reach the cluster:
//
//	etcd://[USER:PASSWORD@]HOST:PORT[,HOST:PORT…]/PREFIX[?PARAMETERS]
//
// A pipeline's position is the key PREFIX/positions/ID, holding the
// versioned record of package checkpoint; its fence is PREFIX/fences/ID,
// holding the owner's token and name. Parameters: timeout (each request,
// default 5s) and tls=off|on|skip-verify, tls-ca, tls-cert, tls-key,
// tls-server-name; the user and password of the URL authenticate. The
// store speaks etcd's JSON gateway (internal/etcdconn), served by etcd
// 3.4 and later.
//
// Every Save is one etcd transaction, durable on a quorum when it
// returns. A plain Save puts the position only if the pipeline has no
// fence; a fenced Save (Store.Fence) puts it only if the fence key still
// holds the owner's token — the compare and the put are one transaction,
// so a deposed owner's save either landed before the new owner's claim or
// is refused.
package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/etcdconn"
)

// Store is a checkpoint store in etcd. It is a checkpoint.Fencer and safe
// for concurrent use.
type Store struct {
	c   *etcdconn.Client
	cfg etcdconn.Config
}

// Open connects to the cluster an etcd:// URL names.
func Open(ctx context.Context, u *url.URL) (*Store, error) {
	cfg, err := etcdconn.Parse(u, address.NewParams(u))
	if err != nil {
		return nil, checkpoint.BadURL(err)
	}
	c, err := etcdconn.Connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Store{c: c, cfg: cfg}, nil
}

// Prefix is the key prefix of the store's keys.
func (s *Store) Prefix() string { return s.cfg.Prefix }

func (s *Store) posKey(id string) string   { return s.cfg.Prefix + "/positions/" + id }
func (s *Store) fenceKey(id string) string { return s.cfg.Prefix + "/fences/" + id }

// fenceValue is the stored form of a fence: fixed field order, so equal
// fences have equal bytes (a fenced Save compares them).
func fenceValue(f checkpoint.Fence) string {
	b, _ := json.Marshal(struct {
		Token uint64 `json:"token"`
		Owner string `json:"owner"`
	}{f.Token, f.Owner})
	return string(b)
}

func parseFence(b []byte) (checkpoint.Fence, error) {
	var v struct {
		Token uint64 `json:"token"`
		Owner string `json:"owner"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return checkpoint.Fence{}, fmt.Errorf("fence %q: %w", b, err)
	}
	return checkpoint.Fence{Token: v.Token, Owner: v.Owner}, nil
}

func (s *Store) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.Timeout)
}

// Load returns the position saved under id.
func (s *Store) Load(ctx context.Context, id string) (change.Position, error) {
	if err := ctx.Err(); err != nil {
		return change.Position{}, fmt.Errorf("etcd: load %q: %w", id, err)
	}
	rctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.c.Range(rctx, etcdconn.RangeRequest{Key: []byte(s.posKey(id))})
	if err != nil {
		return change.Position{}, fmt.Errorf("etcd: load %q: %w", id, err)
	}
	if len(resp.KVs) == 0 || len(resp.KVs[0].Value) == 0 {
		return change.Position{}, fmt.Errorf("etcd: load %q under %s: %w", id, s.cfg.Prefix, checkpoint.ErrNotFound)
	}
	p, err := checkpoint.DecodeRecord(resp.KVs[0].Value)
	if err != nil {
		return change.Position{}, fmt.Errorf("etcd: load %q: %w", id, err)
	}
	return p, nil
}

// Save records p under id if id has no fence.
func (s *Store) Save(ctx context.Context, id string, p change.Position) error {
	return s.save(ctx, id, p, etcdconn.CreateRevisionIs(s.fenceKey(id), 0), checkpoint.Fence{})
}

// save puts p under id if cond holds; otherwise it reports the fence id
// holds.
func (s *Store) save(ctx context.Context, id string, p change.Position, cond etcdconn.Compare, want checkpoint.Fence) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("etcd: save %q: %w", id, err)
	}
	rec, err := checkpoint.EncodeRecord(p)
	if err != nil {
		return fmt.Errorf("etcd: save %q: %w", id, err)
	}
	rctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.c.Txn(rctx, []etcdconn.Compare{cond},
		[]etcdconn.Op{{Put: &etcdconn.PutRequest{Key: []byte(s.posKey(id)), Value: rec}}},
		[]etcdconn.Op{{Range: &etcdconn.RangeRequest{Key: []byte(s.fenceKey(id))}}})
	if err != nil {
		return fmt.Errorf("etcd: save %q: %w", id, err)
	}
	if resp.Succeeded {
		return nil
	}
	var held checkpoint.Fence
	if len(resp.Responses) > 0 && resp.Responses[0].Range != nil && len(resp.Responses[0].Range.KVs) > 0 {
		if held, err = parseFence(resp.Responses[0].Range.KVs[0].Value); err != nil {
			return fmt.Errorf("etcd: save %q: %w", id, err)
		}
	}
	return fmt.Errorf("etcd: save: %w", &checkpoint.FencedError{ID: id, Held: held, Want: want})
}

// Fence records f as the owner of id (see checkpoint.Fencer): a compare
// of the fence key's revision and a put, retried when another claim came
// between the read and the transaction.
func (s *Store) Fence(ctx context.Context, id string, f checkpoint.Fence) (checkpoint.Store, error) {
	if err := f.Check(); err != nil {
		return nil, fmt.Errorf("etcd: fence %q: %w", id, err)
	}
	key := s.fenceKey(id)
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("etcd: fence %q: %w", id, err)
		}
		rctx, cancel := s.ctx(ctx)
		resp, err := s.c.Range(rctx, etcdconn.RangeRequest{Key: []byte(key)})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("etcd: fence %q: %w", id, err)
		}
		var held checkpoint.Fence
		var rev int64
		if len(resp.KVs) > 0 {
			rev = int64(resp.KVs[0].ModRevision)
			if held, err = parseFence(resp.KVs[0].Value); err != nil {
				return nil, fmt.Errorf("etcd: fence %q: %w", id, err)
			}
		}
		if !checkpoint.CanClaim(held, f) {
			return nil, fmt.Errorf("etcd: fence: %w", &checkpoint.FencedError{ID: id, Held: held, Want: f})
		}
		rctx, cancel = s.ctx(ctx)
		tx, err := s.c.Txn(rctx, []etcdconn.Compare{etcdconn.ModRevisionIs(key, rev)},
			[]etcdconn.Op{{Put: &etcdconn.PutRequest{Key: []byte(key), Value: []byte(fenceValue(f))}}}, nil)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("etcd: fence %q: %w", id, err)
		}
		if tx.Succeeded {
			return &fenced{s: s, id: id, f: f}, nil
		}
	}
}

// fenced is the Store of one owner of one pipeline.
type fenced struct {
	s  *Store
	id string
	f  checkpoint.Fence
}

func (f *fenced) Load(ctx context.Context, id string) (change.Position, error) {
	return f.s.Load(ctx, id)
}

func (f *fenced) Save(ctx context.Context, id string, p change.Position) error {
	if id != f.id {
		return fmt.Errorf("etcd: save %q: the store is fenced for pipeline %q", id, f.id)
	}
	return f.s.save(ctx, id, p, etcdconn.ValueIs(f.s.fenceKey(id), fenceValue(f.f)), f.f)
}

// Close drops the connections.
func (s *Store) Close() error { return s.c.Close() }
