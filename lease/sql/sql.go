// Package sql holds leases with the source database's own locks, on a
// connection of their own to the database:
//
//	postgres://USER:PASSWORD@HOST:5432/DATABASE[?sslmode=…]   pg_try_advisory_lock
//	mysql://USER:PASSWORD@HOST:3306/[?timeout=5s&tls=…]        GET_LOCK
//
// (mariadb:// and postgresql:// too; the parameters are those of
// internal/sqlconn). No table is written and no privilege beyond
// connecting is needed.
//
// PostgreSQL: every lease has its own connection, on which it sets
// idle_session_timeout to the TTL (PostgreSQL 14 or later) and
// application_name to "sluice-lease:OWNER", and takes the session
// advisory lock of a 64-bit key hashed from the name
// (pg_try_advisory_lock). The fencing token is txid_current() taken right
// after, which PostgreSQL never hands out twice (and a promoted standby
// continues). Holder reads the holder's application_name from pg_locks
// and pg_stat_activity.
//
// MySQL and MariaDB: every lease has its own connection, on which it sets
// wait_timeout to the TTL (whole seconds, rounded up) and takes
// GET_LOCK('sluice:NAME', 0) (a name over 64 characters is hashed). The
// fencing token is the server's clock in microseconds taken right after
// (UNIX_TIMESTAMP(SYSDATE(6))): the next holder acquires only after this
// one's lock is gone, so its token is greater unless the server's clock
// steps back by more than the time between the two — then the new
// holder's Fence is refused until the clock has caught up, which is safe.
// Holder names the holding connection ("connection N from HOST").
//
// The lock lives as long as its connection: the holder proves it with a
// query every TTL/3 (pg_locks; IS_USED_LOCK), and a holder that stops
// doing so (crash, partition, pause) is disconnected by the server after
// the TTL, which releases the lock. A proof that fails means the
// connection, and with it the lock, may be gone: the lease is lost at
// once. Because a connection that breaks (a reset, a restarted proxy)
// frees the lock before its holder's next proof, a new holder waits
// TTL/3 + StopMargin after taking the lock before Acquire returns, so the
// previous holder has noticed and stopped. Waiting holders poll every
// TTL/4 (at most every second).
package sql

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/sqlconn"
	"github.com/sluice-cdc/sluice/lease"
)

// appNamePrefix starts the application_name of PostgreSQL lease
// connections.
const appNamePrefix = "sluice-lease:"

// Locker acquires leases with the database's locks.
type Locker struct {
	db   *sqlconn.DB
	opts lease.Options

	mu     sync.Mutex
	leases map[*Lease]bool
	closed bool
}

// Open prepares the database a URL names (the first lease connects).
// opts must have its defaults (lease.Options.WithDefaults; lease.Open does
// it).
func Open(ctx context.Context, u *url.URL, opts lease.Options) (*Locker, error) {
	db, err := sqlconn.Open(u, address.NewParams(u))
	if err != nil {
		return nil, err
	}
	l := &Locker{db: db, opts: opts, leases: map[*Lease]bool{}}
	pctx, cancel := context.WithTimeout(ctx, db.Timeout)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	return l, nil
}

// pgKey is the advisory lock key of name, and its halves as pg_locks
// shows them (classid, objid).
func pgKey(name string) (key, hi, lo int64) {
	h := fnv.New64a()
	h.Write([]byte("sluice:" + name))
	k := h.Sum64()
	return int64(k), int64(k >> 32), int64(k & 0xffffffff)
}

// myName is the GET_LOCK name of name (at most 64 characters).
func myName(name string) string {
	n := "sluice:" + name
	if len(n) > 64 {
		sum := sha256.Sum256([]byte(name))
		n = "sluice:" + hex.EncodeToString(sum[:])[:57]
	}
	return n
}

// Acquire polls until it holds name or ctx ends.
func (l *Locker) Acquire(ctx context.Context, name string) (lease.Lease, error) {
	return l.acquire(ctx, name, false)
}

// TryAcquire takes name if no connection holds its lock.
func (l *Locker) TryAcquire(ctx context.Context, name string) (lease.Lease, error) {
	return l.acquire(ctx, name, true)
}

