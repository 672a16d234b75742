// Package snapshot reads the rows tables already hold, so that a stream
// can begin with them: the shared engine behind the MySQL/MariaDB,
// PostgreSQL and MongoDB sources' snapshots. A source supplies the
// consistent point and the database side (a Reader per worker, its
// tables and keys); this package does the rest — keyset chunking,
// workers, bounded memory, positions, progress and resumption — the same
// way for all three.
//
// # Modes
//
// A source's snapshot Mode (URL parameter snapshot=, `sluice stream
// --snapshot`, sluice.WithSnapshot) says when it snapshots: initial (when
// the stream has no position to resume from), when-needed (also when the
// saved position is no longer in the log, instead of failing), only (the
// snapshot and nothing after it) or never. A source configured by hand
// without a mode never snapshots; `sluice stream` snapshots (initial)
// unless --from names where to start.
//
// # The change model
//
// Every row becomes a change.OpRead change (Sluice JSON "read", Debezium
// "r") with its After image and the columns the stream gives the table's
// changes, so a consumer applies it like an insert that may find the row
// there. change.Change.Snapshot marks the first row of a snapshot
// (SnapshotFirst), the last (SnapshotLast) and the others (SnapshotOn);
// rows of incremental snapshots are SnapshotIncremental. A snapshot's row
// has no transaction and no commit time; ReadTime is when it was read.
//
// # Positions: a snapshot is resumed like a stream
//
// A row's position is the snapshot's consistent point (the place in the
// log the stream continues from: binlog file and offset with the GTID set,
// an LSN, an oplog time) with change.Position.Row = its number (1, 2, …,
// counted across restarts) and change.Position.Snapshot = the snapshot's
// progress (State): the table being read and the key of this row. So
// snapshot rows sort after their consistent point and before every change
// of the log after it, the pipeline checkpoints them like any position —
// only after the sink acknowledged them — and a restart from a saved one
// resumes: tables before the saved table are done, the saved table goes
// on after the saved key, the tables after it are read whole. Nothing is
// read twice and nothing is skipped; a table without a primary key (or
// unique key the source can use) is the exception: it is read in one pass
// and, after a restart in its middle, again from its start (its rows
// delivered before the restart come again, with new positions).
//
// A restart cannot return to the first run's consistent view: the
// transaction (MariaDB, MySQL) or exported snapshot (PostgreSQL) died with
// the process. The resumed run reads the rest at a consistent point of its
// own, later than the first, and the stream still starts at the first
// run's point. Two things follow, both handled by applying changes
// idempotently — a read or an insert replaces the row if it is there, an
// update writes its new row whether or not the old one is there, a delete
// of a missing row does nothing:
//   - the rows the killed run delivered after its last saved position come
//     again, read at the later point (so they may differ); the resumed run
//     numbers its rows from RunRows, after every row an earlier run can
//     have delivered, so that a consumer that drops what it has seen by
//     position takes them;
//   - the stream replays, from the first point, the changes made before
//     the later point to rows the resumed run read, which they already
//     show: a row may briefly go back to an older version before the
//     stream reaches the later point.
//
// From there on every row is exact. A stream that never restarts inside
// its snapshot is exact throughout: every row delivered once as of one
// point, then every change after it, per key in order, never a deleted
// row brought back. (Dropping the replayed changes instead, by comparing
// keys with what the resumed run read, is wrong: the rows delivered after
// the last saved position and deleted before the later point are held by
// the consumer and never read again, so their deletes must come through.)
//
// # Consistent points
//
// Each source takes the least locking its database allows (see the
// sources' documentation for the details and the grants):
//   - MariaDB: every worker runs START TRANSACTION WITH CONSISTENT
//     SNAPSHOT and reads the binlog_snapshot_file and
//     binlog_snapshot_position status its transaction was given (with
//     BINLOG_GTID_POS for the GTID position): the InnoDB view and the
//     binlog position are taken together, no lock at all. Workers whose
//     positions differ (a commit fell between their starts) start again.
//   - MySQL: a consistent snapshot is not tied to the binlog, so the
//     workers start their transactions under FLUSH TABLES WITH READ LOCK,
//     held only until each has started and the position is read (with
//     LOCK INSTANCE FOR BACKUP first, where granted, to keep DDL out for
//     the snapshot's length). Not tested here: no MySQL server runs in
//     this project's tests.
//   - PostgreSQL: the exported snapshot of the replication slot's
//     creation (CREATE_REPLICATION_SLOT … (SNAPSHOT 'export')), imported
//     by every worker with SET TRANSACTION SNAPSHOT; when the slot exists
//     already (a restart, a slot made by hand), a temporary slot is made
//     for its exported snapshot and the stream starts at that slot's
//     consistent point on the real slot.
//   - MongoDB (and FerretDB) has no consistent view to read: the source
//     notes the oplog's newest time, reads the collections in _id order,
//     and tails the oplog from that time. A document changed while its
//     part was being read comes again through the stream; changes from
//     before the read of its part are dropped, by _id, while the process
//     lives (after a restart in that stretch they come again: applying
//     changes by _id, as upserts, ends in the same documents).
//
// # Chunks, workers and memory
//
// Tables are read in the order of CompareTables, each in key order by
// keyset pagination: SELECT … WHERE (key) > (last key) ORDER BY key LIMIT
// ChunkRows — never OFFSET, so every chunk costs the same however deep
// into the table. Workers (Options.Workers, default 2) each hold a
// connection in the consistent view and take the next table as they
// finish one, reading ahead while the table before is delivered; rows are
// delivered table by table, so the progress stays one table and one key.
// The bytes read and not yet delivered are bounded (Options.MemoryBytes,
// shared by the workers; a single row wider than a worker's share is
// read alone), so memory does not grow with a table or with its rows'
// width. Progress (rows done of the database's estimate, rate, time left)
// is logged and handed to Options.Progress.
//
// # Incremental snapshots
//
// While a stream runs, `sluice snapshot SOURCE --table shop.orders` asks it
// to read tables again without pausing and without locks, with Netflix
// DBLog's watermarks: the request is a row the command inserts into a
// signalling table (created by Sluice, name configurable), which the
// stream sees in its own log; for each chunk the stream writes a low
// watermark row, reads the chunk (a plain SELECT, keyset-paginated), and
// writes a high watermark row. The stream goes on delivering changes and
// notes the keys they touch, from the previous chunk's delivery (or the
// table's start) to the high watermark — a window that begins before the
// low watermark, because PostgreSQL may make a transaction visible after
// a later one (a commit record written before the low watermark's, its
// transaction still invisible to the read); at the high watermark it
// drops the chunk's rows whose keys changed in the window — the log's
// newer version has been or will be delivered — and delivers the rest
// (change.SnapshotIncremental), positioned right after the high
// watermark's transaction. Per-key order holds and a row deleted
// in the window never comes back. The progress (request, table, last key,
// tables left) rides on every position the stream emits meanwhile, so a
// restart resumes the request where it stood; the signalling table's own
// rows never reach the sink. MariaDB and PostgreSQL; tables without a key
// cannot be snapshotted this way.
package snapshot
