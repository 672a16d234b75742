package postgres

import (
	"context"
	"fmt"
	"strconv"
)

// SlotStatus describes one logical replication slot of a server.
type SlotStatus struct {
	Name      string
	Plugin    string
	Database  string
	Temporary bool
	// ActivePID is the backend streaming from the slot, 0 when none is.
	ActivePID int
	// RestartLSN is the oldest WAL the slot keeps; ConfirmedFlush is what
	// its reader confirmed as delivered.
	RestartLSN     uint64
	ConfirmedFlush uint64
	// LagBytes is the WAL written since ConfirmedFlush.
	LagBytes int64
}

// Slots lists the server's logical replication slots.
func Slots(ctx context.Context, cfg *Config) ([]SlotStatus, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	conn, err := connect(ctx, cfg.Conn, false)
	if err != nil {
		return nil, err
	}
	defer closeConn(conn)
	cat := newCatalog(conn)
	rows, err := cat.query(ctx, `SELECT slot_name, coalesce(plugin, ''), coalesce(database, ''), temporary::text,
			coalesce(active_pid, 0)::text, coalesce(restart_lsn::text, '0/0'), coalesce(confirmed_flush_lsn::text, '0/0'),
			coalesce(pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END,
				confirmed_flush_lsn), 0)::bigint::text
		FROM pg_catalog.pg_replication_slots WHERE slot_type = 'logical' ORDER BY slot_name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list slots: %w", err)
	}
	out := make([]SlotStatus, 0, len(rows))
	for _, r := range rows {
		s := SlotStatus{Name: string(r[0]), Plugin: string(r[1]), Database: string(r[2]), Temporary: string(r[3]) == "true"}
		var errs [4]error
		s.ActivePID, errs[0] = strconv.Atoi(string(r[4]))
		s.RestartLSN, errs[1] = parseLSN(string(r[5]))
		s.ConfirmedFlush, errs[2] = parseLSN(string(r[6]))
		s.LagBytes, errs[3] = strconv.ParseInt(string(r[7]), 10, 64)
		for _, err := range errs {
			if err != nil {
				return nil, fmt.Errorf("postgres: list slots: slot %q: %w", s.Name, err)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// FormatLSN prints an LSN as PostgreSQL does (16/B374D848).
func FormatLSN(lsn uint64) string { return formatLSN(lsn) }
