package change

// Flavor says which kind of source log a Position points into.
type Flavor uint8

// Position flavors.
const (
	FlavorNone   Flavor = iota
	FlavorBinlog        // MySQL/MariaDB binlog: File, Offset, GTIDSet
	FlavorLSN           // PostgreSQL WAL: Offset is the LSN
	FlavorMongo         // MongoDB: Offset is the oplog timestamp (seconds<<32 | increment), Token the resume token
)

// Position is where a change sits in its source's log. Positions of one
// source are totally ordered (see Compare) and round-trip through text.
type Position struct {
	Flavor Flavor
	// File is the binlog file name (FlavorBinlog).
	File string
	// Offset is the binlog offset of the event, the LSN, or the oplog timestamp.
	Offset uint64
	// Index counts changes inside the event or transaction at Offset, so a
	// restart inside a huge transaction skips what was delivered.
	Index uint64
	// GTIDSet is the executed GTID set after this change (binlog, optional).
	GTIDSet string
	// Token is an opaque resume token (MongoDB change streams).
	Token string
	// Row numbers the rows a snapshot delivers at the place the rest of
	// the position names (an initial snapshot's consistent point: Flavor,
	// File, Offset, GTID set, token), in delivery order: 1, 2, … (package
	// snapshot starts a run resumed after a restart higher up, see
	// snapshot.RunRows). Such positions sort after the place itself and
	// before every change of the log after it (see ComparePlace), so a
	// snapshot's rows come before the stream that follows it.
	Row uint64
	// Snapshot is the progress of a snapshot at this position (which
	// tables are done, the last key delivered of the one being read),
	// encoded by package snapshot and opaque here. It is set on the rows
	// of a snapshot, and during an incremental snapshot on every change,
	// so that a restart from any saved position resumes the snapshot where
	// it stood. It takes no part in the order except to break ties.
	Snapshot string
}
