// Package binlog decodes and writes MySQL and MariaDB binary logs and relay
// logs: bytes in, values out, no network.
//
// Reading a file:
//
//	r := binlog.NewReader(f, "bin.000003")
//	for {
//		ev, err := r.Next()
//		if err == io.EOF {
//			break
//		}
//		if err != nil {
//			return err // a *binlog.Error: file, offset, event type and cause
//		}
//		v, err := binlog.DecodeBody(ev) // *binlog.Query, *binlog.GTID, ...
//		...
//	}
//
// The Reader frames events (v4 headers, and v1/v3 files that start with
// START_EVENT_V3), follows every FORMAT_DESCRIPTION_EVENT (checksum
// algorithm, post-header lengths, relay logs that switch format), verifies
// CRC32 trailers, computes offsets from event sizes rather than log_pos
// (which MariaDB 11.4+ and payload events leave at 0), and expands MySQL
// TRANSACTION_PAYLOAD_EVENTs into their inner events by streaming the zstd
// payload. Events are views into one reused buffer: reading allocates
// nothing per event. ParseEvent frames a single event from a replication
// stream.
//
// Each non-row event family has a struct with a Decode(body, format)
// method, one file per family (event_query.go, event_gtid.go,
// event_control.go, event_mariadb.go, event_load.go, payload.go). TABLE_MAP
// and rows events, and column values, have their own decoders (tablemap*.go,
// rows*.go, column*.go and the type files beside them).
//
// Framer follows the transactions, event by event and the same way for
// every caller: which event begins a transaction (a GTID event, BEGIN, a
// statement or rows event outside one), which opens it explicitly, which
// ends it (XID, COMMIT, ROLLBACK, XA PREPARE and XA COMMIT, the statement
// of a DDL group, the last rows event of a statement logged without
// BEGIN), for MySQL and MariaDB GTIDs, XA, savepoints, compressed payloads
// and relay logs; it keeps the TABLE_MAPs (TableMaps) and hands out the
// decoded GTID and QUERY events. Stream frames a replication stream whose
// events arrive one at a time: it places each in its file (ROTATE,
// log_pos, artificial events, heartbeats) and expands payloads.
//
//	var f binlog.Framer
//	for {
//		ev, err := r.Next()
//		...
//		st, err := f.Event(ev) // st.Begins, st.Ends, st.Kind, f.Tx()
//	}
//
// GTID sets of both flavors (MySQLGTIDSet with tags, MariaGTIDSet) parse,
// print, compare and encode in gtid.go.
//
// Writer and AppendEvent re-encode events with new positions and
// recomputed CRC32, for tools that rewrite binlogs.
package binlog
