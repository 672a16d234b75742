package tools

import (
	"context"

	"github.com/sluice-cdc/sluice/binlog"
)

// TableRows counts the rows one transaction or run changed in one table.
type TableRows struct {
	Table   string `json:"table"` // db.table
	Inserts int64  `json:"inserts"`
	Updates int64  `json:"updates"`
	Deletes int64  `json:"deletes"`
	Bytes   int64  `json:"bytes"` // size of the rows events
}

// Rows returns the total row count.
func (t *TableRows) Rows() int64 { return t.Inserts + t.Updates + t.Deletes }

func (t *TableRows) add(kind binlog.RowsKind, rows, bytes int64) {
	switch kind {
	case binlog.RowsInsert:
		t.Inserts += rows
	case binlog.RowsUpdate:
		t.Updates += rows
	case binlog.RowsDelete:
		t.Deletes += rows
	}
	t.Bytes += bytes
}

// Transaction describes one transaction of a binlog.
type Transaction struct {
	File       string       `json:"file"`
	Start      int64        `json:"start"` // offset of its first event (GTID or BEGIN)
	End        int64        `json:"end"`   // offset just after its commit
	GTID       string       `json:"gtid,omitempty"`
	FirstTime  uint32       `json:"first_time"`  // timestamp of the first event
	CommitTime uint32       `json:"commit_time"` // timestamp of the commit event
	Rows       int64        `json:"rows"`
	Tables     []*TableRows `json:"tables"`
}

// Bytes returns the size of the transaction in the file.
func (t *Transaction) Bytes() int64 { return t.End - t.Start }

// txScanner reads binlog files and reports each transaction and each
// rows event to callbacks.
type txScanner struct {
	onRows func(tx *Transaction, ev *binlog.Event, table string, kind binlog.RowsKind, rows int64) error
	onTx   func(tx *Transaction) error
	// progress gets the bytes read so far over all files.
	progress Progress

	frame  binlog.Framer
	lookup func(uint64) *binlog.TableMap
	rr     binlog.RowsReader
	file   string
	tx     Transaction
	byName map[string]*TableRows
	done   int64
}

func (s *txScanner) scanFiles(ctx context.Context, files []string) error {
	s.byName = map[string]*TableRows{}
	s.lookup = s.frame.Table
	sc := scan{progress: s.progress, event: s.event,
		start: func(_ int, _ string, in *input) error {
			s.frame.Reset()
			s.file = in.name
			return nil
		}}
	var err error
	s.done, err = sc.run(ctx, files)
	return err
}

func (s *txScanner) event(ev *binlog.Event) error {
	st, err := s.frame.Event(ev)
	if err != nil {
		return err
	}
	if st.Kind == binlog.KindLost {
		// The server may have lost changes here: counts past it would lie.
		return binlog.LostError(ev)
	}
	if st.Begins {
		tx := s.frame.Tx()
		s.tx = Transaction{File: s.file, Start: tx.Start, GTID: tx.GTIDString(), FirstTime: tx.Time, Tables: s.tx.Tables[:0]}
		clear(s.byName)
	}
	if st.Kind == binlog.KindRows {
		if err := s.rows(ev); err != nil {
			return err
		}
	}
	if st.Ends {
		return s.commit(ev)
	}
	return nil
}

func (s *txScanner) rows(ev *binlog.Event) error {
	if err := s.rr.ResetEvent(ev, s.lookup); err != nil {
		return err
	}
	tm := s.rr.Table
	if tm == nil {
		return nil
	}
	var n int64
	for s.rr.NextSpan() {
		n++
	}
	if err := s.rr.Err(); err != nil {
		return err
	}
	name := tm.Database + "." + tm.Table
	tr := s.byName[name]
	if tr == nil {
		tr = &TableRows{Table: name}
		s.byName[name] = tr
	}
	tr.add(s.rr.Kind, n, int64(ev.Header.EventSize))
	s.tx.Rows += n
	if s.onRows != nil {
		return s.onRows(&s.tx, ev, name, s.rr.Kind, n)
	}
	return nil
}

func (s *txScanner) commit(ev *binlog.Event) error {
	s.tx.End = ev.End()
	s.tx.CommitTime = ev.Header.Timestamp
	s.tx.Tables = s.tx.Tables[:0]
	for _, t := range s.byName {
		s.tx.Tables = append(s.tx.Tables, t)
	}
	if s.onTx != nil {
		return s.onTx(&s.tx)
	}
	return nil
}