func (l *Locker) acquire(ctx context.Context, name string, try bool) (lease.Lease, error) {
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sql: lease %q: connect: %w", name, err)
	}
	ls := &Lease{l: l, name: name, conn: conn}
	fail := func(err error) (lease.Lease, error) {
		conn.Close()
		return nil, fmt.Errorf("sql: lease %q: %w", name, err)
	}
	if err := ls.setup(ctx); err != nil {
		return fail(err)
	}
	poll := min(l.opts.TTL/4, time.Second)
	var sent time.Time
	for {
		sent = time.Now()
		ok, err := ls.tryLock(ctx)
		if err != nil {
			return fail(err)
		}
		if ok {
			break
		}
		if try {
			who, _ := l.Holder(ctx, name)
			return fail(fmt.Errorf("%w: %s", lease.ErrHeld, who))
		}
		select {
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-time.After(poll):
		}
	}
	ls.Validity = lease.NewValidity(sent, l.opts.TTL, l.opts.StopMargin)
	tok, err := ls.token(ctx)
	if err != nil {
		ls.conn.Close()
		return nil, fmt.Errorf("sql: lease %q: fencing token: %w", name, err)
	}
	ls.fence = checkpoint.Fence{Token: tok, Owner: l.opts.Owner}
	lctx, stop := context.WithCancel(context.Background())
	ls.stop = stop
	go ls.prove(lctx)
	go func() {
		<-ls.Lost()
		ls.close(nil) // the lock goes with the connection
	}()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		ls.close(lease.ErrReleased)
		return nil, fmt.Errorf("sql: lease %q: the locker is closed", name)
	}
	l.leases[ls] = true
	l.mu.Unlock()
	// Let a previous holder whose connection broke notice at its next
	// proof and stop before this one starts.
	settle := l.opts.RenewEvery() + l.opts.StopMargin
	select {
	case <-time.After(settle):
	case <-ls.Lost():
		return nil, fmt.Errorf("sql: lease %q: %w", name, ls.Err())
	case <-ctx.Done():
		ls.close(lease.ErrReleased)
		return nil, fmt.Errorf("sql: lease %q: %w", name, ctx.Err())
	}
	return ls, nil
}

// Holder names the holder of name's lock: the owner (PostgreSQL) or the
// holding connection (MySQL); "" when free.
func (l *Locker) Holder(ctx context.Context, name string) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, l.db.Timeout)
	defer cancel()
	var who sql.NullString
	var err error
	if l.db.Postgres {
		_, hi, lo := pgKey(name)
		err = l.db.QueryRowContext(cctx, `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.objsubid = 1`, hi, lo).Scan(&who)
		if err == nil {
			who.String = strings.TrimPrefix(who.String, appNamePrefix)
		}
	} else {
		var id sql.NullInt64
		err = l.db.QueryRowContext(cctx, "SELECT IS_USED_LOCK(?)", myName(name)).Scan(&id)
		if err == nil && id.Valid {
			var host sql.NullString
			l.db.QueryRowContext(cctx, "SELECT HOST FROM information_schema.PROCESSLIST WHERE ID = ?", id.Int64).Scan(&host)
			who = sql.NullString{String: fmt.Sprintf("connection %d from %s", id.Int64, host.String), Valid: true}
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("sql: holder of %q: %w", name, err)
	}
	return who.String, nil
}

// Close releases every lease still held and closes the connections.
func (l *Locker) Close() error {
	l.mu.Lock()
	l.closed = true
	held := make([]*Lease, 0, len(l.leases))
	for ls := range l.leases {
		held = append(held, ls)
	}
	l.mu.Unlock()
	for _, ls := range held {
		ctx, cancel := context.WithTimeout(context.Background(), l.db.Timeout)
		ls.Release(ctx)
		cancel()
	}
	return l.db.Close()
}

// Lease is a database lock held on a connection of its own.
type Lease struct {
	*lease.Validity
	l     *Locker
	name  string
	conn  *sql.Conn
	fence checkpoint.Fence
	stop  context.CancelFunc
	once  sync.Once
}

// Name is the name held.
func (ls *Lease) Name() string { return ls.name }

// Fence is the owner and the token taken after the lock.
func (ls *Lease) Fence() checkpoint.Fence { return ls.fence }

func (ls *Lease) exec(ctx context.Context, q string, args ...any) error {
	cctx, cancel := context.WithTimeout(ctx, ls.l.db.Timeout)
	defer cancel()
	_, err := ls.conn.ExecContext(cctx, q, args...)
	return err
}

// setup makes the server end the connection, and so free the lock, TTL
// after the holder falls silent.
func (ls *Lease) setup(ctx context.Context) error {
	ttl := ls.l.opts.TTL
	if ls.l.db.Postgres {
		if err := ls.exec(ctx, fmt.Sprintf("SET idle_session_timeout = %d", ttl.Milliseconds())); err != nil {
			return fmt.Errorf("set idle_session_timeout (PostgreSQL 14 or later): %w", err)
		}
		app := appNamePrefix + ls.l.opts.Owner
		if len(app) > 63 {
			app = app[:63]
		}
		return ls.exec(ctx, "SELECT set_config('application_name', $1, false)", app)
	}
	return ls.exec(ctx, fmt.Sprintf("SET SESSION wait_timeout = %d", int64(math.Ceil(ttl.Seconds()))))
}

func (ls *Lease) tryLock(ctx context.Context) (bool, error) {
	cctx, cancel := context.WithTimeout(ctx, ls.l.db.Timeout)
	defer cancel()
	if ls.l.db.Postgres {
		key, _, _ := pgKey(ls.name)
		var ok bool
		err := ls.conn.QueryRowContext(cctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok)
		return ok, err
	}
	var got sql.NullInt64
	if err := ls.conn.QueryRowContext(cctx, "SELECT GET_LOCK(?, 0)", myName(ls.name)).Scan(&got); err != nil {
		return false, err
	}
	if !got.Valid {
		return false, errors.New("GET_LOCK failed")
	}
	return got.Int64 == 1, nil
}

