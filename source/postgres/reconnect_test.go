package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/sluice-cdc/sluice/source"
	"io"
	"net"
	"net/url"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// viaAddr replaces the host:port of a DSN.
func viaAddr(t *testing.T, dsn, addr string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = addr
	return u.String()
}

// churn runs transactions first..last-1 of a workload on table: each
// inserts 20 rows, updates 10 earlier ones and deletes 5 (35 changes).
func churn(ctx context.Context, conn *pgx.Conn, table string, first, last int) error {
	for i := first; i < last; i++ {
		b := i * 20
		sql := fmt.Sprintf(`BEGIN;
			INSERT INTO %[1]s SELECT g, 0 FROM generate_series(%[2]d, %[2]d + 19) g;
			UPDATE %[1]s SET v = %[3]d WHERE id BETWEEN %[2]d - 40 AND %[2]d - 31;
			DELETE FROM %[1]s WHERE id BETWEEN %[2]d - 60 AND %[2]d - 56;
			COMMIT`, table, b, i)
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("workload transaction %d: %w", i, err)
		}
	}
	return nil
}

// tableState reads id → v of a two-column table.
func tableState(ctx context.Context, conn *pgx.Conn, table string) (map[int64]int64, error) {
	rows, err := conn.Query(ctx, "SELECT id, v FROM "+table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[int64]int64)
	for rows.Next() {
		var id, v int64
		if err := rows.Scan(&id, &v); err != nil {
			return nil, err
		}
		out[id] = v
	}
	return out, rows.Err()
}

// rebuild applies the row changes of table in order, checking that
// positions strictly increase (commit order, no change twice) and that
// every change applies to the state before it (no change lost before it).
func rebuild(t *testing.T, changes []change.Change, table string) map[int64]int64 {
	t.Helper()
	state := make(map[int64]int64)
	var prev change.Position
	for i, c := range changes {
		if i > 0 && c.Op != change.OpHeartbeat && change.Compare(c.Pos, prev) <= 0 {
			t.Fatalf("change %d (%v at %v) does not follow %v", i, c.Op, c.Pos, prev)
		}
		if c.Op != change.OpHeartbeat || change.Compare(c.Pos, prev) > 0 {
			prev = c.Pos
		}
		if c.Table != table {
			continue
		}
		val := func(vals []change.Value, name string) int64 {
			v := col(t, c, vals, name)
			if v.Kind != change.KindInt {
				t.Fatalf("change %d: column %s is %v, want an integer", i, name, v)
			}
			return v.I
		}
		switch c.Op {
		case change.OpInsert:
			id := val(c.After, "id")
			if _, ok := state[id]; ok {
				t.Fatalf("change %d: insert of existing id %d", i, id)
			}
			state[id] = val(c.After, "v")
		case change.OpUpdate:
			id := val(c.After, "id")
			if _, ok := state[id]; !ok {
				t.Fatalf("change %d: update of missing id %d", i, id)
			}
			state[id] = val(c.After, "v")
		case change.OpDelete:
			id := val(c.Before, "id")
			if _, ok := state[id]; !ok {
				t.Fatalf("change %d: delete of missing id %d", i, id)
			}
			delete(state, id)
		}
	}
	return state
}

