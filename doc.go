// Package sluice is the Go library face of Sluice, a change-data-capture
// tool for MySQL/MariaDB, PostgreSQL and MongoDB.
//
// A Stream iterates over the changes of a source database, in commit
// order, the way database/sql's Rows iterates over query results:
//
//	s, err := sluice.Open(ctx, "mysql://repl:secret@db:3306/?server-id=4242",
//		sluice.WithStateFile("sluice.db"))
//	if err != nil { … }
//	defer s.Close()
//	for s.Next(ctx) {
//		c := s.Change()
//		… // use c
//		s.Ack(c)
//	}
//	if err := s.Err(); err != nil { … }
//
// Ack records that a change was dealt with. The Stream saves a position to
// its checkpoint store only once every change up to it was acknowledged, so
// a restarted program resumes after what it finished, never after what it
// merely received (see package pipeline for the exact position rules).
// Changes may be acknowledged out of order; the saved position moves over
// the longest fully acknowledged prefix.
//
// A Stream is a pipeline (package pipeline) whose sink is the iterator:
// the same code reads ahead into a bounded queue, orders acknowledgements
// and saves checkpoints for the library and for "sluice stream".
//
// Sources are found by URL scheme in a source.Registry: package sources
// registers every source Sluice ships in source.Default() (import it for
// its side effect, like a database/sql driver), and a program may pass a
// registry of its own with WithRegistry. The library itself imports no
// source, so there are no import cycles.
package sluice
