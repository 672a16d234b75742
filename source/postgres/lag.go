package postgres

import (
	"context"
	"fmt"
	"strconv"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/source"
)

// Lag implements source.Lagger: Bytes is the WAL between at and the
// server's current WAL position (pg_current_wal_lsn(), or the replay
// position on a standby), Retained the WAL the slot keeps
// (pg_replication_slots' restart_lsn to the current position; -1 while
// the slot does not exist).
func (s *Source) Lag(ctx context.Context, at change.Position) (source.Lag, error) {
	conn, err := connect(ctx, s.cfg.Conn, false)
	if err != nil {
		return source.Lag{}, err
	}
	defer closeConn(conn)
	rows, err := newCatalog(conn).query(ctx, `SELECT cur::text,
			coalesce((SELECT pg_wal_lsn_diff(cur, restart_lsn)::bigint FROM pg_catalog.pg_replication_slots WHERE slot_name = $1), -1)::text
		FROM (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END AS cur) c`, s.cfg.Slot)
	if err != nil {
		return source.Lag{}, fmt.Errorf("postgres: lag: %w", err)
	}
	if len(rows) != 1 {
		return source.Lag{}, fmt.Errorf("postgres: lag: %d rows", len(rows))
	}
	head, err := parseLSN(string(rows[0][0]))
	if err != nil {
		return source.Lag{}, fmt.Errorf("postgres: lag: %w", err)
	}
	retained, err := strconv.ParseInt(string(rows[0][1]), 10, 64)
	if err != nil {
		return source.Lag{}, fmt.Errorf("postgres: lag: retained WAL %q: %w", rows[0][1], err)
	}
	lag := source.Lag{Head: change.Position{Flavor: change.FlavorLSN, Offset: head}, Bytes: -1, Seconds: -1, Retained: retained}
	if at.Flavor == change.FlavorLSN && at.Offset > 0 {
		lag.Bytes = max(int64(head)-int64(at.Offset), 0)
	}
	return lag, nil
}

// Reconnects implements source.Reconnecter.
func (s *Source) Reconnects() int64 { return int64(s.Stats().Reconnects) }
