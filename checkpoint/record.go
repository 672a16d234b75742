package checkpoint

import "github.com/sluice-cdc/sluice/change"

// EncodeRecord returns the stored form of p that every key-value backend
// keeps (bbolt, etcd, ZooKeeper, Redis): a small versioned JSON record of
// the Position's fields, independent of its text form, so that what one
// release wrote the next one reads.
func EncodeRecord(p change.Position) ([]byte, error) { return encodePosition(p) }

// DecodeRecord parses what EncodeRecord returned. It refuses record
// versions this release does not know.
func DecodeRecord(b []byte) (change.Position, error) { return decodePosition(b) }
