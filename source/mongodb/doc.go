// Package mongodb streams changes from MongoDB: change streams
// (?mode=changestream) or tailing the replica set's oplog (?mode=oplog),
// with the official Go driver v2. The default, ?mode=auto, reads change
// streams where the server supports them and tails the oplog elsewhere.
//
// # URLs
//
//	mongodb://host:27017/[DB]?replicaSet=rs0&mode=auto|changestream|oplog&collection=C
//	    &fullDocument=updateLookup&fullDocumentBeforeChange=whenAvailable&from=latest|earliest
//
// The path names the database scope (and, as in every MongoDB URI, the
// default authentication database); collection narrows it to one
// collection. Without a path the change stream watches the deployment.
// Sluice's parameters are removed before the URL reaches the driver.
//
// # Choosing the mode
//
// mode=auto decides at each start, and logs its choice once per Source
// with the reason:
//   - a saved position keeps the mode that wrote it: a position holding a
//     resume token (Position.Token) was written by a change stream and
//     resumes there; one without was written by oplog tailing and resumes
//     there, even if the server has gained change streams since;
//   - from=earliest (no position) tails the oplog, the only log with an
//     oldest entry to start at;
//   - otherwise it opens the change stream. If the server answers that it
//     cannot run one (see ErrChangeStreamsUnsupported: NotImplemented,
//     CommandNotSupported, CommandNotFound, "only supported on replica
//     sets", or any error from a server whose buildInfo lists its
//     aggregation stages without $changeStream, as FerretDB's does), it
//     tails the oplog and logs "change streams not supported by this
//     server (FerretDB v1.24.2): tailing the oplog". Any other error (the
//     network, authentication) is returned: it never switches modes.
//
// mode=changestream and mode=oplog force one. Neither reads a position
// whose numbering only the other reproduces: mode=oplog refuses a position
// with a resume token, and mode=changestream one inside an oplog
// transaction entry (no token, an Index). A bare timestamp
// (mongo:SECONDS.INCREMENT, which oplog tailing also writes for a change
// outside a transaction) means the same to both: start after it. A server
// with neither (a standalone mongod: no change streams, no local.oplog.rs)
// gives an error saying so.
//
// # TLS
//
// TLS is the driver's, set by the connection string: off by default for
// mongodb:// and on for mongodb+srv://, as in every MongoDB driver. With
// tls=true every connection is TLS and verifies the certificate chain
// (against tlsCAFile, else the system's roots) and each host's name;
// tlsInsecure=true turns verification off. The driver has no "prefer"
// mode and never falls back, so the configuration says what every
// connection is. Each Source logs it once, after the server first answers:
// WARN for plain text or tlsInsecure, INFO for a verified connection or a
// Unix socket; the TLS version is not logged (the driver does not expose
// it). A server that cannot be reached (a certificate that does not
// verify, a refused connection) gives an error naming each host and why.
//
// # The change model
//
// Namespace is the database and the collection; Key is _id (the column
// with Column.Key set). A row image has one column per top-level field,
// Column.Type being the BSON type alias ("int", "long", "double",
// "decimal", "objectId", "date", …). Values keep BSON types exactly:
// int32 and int64 are KindInt with Size 32 and 64, double is KindFloat
// Size 64, Decimal128 is KindDecimal with its exact text (plain notation,
// "NaN", "Infinity"; E notation past 80 digits), ObjectId KindObjectID,
// date KindTimestamp (millisecond precision, Zoned at UTC), Timestamp
// KindBSONTimestamp, regex KindRegex, documents KindDocument and arrays
// KindArray (recursively), binary KindBytes with the binary subtype in
// Value.U (0 generic, 4 UUID, …), and MinKey, MaxKey, JavaScript (with or
// without scope), Symbol, DBPointer and undefined KindOther, Names[0]
// naming the type.
//
// insert: After is the document. delete: Before is the pre-image when the
// stream has one, else the documentKey (_id). replace: an update whose
// After is the new document (Before the pre-image, if any). update: After
// is the full document when known (change stream fullDocument=updateLookup
// or a post-image), else just _id, followed by the update description in
// three columns whose names start with '$' so that they never clash with
// fields:
//
//	$updatedFields    document: dotted path → new value
//	$removedFields    array of dotted paths
//	$truncatedArrays  array of {field, newSize} (change streams always;
//	                  oplog only when the entry truncated an array)
//
// When an update has both images, columns are the post-image's fields,
// then fields only the pre-image has; a field missing from one image is
// KindAbsent there. A consumer applies an update by taking the full
// document when the image has fields besides _id and the $ columns, and
// the description otherwise.
//
// DDL (drop, rename, dropDatabase, create…, and invalidate) is OpDDL with
// the command as JSON in SQL, e.g. {"drop":"orders"}; oplog commands ("c"
// entries) carry the command document in canonical extended JSON. After an
// invalidate event the stream ends with an error.
//
// # Positions
//
// Position.Offset is the oplog timestamp (seconds<<32 | increment) of the
// change (change stream: its clusterTime) and Token the change stream's
// resume token (_data). Changes sharing a timestamp — a transaction — are
// numbered by Index: begin 1, changes 2, 3, …, commit last; a change of
// its own has Index 0.
//
// Oplog mode resumes with ts > Offset, or ts ≥ Offset dropping Index ≤
// from.Index inside a transaction entry (applyOps), and fails with
// source.ErrPositionLost when the oldest oplog entry is newer than the position.
// Transactions (applyOps entries, with lsid and txnNumber) become begin,
// the operations and commit, Tx.ID being the session UUID in hex, ':' and
// the txnNumber; a transaction split over several partialTxn entries gets
// its commit with the last one. "n" no-ops become heartbeats.
//
// Change-stream mode resumes with resumeAfter the Token (or
// startAtOperationTime the Offset, dropping what it re-reads). A commit's
// Token is its last change's token prefixed with "c:", so that resuming at
// a commit and resuming at the change before it differ. A begin's Token is
// the token of the change before it, or, when the stream's first event is
// the transaction's, its first change's token prefixed with "b:", which
// resumes with startAtOperationTime: every change-stream position holds a
// token. The commit is emitted when the next event is not of the
// transaction, or when the stream has nothing more to give. A resume from
// inside a transaction continues its numbering; its commit then has an
// empty Tx.ID if no later change of it names the transaction. When the
// post-batch resume token moves past the last change, a heartbeat carries
// it. The server's ChangeStreamHistoryLost (286), ChangeStreamFatalError
// (280) and InvalidResumeToken (260) become source.ErrPositionLost; "cannot run
// a change stream" answers become ErrChangeStreamsUnsupported. A stream
// the server closes without an error ends with one.
//
// # What was tested against a live server
//
// Tested against FerretDB v1.24.2 (SQLite backend, see internal/testenv),
// which has no change streams and writes only i/u/d oplog entries:
//   - mode=auto with the default URL (no mode, the whole deployment)
//     falls back to the oplog, logs that once with FerretDB's answer, and
//     streams inserts, updates and deletes; resuming from its saved
//     positions, in the same and in a new Source, stays on the oplog and
//     loses and repeats nothing; a change-stream position is refused with
//     ErrChangeStreamsUnsupported; without local.oplog.rs it says that
//     there is neither an oplog nor change streams;
//   - oplog tailing: inserts, updates ($set of nested paths, $inc, array
//     and date replacements) and deletes of nested documents holding every
//     BSON type FerretDB stores (double, string, document, array, binary
//     subtypes 0 and 4, ObjectId, bool, date, null, regex, int32,
//     timestamp, int64) arrive in order and rebuild the collection equal to
//     find(); restarts from saved positions lose and repeat nothing; a
//     position older than the oplog gives source.ErrPositionLost; SIGKILLs at
//     random moments of a child process running the pipeline with the
//     bbolt store, while a writer inserts and updates, leave an output
//     whose deduplicated union rebuilds the collection exactly;
//   - TLS against FerretDB's TLS listener: tls=true with tlsCAFile connects
//     and logs that it verified; tlsInsecure logs that the server is not
//     verified; plain text logs that too; another CA, another host name,
//     the system's roots and TLS to the plain listener fail naming the
//     address;
//   - mode=changestream on FerretDB gives ErrChangeStreamsUnsupported for
//     a collection (FerretDB answers NotImplemented) and for a database or
//     the deployment (it answers FailedToParse; its buildInfo lists no
//     $changeStream).
//
// Not tested against a live server (no MongoDB runs here): the change
// stream read loop itself (Watch and its options, resumeAfter and
// startAtOperationTime, TryNext, post-batch resume tokens), and auto
// mode's choice of change streams on a server that has them. Tested on
// documents shaped as the MongoDB manual documents them: change events of
// every operation type with and without pre/post images, transactions
// (lsid, txnNumber), resume tokens and resuming after each position, the
// server error codes; oplog $unset, $v:2 diffs (including array diffs and
// truncation), replacements, commands and applyOps transactions.
// FerretDB v1 logs an $unset without a removal, so removals were not seen
// live. Decimal128, MinKey/MaxKey, JavaScript, Symbol, DBPointer and
// undefined are tested on constructed BSON only (FerretDB rejects them).
package mongodb
