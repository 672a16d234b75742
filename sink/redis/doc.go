// Package redis is the sink that writes changes to Redis (7.0 or later),
// on go-redis, in one of three modes:
//
//	redis://[[USER]:PASSWORD@]HOST[:PORT][/DB][?PARAMETERS]
//	rediss://…   the same over TLS
//
// # mode=stream (the default)
//
// Every change is added to a Redis stream (XADD with an automatic ID), the
// stream of its table by default: parameter stream, a template of
// {prefix}, {db} (the MySQL database, the PostgreSQL schema) and {table},
// default {prefix}:{db}:{table}, {prefix} being sluice unless prefix says
// otherwise. A DDL statement without a table goes to the stream {prefix},
// begin and commit events (--begin-commit) to {prefix}:transaction, a
// message the format sends elsewhere (Debezium's transaction metadata) to
// the stream its topic hint names. With maxlen=N every XADD trims its
// stream to about N entries (MAXLEN ~ N). An entry's fields are op, db,
// table, pos (the change's position as Sluice prints it), key (the row's
// key in the format's shape, for tables with a key), value (the message
// the output format makes of the change: Sluice JSON by default,
// sluice stream --format), then the format's own headers (CloudEvents'
// ce_* in binary mode). Heartbeats and tombstones (Debezium's empty
// message after a delete) are not written.
//
// # mode=hash
//
// A mirror of the tables: each row is kept at the key the template key
// names, default {prefix}:{db}:{table}:{key}, {key} being the row's
// primary-key values as text (change.AppendText), joined by ':' for a
// composite key. In every name part (database, table, key values) '%' and
// ':' are written %25 and %3A, so two rows never share a name. With
// value=hash (the default) a row is a Redis hash, a field per column
// holding its value as text, NULL columns left out; with value=json it is
// a string holding the row as a JSON object, the "after" member of the
// change's Sluice JSON line. An insert writes the row whole, an update
// rewrites it (under its new key, deleting the old one, when the primary
// key changed), a delete deletes it, a truncate deletes every key of the
// table (SCAN and UNLINK). An update whose image lacks columns (PostgreSQL
// does not send unchanged TOASTed values; MySQL's binlog_row_image=MINIMAL
// logs only the changed columns) keeps the stored values of the missing
// columns, also across a key change (COPY). DDL, begin and commit events
// are not applied. A table without a primary key, or a statement-logged
// change (binlog_format=STATEMENT), stops the sink with an error naming
// it: leave such tables out with --exclude. The mirror holds the rows the
// stream has seen change: start it where the tables are empty, or from a
// snapshot, for a full copy.
//
// # mode=pubsub
//
// Every change is published (PUBLISH) on the channel its table's template
// names, parameter channel, default {prefix}:{db}:{table}: the message is
// the format's value. Redis keeps nothing: a subscriber receives what is
// published while it is subscribed and nothing it missed, so delivery is
// at most once for subscribers that come and go.
//
// # Delivery
//
// In every mode the sink is a pipeline.PositionWriter and its own
// checkpoint store: no state file is needed. Each batch is applied by one
// Lua script, which Redis runs as one atomic step and records in its
// append-only file (and sends to replicas) as one MULTI/EXEC block,
// together with the pipeline's position, stored in the hash that
// positions names (default {prefix}:positions), field the pipeline's name
// (sluice stream --id), value the position as Sluice prints it. Before
// writing, the script checks that the stored position is the one the sink
// last wrote: a write whose answer was lost (a cut connection) is
// recognised on retry and not applied twice, and a second sluice running
// the same pipeline is refused. It also checks the type of every key it
// writes into a stream or hash: a key of another type (a name clash)
// stops the sink with an error naming the key, and nothing of the batch,
// its position included, is written.
//
// Stream mode therefore adds every change exactly once, and hash mode
// holds the rows as of a position of the source: after a crash or a
// restart of sluice nothing is lost and nothing repeated. This holds as
// far as Redis keeps what it acknowledged: with appendfsync everysec a
// crash of the Redis server can lose about the last second of writes, the
// position with them, and sluice writes them again; a server without
// persistence that restarts empty loses the position, which sluice then
// reports instead of starting over. Pubsub mode publishes every change
// exactly once while sluice and the subscribers stay connected, at most
// once for a subscriber that is not.
//
// A write that fails for a reason a new attempt may overcome (a lost
// connection, a server restarting or loading its data) is retried with
// backoff for up to retry-for (default 5m), then stops the pipeline.
//
// # Parameters
//
//	mode             stream (default), hash or pubsub
//	prefix           what {prefix} stands for (default sluice)
//	stream           stream template (default {prefix}:{db}:{table})
//	maxlen           trim streams to about this many entries (default: no trimming)
//	key              row key template of hash mode (default {prefix}:{db}:{table}:{key})
//	value            hash (default) or json: how hash mode stores a row
//	channel          channel template of pubsub mode (default {prefix}:{db}:{table})
//	positions        key of the positions hash (default {prefix}:positions)
//	retry-for        how long a failing write is retried (default 5m)
//	tls              on, off or skip-verify (encrypt without checking the certificate); the other tls-* imply on (rediss:// too)
//	tls-ca           PEM file of certificate authorities to trust besides the system's
//	tls-cert, tls-key  PEM files of a client certificate and its key
//	tls-server-name  the name to check in the server's certificate
//
// The URL's user and password authenticate (AUTH; an ACL user with
// redis://USER:PASSWORD@…, the default user with redis://:PASSWORD@…); the
// path selects the database number (/0 by default). Redis Cluster and
// Sentinel are not supported.
package redis
