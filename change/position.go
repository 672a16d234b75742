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
}
