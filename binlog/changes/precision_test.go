package changes

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/binlog"
	"github.com/sluice-cdc/sluice/change"
)

func TestParseColumnPrecision(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ColumnPrecision
		ok   bool
	}{
		{"shop.orders.created=3", ColumnPrecision{"shop", "orders", "created", 3}, true},
		{"d.t.2=0", ColumnPrecision{"d", "t", "2", 0}, true},
		{"d.t.c.x=6", ColumnPrecision{"d", "t", "c.x", 6}, true},
		{"d.t.c=7", ColumnPrecision{}, false},
		{"d.t.c=-1", ColumnPrecision{}, false},
		{"d.t=3", ColumnPrecision{}, false},
		{"d.t.c", ColumnPrecision{}, false},
		{".t.c=1", ColumnPrecision{}, false},
		{"d.t.c=x", ColumnPrecision{}, false},
	} {
		got, err := ParseColumnPrecision(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseColumnPrecision(%q) = %+v, %v", tc.in, got, err)
		}
	}
}

// TestHiresPrecisions decodes hires.000001, written by MariaDB 10.11 with
// mysql56_temporal_format=OFF and binlog_row_metadata=MINIMAL for
//
//	CREATE TABLE d.t (id INT PRIMARY KEY, ts TIMESTAMP(3) NULL, dt DATETIME(6), dt1 DATETIME(1),
//	                  tm TIME(4), tmn TIME(2), ts0 TIMESTAMP NULL, n INT)
//
// and three INSERTs: without the precisions it stops at the first rows
// event with binlog.ErrTemporalPrecision; with them (by column number) it
// gives the values the server stored.
func TestHiresPrecisions(t *testing.T) {
	decode := func(ps []ColumnPrecision) ([]string, error) {
		d := NewDecoder(Filter{})
		d.Precisions = ps
		var rows []string
		err := DecodeFiles(context.Background(), []string{"testdata/hires.000001"}, d, func(c *change.Change) error {
			if c.Op == change.OpInsert {
				var parts []string
				for _, v := range c.After {
					parts = append(parts, string(change.AppendText(nil, v)))
				}
				rows = append(rows, strings.Join(parts, "|"))
			}
			return nil
		}, nil)
		return rows, err
	}
	if _, err := decode(nil); !errors.Is(err, binlog.ErrTemporalPrecision) {
		t.Fatalf("without precisions: %v, want ErrTemporalPrecision", err)
	}
	ps := []ColumnPrecision{{"d", "t", "2", 3}, {"d", "t", "3", 6}, {"d", "t", "4", 1}, {"d", "t", "5", 4}, {"d", "t", "6", 2}, {"d", "t", "7", 0},
		{"d", "other", "2", 5}, {"x", "t", "3", 1}}
	rows, err := decode(ps)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"1|2011-01-02 03:04:05.678|2011-01-02 03:04:05.123456|1999-12-31 23:59:59.9|-838:59:59.9999|-00:00:00.01|2001-02-03 04:05:06|7",
		"2|1970-01-01 00:00:01.001|0000-00-00 00:00:00.000000|9999-12-31 23:59:59.9|838:59:59.9999|12:34:56.78|NULL|8",
		"3|NULL|2024-02-29 12:00:00.000001|2024-02-29 12:00:00.0|00:00:00.0000|-01:02:03.04|NULL|9",
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
}
