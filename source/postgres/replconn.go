package postgres

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// Sentinel errors callers can branch on with errors.Is.
var (
	// ErrAuth: the server refused the user name or password.
	ErrAuth = errors.New("postgres: authentication failed")
	// ErrWALLevel: wal_level is not logical, so there is nothing to decode.
	ErrWALLevel = errors.New("postgres: wal_level is not logical")
	// ErrPrivilege: the role may not replicate or create what is missing.
	ErrPrivilege = errors.New("postgres: insufficient privilege")
	// ErrSlotInUse: another connection is streaming from the slot.
	ErrSlotInUse = errors.New("postgres: replication slot is in use")
	// ErrNoPublication: the publication is missing and create-publication=no.
	ErrNoPublication = errors.New("postgres: publication does not exist")
	// ErrSlotMismatch: a slot of that name exists but cannot be used: it
	// belongs to another database, uses another plugin, or exists when a
	// temporary slot was asked for.
	ErrSlotMismatch = errors.New("postgres: replication slot does not fit")
)

// sessionParams are sent in the startup packet of both connections, so
// that the output functions pgoutput calls print values in the forms
// decodeText reads, whatever the server's or the URL's settings. The URL
// may still set TimeZone (timestamptz values then carry its offset) and
// application_name.
var sessionParams = map[string]string{
	"DateStyle":          "ISO, YMD",
	"IntervalStyle":      "postgres",
	"bytea_output":       "hex",
	"extra_float_digits": "3",
}

// defaultParams are sent unless the URL sets them.
var defaultParams = map[string]string{
	"TimeZone":         "UTC",
	"application_name": "sluice",
}

// pgEpoch is 2000-01-01 00:00:00 UTC, the origin of replication timestamps
// and of binary date and timestamp values.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// pgTime converts microseconds since pgEpoch into a time.
func pgTime(us int64) time.Time {
	return pgEpoch.Add(time.Duration(us) * time.Microsecond)
}

// formatLSN prints an LSN the way PostgreSQL does.
func formatLSN(lsn uint64) string {
	return fmt.Sprintf("%X/%X", lsn>>32, uint32(lsn))
}

// parseLSN reads an LSN printed as X/Y.
func parseLSN(s string) (uint64, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("postgres: LSN %q: no '/'", s)
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("postgres: LSN %q: not hexadecimal", s)
	}
	return h<<32 | l, nil
}

// replReadBuffer is the size of the buffer the replication connection
// reads the socket through: one read takes up to this much of a backlog
// instead of the 8 KiB pgproto3 reads by itself.
const replReadBuffer = 256 << 10

// connectReplication opens a walsender connection (replication=database)
// whose frontend reads through a buffer of replReadBuffer bytes; it
// returns that buffer too, so the reader can tell whether bytes are
// already waiting in it.
func connectReplication(ctx context.Context, base *pgconn.Config) (*pgconn.PgConn, *bufio.Reader, error) {
	var br *bufio.Reader
	conn, err := connectWith(ctx, base, true, func(r io.Reader, w io.Writer) *pgproto3.Frontend {
		br = bufio.NewReaderSize(r, replReadBuffer)
		return pgproto3.NewFrontend(br, w)
	})
	return conn, br, err
}

// bufferedFrontend builds a frontend that reads the socket through a
// buffer of replReadBuffer bytes, as the replication connection does: a
// snapshot worker's rows then arrive in reads of up to that much, not of
// pgproto3's 8 KiB.
func bufferedFrontend(r io.Reader, w io.Writer) *pgproto3.Frontend {
	return pgproto3.NewFrontend(bufio.NewReaderSize(r, replReadBuffer), w)
}

// connect opens a connection with the session parameters; replication
// selects a walsender connection (replication=database).
func connect(ctx context.Context, base *pgconn.Config, replication bool) (*pgconn.PgConn, error) {
	return connectWith(ctx, base, replication, nil)
}