// waitRow waits until the collector holds an insert into table with the
// given id, or the stream ends, or the time is up.
func waitRow(t *testing.T, col *collector, done <-chan struct{}, errp *error, table string, id int64, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	seen := 0
	for time.Now().Before(deadline) {
		all := col.all()
		for _, c := range all[seen:] {
			if c.Table == table && c.Op == change.OpInsert && len(c.After) > 0 && c.After[0].Kind == change.KindInt && c.After[0].I == id {
				return
			}
		}
		seen = len(all)
		select {
		case <-done:
			t.Fatalf("stream ended waiting for row %d of %s: %v", id, table, *errp)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("timed out after %v waiting for row %d of %s (%d changes so far)", limit, id, table, len(col.all()))
}

func sameState(t *testing.T, got, want map[int64]int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("rebuilt %d rows, table has %d", len(got), len(want))
	}
	for id, v := range want {
		if g, ok := got[id]; !ok || g != v {
			t.Fatalf("row %d: rebuilt %d (present %v), table has %d", id, g, ok, v)
		}
	}
}

// TestReconnectThroughCuttingProxy streams through a proxy that cuts every
// connection every 2 seconds while changes are written (at least 600
// transactions, and on until the proxy has cut three times): the
// source reconnects each time and the rebuilt table equals the real one,
// with positions strictly increasing (nothing twice, in commit order).
func TestReconnectThroughCuttingProxy(t *testing.T) {
	const txs = 600 // 35 changes each
	exec(t, `CREATE TABLE rc (id bigint PRIMARY KEY, v bigint NOT NULL)`)
	dropSlot(t, "rc")
	proxy := testenv.NewProxy(t, pg.Addr(), 0)
	src, err := Open(viaAddr(t, pg.DSN("postgres"), proxy.Addr()) + "&slot=rc&publication=rc&create-publication=rc&retry-max=1s&status-interval=1s")
	if err != nil {
		t.Fatal(err)
	}
	col := &collector{}
	r := startSource(t, src, change.Position{}, col)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	stopCuts := make(chan struct{})
	cutsDone := make(chan struct{})
	go func() {
		defer close(cutsDone)
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for n := 0; n < 90; n++ { // bounded: at most 3 minutes of cuts
			select {
			case <-stopCuts:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				proxy.Cut()
			}
		}
	}()
	conn, err := pg.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// Write for at least three cuts, however fast the machine is.
	started := time.Now()
	i := 0
	for ; i < txs || proxy.Cuts() < 3; i += 50 {
		if time.Since(started) > time.Minute {
			break
		}
		if err := churn(ctx, conn, "rc", i, i+50); err != nil {
			t.Fatal(err)
		}
	}
	const marker = int64(-1)
	if _, err := conn.Exec(ctx, fmt.Sprintf(`INSERT INTO rc VALUES (%d, 0)`, marker)); err != nil {
		t.Fatal(err)
	}
	waitRow(t, col, r.done, &r.err, "rc", marker, 150*time.Second)
	close(stopCuts)
	<-cutsDone
	r.stop(t)
	cuts := proxy.Cuts()
	st := src.Stats()
	if cuts < 3 || st.Reconnects < 2 {
		t.Fatalf("%d cuts, %d reconnects: the test did not exercise reconnecting", cuts, st.Reconnects)
	}
	want, err := tableState(ctx, conn, "rc")
	if err != nil {
		t.Fatal(err)
	}
	got := rebuild(t, col.all(), "rc")
	sameState(t, got, want)
	t.Logf("%d transactions, %d changes, %d cuts, %d reconnects (last: %s)", i+1, len(col.data()), cuts, st.Reconnects, st.LastError)
}

// TestReconnectServerRestart stops and restarts PostgreSQL while the
// source is streaming a backlog: Stream keeps going and delivers every
// change once, in order.
func TestReconnectServerRestart(t *testing.T) {
	srv := testenv.NewPostgres(t, testenv.PostgresOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	conn, err := srv.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE rs (id bigint PRIMARY KEY, v bigint NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	src, err := Open(srv.DSN("postgres") + "&slot=rs&publication=rs&create-publication=rs&retry-max=1s&batch-size=64")
	if err != nil {
		t.Fatal(err)
	}
	// A slow sink, so that the restart comes while a backlog is being read.
	col := &collector{fail: func([]change.Change) error { time.Sleep(2 * time.Millisecond); return nil }}
	sctx, scancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var streamErr error
	go func() {
		defer close(done)
		streamErr = src.Stream(sctx, change.Position{}, col.emit)
	}()
	defer func() {
		scancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("stream did not stop")
		}
	}()
	for deadline := time.Now().Add(60 * time.Second); ; {
		var active bool
		err := conn.QueryRow(ctx, `SELECT coalesce((SELECT active AND confirmed_flush_lsn IS NOT NULL FROM pg_replication_slots WHERE slot_name = 'rs'), false)`).Scan(&active)
		if err != nil {
			t.Fatal(err)
		}
		if active {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("slot never became active")
		}
		select {
		case <-done:
			t.Fatalf("stream ended: %v", streamErr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := churn(ctx, conn, "rs", 0, 300); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	before := len(col.all())
	// A fast shutdown (SIGINT): testenv's Stop sends SIGTERM, a smart
	// shutdown, which waits for the source's catalog session to end.
	if err := syscall.Kill(srv.PID(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); srv.Running(); {
		if time.Now().After(deadline) {
			t.Fatal("server did not shut down within 60s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := srv.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // a few failed reconnects
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err = srv.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := churn(ctx, conn, "rs", 300, 400); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO rs VALUES (-1, 0)`); err != nil {
		t.Fatal(err)
	}
	waitRow(t, col, done, &streamErr, "rs", -1, 150*time.Second)
	st := src.Stats()
	if st.Reconnects < 1 {
		t.Fatalf("no reconnect counted across a server restart")
	}
	want, err := tableState(ctx, conn, "rs")
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, rebuild(t, col.all(), "rs"), want)
	t.Logf("%d changes before the restart was seen, %d in all, %d reconnects (last: %s)", before, len(col.all()), st.Reconnects, st.LastError)
	if errors.Is(streamErr, source.ErrPositionLost) {
		t.Fatal(streamErr)
	}
}

// TestRetryable: connection failures and server shutdowns are retried;
// configuration errors, a lost position and protocol errors are not.
func TestRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"auth", fmt.Errorf("%w: x", ErrAuth), false},
		{"wal_level", fmt.Errorf("%w: x", ErrWALLevel), false},
		{"privilege", fmt.Errorf("%w: x", ErrPrivilege), false},
		{"slot of another database", fmt.Errorf("%w: x", ErrSlotMismatch), false},
		{"position lost", fmt.Errorf("%w: x", source.ErrPositionLost), false},
		{"no publication", fmt.Errorf("%w: x", ErrNoPublication), false},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), false},
		{"protocol", errors.New("postgres: message 'Z' inside stream block of transaction 7"), false},
		{"slot in use", fmt.Errorf("%w: x", ErrSlotInUse), true},
		{"server ended stream", errServerEnded, true},
		{"unexpected EOF", fmt.Errorf("postgres: receive: %w", io.ErrUnexpectedEOF), true},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"reset", fmt.Errorf("x: %w", syscall.ECONNRESET), true},
		{"admin shutdown", fmt.Errorf("x: %w", &pgconn.PgError{Code: "57P01"}), true},
		{"starting up", fmt.Errorf("x: %w", &pgconn.PgError{Code: "57P03"}), true},
		{"connection exception", fmt.Errorf("x: %w", &pgconn.PgError{Code: "08006"}), true},
		{"syntax error", fmt.Errorf("x: %w", &pgconn.PgError{Code: "42601"}), false},
		{"WAL removed", fmt.Errorf("x: %w", &pgconn.PgError{Code: "58P01"}), false},
	}
	for _, tc := range tests {
		if got := retryable(tc.err); got != tc.want {
			t.Errorf("%s: retryable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

// TestAdminShutdownBeforeStreaming: the server says it is shutting down
// (SQLSTATE 57P01, what a fast shutdown or pg_terminate_backend sends) in
// answer to the very first START_REPLICATION — a restart while the
// walsender was still setting up, before any change streamed. The stream
// must retry (the server was reached: this is no wrong address or
// password) and deliver the rows, where it used to end with the error.
// A proxy in front of the server answers the first START_REPLICATION it
// sees with that error and closes the connection.
func TestAdminShutdownBeforeStreaming(t *testing.T) {
	server(t)
	exec(t, `CREATE TABLE shut (id bigint PRIMARY KEY, v bigint NOT NULL)`)
	proxy, injected := adminShutdownProxy(t, pg.Addr())
	src, err := Open(viaAddr(t, sourceURL("slot=shut&publication=shut&create-publication=shut&retry-max=500ms"), proxy))
	if err != nil {
		t.Fatal(err)
	}
	r := startSource(t, src, change.Position{}, &collector{})
	defer r.stop(t)
	// The slot exists once the first attempt got as far as
	// START_REPLICATION: write the rows then, so that they follow it.
	for deadline := time.Now().Add(60 * time.Second); injected.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no START_REPLICATION reached the proxy")
		}
		select {
		case <-r.done:
			t.Fatalf("stream ended: %v", r.err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	exec(t, `INSERT INTO shut SELECT g, g FROM generate_series(1, 50) g`)
	got := r.col.waitCommits(t, 1, r)
	rows := 0
	for _, c := range got {
		if c.Op == change.OpInsert && c.Table == "shut" {
			rows++
		}
	}
	if rows != 50 {
		t.Fatalf("%d inserts delivered, want 50", rows)
	}
	if n := injected.Load(); n != 1 {
		t.Fatalf("the proxy answered %d START_REPLICATIONs with 57P01, want 1", n)
	}
}

// adminShutdownProxy listens on a loopback port and forwards connections
// to target, except that it answers the first client message holding
// START_REPLICATION with a FATAL 57P01 ErrorResponse and closes that
// connection. It returns its address and the count of such answers.
func adminShutdownProxy(t *testing.T, target string) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var injected atomic.Int32
	fatal := func() []byte {
		var body []byte
		for _, f := range []struct {
			code byte
			val  string
		}{{'S', "FATAL"}, {'V', "FATAL"}, {'C', "57P01"}, {'M', "terminating connection due to administrator command"}} {
			body = append(append(append(body, f.code), f.val...), 0)
		}
		body = append(body, 0)
		msg := []byte{'E', 0, 0, 0, 0}
		binary.BigEndian.PutUint32(msg[1:], uint32(4+len(body)))
		return append(msg, body...)
	}()
	testenv.Serve(ln, func(c net.Conn) {
		s, err := net.Dial("tcp", target)
		if err != nil {
			return
		}
		defer s.Close()
		go func() { io.Copy(c, s); c.Close() }()
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if bytes.Contains(buf[:n], []byte("START_REPLICATION")) && injected.CompareAndSwap(0, 1) {
					c.Write(fatal)
					return
				}
				if _, werr := s.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	})
	return ln.Addr().String(), &injected
}
