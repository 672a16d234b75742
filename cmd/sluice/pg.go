package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/source/postgres"
)

// runPg runs the "sluice pg" subcommands.
func runPg(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, "sluice pg", pgCommands(), args)
}

func pgCommands() []command {
	return []command{
		{"drop-slot", "drop the replication slot a postgres:// URL names", runPgDropSlot},
		{"slots", "list logical replication slots with their confirmed position and lag", runPgSlots},
	}
}

// pgConfig parses the one URL argument of a pg subcommand.
func pgConfig(args []string, cmd string) (*postgres.Config, error) {
	if len(args) != 1 {
		return nil, usagef("pg %s: want one postgres:// URL, got %d arguments", cmd, len(args))
	}
	cfg, err := postgres.ParseURL(args[0])
	if err != nil {
		return nil, usagef("pg %s: source %s: %v", cmd, address.Redact(args[0]), err)
	}
	return &cfg, nil
}

func runPgDropSlot(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "drop-slot", "sluice pg drop-slot [--slot NAME] postgres://user:pass@host:port/db?slot=NAME",
		`Drop a logical replication slot, so the server stops keeping WAL for it.
The slot is the URL's slot parameter (default "sluice") unless --slot names it.
A slot a reader is streaming from is not dropped: stop the reader first.`)
	slot := fs.String("slot", "", "slot to drop (overrides the URL's slot parameter)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	cfg, err := pgConfig(pos, "drop-slot")
	if err != nil {
		return err
	}
	if *slot != "" {
		cfg.Slot = *slot
	}
	if err := postgres.DropSlot(ctx, cfg); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "dropped slot %s\n", cfg.Slot)
	return nil
}

func runPgSlots(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "slots", "sluice pg slots postgres://user:pass@host:port/db",
		"List the server's logical replication slots: plugin, database, the backend streaming from it,\nthe confirmed flush LSN and the WAL written since (lag).")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	cfg, err := pgConfig(pos, "slots")
	if err != nil {
		return err
	}
	slots, err := postgres.Slots(ctx, cfg)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SLOT\tPLUGIN\tDATABASE\tACTIVE PID\tTEMPORARY\tCONFIRMED FLUSH\tLAG BYTES")
	for _, s := range slots {
		pid := "-"
		if s.ActivePID != 0 {
			pid = fmt.Sprint(s.ActivePID)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%v\t%s\t%d\n", s.Name, s.Plugin, s.Database, pid, s.Temporary,
			postgres.FormatLSN(s.ConfirmedFlush), s.LagBytes)
	}
	return w.Flush()
}
