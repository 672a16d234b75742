package mysql

import (
	"context"
	"fmt"
	"github.com/sluice-cdc/sluice/source"
	"io"
	"testing"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
)

// TestRetryable lists which errors Stream retries after reconnecting and
// which end it.
func TestRetryable(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	cfg := &Config{Addr: "db:3306", DialTimeout: 10 * time.Second}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"caller canceled", fmt.Errorf("mysql: x: %w", context.Canceled), false},
		{"dial canceled by the caller", dialTimedOut(canceled, cfg), false},
		{"dial timed out on a live context", dialTimedOut(context.Background(), cfg), true},
		{"connection lost", fmt.Errorf("mysql: read: %w", io.EOF), true},
		{"torn packet", io.ErrUnexpectedEOF, true},
		{"bad connection", gmysql.ErrBadConn, true},
		{"server shutting down", &ServerError{Code: erServerShutdown}, true},
		{"position purged", fmt.Errorf("x: %w", source.ErrPositionLost), false},
		{"schema mismatch", &SchemaMismatchError{Database: "d", Table: "t"}, false},
		{"binlog_format not ROW", fmt.Errorf("mysql: db:3306: %w: it is MIXED", ErrBinlogFormat), false},
		{"server ended the dump", errStreamEnded, true},
	} {
		if got := retryable(tc.err); got != tc.want {
			t.Errorf("%s: retryable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
