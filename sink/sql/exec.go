package sql

import (
	"context"
	gosql "database/sql"
	"database/sql/driver"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sluice-cdc/sluice/internal/sqldb"
)

// maxPrepared bounds the statements prepared on one connection (MySQL's
// max_prepared_stmt_count is shared by the whole server); past it they
// are all closed and prepared again as needed.
const maxPrepared = 2000

// myExec runs statements on one connection of the MySQL pool, each a
// server-side prepared statement (binary protocol), one round trip each.
type myExec struct {
	s     *Sink
	conn  *gosql.Conn
	stmts map[stmtKey]*gosql.Stmt
}

func (x *myExec) connect(ctx context.Context) error {
	c, err := x.s.cat.My.Conn(ctx)
	if err != nil {
		return err
	}
	// A pooled connection may have been idle through a server restart.
	if err := c.PingContext(ctx); err != nil {
		c.Raw(func(any) error { return driver.ErrBadConn })
		c.Close()
		if c, err = x.s.cat.My.Conn(ctx); err != nil {
			return err
		}
	}
	x.conn, x.stmts = c, map[stmtKey]*gosql.Stmt{}
	return nil
}

func (x *myExec) prepared(ctx context.Context, k stmtKey) (*gosql.Stmt, error) {
	if st, ok := x.stmts[k]; ok {
		return st, nil
	}
	if len(x.stmts) >= maxPrepared {
		for _, st := range x.stmts {
			st.Close()
		}
		clear(x.stmts)
	}
	st, err := x.conn.PrepareContext(ctx, buildSQL(sqldb.MySQL, k, &x.s.cp))
	if err != nil {
		return nil, err
	}
	x.stmts[k] = st
	return st, nil
}

func (x *myExec) run(ctx context.Context, p *plan, begin bool) (int, error) {
	if x.conn == nil {
		return -1, driver.ErrBadConn
	}
	if begin {
		if _, err := x.conn.ExecContext(ctx, "BEGIN"); err != nil {
			return -1, err
		}
	}
	for i := range p.stmts {
		st := &p.stmts[i]
		ps, err := x.prepared(ctx, st.key)
		if err != nil {
			return i, err
		}
		res, err := ps.ExecContext(ctx, p.my[st.a0:st.a1]...)
		if err != nil {
			return i, err
		}
		if st.expect >= 0 {
			if n, err := res.RowsAffected(); err != nil {
				return i, err
			} else if n != st.expect {
				return i, &rowsError{got: n, want: st.expect}
			}
		}
	}
	return -1, nil
}

func (x *myExec) exec(ctx context.Context, sql string) error {
	if x.conn == nil {
		return driver.ErrBadConn
	}
	_, err := x.conn.ExecContext(ctx, sql)
	return err
}

// close closes the connection for good (not back to the pool: it may be
// broken, or hold a transaction).
func (x *myExec) close() {
	if x.conn == nil {
		return
	}
	for _, st := range x.stmts {
		st.Close()
	}
	x.conn.Raw(func(any) error { return driver.ErrBadConn })
	x.conn.Close()
	x.conn, x.stmts = nil, nil
}

// pgExec runs statements on one PostgreSQL connection, all the statements
// of a plan in one round trip (a pipelined batch of prepared statements,
// parameters in text form, bytea in binary).
type pgExec struct {
	s     *Sink
	conn  *pgx.Conn
	stmts map[stmtKey]*pgconn.StatementDescription
	n     int
}

// pgApplySession: the multi-row statements are planned once, not at
// every execution (a custom plan of a 256-row INSERT costs more than
// running it).
var pgApplySession = map[string]string{"plan_cache_mode": "force_generic_plan"}

func (x *pgExec) connect(ctx context.Context) error {
	c, err := sqldb.ConnectPostgres(ctx, x.s.cfg.DB, pgApplySession)
	if err != nil {
		return err
	}
	x.conn, x.stmts = c, map[stmtKey]*pgconn.StatementDescription{}
	return nil
}

func (x *pgExec) prepared(ctx context.Context, k stmtKey) (*pgconn.StatementDescription, error) {
	if sd, ok := x.stmts[k]; ok {
		return sd, nil
	}
	pc := x.conn.PgConn()
	if len(x.stmts) >= maxPrepared {
		for _, sd := range x.stmts {
			if err := pc.Deallocate(ctx, sd.Name); err != nil {
				return nil, err
			}
		}
		clear(x.stmts)
	}
	x.n++
	sd, err := pc.Prepare(ctx, "sluice_"+strconv.Itoa(x.n), buildSQL(sqldb.Postgres, k, &x.s.cp), nil)
	if err != nil {
		return nil, err
	}
	x.stmts[k] = sd
	return sd, nil
}

func (x *pgExec) run(ctx context.Context, p *plan, begin bool) (int, error) {
	if x.conn == nil || x.conn.IsClosed() {
		return -1, driver.ErrBadConn
	}
	var b pgconn.Batch
	if begin {
		b.ExecParams("BEGIN", nil, nil, nil, nil)
	}
	for i := range p.stmts {
		st := &p.stmts[i]
		sd, err := x.prepared(ctx, st.key)
		if err != nil {
			return i, err
		}
		b.ExecStatement(sd, p.pgVals[st.a0:st.a1], p.pgFmts[st.a0:st.a1], nil)
	}
	mrr := x.conn.PgConn().ExecBatch(ctx, &b)
	i := 0
	if begin {
		i = -1
	}
	for ; mrr.NextResult(); i++ {
		tag, err := mrr.ResultReader().Close()
		if err != nil {
			mrr.Close()
			return i, err
		}
		if i >= 0 && p.stmts[i].expect >= 0 && tag.RowsAffected() != p.stmts[i].expect {
			mrr.Close()
			return i, &rowsError{got: tag.RowsAffected(), want: p.stmts[i].expect}
		}
	}
	if err := mrr.Close(); err != nil {
		return min(i, len(p.stmts)-1), err
	}
	return -1, nil
}

func (x *pgExec) exec(ctx context.Context, sql string) error {
	if x.conn == nil || x.conn.IsClosed() {
		return driver.ErrBadConn
	}
	_, err := x.conn.PgConn().Exec(ctx, sql).ReadAll()
	return err
}

func (x *pgExec) close() {
	if x.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	x.conn.Close(ctx)
	cancel()
	x.conn, x.stmts = nil, nil
}
