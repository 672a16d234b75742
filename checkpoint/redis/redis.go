// Package redis is a checkpoint store in a Redis hash:
//
//	redis://[[USER]:PASSWORD@]HOST:6379/DB?key=sluice:checkpoint
//	rediss://…                                             (TLS)
//
// key (default sluice:checkpoint) names one hash holding, per pipeline
// ID, the field pos:ID (the versioned record of package checkpoint) and
// the field fence:ID (the owner's token and name). Every other parameter
// goes to go-redis as its ParseURL reads it (dial_timeout, read_timeout,
// …). One hash keeps every field in one slot, so the store works on a
// Redis Cluster too.
//
// Every Save is one Lua script, which Redis runs atomically: a plain Save
// writes pos:ID only if fence:ID is absent; Fence writes fence:ID only if
// the stored token is smaller (or the same owner's); the owner's Saves
// write pos:ID only if fence:ID is still exactly its own. Durability is
// Redis's: with appendonly yes and appendfsync everysec (the usual
// setting) a crash of the Redis server can lose the last second of saves,
// so a restart resumes a little earlier (changes delivered again, none
// lost); appendfsync always makes every save durable.
package redis

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
)

// DefaultKey is the hash of the positions when the URL names none.
const DefaultKey = "sluice:checkpoint"

// Store is a checkpoint store in a Redis hash. It is a checkpoint.Fencer
// and safe for concurrent use.
type Store struct {
	c   *goredis.Client
	key string
}

// Open connects to the server a redis:// or rediss:// URL names.
func Open(ctx context.Context, u *url.URL) (*Store, error) {
	p := address.NewParams(u)
	key := DefaultKey
	p.String("key", &key)
	if err := p.Err(); err != nil {
		return nil, checkpoint.BadURL(err)
	}
	if key == "" {
		return nil, checkpoint.BadURL(errors.New("parameter key: empty"))
	}
	rest := *u
	rest.RawQuery = p.Rest().Encode()
	opts, err := goredis.ParseURL(rest.String())
	if err != nil {
		return nil, checkpoint.BadURL(errors.New(address.RedactText(err.Error(), rest.String())))
	}
	c := goredis.NewClient(opts)
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("connect to %s: %w", opts.Addr, err)
	}
	return &Store{c: c, key: key}, nil
}

// Key is the hash holding the positions.
func (s *Store) Key() string { return s.key }

// The fence's stored form is "TOKEN OWNER" with the token as 20 digits,
// so that Lua, whose numbers are doubles, compares tokens as strings.
func fenceText(f checkpoint.Fence) string { return fmt.Sprintf("%020d %s", f.Token, f.Owner) }

func parseFence(s string) (checkpoint.Fence, error) {
	tok, owner, ok := strings.Cut(s, " ")
	n, err := strconv.ParseUint(tok, 10, 64)
	if !ok || err != nil {
		return checkpoint.Fence{}, fmt.Errorf("fence %q: want TOKEN OWNER", s)
	}
	return checkpoint.Fence{Token: n, Owner: owner}, nil
}

// saveScript writes pos:ID = ARGV[2] if fence:ID is ARGV[1] (absent when
// ARGV[1] is empty). It returns {1} on success, {0, fence} otherwise.
var saveScript = goredis.NewScript(`
local held = redis.call('HGET', KEYS[1], 'fence:' .. ARGV[3])
if (held == false and ARGV[1] == '') or held == ARGV[1] then
  redis.call('HSET', KEYS[1], 'pos:' .. ARGV[3], ARGV[2])
  return {1}
end
return {0, held or ''}
`)

// fenceScript writes fence:ID = ARGV[1] if the stored fence's token is
// smaller, or equal with the same owner. Same answers as saveScript.
var fenceScript = goredis.NewScript(`
local held = redis.call('HGET', KEYS[1], 'fence:' .. ARGV[2])
if held ~= false then
  local htok, wtok = string.sub(held, 1, 20), string.sub(ARGV[1], 1, 20)
  if not (wtok > htok or held == ARGV[1]) then
    return {0, held}
  end
end
redis.call('HSET', KEYS[1], 'fence:' .. ARGV[2], ARGV[1])
return {1}
`)

