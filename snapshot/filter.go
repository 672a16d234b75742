package snapshot

import (
	"context"
	"fmt"

	"github.com/sluice-cdc/sluice/change"
)

// KeyOrder compares two keys of table ns the way the database orders
// them, asking the database; a source gives one to a Filter for the keys
// CompareKeys cannot order in Go (text under a collation).
type KeyOrder func(ctx context.Context, ns change.Namespace, a, b []change.Value) (int, error)

// Filter drops from the stream that follows an interrupted and resumed
// initial snapshot the changes that a later run of the snapshot has
// already read (see Window), and puts the windows on the positions of the
// changes it lets through until the stream has passed the last window's
// point, so that a restart in between still knows them.
//
// A change is dropped when its place in the log is before a window's point
// (its transaction was in what that run read) and its row is in the part
// that run read: a table after the window's table, or the window's table
// with a key after the window's key. An update is dropped only when both
// its old and its new key are there (a row that moved from what the
// consumer has into what it will be given must still move). DDL,
// transaction boundaries and heartbeats always pass.
type Filter struct {
	keys    func(change.Namespace) []string
	windows []Window
	end     change.Position // the latest window point
	text    string          // the progress text positions carry until end
	order   KeyOrder
	keyA    []change.Value
	keyB    []change.Value
}

// NewFilter returns the Filter of windows, or nil when there are none.
// keys names the key columns of a table in the key's order (the order its
// rows were read in; nil for a table without a key). order may be nil
// when every key can be compared in Go.
func NewFilter(windows []Window, keys func(change.Namespace) []string, order KeyOrder) *Filter {
	if len(windows) == 0 {
		return nil
	}
	f := &Filter{windows: windows, keys: keys, order: order}
	s := State{Windows: windows}
	f.text = s.String()
	for _, w := range windows {
		if change.ComparePlace(w.At, f.end) > 0 {
			f.end = w.At
		}
	}
	return f
}

// Active reports whether the stream at position p may still meet changes
// to drop (p is before the last window's point).
func (f *Filter) Active(p change.Position) bool {
	return f != nil && change.ComparePlace(placeOf(p), f.end) < 0
}

// Apply filters batch in place, returning what is left: dropped changes
// are removed, and the others carry the windows in Position.Snapshot while
// the stream is before the last window's point.
func (f *Filter) Apply(ctx context.Context, batch []change.Change) ([]change.Change, error) {
	if f == nil {
		return batch, nil
	}
	out := batch[:0]
	for i := range batch {
		c := batch[i]
		if f.Active(c.Pos) {
			drop, err := f.drop(ctx, &c)
			if err != nil {
				return nil, err
			}
			if drop {
				continue
			}
			if c.Pos.Snapshot == "" {
				c.Pos.Snapshot = f.text
			}
		}
		out = append(out, c)
	}
	return out, nil
}

func (f *Filter) drop(ctx context.Context, c *change.Change) (bool, error) {
	var before, after bool
	switch c.Op {
	case change.OpInsert:
		before = true
	case change.OpDelete:
		after = true
	case change.OpUpdate:
	default:
		return false, nil
	}
	at := placeOf(c.Pos)
	var err error
	if !before {
		if before, err = f.read(ctx, c, at, c.Before); err != nil {
			return false, err
		}
	}
	if !after {
		if after, err = f.read(ctx, c, at, c.After); err != nil {
			return false, err
		}
	}
	return before && after, nil
}

// read reports whether the row img of c's table was read by a run whose
// point is after at.
func (f *Filter) read(ctx context.Context, c *change.Change, at change.Position, img []change.Value) (bool, error) {
	for i := range f.windows {
		w := &f.windows[i]
		if change.ComparePlace(at, w.At) >= 0 {
			continue
		}
		switch ct := CompareTables(c.Namespace, w.Table); {
		case ct < 0:
			continue
		case ct > 0 || w.Key == nil:
			return true, nil
		}
		key, ok := keyOfChange(c, f.keys(c.Namespace), img, f.keyA[:0])
		f.keyA = key
		if !ok || len(key) != len(w.Key) {
			// No key in the change (a table without a primary key now, or
			// an image without it): the table was read whole.
			return true, nil
		}
		cmp, ok := CompareKeys(key, w.Key)
		if !ok {
			if f.order == nil {
				return false, fmt.Errorf("snapshot: cannot order keys of %s in Go and no database comparison given", nsText(c.Namespace))
			}
			var err error
			if cmp, err = f.order(ctx, c.Namespace, key, w.Key); err != nil {
				return false, fmt.Errorf("snapshot: compare keys of %s: %w", nsText(c.Namespace), err)
			}
		}
		if cmp > 0 {
			return true, nil
		}
	}
	return false, nil
}

// keyOfChange returns the values of the columns names in img, in that
// order; ok is false when names is empty or img lacks one of them.
func keyOfChange(c *change.Change, names []string, img, dst []change.Value) ([]change.Value, bool) {
	dst = dst[:0]
	for _, name := range names {
		i := columnIndex(c.Columns, name)
		if i < 0 || i >= len(img) || !img[i].Present() || img[i].Kind == change.KindNull || img[i].Kind == change.KindUnchanged {
			return dst, false
		}
		dst = append(dst, img[i])
	}
	return dst, len(dst) > 0
}

func columnIndex(cols []change.Column, name string) int {
	for i := range cols {
		if cols[i].Name == name {
			return i
		}
	}
	return -1
}
