// Package nats is the sink that publishes changes to NATS JetStream, on
// nats.go:
//
//	nats://[USER:PASSWORD@|TOKEN@]HOST[:PORT][,HOST[:PORT]…]/?stream=NAME[&PARAMETERS]
//
// # Subjects and headers
//
// Each change is published to the subject the template subject gives its
// namespace (default {prefix}.{db}.{table}, {prefix} being sluice unless
// prefix says otherwise; {db} is the MySQL database or the PostgreSQL
// schema); in a database or table name the characters a subject token may
// not hold ('.', '*', '>', spaces) become '_'. A DDL statement without a
// table goes to {prefix}, begin and commit events (--begin-commit) to
// {prefix}.transaction, a message the format sends elsewhere (Debezium's
// transaction metadata) to the subject its topic hint names. Every subject
// must be one of the subjects of the JetStream stream the parameter
// stream names (required): a change whose subject is not stops the sink
// before it is sent, naming the subject. A missing stream is an error
// unless create-stream=on, which creates it with file storage, the
// template's subjects ({db} and {table} as wildcards), {prefix} and
// {prefix}.transaction, and a duplicate window of duplicates (default 2m).
//
// The message is what the output format makes of the change (Sluice JSON
// by default; sluice stream --format), with the format's own headers
// (CloudEvents' ce_* in binary mode) and, unless headers=off, the headers
// op, db, table and position (the change's position as Sluice prints it).
// Heartbeats and tombstones (Debezium's empty message after a delete) are
// not published.
//
// # Delivery
//
// Write publishes a batch asynchronously, at most max-pending messages
// (default 1024) awaiting their acknowledgement at a time, and returns
// once JetStream acknowledged every one: the pipeline checkpoints only
// what the stream holds. Every message carries Nats-Msg-Id, derived from
// the change's position (where it is in the log, "/N" added for the
// second and later messages of one change) and Nats-Expected-Stream. A
// message published again — after a lost connection, or after a crash,
// when sluice resumes from its last checkpoint and publishes the changes
// since then again with the same positions — is dropped by JetStream if
// the stream stored it within its duplicate window (the stream's
// duplicate_window, 2 minutes by default). Delivery is therefore exactly
// once within the duplicate window: a change published again later than
// that after its first publication (sluice stopped for longer than the
// window after a crash, say) is stored twice, with the same Nats-Msg-Id,
// so a consumer can still drop it.
//
// The order of the messages is the order of the changes. A message lost
// on a cut connection must not be overtaken by the ones after it, which a
// new connection may still deliver: unless ordered=off, each message of a
// round but the first carries Nats-Expected-Last-Msg-Id naming the one
// before it, so JetStream stores it only right after that one, and when a
// message is lost the ones after it are refused and sent again with it,
// in order. That needs sluice to be the stream's only publisher; on a
// stream others publish to, set ordered=off, and a message sent again
// after a failure may then come after later ones.
//
// The position is kept by the pipeline's store (sluice stream --state) or,
// with checkpoint=kv, in the JetStream key-value bucket bucket (default
// sluice_positions, created if missing), key the pipeline's name (sluice
// stream --id), value the position as Sluice prints it: then no state
// file is needed.
//
// A round that fails for a reason a new attempt may overcome (a lost
// connection, an acknowledgement that did not come within ack-timeout, a
// server restarting) is sent again with backoff, for up to retry-for
// (default 5m) without progress; a message JetStream refuses (too large
// for max_payload or the stream's max_msg_size, a subject of another
// stream) stops the sink with an error naming its change.
//
// # Parameters
//
//	stream          the JetStream stream (required)
//	subject         subject template ({prefix}, {db}, {table}; default {prefix}.{db}.{table})
//	prefix          what {prefix} stands for (default sluice)
//	create-stream   on: create a missing stream
//	duplicates      duplicate window of a created stream (default 2m)
//	ordered         off: no Nats-Expected-Last-Msg-Id (a stream with other publishers)
//	max-pending     messages awaiting acknowledgement at most (default 1024)
//	ack-timeout     wait for one acknowledgement before sending again (default 10s)
//	checkpoint      kv: keep the position in a key-value bucket
//	bucket          the bucket of checkpoint=kv (default sluice_positions)
//	headers         off: no op/db/table/position headers
//	retry-for       how long a batch without progress is retried (default 5m)
//	token           authentication token (or nats://TOKEN@host; never logged)
//	creds           credentials file (user JWT and NKey seed)
//	nkey            NKey seed file
//	tls             on, off or skip-verify (encrypt without checking the certificate); the other tls-* imply on
//	tls-ca          PEM file of certificate authorities to trust besides the system's
//	tls-cert, tls-key  PEM files of a client certificate and its key
//	tls-server-name the name to check in the servers' certificates
package nats