// Load returns the position saved under id.
func (s *Store) Load(ctx context.Context, id string) (change.Position, error) {
	b, err := s.c.HGet(ctx, s.key, "pos:"+id).Bytes()
	if errors.Is(err, goredis.Nil) {
		return change.Position{}, fmt.Errorf("redis: load %q from %s: %w", id, s.key, checkpoint.ErrNotFound)
	}
	if err != nil {
		return change.Position{}, fmt.Errorf("redis: load %q from %s: %w", id, s.key, err)
	}
	p, err := checkpoint.DecodeRecord(b)
	if err != nil {
		return change.Position{}, fmt.Errorf("redis: load %q from %s: %w", id, s.key, err)
	}
	return p, nil
}

// Save records p under id if id has no fence.
func (s *Store) Save(ctx context.Context, id string, p change.Position) error {
	return s.save(ctx, id, p, checkpoint.Fence{}, "")
}

func (s *Store) save(ctx context.Context, id string, p change.Position, want checkpoint.Fence, wantText string) error {
	rec, err := checkpoint.EncodeRecord(p)
	if err != nil {
		return fmt.Errorf("redis: save %q: %w", id, err)
	}
	res, err := saveScript.Run(ctx, s.c, []string{s.key}, wantText, rec, id).Slice()
	if err != nil {
		return fmt.Errorf("redis: save %q to %s: %w", id, s.key, err)
	}
	return s.answer(id, res, want)
}

// answer reads a script's answer: nil, or the FencedError of the fence
// it returned.
func (s *Store) answer(id string, res []any, want checkpoint.Fence) error {
	if len(res) > 0 {
		if ok, _ := res[0].(int64); ok == 1 {
			return nil
		}
	}
	if len(res) != 2 {
		return fmt.Errorf("redis: %s: unexpected script answer %v", s.key, res)
	}
	text, _ := res[1].(string)
	held, err := parseFence(text)
	if err != nil {
		return fmt.Errorf("redis: pipeline %q in %s: %w (%v)", id, s.key, checkpoint.ErrFenced, err)
	}
	return fmt.Errorf("redis: %s: %w", s.key, &checkpoint.FencedError{ID: id, Held: held, Want: want})
}

// Fence records f as the owner of id (see checkpoint.Fencer) with one
// script.
func (s *Store) Fence(ctx context.Context, id string, f checkpoint.Fence) (checkpoint.Store, error) {
	if err := f.Check(); err != nil {
		return nil, fmt.Errorf("redis: fence %q: %w", id, err)
	}
	text := fenceText(f)
	res, err := fenceScript.Run(ctx, s.c, []string{s.key}, text, id).Slice()
	if err != nil {
		return nil, fmt.Errorf("redis: fence %q in %s: %w", id, s.key, err)
	}
	if err := s.answer(id, res, f); err != nil {
		return nil, err
	}
	return &fenced{s: s, id: id, f: f, text: text}, nil
}

// fenced is the Store of one owner of one pipeline.
type fenced struct {
	s    *Store
	id   string
	f    checkpoint.Fence
	text string
}

func (f *fenced) Load(ctx context.Context, id string) (change.Position, error) {
	return f.s.Load(ctx, id)
}

func (f *fenced) Save(ctx context.Context, id string, p change.Position) error {
	if id != f.id {
		return fmt.Errorf("redis: save %q: the store is fenced for pipeline %q", id, f.id)
	}
	return f.s.save(ctx, id, p, f.f, f.text)
}

// Close closes the connections.
func (s *Store) Close() error {
	if err := s.c.Close(); err != nil {
		return fmt.Errorf("redis: close: %w", err)
	}
	return nil
}
