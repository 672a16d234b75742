package main

import (
	"context"
)

// binlogCommands is the table of "sluice binlog" subcommands.
func binlogCommands() []command {
	return []command{
		{"events", "list events like SHOW BINLOG EVENTS", runBinlogEvents},
		{"decode", "decode row changes, DDL and transactions to JSON lines", runBinlogDecode},
	}
}

// runBinlog dispatches "sluice binlog <subcommand>".
func runBinlog(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, "sluice binlog", binlogCommands(), args)
}
