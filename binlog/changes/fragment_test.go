package changes

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/binlog"
	"github.com/sluice-cdc/sluice/change"
)

// TestEventsThatWouldLoseChanges checks that events carrying data Sluice
// cannot turn into changes stop decoding with a located error instead of
// being skipped.
func TestEventsThatWouldLoseChanges(t *testing.T) {
	fde := binlog.DefaultFormatDescription()
	tests := []struct {
		typ  binlog.EventType
		body []byte
		want error
		text string
	}{
		{binlog.MariaPartialRowDataEvent, []byte{1, 2, 3, 4}, binlog.ErrFragmentedRow, "PARTIAL_ROW_DATA_EVENT"},
		{binlog.IncidentEvent, []byte{1, 0, 4, 'l', 'o', 's', 't'}, nil, "may have lost events"},
	}
	for _, tt := range tests {
		t.Run(tt.typ.String(), func(t *testing.T) {
			ev := &binlog.Event{Source: "bin.000009", Offset: 4321, Header: binlog.Header{Type: tt.typ}, Body: tt.body, FDE: fde}
			err := NewDecoder(Filter{}).Event(ev, func(*change.Change) error { return nil })
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v is not %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), "bin.000009@4321") || !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %q does not name the place and %q", err, tt.text)
			}
		})
	}
}
