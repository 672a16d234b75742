package tools

import (
	"context"
	"sort"
	"time"

	"github.com/sluice-cdc/sluice/binlog"
)

// TableStats is the activity of one table over a run.
type TableStats struct {
	TableRows
	Transactions int64 `json:"transactions"` // transactions that changed the table
}

// Bucket is the activity of one time bucket.
type Bucket struct {
	Start        time.Time `json:"start"`
	Inserts      int64     `json:"inserts"`
	Updates      int64     `json:"updates"`
	Deletes      int64     `json:"deletes"`
	Bytes        int64     `json:"bytes"`
	Transactions int64     `json:"transactions"` // transactions committed in the bucket
}

// StatsReport is what Stats returns.
type StatsReport struct {
	Tables       []*TableStats `json:"tables"` // the most changed rows first
	Buckets      []*Bucket     `json:"buckets,omitempty"`
	Transactions int64         `json:"transactions"`
	Bytes        int64         `json:"bytes"` // bytes read
}

// StatsOptions configures Stats.
type StatsOptions struct {
	// Bucket is the width of the time buckets (0: no buckets).
	Bucket time.Duration
	// Progress, when set, gets the bytes read so far and the input's size.
	Progress Progress
}

// Stats counts, per table, the rows inserted, updated and deleted, the
// bytes of rows events and the transactions, and the same per time bucket
// of the event timestamps.
func Stats(ctx context.Context, files []string, opt StatsOptions) (*StatsReport, error) {
	if len(files) == 0 {
		return nil, errNoFiles
	}
	rep := &StatsReport{}
	tables := map[string]*TableStats{}
	buckets := map[int64]*Bucket{}
	bucket := func(ts uint32) *Bucket {
		if opt.Bucket <= 0 {
			return nil
		}
		t := time.Unix(int64(ts), 0).UTC().Truncate(opt.Bucket)
		b := buckets[t.Unix()]
		if b == nil {
			b = &Bucket{Start: t}
			buckets[t.Unix()] = b
		}
		return b
	}
	s := &txScanner{progress: opt.Progress}
	s.onRows = func(_ *Transaction, ev *binlog.Event, name string, kind binlog.RowsKind, rows int64) error {
		ts := tables[name]
		if ts == nil {
			ts = &TableStats{TableRows: TableRows{Table: name}}
			tables[name] = ts
		}
		ts.add(kind, rows, int64(ev.Header.EventSize))
		if b := bucket(ev.Header.Timestamp); b != nil {
			tr := TableRows{}
			tr.add(kind, rows, int64(ev.Header.EventSize))
			b.Inserts += tr.Inserts
			b.Updates += tr.Updates
			b.Deletes += tr.Deletes
			b.Bytes += tr.Bytes
		}
		return nil
	}
	s.onTx = func(tx *Transaction) error {
		rep.Transactions++
		for _, t := range tx.Tables {
			tables[t.Table].Transactions++
		}
		if b := bucket(tx.CommitTime); b != nil {
			b.Transactions++
		}
		return nil
	}
	if err := s.scanFiles(ctx, files); err != nil {
		return nil, err
	}
	rep.Bytes = s.done
	for _, t := range tables {
		rep.Tables = append(rep.Tables, t)
	}
	sort.Slice(rep.Tables, func(i, j int) bool {
		a, b := rep.Tables[i], rep.Tables[j]
		if a.Rows() != b.Rows() {
			return a.Rows() > b.Rows()
		}
		if a.Bytes != b.Bytes {
			return a.Bytes > b.Bytes
		}
		return a.Table < b.Table
	})
	for _, b := range buckets {
		rep.Buckets = append(rep.Buckets, b)
	}
	sort.Slice(rep.Buckets, func(i, j int) bool { return rep.Buckets[i].Start.Before(rep.Buckets[j].Start) })
	return rep, nil
}