// connectWith is connect with a frontend builder (nil: pgconn's default).
func connectWith(ctx context.Context, base *pgconn.Config, replication bool, build pgconn.BuildFrontendFunc) (*pgconn.PgConn, error) {
	cfg := base.Copy()
	if build != nil {
		cfg.BuildFrontend = build
	}
	cfg.RuntimeParams = make(map[string]string, len(base.RuntimeParams)+len(sessionParams)+len(defaultParams)+1)
	set := func(params map[string]string, override bool) {
		for k, v := range params {
			for old := range cfg.RuntimeParams {
				if strings.EqualFold(old, k) { // GUC names ignore case
					if !override {
						goto next
					}
					delete(cfg.RuntimeParams, old)
				}
			}
			cfg.RuntimeParams[k] = v
		next:
		}
	}
	set(base.RuntimeParams, true)
	set(defaultParams, false)
	set(sessionParams, true)
	what := "connection"
	if replication {
		cfg.RuntimeParams["replication"] = "database"
		what = "replication connection"
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		where := fmt.Sprintf("%s to %s:%d/%s as %q", what, cfg.Host, cfg.Port, cfg.Database, cfg.User)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			switch pgErr.Code {
			case "28P01", "28000":
				return nil, fmt.Errorf("%w: %s: %w", ErrAuth, where, err)
			case "42501":
				return nil, fmt.Errorf("%w: %s (the role needs the REPLICATION attribute): %w", ErrPrivilege, where, err)
			}
		}
		return nil, fmt.Errorf("postgres: %s: %w", where, err)
	}
	return conn, nil
}

// serverInfo is what the preflight learns about the server.
type serverInfo struct {
	version  int    // server_version_num
	database string // current_database()
}

// preflight checks wal_level and the role's privileges, so that a
// misconfigured server gives an error that says what to change.
func preflight(ctx context.Context, cat *catalog) (serverInfo, error) {
	rows, err := cat.query(ctx, `SELECT current_setting('wal_level'), current_setting('server_version_num'),
		r.rolsuper OR r.rolreplication, current_user, current_database()
		FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`)
	if err != nil {
		return serverInfo{}, fmt.Errorf("postgres: read server settings: %w", err)
	}
	if len(rows) != 1 {
		return serverInfo{}, fmt.Errorf("postgres: read server settings: current role not in pg_roles")
	}
	r := rows[0]
	if string(r[0]) != "logical" {
		return serverInfo{}, fmt.Errorf("%w: it is %q; set wal_level = logical (ALTER SYSTEM SET wal_level = logical) and restart the server",
			ErrWALLevel, r[0])
	}
	v, err := strconv.Atoi(string(r[1]))
	if err != nil {
		return serverInfo{}, fmt.Errorf("postgres: server_version_num %q: %w", r[1], err)
	}
	if v < 100000 {
		return serverInfo{}, fmt.Errorf("postgres: server version %d: logical replication with pgoutput needs PostgreSQL 10 or later", v)
	}
	if string(r[2]) != "t" {
		return serverInfo{}, fmt.Errorf("%w: role %q has neither SUPERUSER nor REPLICATION; run ALTER ROLE %s REPLICATION",
			ErrPrivilege, r[3], quoteIdent(string(r[3])))
	}
	return serverInfo{version: v, database: string(r[4])}, nil
}

// currentLSN returns the current end of WAL (the insert position, so that
// every transaction committed before the call lies before it).
func currentLSN(ctx context.Context, cat *catalog) (uint64, error) {
	rows, err := cat.query(ctx, `SELECT pg_current_wal_insert_lsn()`)
	if err != nil {
		return 0, fmt.Errorf("postgres: read the current WAL position: %w", err)
	}
	if len(rows) != 1 {
		return 0, errors.New("postgres: read the current WAL position: no row")
	}
	return parseLSN(string(rows[0][0]))
}

// protoVersion picks the pgoutput protocol version for a server version.
func protoVersion(serverVersion, forced int) int {
	if forced > 0 {
		return forced
	}
	switch {
	case serverVersion >= 160000:
		return 4
	case serverVersion >= 150000:
		return 3
	case serverVersion >= 140000:
		return 2
	}
	return 1
}

