// Package tools holds offline binlog tools built on packages binlog and
// binlog/changes: forward and undo SQL (SQL, FlashbackSQL), per-table
// statistics (Stats), the largest transactions (BigTx), and cutting a
// binlog at transaction boundaries and joining the parts (Cut, Join).
//
// Every tool streams: memory does not grow with the size of the files or
// of a transaction. Reversal (FlashbackSQL) spills the statements to
// temporary files and reads them back in reverse through an offset index.
package tools
