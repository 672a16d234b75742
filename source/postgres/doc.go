// Package postgres reads live changes from PostgreSQL through logical
// replication with the built-in pgoutput plugin and turns them into
// change.Change values.
//
// # Use
//
//	src, err := postgres.Open("postgres://repl:secret@db:5432/app?slot=sluice&publication=sluice")
//	err = src.Stream(ctx, from, emit) // src.Ack(pos) after each checkpoint save
//
// URL parameters: slot (default sluice), publication (default sluice),
// create-publication (all | schema.table,… | no; default all: a missing
// publication is created FOR ALL TABLES), temporary (a slot dropped when
// the connection ends), proto-version (1-4, default the server's highest),
// streaming (default true), memory-bytes (default 4 MiB), spill-dir,
// batch-size, status-interval, messages (deliver pg_logical_emit_message
// as inserts into pg_catalog.pg_logical_emit_message), retry-min and
// retry-max (reconnect backoff, default 100ms and 10s; retry-max=-1 turns
// reconnecting off). Others, such as
// sslmode and sslrootcert (see TLS below), go to pgconn. The role needs REPLICATION (or SUPERUSER), and
// the server wal_level=logical; both are checked first, with errors that
// say what to change (ErrWALLevel, ErrPrivilege, ErrAuth).
//
// # Connections
//
// A Source opens two connections per Stream: a replication connection
// (replication=database) that creates the slot and streams, and an ordinary
// one for the catalog (wal_level and privilege checks, the publication,
// enum labels, domain base types, column nullability and primary keys).
// Both send DateStyle=ISO, TimeZone=UTC, bytea_output=hex and
// extra_float_digits=3 in the startup packet, so the text pgoutput produces
// has one known form whatever the server's defaults.
//
// # TLS
//
// TLS follows libpq's parameters as pgconn reads them, with libpq's
// default, sslmode=prefer: TLS when the server offers it, plain text when
// it does not, and the certificate is not verified either way.
// sslmode=verify-full with sslrootcert=FILE verifies the chain and the host
// name; verify-ca, and require with sslrootcert, the chain only; require
// alone encrypts without verifying. Unlike libpq, ~/.postgresql/root.crt
// is not read: without sslrootcert, verify-ca and verify-full verify
// against the system's roots (libpq's sslrootcert=system). PGSSLMODE and
// the other PG* variables set defaults, as in libpq.
//
// Each Source logs what its connections are, once when it first connects
// and again only if a reconnect finds them different: at WARN when a
// connection is in plain text or its server is not verified (with the
// parameters that fix it), at INFO when it is verified or a Unix socket.
// When the catalog and replication connections differ, the weaker is
// logged and named.
//
// # Reconnecting
//
// Once streaming has started, Stream survives lost connections and server
// restarts: it reconnects with backoff doubling from retry-min to
// retry-max and restarts strictly after the last change emit accepted
// (the same rule as a restart from a saved position), so the pipeline
// sees neither a gap nor a repeat. The slot's flush position stays at what
// was acknowledged. Errors reconnecting cannot cure (authentication,
// wal_level, privileges, a slot that does not fit, a lost position, a
// failing emit) end Stream; Stats counts reconnects.
//
// # Decoding: our own, not pglogrepl
//
// pgoutput is decoded here (pgoutput.go), not with pglogrepl. The format is
// small and fully specified, and owning it lets the decoder reuse one
// message struct and its tuple slices for every message, point values into
// the received bytes instead of copying them, keep raw messages of streamed
// transactions as bytes for the spill file (pglogrepl parses into structs
// that would have to be re-encoded), and follow protocol 4 without waiting
// for a dependency. The replication handshake and standby status updates are
// a few lines on top of pgconn.
//
// Values arrive in text form by default and are decoded exactly: integers, numeric as KindDecimal text
// (NaN and ±Infinity included), floats, bool, text types, bytea, json and
// jsonb, uuid, date, time, timetz, timestamp, timestamptz (±infinity as
// change.TimestampInfinity), bit strings of up to 64 bits, enums (with their
// 1-based sort position), domains (decoded as their base type, typed with
// the domain's name) and arrays (KindArray, nested for several dimensions).
// Types Sluice has no kind for — interval, inet, cidr, macaddr, money,
// ranges, composites, tsvector, and the dates and wall-clock timestamps
// that KindDate and KindDateTime cannot hold (infinity, BC) — are KindOther
// with the server's text and the type name in Names[0]. A TOASTed value
// the server did not send ('u') is change.Unchanged(), never NULL. In a
// key-only old tuple (REPLICA IDENTITY DEFAULT or USING INDEX) the columns
// outside the identity are absent (the zero Value), not NULL.
//
// With binary=true (PostgreSQL 14+) the server sends values in their
// binary send form, which saves the walsender the text output of
// timestamps, numerics and floats; values_binary.go turns each into the
// same Value the text form gives (tested type by type against text mode).
// A value binary cannot reproduce exactly — a type kept as the server's
// text, a BC date or timestamp, an array with explicit bounds, a bit string
// over 64 bits — makes the source restart from its last position in text
// mode for the rest of its life, with a warning; positions make the
// restart exact. timestamptz values then come in UTC whatever TimeZone is.
//
// # Protocol versions and streamed transactions
//
// The protocol version is the highest the server speaks (PostgreSQL 14: 2,
// 15: 3, 16+: 4; older: 1), and from version 2 on the source asks for
// streaming=on: the server sends a transaction larger than
// logical_decoding_work_mem in blocks while it runs. Those blocks are kept
// as raw messages per transaction, in memory up to Config.MemoryBytes for
// all transactions together and past it in one file per transaction under a
// private temporary directory, so memory stays flat. Stream Abort of a
// subtransaction (ROLLBACK TO SAVEPOINT) marks it so that its rows are
// skipped at replay (its Relation messages are kept, since the server sends
// a relation only once per streamed transaction); an abort of the whole
// transaction deletes it. At Stream Commit the transaction is replayed and
// delivered like any other, so only committed rows are ever delivered.
//
// # Positions and feedback
//
// Positions follow the pipeline's contract: every change of a transaction
// has Offset = the commit LSN (Begin's final LSN, or Stream Commit's commit
// LSN) and Index = 1 for the begin event, 2 for the first row and so on, so
// several changes sharing one LSN are each addressable; the commit event
// has Offset = the commit record's end LSN and Index 0. Stream restarts at
// from's LSN and drops every change at or before from. A non-transactional
// logical message sits at its LSN + 1, Index 0; an idle heartbeat at the
// server's WAL end, Index 0.
//
// The slot's flush position advances only through Ack, which the pipeline
// calls with each position it has saved: it never runs ahead of delivery.
// Keepalives that ask for a reply are answered at once by the reading
// goroutine, even while emit blocks, and while that goroutine itself waits
// for room (the sink is slow) it keeps sending status updates every
// Config.StatusInterval, so backpressure never trips wal_sender_timeout. When no transaction is open, a
// keepalive's WAL end past the last change becomes a heartbeat change; once
// the pipeline saves and acknowledges it, the slot follows the server on an
// idle publication without anything being written to the source.
//
// The reading goroutine reads the socket through a 256 KiB buffer and hands
// the decoder everything one read brought as one chunk, so a backlog costs
// a goroutine hand-over, a batch and a sink write per read rather than per
// message. When the server sends a steady trickle (a small chunk right
// after another), it waits 0.5 ms before reading again so that the next
// read takes many messages; a change after a quiet spell is not delayed.
// During that wait the TCP socket's SO_RCVLOWAT is raised to 64 KiB, so
// the walsender's packets do not wake the Go runtime one by one; it is 1
// again before any read that may block.
package postgres
