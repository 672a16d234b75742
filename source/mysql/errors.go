package mysql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/sluice-cdc/sluice/source"
)

// ErrBinlogFormat is returned (wrapped) when the server's binlog_format
// is STATEMENT or MIXED and Config.AllowStatement is off: the server logs
// INSERT, UPDATE and DELETE as SQL text, so their rows are not in the
// binlog. The error says which variables to set and how to opt in. It is
// not retried.
var ErrBinlogFormat = errors.New("binlog_format must be ROW")

// ErrSchemaMismatch is wrapped by SchemaMismatchError.
var ErrSchemaMismatch = errors.New("rows event does not match the schema held")

// ServerError is an error packet the server sent.
type ServerError struct {
	Code    uint16
	State   string
	Message string
}

// Error formats as "server error 1236 (HY000): message".
func (e *ServerError) Error() string {
	return fmt.Sprintf("server error %d (%s): %s", e.Code, e.State, e.Message)
}

// Server error codes the source acts on.
const (
	erAccessDenied          = 1045
	erDBAccessDenied        = 1044
	erSpecificAccessDenied  = 1227
	erServerShutdown        = 1053
	erMasterFatalReadingLog = 1236
	erUnknownSystemVariable = 1193
	erConnKilled            = 1927 // MariaDB ER_CONNECTION_KILLED
	erQueryInterrupted      = 1317
	erAbortingConnection    = 1152
	erNetReadInterrupted    = 1159
	erTooManyConnections    = 1040
	erHostNotPrivileged     = 1130
	erNewAbortingConnection = 1184
)

// serverError returns the server error inside err, if any.
func serverError(err error) *ServerError {
	var se *ServerError
	if errors.As(err, &se) {
		return se
	}
	var me *gmysql.MyError
	if errors.As(err, &me) {
		return &ServerError{Code: me.Code, State: me.State, Message: me.Message}
	}
	return nil
}

// purgedMessages are the texts of error 1236 that mean the requested
// position or GTID state is not (or no longer) in the server's binlogs.
var purgedMessages = []string{
	"could not find first log file name",
	"purged",
	"could not find gtid state",
	"which is not in the master's binlog",
	"which is not in the source's binlog",
	"is not in the binary log",
	"could not open log file",
	"requested by the slave (even though",
	"missing gtid",
}

// classifyDumpError turns an error packet received during the binlog dump
// into source.ErrPositionLost when it says the position is gone.
func classifyDumpError(se *ServerError, where string) error {
	if se.Code == erMasterFatalReadingLog {
		msg := strings.ToLower(se.Message)
		for _, m := range purgedMessages {
			if strings.Contains(msg, m) {
				return fmt.Errorf("mysql: binlog dump from %s: %w: %w", where, source.ErrPositionLost, se)
			}
		}
	}
	return fmt.Errorf("mysql: binlog dump from %s: %w", where, se)
}

// retryable reports whether err is a failure of the connection (or of the
// server going away) after which reconnecting and resuming makes sense.
func retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, source.ErrPositionLost) || errors.Is(err, ErrSchemaMismatch) || errors.Is(err, ErrBinlogFormat) {
		return false
	}
	if se := serverError(err); se != nil {
		switch se.Code {
		case erServerShutdown, erConnKilled, erQueryInterrupted, erAbortingConnection,
			erNetReadInterrupted, erTooManyConnections, erNewAbortingConnection:
			return true
		case erMasterFatalReadingLog:
			// "binlog truncated in the middle of event" and friends can be
			// a crash in progress; purged positions were classified above.
			return false
		}
		return false
	}
	if errors.Is(err, errStreamEnded) || errors.Is(err, errConnectTimeout) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, gmysql.ErrBadConn) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe)
}

// errConnectTimeout is returned when connecting and authenticating took
// longer than Config.DialTimeout.
var errConnectTimeout = errors.New("no connection within the dial timeout")

// errStreamEnded is returned when the server ends the dump with an EOF packet.
var errStreamEnded = errors.New("server ended the binlog stream")
