// Package pipeline runs a Source through a Filter into a Sink and records,
// in a checkpoint Store, how far the Sink has acknowledged.
//
//	source.Stream ──emit──▶ filter + copy ──▶ queue (bounded in bytes) ──▶ sink.Write ──▶ store.Save
//
// # Memory
//
// emit copies what passes the filter into batches the pipeline owns (a few
// allocations per batch, none per change) and queues them. The queue is
// bounded by the estimated bytes of its changes (EstimateSize: the Change
// struct, its strings, every Value and its bytes), not by a count, so a
// transaction of a million wide rows needs no more memory than a small one:
// when the sink falls behind, emit blocks and the source stops reading.
// Defaults (DefaultQueueBytes, DefaultBatchBytes, DefaultBatchChanges): 4 MiB
// of queue, writes of up to 1 MiB or 4096 changes.
//
// # Latency
//
// Nothing waits for a batch to fill. Every emit call queues what it copied
// at once, and the delivery goroutine writes a batch as soon as one is
// queued, taking along whatever else is already queued (up to one write's
// worth): at a low rate each source batch is written alone, at a high rate
// writes grow by themselves, so the sink is flushed when the queue is
// drained, not per change. Checkpoints are saved by a goroutine of their
// own, which is handed the latest acknowledged position and saves it at
// most once per checkpoint interval: a slow store (bbolt syncs the file
// twice per save) never delays delivery. bench/latency.sh measures
// commit→delivery latency end to end.
//
// # Positions and the resume contract (for source authors)
//
// Every change a source emits, including begin, commit and heartbeat
// events, carries a Position in Change.Pos. The pipeline relies on four
// rules:
//
//  1. Positions strictly increase in emission order (change.Compare), and no
//     two emitted changes share one — except that a heartbeat may repeat
//     the position before it (an idle log). The pipeline checks this and
//     stops with ErrOrder rather than checkpoint a broken order.
//  2. The Position of a change means "this change and everything before it".
//     It must be a point the source can restart from. Inside a transaction
//     that is the transaction's own start plus an Index:
//     File/Offset (or the LSN, or the resume token) name where the source
//     restarts reading the transaction — the binlog offset of its GTID or
//     BEGIN event, PostgreSQL's BEGIN final LSN, MongoDB's token before the
//     transaction — and Index is 1 for the begin event, 2 for the first
//     row change, and so on, counting every change the source emits for
//     that transaction. Index 0 marks a point between transactions: a
//     commit's Position points past its transaction (binlog: the next
//     event's offset; PostgreSQL: the commit's end LSN) with Index 0, and so
//     does a change outside any transaction (a DDL, a heartbeat, a MongoDB
//     non-transactional write): resuming there emits everything after it.
//  3. Stream(ctx, from, emit) resumes strictly after from: the source
//     restarts reading at from's File/Offset (LSN, token; GTID sources use
//     from.GTIDSet, which for a position inside a transaction must not yet
//     contain that transaction), and drops the changes at that point whose
//     Index is less than or equal to from.Index. The first change emitted
//     is the one right after from: nothing at or before it again (checked:
//     ErrOrder), nothing after it skipped. A zero from means "the source's configured start"
//     (its URL's default, usually the current end of the log).
//  4. If the source cannot resume at from (the log was purged), Stream
//     returns an error saying so; it never silently starts elsewhere.
//
// # Snapshots
//
// A source that reads the rows a table already holds before following its
// log (an initial snapshot) emits them as change.OpRead changes whose
// positions are the snapshot's consistent point — the place in the log
// the stream continues from — with Position.Row numbering the rows (1, 2,
// …, counted across restarts) and Position.Snapshot holding the
// snapshot's progress (the table being read, the last key delivered).
// change.ComparePlace orders them after the consistent point and before
// every change the log holds after it, so rule 1 holds across the switch
// from snapshot to stream, and rule 3 applies unchanged: Stream from a
// snapshot position continues the snapshot after the row at it (its
// progress names the rows already delivered) and then streams from the
// consistent point. The pipeline saves them like any other position, only
// after delivery, so a restart resumes the snapshot at the last delivered
// row instead of reading everything again. Where a source must carry
// snapshot state past the snapshot's rows — the stream after an
// interrupted snapshot drops what the resumed snapshot has already read,
// an incremental snapshot interleaves its rows with the stream — the
// positions of its other changes carry Position.Snapshot too; it takes no
// part in the order.
//
// The pipeline saves a position only after the sink acknowledged (Write
// returned nil for) every shown change up to it. What it saves is the
// position of the last change a run of acknowledged batches covers — a
// commit (a transaction boundary) or, when a huge transaction spans many
// writes, the row change the sink acknowledged last, whose Index lets a
// restart skip exactly what was delivered: no half transaction emitted
// twice, no tail lost. Changes the filter drops and hidden begin, commit and
// heartbeat events move the position too, so a pipeline whose filter
// matches nothing still advances. With begin/commit shown, the position
// never moves past a begin that has not been written yet. Delivery is
// at-least-once: after a crash the changes acknowledged since the last save
// (about one checkpoint interval, one second by default, plus the time of
// one save) are delivered
// again, with the same positions, so a consumer can drop them by position.
//
// A source that must learn what is durably delivered — a PostgreSQL
// replication slot may release WAL only up to it — implements Acker: the
// pipeline calls Ack with every position it has saved, and at start with
// the saved position it resumes from.
//
// # Sinks that store the position themselves
//
// A sink that can write the position in the same atomic step as the
// changes (a Kafka transaction, an SQL transaction, a Redis MULTI)
// implements PositionWriter: the pipeline hands it, with every write, the
// position that write brings the pipeline to, also when only the position
// moves. Such a sink is its own checkpoint store (it reads the position
// back on Load), and delivery becomes exactly-once: a crash between the
// write and the store's Save cannot happen, because they are one step.
//
// # Sinks that acknowledge later
//
// A Sink's Write is its acknowledgement. A destination that acknowledges
// after taking a batch — the library's iterator (package sluice), whose user
// acknowledges each change, a server whose clients acknowledge batches —
// is an AsyncSink, run with NewAsync: every batch becomes a Delivery, and
// the sink acknowledges it whole (Ack) or change by change (AckAt), in any
// order. The pipeline keeps the positions of what it handed out in order
// and saves the end of the acknowledged prefix, hidden positions (filtered
// changes, hidden begin/commit/heartbeat) included, by the same rules as
// above. A Delivery's bytes count against the queue bound until the sink
// Releases it, so a sink that holds deliveries pushes back on the source.
// When the source ends (or fails), the sink is told with End, and Run
// waits for the outstanding acknowledgements before its last save. A sink
// that learns of a refused change after Send returned (a producer's
// callback) calls the Delivery's Fail: Run stops with that error, having
// saved only the acknowledged prefix. A RecyclingSink, which uses no
// Delivery after releasing it, lets the pipeline reuse batch memory as it
// does for a Sink.
//
// The batch slice passed to emit, and the memory its values point into, may
// be reused by the source once emit returns (the pipeline copies). Columns
// slices and strings are not copied: a source must not modify a Columns
// slice after emitting it (allocate a new one when the schema changes) and
// must not hand out strings that alias reusable buffers.
//
// emit blocks while the queue is full and returns an error once the
// pipeline is stopping (ctx canceled or the sink failed); the source must
// then return promptly, returning that error.
//
// # Shutdown and errors
//
// Canceling Run's context stops the source, abandons the batches not yet
// written, saves the last acknowledged position and returns nil. A source
// error is returned after everything read before it was delivered and
// checkpointed; a sink or store error stops the pipeline at once. Nothing is
// acknowledged that the sink did not accept.
package pipeline
