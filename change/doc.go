// Package change is the one change model every Sluice source produces and
// every sink consumes: operations, rows as typed column values, keys,
// transactions and source positions, plus their native JSON encoding.
//
// A Change carries its rows as []Value, one typed Value per column, index
// aligned with Columns. AppendText renders a Value as the source prints it;
// Equal compares two Values exactly.
//
// Positions (Position) are totally ordered per source by Compare and
// round-trip through text with Position.String and ParsePosition. The
// rows of a snapshot (OpRead, marked by SnapshotMark) carry positions that
// sort after the snapshot's consistent point and before the stream that
// follows it (Position.Row), and the snapshot's progress
// (Position.Snapshot).
//
// AppendJSON writes a Change as one line of Sluice JSON and DecodeJSON
// reads it back into an identical Change; docs/format.md describes the
// format field by field. An Encoder writes the same bytes and, kept across
// calls (one per sink), reuses what it worked out about the columns of the
// previous change.
package change
