package mongodb

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/change"
)

// rebuilt is a collection rebuilt from a change stream: documents by _id.
type rebuilt struct {
	docs  map[string]change.Value
	order []string
}

func newRebuilt() *rebuilt { return &rebuilt{docs: map[string]change.Value{}} }

func idKey(v change.Value) string {
	return fmt.Sprintf("%d/%d/%d/%x", v.Kind, v.I, v.U, v.B)
}

// apply applies one data change; other ops are ignored.
func (r *rebuilt) apply(c change.Change) error {
	img := c.After
	if c.Op == change.OpDelete {
		img = c.Before
	}
	if img == nil {
		return nil
	}
	id := -1
	for i, col := range c.Columns {
		if col.Key {
			id = i
		}
	}
	if id < 0 {
		return fmt.Errorf("change %v without a key column", c.Pos)
	}
	k := idKey(img[id])
	switch c.Op {
	case change.OpInsert:
		if _, dup := r.docs[k]; dup {
			return fmt.Errorf("insert of an existing _id at %v", c.Pos)
		}
		r.docs[k] = docOf(c.Columns, img)
	case change.OpDelete:
		if _, ok := r.docs[k]; !ok {
			return fmt.Errorf("delete of a missing _id at %v", c.Pos)
		}
		delete(r.docs, k)
	case change.OpUpdate:
		cur, ok := r.docs[k]
		if !ok {
			return fmt.Errorf("update of a missing _id at %v", c.Pos)
		}
		full := false
		var upd, rem change.Value
		for i, col := range c.Columns {
			switch col.Name {
			case ColUpdatedFields:
				upd = img[i]
			case ColRemovedFields:
				rem = img[i]
			case ColTruncatedArrays, "_id":
			default:
				full = true
			}
		}
		if full || upd.Kind != change.KindDocument {
			r.docs[k] = docOf(c.Columns, img)
			return nil
		}
		cur = cur.Clone()
		for i, path := range upd.Names {
			setPath(&cur, strings.Split(path, "."), upd.Elems[i])
		}
		for _, p := range rem.Elems {
			removePath(&cur, strings.Split(string(p.B), "."))
		}
		r.docs[k] = cur
	}
	return nil
}

// docOf is a row image as a document, without update-description columns
// and absent values.
func docOf(cols []change.Column, vals []change.Value) change.Value {
	d := change.Value{Kind: change.KindDocument, Names: []string{}, Elems: []change.Value{}}
	for i, col := range cols {
		if strings.HasPrefix(col.Name, "$") || !vals[i].Present() {
			continue
		}
		d.Names = append(d.Names, col.Name)
		d.Elems = append(d.Elems, vals[i].Clone())
	}
	return d
}

func setPath(d *change.Value, path []string, v change.Value) {
	if d.Kind == change.KindArray {
		i, err := strconv.Atoi(path[0])
		if err != nil {
			return
		}
		for len(d.Elems) <= i {
			d.Elems = append(d.Elems, change.Null())
		}
		if len(path) == 1 {
			d.Elems[i] = v.Clone()
			return
		}
		setPath(&d.Elems[i], path[1:], v)
		return
	}
	for i, n := range d.Names {
		if n == path[0] {
			if len(path) == 1 {
				d.Elems[i] = v.Clone()
			} else {
				setPath(&d.Elems[i], path[1:], v)
			}
			return
		}
	}
	d.Names = append(d.Names, path[0])
	if len(path) == 1 {
		d.Elems = append(d.Elems, v.Clone())
		return
	}
	sub := change.Value{Kind: change.KindDocument, Names: []string{}, Elems: []change.Value{}}
	setPath(&sub, path[1:], v)
	d.Elems = append(d.Elems, sub)
}

func removePath(d *change.Value, path []string) {
	if d.Kind == change.KindArray {
		i, err := strconv.Atoi(path[0])
		if err != nil || i >= len(d.Elems) {
			return
		}
		if len(path) == 1 {
			d.Elems[i] = change.Null() // $unset of an element leaves null
			return
		}
		removePath(&d.Elems[i], path[1:])
		return
	}
	for i, n := range d.Names {
		if n != path[0] {
			continue
		}
		if len(path) == 1 {
			d.Names = append(d.Names[:i:i], d.Names[i+1:]...)
			d.Elems = append(d.Elems[:i:i], d.Elems[i+1:]...)
			return
		}
		removePath(&d.Elems[i], path[1:])
		return
	}
}
