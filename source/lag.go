package source

import (
	"context"

	"github.com/sluice-cdc/sluice/change"
)

// Lag is how far a position is behind the end of a database's log. A
// field a source cannot measure is -1.
type Lag struct {
	// Head is the log's current end: SHOW MASTER STATUS, the WAL insert
	// position, the newest oplog entry.
	Head change.Position
	// Bytes of log between the position and Head (MySQL/MariaDB binlog
	// bytes across files; PostgreSQL LSN distance).
	Bytes int64
	// Seconds between the position's time and Head's (MongoDB: oplog
	// timestamps).
	Seconds float64
	// Retained is the log the database keeps for this reader
	// (PostgreSQL: WAL held by the replication slot).
	Retained int64
}

// Lagger is implemented by sources that can measure their lag: Lag asks
// the database where its log ends now and how far at is behind it. It
// opens a connection of its own (it may be called while Stream runs, from
// another goroutine) and returns within ctx.
type Lagger interface {
	Lag(ctx context.Context, at change.Position) (Lag, error)
}

// Reconnecter is implemented by sources that reconnect to their database
// inside Stream: Reconnects counts the connections lost and re-made since
// the Source was built. It may be called from any goroutine.
type Reconnecter interface {
	Reconnects() int64
}
