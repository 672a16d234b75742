package sql

import (
	"context"
	gosql "database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// retriable reports whether a new attempt, on a new connection, may
// succeed where err failed: a lost connection, a server shutting down or
// starting, a deadlock or serialization failure, a lock wait timeout.
// Errors in the data (constraints, types, missing tables) and refused
// logins are not.
func retriable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1040, // too many connections
			1053,                   // server shutdown in progress
			1205,                   // lock wait timeout
			1213,                   // deadlock
			1158, 1159, 1160, 1161, // network read/write errors
			1927, // connection was killed
			2006, 2013,
			4031: // disconnected by the server for inactivity
			return true
		}
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "40001", pe.Code == "40P01", // serialization failure, deadlock
			pe.Code == "55P03",                // lock not available
			pe.Code == "53300",                // too many connections
			strings.HasPrefix(pe.Code, "57P"), // admin shutdown, crash shutdown, cannot connect now
			strings.HasPrefix(pe.Code, "08"):  // connection exceptions
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true // the server is not there (a PgError inside, such as a refused login, is caught above)
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, gosql.ErrConnDone) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "conn closed") || strings.Contains(s, "connection reset") || strings.Contains(s, "broken pipe")
}

// ddlDone reports whether err says that a DDL statement found its work
// already done: re-running a DDL that was applied before a crash, whose
// position was not yet saved.
func ddlDone(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1050, // table exists
			1060, // duplicate column
			1061, // duplicate key name
			1091, // can't drop: doesn't exist
			1051, // unknown table (DROP)
			1007, // database exists
			1008, // database doesn't exist (DROP)
			1146, // table doesn't exist (ALTER/RENAME of a dropped or renamed table)
			1054, // unknown column
			1826: // duplicate foreign key constraint name
			return true
		}
	}
	return false
}
