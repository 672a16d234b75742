// Package tools holds the offline binlog tools of "sluice binlog", built
// on packages binlog (events, the transaction Framer, Writer) and
// binlog/changes (rows as changes, the mysqlbinlog-style Filter):
//
//   - SQL: the SQL that applies the row changes again (sql.go).
//   - Flashback: a binlog that undoes the selected row changes
//     (flashback.go); FlashbackSQL: the same undo as SQL statements
//     (flashback_sql.go). Both share their first pass (undo_scan.go: the
//     selection, a changes.Decoder shown each event or a one-row probe of
//     it, decides what is undone) and the rows events spooled by
//     reference and read again last first (undo_refs.go).
//   - Stats: rows changed per table and per time bucket (stats.go);
//     BigTx: the largest transactions by bytes and by rows (bigtx.go);
//     both walk the transactions with txScanner (txscan.go).
//   - Split: transactions over a row or byte limit become several
//     (split.go).
//   - Cut and Join: a standalone binlog of the transactions in a range,
//     or of several files (cut.go).
//
// Every tool frames transactions with binlog.Framer, reads its files
// through scan (events.go), and reports progress as Progress(done,
// total) in bytes of input. Every tool streams: memory does not grow with
// the size of the files or of a transaction. The undo tools spill to
// temporary files (spool.go) and read them back in reverse through an
// offset index; Split spills a transaction past its decision buffer.
package tools
