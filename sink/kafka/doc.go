// Package kafka is the sink that produces changes to Apache Kafka (or any
// broker speaking its protocol), on franz-go.
//
//	kafka://[USER:PASSWORD@]HOST[:PORT][,HOST[:PORT]…]/[?PARAMETERS]
//
// # Topics, keys and headers
//
// Each change goes to the topic its namespace gives the topic template
// (parameter topic, default {prefix}.{db}.{table}, Debezium's naming with
// topic.prefix as {prefix}, default "sluice"; {db} is the MySQL database
// or the PostgreSQL schema). Characters Kafka does not allow in a topic
// name become '_'. A DDL statement without a table goes to the topic
// {prefix}, begin and commit events (--begin-commit) to
// {prefix}.transaction. Heartbeats are not produced.
//
// The message key is the row's primary key in the format's shape (for
// Sluice JSON the line's "key" member, {"id":42}), and its partition is
// the murmur2 hash of the key, as Kafka's Java producer computes it: one row's changes land
// on one partition, in order. An update that changes the key is keyed by
// the new key. A table without a primary key has no message key; keyless
// says where its changes go: ordered (default) sends all of a topic's
// keyless changes to one partition, chosen by the topic name, keeping
// their order; spread deals them round-robin over the partitions, with no
// order between them. Sluice logs once per table that it is keyless.
//
// Every record carries the headers op (insert, update, delete, truncate,
// ddl, begin, commit), db, table and position (the change's position as
// Sluice prints it), after the format's own headers (CloudEvents' ce_* in
// binary mode), unless headers=off; its timestamp is the source's commit
// time. The key and value are what the output format makes of the change
// (Config.Format, sluice stream --format; package format): Sluice JSON by
// default, keyed by the line's "key" member. A format may yield several
// messages per change (Debezium's tombstone after a delete: a record with
// a null value) or send some to a topic of its own (Debezium's transaction
// metadata): the sink produces them all, in order, the topic hint
// replacing the template's topic.
//
// # Delivery
//
// delivery=at-least-once (the default): every record is acknowledged by
// all in-sync replicas (acks=all, idempotent producer, retried without
// limit while the brokers are away) before the pipeline checkpoints it, in
// its own store. The Sink is a pipeline.AsyncSink, which sluice stream
// runs with pipeline.NewAsync: Send encodes a batch and queues it (up to
// in-flight batches, default 8), and a flusher produces and flushes the
// queued batches, each flush taking every batch queued when it begins, so
// encoding overlaps the brokers' work and record batches stay as large as
// a synchronous write's. A flush acknowledges its batches once all their
// records are in Kafka; the pipeline saves only the acknowledged prefix,
// so a flush waiting for a slow or stalled partition holds the checkpoint
// back. A partition's records stay in the order they were produced,
// across batches and retries. A record the brokers refuse stops the
// pipeline with an error naming its change. (Its Write, for a synchronous
// pipeline.New, produces one batch and waits.) After a crash the changes
// since the last checkpoint are produced again, with the same positions
// in their position header.
//
// delivery=exactly-once: the sink is a TxSink, a pipeline.PositionWriter
// and its own checkpoint store. Each batch is produced in one Kafka
// transaction together with a record of the position it brings the
// pipeline to, in the compacted offsets topic (offsets-topic, default
// sluice_offsets, created with one partition if missing), keyed by the
// pipeline's name. On start the sink takes over the transactional.id
// (transactional-id, default "sluice-" + the pipeline's name), which
// fences an older instance and aborts its open transaction, and reads the
// last committed position back with read_committed. A consumer reading
// with isolation.level=read_committed sees every change exactly once,
// whatever crashes, restarts or duplicate instances happen. Run
// asynchronously (sluice stream), the sink encodes the next batches while
// a transaction is at the brokers; transactions stay one at a time and in
// order, each with the position of its batch's last change, and none is
// begun after one failed.
//
// # Parameters
//
//	topic               topic template ({prefix}, {db}, {table})
//	prefix              what {prefix} stands for (default sluice)
//	delivery            at-least-once (default) or exactly-once
//	offsets-topic       exactly-once positions (default sluice_offsets)
//	transactional-id    exactly-once producer id (default sluice-NAME)
//	transaction-timeout how long the brokers keep a silent producer's transaction (default 1m)
//	compression         snappy (default), none, gzip, lz4, zstd
//	sasl                plain, scram-sha-256 or scram-sha-512, with the URL's user and password
//	sasl-user           the SASL user (instead of the URL's)
//	sasl-password       the SASL password (instead of the URL's; never logged)
//	tls                 off (default), on (TLS, brokers verified; implied by the tls-* parameters)
//	tls-ca              PEM file of certificate authorities to trust besides the system's
//	tls-cert, tls-key   PEM files of a client certificate and its key
//	tls-server-name     the name to check in the brokers' certificates
//	tls=skip-verify     encrypt without checking the brokers' certificates
//	create-topics       on: create missing topics (default off: a missing topic is an error)
//	partitions          partitions of created topics (default: the broker's)
//	replication         replication factor of created topics (default: the broker's)
//	keyless             ordered (default) or spread
//	headers             off: no op/db/table/position headers
//	max-message-bytes   largest record batch sent (default 1000012, Kafka's max.message.bytes)
//	in-flight           batches encoded ahead of their flush or transaction (default 8)
//
// A record larger than max-message-bytes (or than the topic's
// max.message.bytes on the broker) stops the sink with an error naming
// the table, key and position of its change; nothing after it is
// checkpointed.
package kafka
