package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"

	"github.com/sluice-cdc/sluice/binlog"
	"github.com/sluice-cdc/sluice/binlog/changes"
	"github.com/sluice-cdc/sluice/change"
)

// scanSluice reads every event of the file (framing and CRC32 verification,
// no body decoding).
func scanSluice(path string) (result, error) {
	f, err := os.Open(path)
	if err != nil {
		return result{}, err
	}
	defer f.Close()
	return measure(func() (int64, int64, int64, error) {
		r := binlog.NewReader(f, path)
		var events int64
		for {
			_, err := r.Next()
			if errors.Is(err, io.EOF) {
				return 0, events, r.Offset(), nil
			}
			if err != nil {
				return 0, events, r.Offset(), err
			}
			events++
		}
	})
}

// decodeSluice decodes every value of every row: the Reader frames and
// verifies each event, TABLE_MAPs are decoded once per event, and a
// RowsReader decodes the before and after images into reused slices.
func decodeSluice(path string) (result, error) {
	f, err := os.Open(path)
	if err != nil {
		return result{}, err
	}
	defer f.Close()
	return measure(func() (int64, int64, int64, error) {
		r := binlog.NewReader(f, path)
		tables := map[uint64]*binlog.TableMap{}
		lookup := func(id uint64) *binlog.TableMap { return tables[id] }
		var rr binlog.RowsReader
		var before, after []change.Value
		var rows, events int64
		for {
			ev, err := r.Next()
			if errors.Is(err, io.EOF) {
				return rows, events, r.Offset(), nil
			}
			if err != nil {
				return rows, events, r.Offset(), err
			}
			events++
			switch t := ev.Header.Type; {
			case t == binlog.TableMapEvent:
				tm, err := binlog.DecodeTableMap(ev.Body, ev.FDE)
				if err != nil {
					return rows, events, r.Offset(), ev.Wrap(err)
				}
				tables[tm.TableID] = tm
			case binlog.IsRowsEvent(t):
				if err := rr.Reset(t, ev.Body, ev.FDE, lookup); err != nil {
					return rows, events, r.Offset(), ev.Wrap(err)
				}
				for rr.Next() {
					if before, err = rr.Before(before[:0]); err != nil {
						return rows, events, r.Offset(), err
					}
					if after, err = rr.After(after[:0]); err != nil {
						return rows, events, r.Offset(), err
					}
					rows++
				}
				if err := rr.Err(); err != nil {
					return rows, events, r.Offset(), ev.Wrap(err)
				}
			}
		}
	})
}

// decodeChanges runs the same file through binlog/changes (what `sluice
// binlog decode` and sources use): every row becomes a change.Change with
// position and transaction, handed to a no-op consumer.
func decodeChanges(path string) (result, error) {
	st, err := os.Stat(path)
	if err != nil {
		return result{}, err
	}
	return measure(func() (int64, int64, int64, error) {
		d := changes.NewDecoder(changes.Filter{})
		var rows int64
		err := changes.DecodeFiles(context.Background(), []string{path}, d, func(c *change.Change) error {
			if c.Op == change.OpInsert || c.Op == change.OpUpdate || c.Op == change.OpDelete {
				rows++
			}
			return nil
		}, nil)
		return rows, d.Events, st.Size(), err
	})
}

// decodeJSON is `sluice binlog decode FILE > /dev/null` in process: every
// change encoded as a Sluice JSON line (change.AppendJSON) and written to
// a buffered discard writer.
func decodeJSON(path string) (result, error) {
	st, err := os.Stat(path)
	if err != nil {
		return result{}, err
	}
	return measure(func() (int64, int64, int64, error) {
		d := changes.NewDecoder(changes.Filter{})
		w := bufio.NewWriterSize(io.Discard, 256<<10)
		var line []byte
		var enc change.Encoder
		var rows int64
		err := changes.DecodeFiles(context.Background(), []string{path}, d, func(c *change.Change) error {
			if c.Op == change.OpInsert || c.Op == change.OpUpdate || c.Op == change.OpDelete {
				rows++
			}
			line = enc.Append(line[:0], c)
			line = append(line, '\n')
			_, err := w.Write(line)
			return err
		}, nil)
		if err == nil {
			err = w.Flush()
		}
		return rows, d.Events, st.Size(), err
	})
}
