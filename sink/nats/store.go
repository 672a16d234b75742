package nats

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
)

// kvStore keeps pipeline positions in a JetStream key-value bucket: key
// the pipeline's name (escaped by kvKey), value the position as Sluice
// prints it.
type kvStore struct {
	kv       jetstream.KeyValue
	bucket   string
	retryFor time.Duration
}

// kvAttempt bounds one read or write of the bucket; a failed one is
// retried (a connection cut, a server restarting) for up to retryFor.
const kvAttempt = 5 * time.Second

// kvRetriable reports whether a read or write of the bucket that failed
// with err may succeed again: what retriable says, and an attempt that
// ran out of its own time while ctx is still alive.
func kvRetriable(ctx context.Context, err error) bool {
	return retriable(err) || ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded)
}

// openKV opens the bucket, creating it (file storage, one value per key)
// when it does not exist.
func openKV(ctx context.Context, js jetstream.JetStream, cfg *Config) (*kvStore, error) {
	var kv jetstream.KeyValue
	get := func(ctx context.Context) (err error) {
		kv, err = js.KeyValue(ctx, cfg.Bucket)
		return err
	}
	err := retryJS(ctx, get)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		err = retryJS(ctx, func(ctx context.Context) (err error) {
			kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
				Bucket:      cfg.Bucket,
				Description: "positions of sluice pipelines",
				History:     1,
				Storage:     jetstream.FileStorage,
			})
			return err
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			err = retryJS(ctx, get) // created by an attempt whose answer was lost
		} else if err == nil {
			cfg.Logger.Info("created key-value bucket for positions", "bucket", cfg.Bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("nats: key-value bucket %s: %w", cfg.Bucket, err)
	}
	return &kvStore{kv: kv, bucket: cfg.Bucket, retryFor: cfg.RetryFor}, nil
}

// kvKey returns the bucket key of a pipeline name: the characters a key
// may hold (letters, digits, '-', '_', '/', '.' not at either end or
// doubled) as they are, every other byte as "=XX".
func kvKey(id string) string {
	b := make([]byte, 0, len(id))
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '/'
		if c == '.' && i > 0 && i < len(id)-1 && id[i-1] != '.' {
			ok = true
		}
		if ok {
			b = append(b, c)
			continue
		}
		b = append(b, '=', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
	}
	return string(b)
}

// Load returns the position stored for pipeline id, or an error wrapping
// checkpoint.ErrNotFound.
func (k *kvStore) Load(ctx context.Context, id string) (change.Position, error) {
	var e jetstream.KeyValueEntry
	var err error
	began := time.Now()
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		actx, cancel := context.WithTimeout(ctx, kvAttempt)
		e, err = k.kv.Get(actx, kvKey(id))
		cancel()
		if err == nil || errors.Is(err, jetstream.ErrKeyNotFound) || !kvRetriable(ctx, err) || ctx.Err() != nil || time.Since(began) > k.retryFor {
			break
		}
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-time.After(wait):
		}
		if ctx.Err() != nil {
			break
		}
	}
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return change.Position{}, fmt.Errorf("nats: pipeline %q in bucket %s: %w", id, k.bucket, checkpoint.ErrNotFound)
	case err != nil:
		return change.Position{}, fmt.Errorf("nats: load position of pipeline %q from bucket %s: %w", id, k.bucket, err)
	}
	p, err := change.ParsePosition(string(e.Value()))
	if err != nil {
		return change.Position{}, fmt.Errorf("nats: bucket %s key %s: %w", k.bucket, kvKey(id), err)
	}
	return p, nil
}

// Save stores p as pipeline id's position, retrying while the servers
// are unreachable (for up to retry-for).
func (k *kvStore) Save(ctx context.Context, id string, p change.Position) error {
	began := time.Now()
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		actx, cancel := context.WithTimeout(ctx, kvAttempt)
		_, err := k.kv.PutString(actx, kvKey(id), p.String())
		cancel()
		if err == nil {
			return nil
		}
		if !kvRetriable(ctx, err) || time.Since(began) > k.retryFor {
			return fmt.Errorf("nats: save position of pipeline %q to bucket %s: %w", id, k.bucket, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nats: save position of pipeline %q to bucket %s: %w", id, k.bucket, ctx.Err())
		case <-time.After(wait):
		}
	}
}
