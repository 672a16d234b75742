package tools

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/sluice-cdc/sluice/binlog"
)

// SplitOptions configures Split; at least one limit must be set.
type SplitOptions struct {
	// MaxRows is the most rows a transaction may change (0: no limit).
	MaxRows int64
	// MaxBytes is the most bytes of row images a piece may hold (0: no
	// limit); a transaction is over it when the bodies of its rows events
	// add up to more. Headers, TABLE_MAPs, BEGIN and XID come on top.
	MaxBytes int64
	// MaxBuffer bounds the memory held while deciding whether a
	// transaction is over the limits (default 64 MiB); past it the
	// transaction's events wait in a temporary file until the limits or
	// its end decide.
	MaxBuffer int64
	// TempDir is the directory for that file (default: the system's).
	TempDir string
}

// SplitResult counts what Split did.
type SplitResult struct {
	Transactions int64 // transactions read
	Split        int64 // transactions split
	Pieces       int64 // transactions the split ones became
}

// ErrSplit is wrapped when a transaction over the limits cannot be split.
var ErrSplit = errors.New("cannot split transaction")

// Split copies the binlog files to w, one FORMAT_DESCRIPTION_EVENT first,
// and splits every transaction over the limits into a sequence of
// complete transactions within them: each piece starts with a QUERY
// "BEGIN" (its GTID event is dropped, so the pieces apply as new
// transactions), holds TABLE_MAP and rows events (a large rows event is
// cut into several, each ending its statement) and ends with an XID.
// The pieces are no longer atomic. Transactions within the limits are
// copied as they are.
func Split(ctx context.Context, files []string, opt SplitOptions, w io.Writer) (SplitResult, error) {
	var res SplitResult
	if len(files) == 0 {
		return res, errNoFiles
	}
	if opt.MaxRows <= 0 && opt.MaxBytes <= 0 {
		return res, fmt.Errorf("tools: split: no limit given")
	}
	if opt.MaxBuffer <= 0 {
		opt.MaxBuffer = 64 << 20
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	s := &splitter{opt: opt, out: binlog.NewWriter(bw), res: &res, maps: map[uint64][]byte{}}
	s.lookup = s.frame.Table
	defer func() {
		if s.wait != nil {
			s.wait.close()
		}
	}()
	sc := scan{event: s.event,
		start: func(int, string, *input) error {
			s.frame.Tables().Clear()
			clear(s.maps)
			return nil
		},
		end: func(*input) error {
			if s.frame.InTx() {
				return s.flush() // the file ends inside a transaction: keep what there is
			}
			return nil
		}}
	if _, err := sc.run(ctx, files); err != nil {
		return res, err
	}
	if s.fde == nil {
		return res, fmt.Errorf("tools: split: no FORMAT_DESCRIPTION_EVENT in the input")
	}
	if err := bw.Flush(); err != nil {
		return res, fmt.Errorf("tools: split: writing: %w", err)
	}
	return res, nil
}

type splitter struct {
	opt SplitOptions
	out *binlog.Writer
	res *SplitResult

	frame  binlog.Framer
	lookup func(uint64) *binlog.TableMap
	fde    []byte
	maps   map[uint64][]byte // table id → TABLE_MAP header and body
	raw    rawRows

	buf        [][]byte // buffered events (header and body) of the current transaction
	wait       *spool   // where buffered events go past MaxBuffer (made on first use); they come before buf
	waiting    bool     // wait holds events of the current transaction
	bufBytes   int64
	bufRows    int64
	unsplit    bool // the transaction holds events that cannot be split, or is copied as it is
	splitting  bool
	pieceOpen  bool
	pieceRows  int64
	pieceBytes int64
	xid        uint64
	scratch    []byte
}

func (s *splitter) write(h binlog.Header, body []byte) error {
	return s.out.WriteEvent(h, body)
}

func (s *splitter) writeRec(rec []byte) error {
	h, err := binlog.DecodeHeader(rec)
	if err != nil {
		return err
	}
	return s.write(h, rec[binlog.HeaderLenV4:])
}

func (s *splitter) start() error {
	s.buf = s.buf[:0]
	s.bufBytes, s.bufRows = 0, 0
	s.unsplit, s.splitting, s.pieceOpen = false, false, false
	s.res.Transactions++
	return s.resetWait()
}

func (s *splitter) buffer(ev *binlog.Event) error {
	if s.unsplit && !s.splitting {
		return s.write(ev.Header, ev.Body)
	}
	s.bufBytes += int64(len(ev.Body)) + binlog.HeaderLenV4
	if s.waiting || s.bufBytes > s.opt.MaxBuffer {
		// Past the memory bound: the events wait on disk, in order.
		if s.wait == nil {
			var err error
			if s.wait, err = newSpool(s.opt.TempDir); err != nil {
				return err
			}
		}
		s.waiting = true
		for _, rec := range s.buf {
			if err := s.wait.add(rec); err != nil {
				return err
			}
		}
		s.buf = s.buf[:0]
		s.scratch = appendRecord(s.scratch[:0], 0, ev.Header, ev.Body)
		return s.wait.add(s.scratch[1:])
	}
	s.buf = append(s.buf, appendRecord(nil, 0, ev.Header, ev.Body)[1:])
	return nil
}

// buffered calls fn with every buffered event (header and body) in order
// and empties the buffer. rec is valid until fn returns.
func (s *splitter) buffered(fn func(rec []byte) error) error {
	if s.waiting {
		if err := s.wait.each(fn); err != nil {
			return err
		}
		if err := s.resetWait(); err != nil {
			return err
		}
	}
	buf := s.buf
	s.buf = nil
	for _, rec := range buf {
		if err := fn(rec); err != nil {
			return err
		}
	}
	s.buf = buf[:0]
	return nil
}

// resetWait empties the spill file of buffered events.
func (s *splitter) resetWait() error {
	if !s.waiting {
		return nil
	}
	s.waiting = false
	return s.wait.reset()
}

// flush writes the buffered events as they are; the rest of the
// transaction follows unsplit.
func (s *splitter) flush() error {
	if err := s.buffered(s.writeRec); err != nil {
		return err
	}
	s.unsplit = true
	return nil
}

func (s *splitter) end(ev *binlog.Event) error {
	if s.splitting {
		if s.pieceOpen {
			return s.write(ev.Header, ev.Body)
		}
		return nil
	}
	if err := s.flush(); err != nil {
		return err
	}
	return s.write(ev.Header, ev.Body)
}

func (s *splitter) event(ev *binlog.Event) error {
	st, err := s.frame.Event(ev)
	if err != nil {
		return err
	}
	switch t := ev.Header.Type; {
	case t == binlog.FormatDescriptionEvent:
		if s.fde != nil && binlog.SameFormat(s.fde[binlog.HeaderLenV4:], ev.Body) {
			return nil
		}
		h := binlog.ClosedHeader(ev.Header)
		s.fde = appendRecord(nil, 0, h, ev.Body)[1:]
		return s.write(h, ev.Body)
	case t == binlog.RotateEvent, t == binlog.StopEvent, t == binlog.TransactionPayloadEvent:
		return nil // the output is one file; payloads come expanded
	case t == binlog.TableMapEvent:
		s.maps[st.Table.TableID] = appendRecord(s.maps[st.Table.TableID][:0], 0, ev.Header, ev.Body)[1:]
		if s.splitting {
			return nil // written again before each rows event
		}
	}
	if st.Begins {
		if err := s.start(); err != nil {
			return err
		}
		// Rows without BEGIN (a non-transactional table on an old server,
		// or the input starts inside a transaction) are never split.
		s.unsplit = s.frame.Tx().Implicit
	}
	switch {
	case !st.InTx:
		return s.write(ev.Header, ev.Body)
	case st.Kind == binlog.KindRows:
		return s.rows(ev) // the last rows event of an implicit transaction ends it
	case st.Ends:
		return s.end(ev)
	case st.Kind == binlog.KindBegin:
		if s.splitting {
			return nil // each piece has its own BEGIN
		}
	case st.Kind == binlog.KindStatement || st.Kind == binlog.KindSavepoint:
		if s.splitting {
			return ev.Wrap(fmt.Errorf("%w: a statement inside a split transaction: %.60s", ErrSplit, s.frame.Query().SQL))
		}
		if !s.unsplit {
			// A statement inside: the transaction is copied as it is.
			if err := s.flush(); err != nil {
				return err
			}
		}
	case s.splitting:
		return nil // ANNOTATE_ROWS, ROWS_QUERY, ...: dropped from split transactions
	}
	return s.buffer(ev)
}

func (s *splitter) over(rows, bytes int64) bool {
	return s.opt.MaxRows > 0 && rows > s.opt.MaxRows || s.opt.MaxBytes > 0 && bytes > s.opt.MaxBytes
}

func (s *splitter) rows(ev *binlog.Event) error {
	if s.splitting {
		return s.chunk(ev)
	}
	if s.unsplit {
		return s.buffer(ev)
	}
	r := &s.raw
	if err := r.parse(ev, s.lookup); err != nil {
		return err
	}
	rows, size := int64(r.rows()), int64(len(ev.Body))
	if !s.over(s.bufRows+rows, s.bufBytes+size) {
		s.bufRows += rows
		return s.buffer(ev)
	}
	// Over the limits: from here on, the transaction goes out in pieces.
	s.splitting = true
	s.res.Split++
	err := s.buffered(func(rec []byte) error {
		h, err := binlog.DecodeHeader(rec)
		if err != nil {
			return err
		}
		if !binlog.IsRowsEvent(h.Type) {
			return nil // GTID, BEGIN, TABLE_MAP (written again), annotations
		}
		old := binlog.Event{Source: ev.Source, Offset: ev.Offset, Header: h, Body: rec[binlog.HeaderLenV4:], FDE: ev.FDE}
		return s.chunk(&old)
	})
	if err != nil {
		return err
	}
	return s.chunk(ev)
}

// chunk writes the rows of ev into the open piece, closing pieces at the limits.
func (s *splitter) chunk(ev *binlog.Event) error {
	r := &s.raw
	if err := r.parse(ev, s.lookup); err != nil {
		return err
	}
	from := 0
	for i := 0; i < r.rows(); i++ {
		start, _, end := r.row(i)
		size := int64(end - start)
		if s.pieceOpen && s.pieceRows > 0 && s.over(s.pieceRows+1, s.pieceBytes+size) {
			if err := s.emitRows(ev, from, i); err != nil {
				return err
			}
			from = i
			if err := s.closePiece(ev); err != nil {
				return err
			}
		}
		if !s.pieceOpen {
			if err := s.openPiece(ev); err != nil {
				return err
			}
		}
		s.pieceRows++
		s.pieceBytes += size
	}
	return s.emitRows(ev, from, r.rows())
}

func (s *splitter) openPiece(ev *binlog.Event) error {
	s.pieceOpen, s.pieceRows, s.pieceBytes = true, 0, 0
	s.res.Pieces++
	h := ev.Header
	h.Type, h.Flags = binlog.QueryEvent, 0
	s.scratch = binlog.AppendQueryBody(s.scratch[:0], "BEGIN")
	return s.write(h, s.scratch)
}

func (s *splitter) closePiece(ev *binlog.Event) error {
	s.pieceOpen = false
	s.xid++
	h := ev.Header
	h.Type, h.Flags = binlog.XIDEvent, 0
	s.scratch = (&binlog.XIDCommit{XID: s.xid}).AppendBody(s.scratch[:0])
	return s.write(h, s.scratch)
}

// emitRows writes rows [from, to) of the parsed event as one rows event
// ending its statement, after its TABLE_MAP.
func (s *splitter) emitRows(ev *binlog.Event, from, to int) error {
	r := &s.raw
	if to <= from {
		return nil
	}
	tm := s.maps[r.TableID]
	if tm == nil {
		return ev.Wrap(fmt.Errorf("%w %d", binlog.ErrNoTableMap, r.TableID))
	}
	if err := s.writeRec(tm); err != nil {
		return err
	}
	start, _, _ := r.row(from)
	_, _, end := r.row(to - 1)
	body := append([]byte(nil), r.post...)
	flags := binary.LittleEndian.Uint16(body[r.idLen:])
	binary.LittleEndian.PutUint16(body[r.idLen:], flags|binlog.RowsFlagStmtEnd)
	body = append(body, r.ncols...)
	for _, bm := range r.bitmaps {
		body = append(body, bm...)
	}
	body = append(body, r.data[start:end]...)
	h := ev.Header
	h.Type = r.Type
	return s.write(h, body)
}
