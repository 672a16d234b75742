// Package source is the contract every Sluice source shares: where a
// stream begins without a saved position (Start), the error for a position
// the database no longer holds (ErrPositionLost), the reconnect policy
// (Retry), the URL parameters all sources read the same way, and the
// registry that opens a source from its URL.
//
// A source package (source/mysql, source/postgres, source/mongodb) has the
// same shape:
//
//	func ParseURL(raw string) (Config, error) // reads its URL; unknown parameters are errors
//	func New(cfg Config) (*Source, error)      // validates; connects only in Stream
//	func (s *Source) Stream(ctx context.Context, from change.Position, emit func([]change.Change) error) error
//
// Its Config embeds Common (Start and Logger) and, where the source
// reconnects by itself or hands changes over in batches, has fields named
// Retry (a Retry) and BatchSize. Stream follows the resume contract of
// package pipeline. Once connected, a source logs what its connection is
// (plain, encrypted, verified: Security) through a SecurityNote, once per
// Source. Package sources registers every source Sluice ships.
package source
