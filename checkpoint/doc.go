// Package checkpoint stores where a pipeline has delivered up to, so that a
// restart resumes from there.
//
// A Store maps a pipeline id to the change.Position of the last change whose
// delivery the sink acknowledged. Two backends live here: Bolt, an embedded
// bbolt file that is fsync'd on every Save and survives a crash at any
// instant holding either the previous or the new position, and Memory, for
// tests and for callers that do not want persistence.
//
// Shared stores, which several Sluice processes reach so that a standby
// can resume a pipeline where a dead owner stopped, live in packages of
// their own: checkpoint/etcd, checkpoint/zookeeper, checkpoint/sql (a
// table in MySQL, MariaDB or PostgreSQL) and checkpoint/redis. Open opens
// one by URL through a Registry (package stores registers them all; a
// bare path is a bbolt file). Each is a Fencer: a pipeline's owner binds
// its saves to its lease's token (Fence), and the store refuses, in the
// same atomic step as the write, every save of an owner whose token a
// newer claim has overtaken (ErrFenced), so a deposed owner can never
// overwrite a newer checkpoint. Package checkpoint/storetest holds the
// contract every backend is tested against.
//
// Saved positions are encoded as a small versioned JSON record of the
// Position's fields (EncodeRecord), independent of Position's text form,
// so that files written by one release stay readable by the next; the SQL
// table keeps the text form, readable in SQL, as the SQL sink does.
package checkpoint