// ensurePublication creates the publication when it is missing and allowed.
func ensurePublication(ctx context.Context, cat *catalog, cfg *Config) error {
	rows, err := cat.query(ctx, `SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1`, cfg.Publication)
	if err != nil {
		return fmt.Errorf("postgres: look up publication %q: %w", cfg.Publication, err)
	}
	if len(rows) > 0 {
		return nil
	}
	target, err := cfg.publicationTarget()
	if err != nil {
		return err
	}
	if target == "" {
		return fmt.Errorf("%w: %q (create it, or set create-publication=all or a table list)", ErrNoPublication, cfg.Publication)
	}
	sql := "CREATE PUBLICATION " + quoteIdent(cfg.Publication) + " " + target
	if _, err := cat.conn.Exec(ctx, sql).ReadAll(); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42501" {
			return fmt.Errorf("%w: %s: %w", ErrPrivilege, sql, err)
		}
		if errors.As(err, &pgErr) && (pgErr.Code == "42710" ||
			pgErr.Code == "23505" && pgErr.ConstraintName == "pg_publication_pubname_index") {
			// Created meanwhile by someone else: 42710 when it committed
			// before our CREATE, a unique violation when both ran at once
			// (two readers of one Canal destination, say).
			return nil
		}
		return fmt.Errorf("postgres: %s: %w", sql, err)
	}
	return nil
}

// slotInfo describes an existing slot.
type slotInfo struct {
	exists    bool
	plugin    string
	database  string
	activePID string
	confirmed uint64
}

func lookupSlot(ctx context.Context, cat *catalog, slot string) (slotInfo, error) {
	rows, err := cat.query(ctx, `SELECT coalesce(plugin, ''), coalesce(database, ''), coalesce(active_pid::text, ''),
		coalesce(confirmed_flush_lsn::text, '')
		FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`, slot)
	if err != nil {
		return slotInfo{}, fmt.Errorf("postgres: look up slot %q: %w", slot, err)
	}
	if len(rows) == 0 {
		return slotInfo{}, nil
	}
	r := rows[0]
	si := slotInfo{exists: true, plugin: string(r[0]), database: string(r[1]), activePID: string(r[2])}
	if len(r[3]) > 0 {
		if si.confirmed, err = parseLSN(string(r[3])); err != nil {
			return slotInfo{}, err
		}
	}
	return si, nil
}

// ensureSlot checks the slot or creates it on the replication connection
// (a temporary slot lives as long as that connection).
func ensureSlot(ctx context.Context, cat *catalog, repl *pgconn.PgConn, cfg *Config, database string) error {
	si, err := lookupSlot(ctx, cat, cfg.Slot)
	if err != nil {
		return err
	}
	if si.exists {
		switch {
		case cfg.Temporary:
			return fmt.Errorf("%w: temporary slot %q: a slot of that name already exists", ErrSlotMismatch, cfg.Slot)
		case si.plugin != "pgoutput":
			return fmt.Errorf("%w: slot %q uses plugin %q, not pgoutput", ErrSlotMismatch, cfg.Slot, si.plugin)
		case si.database != database:
			return fmt.Errorf("%w: slot %q belongs to database %q, not %q", ErrSlotMismatch, cfg.Slot, si.database, database)
		case si.activePID != "":
			return fmt.Errorf("%w: slot %q is streaming to backend pid %s", ErrSlotInUse, cfg.Slot, si.activePID)
		}
		return nil
	}
	sql := "CREATE_REPLICATION_SLOT " + quoteIdent(cfg.Slot)
	if cfg.Temporary {
		sql += " TEMPORARY"
	}
	sql += " LOGICAL pgoutput NOEXPORT_SNAPSHOT"
	if _, err := repl.Exec(ctx, sql).ReadAll(); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42501" {
			return fmt.Errorf("%w: %s: %w", ErrPrivilege, sql, err)
		}
		return fmt.Errorf("postgres: %s: %w", sql, err)
	}
	return nil
}

