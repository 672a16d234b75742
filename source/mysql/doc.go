// Package mysql is Sluice's MySQL and MariaDB source: it joins a server as
// a replica (handshake, authentication, optional TLS, COM_REGISTER_SLAVE,
// COM_BINLOG_DUMP by file and position or by GTID), reads the binlog
// stream, decodes every event with package binlog and turns row events,
// DDL and transaction boundaries into change.Change values.
//
// # Binlog format
//
// At every connect the source reads binlog_format and binlog_row_image. A
// server with binlog_format STATEMENT or MIXED logs INSERT, UPDATE and
// DELETE as SQL text without their rows: it is refused with an error
// wrapping ErrBinlogFormat (never retried) unless Config.AllowStatement is
// set. DML logged as text (also by a session that set binlog_format on a
// ROW server) becomes a change.OpStatement change carrying the SQL and the
// default database, never a ddl change and never dropped. A row image
// other than FULL is logged once as a warning.
//
// The handshake and authentication (mysql_native_password,
// caching_sha2_password, MariaDB client_ed25519, TLS) use go-mysql's client
// package; everything after COM_BINLOG_DUMP — packet framing of the dump
// stream, event decoding, schema tracking and positions — is Sluice's own.
//
// # TLS
//
// A URL without tls is tls=prefer, the mysql client's default: TLS when
// the server offers it (without verifying its certificate), plain text
// when it does not, and never on a Unix socket. tls=on (the default when
// tls-ca, tls-cert or tls-server-name is given) requires TLS and verifies
// the certificate chain against tls-ca (else the system's roots) and the
// host name (tls-server-name, else the URL's host); tls=skip-verify
// requires TLS without verifying; tls=off is plain text. A Config built by
// hand is plain text unless Config.TLS is set. Each Source logs its
// connection's security once, and again only if a reconnect differs:
// WARN for plain text or an unverified server, INFO for a verified or
// local connection.
//
// # Positions
//
// Every change carries a change.Position of flavor FlavorBinlog:
//
//   - changes inside a transaction (begin, rows, DDL) point at the first
//     event of their transaction (File, Offset) with Index = number of
//     changes of that transaction delivered up to and including this one
//     (Tx.Index+1), and GTIDSet = the executed set before the transaction;
//   - the commit change points just past the transaction (the offset of the
//     next event) with Index 0 and GTIDSet = the executed set after it.
//
// Heartbeats (Config.EmitHeartbeats) sit between transactions like a
// commit and are emitted only when the position moved without a
// transaction (a rotation), so positions never repeat.
//
// Tx.ID is the transaction's GTID (MySQL uuid:n, MariaDB domain-server-seq);
// a transaction without one (MySQL with gtid_mode=OFF) is named by the
// file and offset of its first event, since its XID only arrives with the
// commit, after its rows were emitted.
//
// So positions grow strictly, and resuming from any of them is exact:
// Source.Stream restarts the dump at the transaction's first event (or from
// its GTID set) and skips the first Index changes of that transaction.
// A position whose file or GTIDs the server has purged yields
// source.ErrPositionLost; the source never jumps silently to another position.
//
// # Schema
//
// Column names, types and keys come from the TABLE_MAP optional metadata
// when the server writes binlog_row_metadata=FULL. Otherwise they come from
// a schema history: information_schema.COLUMNS read at connect time, kept
// current by parsing every DDL statement in the stream (TiDB's MySQL
// parser) and persisted to a file so that a restart from an old position
// sees the columns valid at that position. A rows event whose shape does not
// match the schema held stops the stream with a SchemaMismatchError.
// Without a history file (or resuming from a position older than its first
// snapshot) the snapshot is the server's current schema, which is only right
// if no DDL happened since the position: the shape check catches added,
// dropped and retyped columns, not renames. DDL the parser cannot read
// (MariaDB-only syntax, CREATE TABLE ... SELECT) makes the tracker re-read
// information_schema for that database, with the same caveat.
package mysql
