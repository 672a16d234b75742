package tools

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

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
	progress func(done int64)

	tables map[uint64]*binlog.TableMap
	rr     binlog.RowsReader
	tx     Transaction
	byName map[string]*TableRows
	state  int // 0 none, 1 GTID seen (no BEGIN yet), 2 in transaction
	done   int64
}

const (
	txNone = iota
	txGTID
	txOpen
)

func (s *txScanner) scanFiles(ctx context.Context, files []string) error {
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("tools: %w", err)
		}
		err = s.scan(ctx, f, filepath.Base(p))
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *txScanner) begin(ev *binlog.Event, gtid string, state int) {
	s.tx = Transaction{File: s.tx.File, Start: ev.Offset, GTID: gtid, FirstTime: ev.Header.Timestamp}
	clear(s.byName)
	s.state = state
}

func (s *txScanner) commit(ev *binlog.Event, end int64) error {
	s.state = txNone
	s.tx.End = end
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

func (s *txScanner) scan(ctx context.Context, src io.Reader, name string) error {
	if s.tables == nil {
		s.tables = map[uint64]*binlog.TableMap{}
		s.byName = map[string]*TableRows{}
	}
	clear(s.tables)
	s.tx.File = name
	s.state = txNone
	lookup := func(id uint64) *binlog.TableMap { return s.tables[id] }
	r := binlog.NewReader(src, name)
	defer r.Close()
	var base = s.done
	for i := 0; ; i++ {
		if i&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if s.progress != nil {
				s.progress(base + r.Offset())
			}
		}
		ev, err := r.Next()
		if err == io.EOF {
			s.done = base + r.Offset()
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.event(ev, r.Offset(), lookup); err != nil {
			return err
		}
	}
}

func (s *txScanner) event(ev *binlog.Event, end int64, lookup func(uint64) *binlog.TableMap) error {
	switch t := ev.Header.Type; {
	case t == binlog.IncidentEvent:
		// The server may have lost changes here: counts past it would lie.
		var in binlog.Incident
		if err := in.Decode(ev.Body, ev.FDE); err != nil {
			return ev.Wrap(err)
		}
		return ev.Errorf("incident %d (%s): the server may have lost events here", in.Type, in.Message)
	case t == binlog.TableMapEvent:
		tm, err := binlog.DecodeTableMapEvent(ev)
		if err != nil {
			return ev.Wrap(err)
		}
		s.tables[tm.TableID] = tm
	case t == binlog.MariaGTIDEvent:
		var g binlog.MariaGTIDStart
		if err := g.Decode(ev.Body, ev.FDE); err != nil {
			return ev.Wrap(err)
		}
		state := txOpen
		if g.Flags&binlog.MariaGTIDStandalone != 0 {
			state = txGTID
		}
		s.begin(ev, g.GTID(ev.Header.ServerID).String(), state)
	case t == binlog.GTIDEvent || t == binlog.AnonymousGTIDEvent || t == binlog.GTIDTaggedLogEvent:
		var g binlog.GTID
		var err error
		if t == binlog.GTIDTaggedLogEvent {
			err = g.DecodeTagged(ev.Body, ev.FDE)
		} else {
			err = g.Decode(ev.Body, ev.FDE)
		}
		if err != nil {
			return ev.Wrap(err)
		}
		id := ""
		if !g.Anonymous() {
			id = g.GTID().String()
		}
		s.begin(ev, id, txGTID)
	case t == binlog.QueryEvent:
		var q binlog.Query
		if err := q.Decode(ev.Body, ev.FDE); err != nil {
			return ev.Wrap(err)
		}
		sql := strings.ToUpper(strings.TrimSpace(q.SQL))
		switch {
		case sql == "BEGIN" || strings.HasPrefix(sql, "XA START"):
			if s.state == txNone {
				s.begin(ev, "", txOpen)
			}
			s.state = txOpen
		case sql == "COMMIT" || sql == "ROLLBACK" || strings.HasPrefix(sql, "XA COMMIT") || strings.HasPrefix(sql, "XA ROLLBACK"):
			if s.state != txNone {
				return s.commit(ev, end)
			}
		default:
			if s.state == txGTID { // a statement on its own after its GTID
				return s.commit(ev, end)
			}
		}
	case t == binlog.XIDEvent || t == binlog.XAPrepareLogEvent:
		if s.state != txNone {
			return s.commit(ev, end)
		}
	case binlog.IsRowsEvent(t):
		if err := s.rr.ResetEvent(ev, lookup); err != nil {
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
		if s.state == txNone { // rows outside a transaction (a file cut mid-way)
			s.begin(ev, "", txOpen)
		}
		name := tm.Database + "." + tm.Table
		tr := s.byName[name]
		if tr == nil {
			tr = &TableRows{Table: name}
			s.byName[name] = tr
		}
		size := int64(ev.Header.EventSize)
		tr.add(s.rr.Kind, n, size)
		s.tx.Rows += n
		if s.onRows != nil {
			return s.onRows(&s.tx, ev, name, s.rr.Kind, n)
		}
	}
	return nil
}

// errNoFiles is returned when a tool gets no input.
var errNoFiles = errors.New("tools: no binlog files")