func (ls *Lease) token(ctx context.Context) (uint64, error) {
	cctx, cancel := context.WithTimeout(ctx, ls.l.db.Timeout)
	defer cancel()
	var tok int64
	q := "SELECT txid_current()"
	if !ls.l.db.Postgres {
		q = "SELECT CAST(UNIX_TIMESTAMP(SYSDATE(6)) * 1000000 AS SIGNED)"
	}
	if err := ls.conn.QueryRowContext(cctx, q).Scan(&tok); err != nil {
		return 0, err
	}
	if tok <= 0 {
		return 0, fmt.Errorf("token %d", tok)
	}
	return uint64(tok), nil
}

// held runs the proof query: whether this connection still holds the
// lock.
func (ls *Lease) held(ctx context.Context) (bool, error) {
	var ok bool
	var err error
	if ls.l.db.Postgres {
		_, hi, lo := pgKey(ls.name)
		err = ls.conn.QueryRowContext(ctx, `SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()
AND granted AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1`, hi, lo).Scan(&ok)
	} else {
		var v sql.NullInt64
		err = ls.conn.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?) = CONNECTION_ID()", myName(ls.name)).Scan(&v)
		ok = v.Valid && v.Int64 == 1
	}
	return ok, err
}

// prove runs the proof every TTL/3; a failed or negative proof loses the
// lease at once.
func (ls *Lease) prove(ctx context.Context) {
	t := time.NewTicker(ls.l.opts.RenewEvery())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sent := time.Now()
		pctx, cancel := context.WithTimeout(ctx, ls.l.opts.TTL)
		ok, err := ls.held(pctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			ls.Lose(fmt.Errorf("%w: the lock's connection failed: %v", lease.ErrRevoked, err))
			return
		case !ok:
			ls.Lose(fmt.Errorf("%w: the connection no longer holds the lock", lease.ErrRevoked))
			return
		}
		ls.Renewed(sent, 0)
	}
}

// Release unlocks and closes the lease's connection.
func (ls *Lease) Release(ctx context.Context) error {
	return ls.close(lease.ErrReleased)
}

// close loses the lease with why (nil: already lost) and closes its
// connection; unlocking first frees the name without waiting for the
// server to see the connection go.
func (ls *Lease) close(why error) error {
	var err error
	ls.once.Do(func() {
		if why != nil {
			ls.Lose(why)
		}
		ls.stop()
		ctx, cancel := context.WithTimeout(context.Background(), ls.l.db.Timeout)
		defer cancel()
		if ls.l.db.Postgres {
			key, _, _ := pgKey(ls.name)
			ls.exec(ctx, "SELECT pg_advisory_unlock($1)", key)
		} else {
			ls.exec(ctx, "SELECT RELEASE_LOCK(?)", myName(ls.name))
		}
		if cerr := ls.conn.Close(); cerr != nil && !errors.Is(cerr, sql.ErrConnDone) {
			err = fmt.Errorf("sql: release %q: %w", ls.name, cerr)
		}
		ls.l.mu.Lock()
		delete(ls.l.leases, ls)
		ls.l.mu.Unlock()
	})
	return err
}

// lockParams are the parameters of a source URL that say how to connect,
// kept by SourceURL: MySQL's TLS settings (sqlconn's, as source/mysql's)
// and libpq's connection keywords.
var lockParams = map[string][]string{
	"mysql": {"tls", "tls-ca", "tls-cert", "tls-key", "tls-server-name"},
	"postgres": {"host", "port", "dbname", "user", "password", "passfile", "connect_timeout",
		"sslmode", "sslkey", "sslcert", "sslcertmode", "sslrootcert", "sslnegotiation", "sslpassword", "sslsni",
		"krbspn", "krbsrvname", "target_session_attrs", "service", "servicefile", "channel_binding", "require_auth"},
}

// SourceURL returns the lease URL that locks on the database a MySQL,
// MariaDB or PostgreSQL source URL reads: the same address, user and
// database, with only the parameters that say how to connect (the
// source's own, such as server-id or slot, dropped). It is how `sluice
// run` with ha.coordinator: source holds each pipeline's lease on its
// own source database.
func SourceURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("source URL: %w", address.ErrMalformed)
	}
	kind := strings.ToLower(u.Scheme)
	switch kind {
	case "mysql", "mariadb":
		kind = "mysql"
	case "postgres", "postgresql":
		kind = "postgres"
	default:
		return "", fmt.Errorf("a %s source has no lock to hold leases with: want a mysql, mariadb or postgres source, or an etcd:// or zk:// coordinator", u.Scheme)
	}
	q := u.Query()
	keep := url.Values{}
	for _, k := range lockParams[kind] {
		if v, ok := q[k]; ok {
			keep[k] = v
		}
	}
	u.RawQuery = keep.Encode()
	u.Fragment = ""
	return u.String(), nil
}
