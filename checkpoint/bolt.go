package checkpoint

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sluice-cdc/sluice/change"
)

// bucketName is the bbolt bucket that holds one key per pipeline id.
var bucketName = []byte("sluice.positions")

// Bolt is a Store in an embedded bbolt file. Every Save is one bbolt
// transaction, fsync'd before it returns; bbolt's copy-on-write pages and
// double meta page make a crash at any point leave either the old or the new
// position. A file is locked by one process at a time.
type Bolt struct {
	db   *bolt.DB
	path string
}

// OpenBolt opens (creating if needed) the bbolt state file at path. It
// waits up to lockTimeout for another process holding the file lock to
// release it (0 means one second).
func OpenBolt(path string, lockTimeout time.Duration) (*Bolt, error) {
	if lockTimeout <= 0 {
		lockTimeout = time.Second
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		return nil, fmt.Errorf("checkpoint: open state file %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketName)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("checkpoint: open state file %s: create bucket: %w", path, err)
	}
	return &Bolt{db: db, path: path}, nil
}

// Load returns the position saved under id.
func (b *Bolt) Load(ctx context.Context, id string) (change.Position, error) {
	if err := ctx.Err(); err != nil {
		return change.Position{}, fmt.Errorf("checkpoint: load %q from %s: %w", id, b.path, err)
	}
	var p change.Position
	err := b.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketName).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		var err error
		p, err = decodePosition(v)
		return err
	})
	if err != nil {
		return change.Position{}, fmt.Errorf("checkpoint: load %q from %s: %w", id, b.path, err)
	}
	return p, nil
}

// Save durably records p under id.
func (b *Bolt) Save(ctx context.Context, id string, p change.Position) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("checkpoint: save %q to %s: %w", id, b.path, err)
	}
	v, err := encodePosition(p)
	if err != nil {
		return fmt.Errorf("checkpoint: save %q to %s: %w", id, b.path, err)
	}
	err = b.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketName).Put([]byte(id), v)
	})
	if err != nil {
		return fmt.Errorf("checkpoint: save %q to %s: %w", id, b.path, err)
	}
	return nil
}

// Close releases the file and its lock.
func (b *Bolt) Close() error {
	if err := b.db.Close(); err != nil {
		return fmt.Errorf("checkpoint: close %s: %w", b.path, err)
	}
	return nil
}
