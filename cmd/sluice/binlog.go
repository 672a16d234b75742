package main

import (
	"context"
)

// binlogCommands is the table of "sluice binlog" subcommands.
func binlogCommands() []command {
	return []command{
		{"events", "list events like SHOW BINLOG EVENTS", runBinlogEvents},
		{"decode", "decode row changes, DDL and transactions to JSON lines", runBinlogDecode},
		{"sql", "SQL that applies the row changes again", runBinlogSQL},
		{"flashback", "a binlog (or SQL) that undoes the selected row changes", runBinlogFlashback},
		{"bigtx", "the largest transactions by bytes and by rows", runBinlogBigTx},
		{"stats", "rows changed per table and per time bucket", runBinlogStats},
		{"split", "split oversize transactions into smaller ones", runBinlogSplit},
		{"cut", "a standalone binlog of the transactions in a range", runBinlogCut},
		{"join", "join binlog files into one", runBinlogJoin},
	}
}

// runBinlog dispatches "sluice binlog <subcommand>".
func runBinlog(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, "sluice binlog", binlogCommands(), args)
}
