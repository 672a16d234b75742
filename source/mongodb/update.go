package mongodb

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/change"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// The names of the update-description columns of an update's After image
// (see the package documentation). They start with '$', which MongoDB
// discourages in field names, so they do not clash with document fields.
const (
	ColUpdatedFields   = "$updatedFields"
	ColRemovedFields   = "$removedFields"
	ColTruncatedArrays = "$truncatedArrays"
)

// description is an update description being built: updated fields by
// dotted path, removed paths, truncated arrays.
type description struct {
	names     []string
	updated   []change.Value
	removed   []change.Value
	truncated []change.Value
}

// image is the After image of an update known only by its description:
// _id first (the key), then the description columns. truncatedArrays is
// present only when withTruncated is set or some array was truncated.
func (d *description) image(id bsoncore.Value, withTruncated bool) ([]change.Column, []change.Value, error) {
	idv, err := convertValue(id, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("_id: %w", err)
	}
	cols := []change.Column{{Name: "_id", Type: typeName(id.Type), Key: true}}
	vals := []change.Value{idv}
	return d.append(cols, vals, withTruncated)
}

// append adds the description columns to a row image.
func (d *description) append(cols []change.Column, vals []change.Value, withTruncated bool) ([]change.Column, []change.Value, error) {
	names, upd, rem := d.names, d.updated, d.removed
	if names == nil {
		names, upd = []string{}, []change.Value{}
	}
	if rem == nil {
		rem = []change.Value{}
	}
	cols = append(cols,
		change.Column{Name: ColUpdatedFields, Type: "object"},
		change.Column{Name: ColRemovedFields, Type: "array"})
	vals = append(vals,
		change.Value{Kind: change.KindDocument, Names: names, Elems: upd},
		change.Value{Kind: change.KindArray, Elems: rem})
	if withTruncated || d.truncated != nil {
		tr := d.truncated
		if tr == nil {
			tr = []change.Value{}
		}
		cols = append(cols, change.Column{Name: ColTruncatedArrays, Type: "array"})
		vals = append(vals, change.Value{Kind: change.KindArray, Elems: tr})
	}
	return cols, vals, nil
}

func (d *description) set(path string, v bsoncore.Value) error {
	cv, err := convertValue(v, 1)
	if err != nil {
		return fmt.Errorf("update of %q: %w", path, err)
	}
	d.names = append(d.names, path)
	d.updated = append(d.updated, cv)
	return nil
}

func (d *description) remove(path string) {
	d.removed = append(d.removed, change.String([]byte(path)))
}

func (d *description) truncate(path string, size int64) {
	d.truncated = append(d.truncated, change.Value{
		Kind:  change.KindDocument,
		Names: []string{"field", "newSize"},
		Elems: []change.Value{change.String([]byte(path)), change.Int(size, 32)},
	})
}

// elements iterates a framed BSON document.
func elements(doc []byte, f func(key string, v bsoncore.Value) error) error {
	if err := checkDocument(doc); err != nil {
		return err
	}
	rest := doc[4 : len(doc)-1]
	for len(rest) > 0 {
		el, r, ok := bsoncore.ReadElement(rest)
		if !ok {
			return fmt.Errorf("mongodb: bson document: malformed element")
		}
		rest = r
		key, err := el.KeyErr()
		if err != nil {
			return fmt.Errorf("mongodb: bson document: %w", err)
		}
		if err := f(key, el.Value()); err != nil {
			return err
		}
	}
	return nil
}

// isOperatorUpdate reports whether an oplog update's o is an update
// (operators or a $v:2 diff) rather than a replacement document.
func isOperatorUpdate(o []byte) bool {
	op := false
	_ = elements(o, func(key string, _ bsoncore.Value) error {
		if strings.HasPrefix(key, "$") {
			op = true
		}
		return errStop
	})
	return op
}

var errStop = fmt.Errorf("stop")

// describeOplogUpdate reads the o of an oplog update entry: the $v:1 form
// ($set, $unset) or the $v:2 form ({$v:2, diff:{…}}).
func describeOplogUpdate(o []byte) (*description, error) {
	d := &description{}
	err := elements(o, func(key string, v bsoncore.Value) error {
		switch key {
		case "$v":
			return nil
		case "$set":
			doc, ok := v.DocumentOK()
			if !ok {
				return fmt.Errorf("mongodb: oplog update: $set is %s, want a document", typeName(v.Type))
			}
			return elements(doc, func(k string, fv bsoncore.Value) error { return d.set(k, fv) })
		case "$unset":
			doc, ok := v.DocumentOK()
			if !ok {
				return fmt.Errorf("mongodb: oplog update: $unset is %s, want a document", typeName(v.Type))
			}
			return elements(doc, func(k string, _ bsoncore.Value) error { d.remove(k); return nil })
		case "diff":
			doc, ok := v.DocumentOK()
			if !ok {
				return fmt.Errorf("mongodb: oplog update: diff is %s, want a document", typeName(v.Type))
			}
			return d.diff(doc, "", false, 0)
		}
		return fmt.Errorf("mongodb: oplog update: unsupported update operator %q", key)
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// diff walks a $v:2 oplog diff: u (updated fields), i (inserted fields), d
// (deleted fields), s<field> (a sub-diff of a field); in an array diff
// (a: true), u<index> (a new element), s<index> (a sub-diff of an element)
// and l (the new length: a truncation).
func (d *description) diff(doc []byte, prefix string, array bool, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("mongodb: oplog diff: nesting deeper than %d", maxDepth)
	}
	return elements(doc, func(key string, v bsoncore.Value) error {
		switch {
		case key == "a":
			return nil
		case key == "l" && array:
			n, ok := v.AsInt64OK()
			if !ok {
				return fmt.Errorf("mongodb: oplog diff: %sl is %s, want a number", prefix, typeName(v.Type))
			}
			d.truncate(strings.TrimSuffix(prefix, "."), n)
			return nil
		case (key == "u" || key == "i") && !array:
			sub, ok := v.DocumentOK()
			if !ok {
				return fmt.Errorf("mongodb: oplog diff: %s%s is %s, want a document", prefix, key, typeName(v.Type))
			}
			return elements(sub, func(k string, fv bsoncore.Value) error { return d.set(prefix+k, fv) })
		case key == "d" && !array:
			sub, ok := v.DocumentOK()
			if !ok {
				return fmt.Errorf("mongodb: oplog diff: %sd is %s, want a document", prefix, typeName(v.Type))
			}
			return elements(sub, func(k string, _ bsoncore.Value) error { d.remove(prefix + k); return nil })
		case len(key) > 1 && key[0] == 'u' && array:
			if _, err := strconv.ParseUint(key[1:], 10, 32); err != nil {
				return fmt.Errorf("mongodb: oplog diff: array entry %s%s: bad index", prefix, key)
			}
			return d.set(prefix+key[1:], v)
		case len(key) > 1 && key[0] == 's':
			sub, ok := v.DocumentOK()
			if !ok {
				return fmt.Errorf("mongodb: oplog diff: %s%s is %s, want a document", prefix, key, typeName(v.Type))
			}
			return d.diff(sub, prefix+key[1:]+".", isArrayDiff(sub), depth+1)
		}
		return fmt.Errorf("mongodb: oplog diff: unknown entry %q at %q", key, prefix)
	})
}

func isArrayDiff(doc []byte) bool {
	arr := false
	_ = elements(doc, func(key string, v bsoncore.Value) error {
		if key == "a" {
			b, ok := v.BooleanOK()
			arr = ok && b
			return errStop
		}
		return nil
	})
	return arr
}
