package binlog

import (
	"errors"
	"strings"
	"testing"
)

// TestEventWrapLocates checks that Wrap locates plain errors and fills in
// the place of an *Error a body-only decoder returned, keeping its row and column.
func TestEventWrapLocates(t *testing.T) {
	ev := &Event{Source: "bin.000003", Offset: 1234, Header: Header{Type: UpdateRowsEventV2}}
	base := errors.New("truncated")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"plain", base, "binlog: bin.000003@1234 UPDATE_ROWS_EVENT: truncated"},
		{"unlocated row error", &Error{Row: 17, Col: 4, ColType: "DECIMAL(12,2)", Err: base},
			"binlog: bin.000003@1234 UPDATE_ROWS_EVENT row 17 col 4 DECIMAL(12,2): truncated"},
		{"located elsewhere", &Error{Source: "other", Offset: 9, Type: TableMapEvent, Err: base},
			"binlog: other@9 TABLE_MAP_EVENT: truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ev.Wrap(tt.err)
			if got := err.Error(); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if !errors.Is(err, base) {
				t.Fatal("cause lost")
			}
		})
	}
	nested := &Event{Source: "bin.000001", Offset: 500, Header: Header{Type: WriteRowsEventV2}, Nested: true, PayloadOffset: 77}
	got := nested.Wrap(&Error{Row: 1, Err: base}).Error()
	if !strings.Contains(got, "bin.000001@500") || !strings.Contains(got, "payload byte 77") {
		t.Fatalf("nested: %q", got)
	}
}
