package tools

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	if len(files) == 0 {
		return CutResult{}, errNoFiles
	}
	c := &cutter{rg: rg, w: binlog.NewWriter(w)}
	c.frame.WholePayloads = true
	sc := scan{opts: []binlog.Option{binlog.WithoutPayloadExpansion()}, event: c.event,
		start: func(i int, _ string, in *input) error {
			c.first, c.last, c.name = i == 0, i == len(files)-1, in.name
			c.frame.Reset()
			return nil
		},
		end: func(*input) error {
			if c.frame.InTx() && c.keep {
				return fmt.Errorf("tools: cut: %s ends inside a transaction", c.name)
			}
			return nil
		}}
	if _, err := sc.run(ctx, files); err != nil && !errors.Is(err, errStopCut) {
		return c.res, err
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
	rg          Range
	w           *binlog.Writer
	frame       binlog.Framer
	first, last bool   // the file read is the first, the last
	name        string // its name
	fde         []byte // body of the FDE written
	keep        bool   // the current transaction is written
	res         CutResult
}

// selected reports whether a transaction starting at ev is kept, or
// errStopCut when it is at or past the stop.
func (c *cutter) selected(ev *binlog.Event) (bool, error) {
	ts := time.Unix(int64(ev.Header.Timestamp), 0)
	if c.last && c.rg.StopPosition > 0 && ev.Offset >= c.rg.StopPosition {
		return false, errStopCut
	}
	if !c.rg.StopTime.IsZero() && !ts.Before(c.rg.StopTime) {
		return false, errStopCut
	}
	if c.first && ev.Offset < c.rg.StartPosition {
		return false, nil
	}
	return c.rg.StartTime.IsZero() || !ts.Before(c.rg.StartTime), nil
}

func (c *cutter) event(ev *binlog.Event) error {
	st, err := c.frame.Event(ev)
	if err != nil {
		return err
	}
	if ev.Header.Type == binlog.StartEventV3 {
		return fmt.Errorf("tools: cut: %s: pre-v4 binlogs are not supported", ev.Source)
	}
	if ev.Header.Type == binlog.FormatDescriptionEvent {
		if c.fde != nil && binlog.SameFormat(c.fde, ev.Body) {
			return nil
		}
		c.fde = append(c.fde[:0], ev.Body...)
		return c.write(binlog.ClosedHeader(ev.Header), ev.Body) // the output is closed
	}
	if st.Begins {
		// A transaction whose first event is a rows event began before
		// the input: leave it out.
		if c.keep, err = c.selected(ev); err != nil {
			return err
		}
		c.keep = c.keep && !c.frame.Tx().Implicit
		if c.keep {
			c.res.Transactions++
		}
	}
	// File events and events of no transaction (the input began inside
	// one) are left out.
	if st.InTx && c.keep {
		return c.write(ev.Header, ev.Body)
	}
	return nil
}

func (c *cutter) write(h binlog.Header, body []byte) error {
	if err := c.w.WriteEvent(h, body); err != nil {
		return err
	}
	c.res.Events++
	return nil
}
