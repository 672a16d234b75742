package change

import "time"

// Op is what a change does.
type Op uint8

// The operations.
const (
	OpInsert Op = iota + 1
	OpUpdate
	OpDelete
	OpTruncate
	OpDDL
	OpBegin
	OpCommit
	OpHeartbeat
	// OpStatement is a data change the source logged as SQL text rather
	// than as rows (MySQL/MariaDB binlog_format=STATEMENT or MIXED): SQL
	// holds the statement, and Before and After are nil. The rows it
	// changed are not known.
	OpStatement
	// OpRead is a row read by a snapshot rather than from the log: the
	// row as it stood at the snapshot's point (After; Before is nil). A
	// consumer applies it like an insert that may find the row already
	// there. Debezium writes it as op "r". Snapshot says where in the
	// snapshot it stands.
	OpRead
)

// SnapshotMark places a change in a snapshot, as Debezium's
// source.snapshot does.
type SnapshotMark uint8

// The marks. A change outside any snapshot has SnapshotNone.
const (
	SnapshotNone SnapshotMark = iota
	// SnapshotFirst is the first row of an initial snapshot.
	SnapshotFirst
	// SnapshotOn is any other row of an initial snapshot ("true").
	SnapshotOn
	// SnapshotLast is the last row of an initial snapshot.
	SnapshotLast
	// SnapshotIncremental is a row of an incremental snapshot, read while
	// the stream runs.
	SnapshotIncremental
)

// Namespace names where a change happened: a database (PostgreSQL: schema;
// MongoDB: database) and a table (MongoDB: collection).
type Namespace struct {
	Database string
	Table    string
}

// Column describes one column of a row image.
type Column struct {
	// Name is the column name ("" when the source does not know it, e.g.
	// binlog_row_metadata=MINIMAL without a schema; encoders then use "@1", "@2" …).
	Name string
	// Type is the source's own type text, e.g. "decimal(12,2)", "int unsigned", "timestamptz".
	Type string
	// Nullable reports whether the column may hold NULL.
	Nullable bool
	// Key marks primary-key (or replica-identity, or _id) columns.
	Key bool
}

// Tx places a change inside its source transaction.
type Tx struct {
	// ID is the source's transaction id: a GTID, an XID, a PostgreSQL xid, a MongoDB lsid+txnNumber.
	ID string
	// Index is the 0-based index of this change inside the transaction.
	Index uint64
	// Last is set on the last data change of the transaction.
	Last bool
}

// Change is one event from a source.
type Change struct {
	Op     Op
	Source string // "mysql", "mariadb", "postgres", "mongodb"
	Namespace
	// Columns describes the row; Before and After are index-aligned with it.
	// Several changes of one table may share the same Columns slice.
	Columns []Column
	Before  []Value // nil for insert
	After   []Value // nil for delete
	// SQL holds the statement text of a DDL or statement change.
	SQL string
	Tx  Tx
	// Snapshot marks the rows of a snapshot (OpRead changes); it is
	// SnapshotNone for changes read from the log.
	Snapshot   SnapshotMark
	Pos        Position
	CommitTime time.Time // when the source committed the transaction
	ReadTime   time.Time // when Sluice read the change
}