// DropSlot drops the replication slot cfg names. A slot a reader is
// streaming from is not dropped: that gives ErrSlotInUse.
func DropSlot(ctx context.Context, cfg *Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	conn, err := connect(ctx, cfg.Conn, false)
	if err != nil {
		return err
	}
	defer closeConn(conn)
	cat := newCatalog(conn)
	si, err := lookupSlot(ctx, cat, cfg.Slot)
	if err != nil {
		return err
	}
	if !si.exists {
		return fmt.Errorf("postgres: drop slot %q: no such slot", cfg.Slot)
	}
	if si.activePID != "" {
		return fmt.Errorf("%w: slot %q is streaming to backend pid %s; stop that reader first", ErrSlotInUse, cfg.Slot, si.activePID)
	}
	if _, err := cat.query(ctx, `SELECT pg_catalog.pg_drop_replication_slot($1)`, cfg.Slot); err != nil {
		return fmt.Errorf("postgres: drop slot %q: %w", cfg.Slot, err)
	}
	return nil
}

// startReplication sends START_REPLICATION and waits for CopyBothResponse.
func startReplication(ctx context.Context, conn *pgconn.PgConn, cfg *Config, proto int, binaryValues bool, start uint64) error {
	opts := []string{
		"proto_version " + quoteLiteral(strconv.Itoa(proto)),
		"publication_names " + quoteLiteral(quoteIdent(cfg.Publication)),
	}
	if proto >= 2 && cfg.Streaming {
		opts = append(opts, "streaming 'on'")
	}
	if cfg.Messages {
		opts = append(opts, "messages 'true'")
	}
	if binaryValues {
		opts = append(opts, "binary 'true'")
	}
	sql := fmt.Sprintf("START_REPLICATION SLOT %s LOGICAL %s (%s)", quoteIdent(cfg.Slot), formatLSN(start), strings.Join(opts, ", "))
	conn.Frontend().Send(&pgproto3.Query{String: sql})
	if err := conn.Frontend().Flush(); err != nil {
		return fmt.Errorf("postgres: send %s: %w", sql, err)
	}
	for {
		msg, err := conn.ReceiveMessage(ctx)
		if err != nil {
			return fmt.Errorf("postgres: %s: %w", sql, err)
		}
		switch m := msg.(type) {
		case *pgproto3.CopyBothResponse:
			return nil
		case *pgproto3.ErrorResponse:
			err := pgconn.ErrorResponseToPgError(m)
			if err.Code == "55006" {
				return fmt.Errorf("%w: %s: %w", ErrSlotInUse, sql, err)
			}
			return fmt.Errorf("postgres: %s: %w", sql, err)
		case *pgproto3.NoticeResponse, *pgproto3.ParameterStatus:
		default:
			return fmt.Errorf("postgres: %s: unexpected %T", sql, msg)
		}
	}
}

// statusWriter sends standby status updates straight to the socket, so the
// goroutine that reads the stream and the one that decodes it can both
// send one without sharing pgconn's buffers.
type statusWriter struct {
	mu   sync.Mutex
	conn *pgconn.PgConn
	buf  []byte
	// received is the highest WAL end the server reported: everything
	// before it has been received. It is reported as the write position,
	// which moves no slot but lets a shutting-down server's walsender see
	// that all it sent arrived (it waits for that before exiting, so a fast
	// shutdown would otherwise hang until the pipeline acknowledged the end).
	received atomic.Uint64
}

// send reports lsn as flushed and applied, and what was received (at
// least lsn) as written.
func (w *statusWriter) send(lsn uint64, replyRequested bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.buf[:0]
	b = append(b, 'd', 0, 0, 0, 0, 'r')
	b = binary.BigEndian.AppendUint64(b, max(lsn, w.received.Load()))
	b = binary.BigEndian.AppendUint64(b, lsn)
	b = binary.BigEndian.AppendUint64(b, lsn)
	b = binary.BigEndian.AppendUint64(b, uint64(time.Since(pgEpoch).Microseconds()))
	if replyRequested {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	binary.BigEndian.PutUint32(b[1:], uint32(len(b)-1))
	w.buf = b
	if _, err := w.conn.Conn().Write(b); err != nil {
		return fmt.Errorf("postgres: send standby status (flush %s): %w", formatLSN(lsn), err)
	}
	return nil
}
