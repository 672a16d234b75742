package tools

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/binlog"
)

// Range selects transactions as mysqlbinlog's options do: StartPosition
// applies to the first file and StopPosition to the last; a transaction is
// kept when its first event is at or after the start and before the stop.
type Range struct {
	StartPosition, StopPosition int64     // 0: no limit
	StartTime, StopTime         time.Time // zero: no limit
}

// CutResult counts what Cut wrote.
type CutResult struct {
	Transactions int64
	Events       int64
	Bytes        int64
}

// Cut writes to w a standalone binlog holding the transactions of files
// that rg selects, whole: the first FORMAT_DESCRIPTION_EVENT (in-use flag
// cleared) and every event of each selected transaction (TABLE_MAPs
// included, compressed payloads kept as they are), with positions and
// checksums rewritten. Given several files and no range, it joins them.
func Cut(ctx context.Context, files []string, rg Range, w io.Writer) (CutResult, error) {
	var res CutResult
	if len(files) == 0 {
		return res, errNoFiles
	}
	c := &cutter{rg: rg, w: binlog.NewWriter(w)}
	for i, p := range files {
		f, err := os.Open(p)
		if err != nil {
			return res, fmt.Errorf("tools: %w", err)
		}
		err = c.file(ctx, f, filepath.Base(p), i == 0, i == len(files)-1)
		f.Close()
		if errors.Is(err, errStopCut) {
			break
		}
		if err != nil {
			return c.res, err
		}
	}
	if c.fde == nil {
		return c.res, fmt.Errorf("tools: cut: no FORMAT_DESCRIPTION_EVENT in the input")
	}
	c.res.Bytes = c.w.Offset()
	return c.res, nil
}

// Join writes to w one binlog holding every transaction of files in order.
func Join(ctx context.Context, files []string, w io.Writer) (CutResult, error) {
	return Cut(ctx, files, Range{}, w)
}

var errStopCut = errors.New("stop")

type cutter struct {
	rg    Range
	w     *binlog.Writer
	fde   []byte // body of the FDE written
	state int
	keep  bool
	res   CutResult
}

func (c *cutter) write(ev *binlog.Event) error {
	h := ev.Header
	if err := c.w.WriteEvent(h, ev.Body); err != nil {
		return err
	}
	c.res.Events++
	return nil
}

// selected reports whether a transaction starting at ev is kept, or
// errStopCut when it is at or past the stop.
func (c *cutter) selected(ev *binlog.Event, first, last bool) (bool, error) {
	ts := time.Unix(int64(ev.Header.Timestamp), 0)
	if last && c.rg.StopPosition > 0 && ev.Offset >= c.rg.StopPosition {
		return false, errStopCut
	}
	if !c.rg.StopTime.IsZero() && !ts.Before(c.rg.StopTime) {
		return false, errStopCut
	}
	if first && ev.Offset < c.rg.StartPosition {
		return false, nil
	}
	return c.rg.StartTime.IsZero() || !ts.Before(c.rg.StartTime), nil
}

func (c *cutter) file(ctx context.Context, src io.Reader, name string, first, last bool) error {
	r := binlog.NewReader(src, name, binlog.WithoutPayloadExpansion())
	defer r.Close()
	c.state = txNone
	for i := 0; ; i++ {
		if i&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		ev, err := r.Next()
		if err == io.EOF {
			if c.state != txNone && c.keep {
				return fmt.Errorf("tools: cut: %s ends inside a transaction", name)
			}
			return nil
		}
		if err != nil {
			return err
		}
		if err := c.event(ev, first, last); err != nil {
			return err
		}
	}
}

func (c *cutter) start(ev *binlog.Event, state int, first, last bool) error {
	keep, err := c.selected(ev, first, last)
	if err != nil {
		return err
	}
	c.keep, c.state = keep, state
	if keep {
		c.res.Transactions++
		return c.write(ev)
	}
	return nil
}

func (c *cutter) end(ev *binlog.Event) error {
	c.state = txNone
	if c.keep {
		return c.write(ev)
	}
	return nil
}

func (c *cutter) event(ev *binlog.Event, first, last bool) error {
	switch t := ev.Header.Type; {
	case t == binlog.FormatDescriptionEvent:
		if c.fde != nil && bytes.Equal(fdeIdentity(c.fde), fdeIdentity(ev.Body)) {
			return nil
		}
		c.fde = append([]byte(nil), ev.Body...)
		h := ev.Header
		h.Flags &^= 0x0001 // LOG_EVENT_BINLOG_IN_USE_F: the output is closed
		if err := c.w.WriteEvent(h, ev.Body); err != nil {
			return err
		}
		c.res.Events++
		return nil
	case t == binlog.StartEventV3:
		return fmt.Errorf("tools: cut: %s: pre-v4 binlogs are not supported", ev.Source)
	case t == binlog.RotateEvent, t == binlog.StopEvent, t == binlog.PreviousGTIDsEvent,
		t == binlog.MariaGTIDListEvent, t == binlog.MariaBinlogCheckpointEvent, t == binlog.HeartbeatLogEventV2:
		return nil // file-level events: not part of any transaction
	case t == binlog.MariaGTIDEvent:
		var g binlog.MariaGTIDStart
		if err := g.Decode(ev.Body, ev.FDE); err != nil {
			return ev.Wrap(err)
		}
		state := txOpen
		if g.Flags&binlog.MariaGTIDStandalone != 0 {
			state = txGTID
		}
		return c.start(ev, state, first, last)
	case t == binlog.GTIDEvent || t == binlog.AnonymousGTIDEvent || t == binlog.GTIDTaggedLogEvent:
		return c.start(ev, txGTID, first, last)
	case t == binlog.TransactionPayloadEvent:
		if c.state == txNone {
			if err := c.start(ev, txOpen, first, last); err != nil {
				return err
			}
			c.state = txNone
			return nil
		}
		return c.end(ev)
	case t == binlog.QueryEvent:
		var q binlog.Query
		if err := q.Decode(ev.Body, ev.FDE); err != nil {
			return ev.Wrap(err)
		}
		sql := strings.ToUpper(strings.TrimSpace(q.SQL))
		switch {
		case sql == "BEGIN" || strings.HasPrefix(sql, "XA START"):
			if c.state == txNone {
				return c.start(ev, txOpen, first, last)
			}
			c.state = txOpen
		case sql == "COMMIT" || sql == "ROLLBACK" || strings.HasPrefix(sql, "XA COMMIT") || strings.HasPrefix(sql, "XA ROLLBACK"):
			if c.state != txNone {
				return c.end(ev)
			}
		default:
			if c.state == txGTID {
				return c.end(ev)
			}
			if c.state == txNone { // a statement with no GTID: a transaction of its own
				if err := c.start(ev, txOpen, first, last); err != nil {
					return err
				}
				c.state = txNone
				return nil
			}
		}
	case t == binlog.XIDEvent || t == binlog.XAPrepareLogEvent:
		if c.state != txNone {
			return c.end(ev)
		}
	default:
		if c.state == txNone {
			// Not inside a transaction the cut has seen start: the input
			// begins mid-transaction; leave it out.
			return nil
		}
	}
	if c.state != txNone && c.keep {
		return c.write(ev)
	}
	return nil
}

// fdeIdentity is the part of a FORMAT_DESCRIPTION_EVENT body that says how
// to read the events after it: all but the creation timestamp.
func fdeIdentity(body []byte) []byte {
	if len(body) < 2+50+4 {
		return body
	}
	b := append([]byte(nil), body...)
	clear(b[52:56])
	return b
}
