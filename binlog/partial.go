package binlog

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/sluice-cdc/sluice/change"
)

// JSON diff operations of PARTIAL_UPDATE_ROWS_EVENT (enum_json_diff_operation).
const (
	jsonDiffReplace = 0
	jsonDiffInsert  = 1
	jsonDiffRemove  = 2
)

// errBadJSONDiff is wrapped by errors about a JSON diff that does not
// decode or does not apply to the before image.
var errBadJSONDiff = errors.New("corrupted JSON diff")

// jsonNode is a node of the small DOM partial updates are applied to. A
// container stays in binary form (raw) until a path descends into it.
type jsonNode struct {
	typ      byte   // binary JSON type
	raw      []byte // binary value (container bytes, scalar bytes or inline entry bytes)
	expanded bool   // keys/kids hold the container's members
	keys     [][]byte
	kids     []int32
}

// jsonDOM is the reusable DOM of one document.
type jsonDOM struct {
	nodes []jsonNode
	legs  []jsonLeg
}

type jsonLeg struct {
	key      []byte // member name, nil for an array index
	index    int
	fromLast bool // index counts back from the last element: [last-index]
}

func (d *jsonDOM) add(typ byte, raw []byte) int32 {
	d.nodes = append(d.nodes, jsonNode{typ: typ, raw: raw})
	return int32(len(d.nodes) - 1)
}

// expand turns a binary container node into member lists.
func (d *jsonDOM) expand(n int32) error {
	nd := &d.nodes[n]
	if nd.expanded {
		return nil
	}
	large := nd.typ == jsonbLargeObject || nd.typ == jsonbLargeArray
	object := nd.typ == jsonbSmallObject || nd.typ == jsonbLargeObject
	if !object && nd.typ != jsonbSmallArray && nd.typ != jsonbLargeArray {
		return fmt.Errorf("%w: path goes into a scalar", errBadJSONDiff)
	}
	data := nd.raw
	osz := 2
	if large {
		osz = 4
	}
	if len(data) < 2*osz {
		return jsonErr("container header truncated")
	}
	count, size := jsonOffset(data, large), jsonOffset(data[osz:], large)
	keyEntry, valEntry := 0, 1+osz
	if object {
		keyEntry = osz + 2
	}
	if size < 0 || size > len(data) || count < 0 || count > size || 2*osz+count*(keyEntry+valEntry) > size {
		return jsonErr("container header")
	}
	data = data[:size]
	var keys [][]byte
	kids := make([]int32, 0, count)
	for i := 0; i < count; i++ {
		if object {
			ke := 2*osz + i*keyEntry
			koff := jsonOffset(data[ke:], large)
			klen := int(data[ke+osz]) | int(data[ke+osz+1])<<8
			if koff < 0 || koff+klen > size {
				return jsonErr("key %d out of bounds", i)
			}
			keys = append(keys, data[koff:koff+klen])
		}
		ve := 2*osz + count*keyEntry + i*valEntry
		vt := data[ve]
		var raw []byte
		if jsonInline(vt, large) {
			raw = data[ve+1 : ve+1+osz]
		} else {
			off := jsonOffset(data[ve+1:], large)
			if off < 0 || off >= size {
				return jsonErr("value %d out of bounds", i)
			}
			raw = data[off:]
		}
		kids = append(kids, d.add(vt, raw))
	}
	nd = &d.nodes[n] // add may have moved the slice
	nd.keys, nd.kids, nd.expanded = keys, kids, true
	return nil
}

func (d *jsonDOM) isObject(n int32) bool {
	t := d.nodes[n].typ
	return t == jsonbSmallObject || t == jsonbLargeObject
}

func (d *jsonDOM) isArray(n int32) bool {
	t := d.nodes[n].typ
	return t == jsonbSmallArray || t == jsonbLargeArray
}

// render appends node n as MySQL prints it.
func (d *jsonDOM) render(s *jsonScratch, dst []byte, n int32, depth int) ([]byte, error) {
	nd := &d.nodes[n]
	if !nd.expanded {
		return s.appendValue(dst, nd.typ, nd.raw, depth)
	}
	if depth > jsonMaxDepth {
		return dst, jsonErr("nesting deeper than %d", jsonMaxDepth)
	}
	object := d.isObject(n)
	if object {
		dst = append(dst, '{')
	} else {
		dst = append(dst, '[')
	}
	for i, k := range nd.kids {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		if object {
			dst = appendJSONString(dst, nd.keys[i])
			dst = append(dst, ": "...)
		}
		var err error
		if dst, err = d.render(s, dst, k, depth+1); err != nil {
			return dst, err
		}
	}
	if object {
		return append(dst, '}'), nil
	}
	return append(dst, ']'), nil
}

// parsePath parses a JSON path as MySQL writes it in a diff: "$" followed by
// .member, ."quoted member", [n], [last] or [last-n] legs.
func (d *jsonDOM) parsePath(p []byte) error {
	d.legs = d.legs[:0]
	if len(p) == 0 || p[0] != '$' {
		return fmt.Errorf("%w: path %q", errBadJSONDiff, p)
	}
	i := 1
	for i < len(p) {
		switch p[i] {
		case ' ':
			i++
		case '.':
			i++
			for i < len(p) && p[i] == ' ' {
				i++
			}
			if i < len(p) && p[i] == '"' {
				key, n, err := unquoteJSONKey(p[i:])
				if err != nil {
					return err
				}
				d.legs = append(d.legs, jsonLeg{key: key})
				i += n
				continue
			}
			j := i
			for j < len(p) && p[j] != '.' && p[j] != '[' && p[j] != ' ' {
				j++
			}
			if j == i {
				return fmt.Errorf("%w: empty member in path %q", errBadJSONDiff, p)
			}
			d.legs = append(d.legs, jsonLeg{key: p[i:j]})
			i = j
		case '[':
			j := bytes.IndexByte(p[i:], ']')
			if j < 0 {
				return fmt.Errorf("%w: path %q", errBadJSONDiff, p)
			}
			leg, err := parseArrayLeg(bytes.TrimSpace(p[i+1 : i+j]))
			if err != nil {
				return fmt.Errorf("%w: path %q", errBadJSONDiff, p)
			}
			d.legs = append(d.legs, leg)
			i += j + 1
		default:
			return fmt.Errorf("%w: path %q", errBadJSONDiff, p)
		}
	}
	return nil
}

func parseArrayLeg(s []byte) (jsonLeg, error) {
	leg := jsonLeg{}
	if bytes.HasPrefix(s, []byte("last")) {
		leg.fromLast = true
		s = bytes.TrimSpace(s[4:])
		if len(s) == 0 {
			return leg, nil
		}
		if s[0] != '-' {
			return leg, errBadJSONDiff
		}
		s = bytes.TrimSpace(s[1:])
	}
	n, err := strconv.ParseUint(string(s), 10, 31)
	if err != nil {
		return leg, err
	}
	leg.index = int(n)
	return leg, nil
}

// unquoteJSONKey decodes a double-quoted JSON string at the start of b and
// returns it with the number of bytes consumed.
func unquoteJSONKey(b []byte) ([]byte, int, error) {
	var out []byte
	for i := 1; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '"':
			if out == nil {
				out = []byte{}
			}
			return out, i + 1, nil
		case c != '\\':
			out = append(out, c)
		case i+1 < len(b):
			i++
			switch b[i] {
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				if i+4 >= len(b) {
					return nil, 0, errBadJSONDiff
				}
				r, err := strconv.ParseUint(string(b[i+1:i+5]), 16, 16)
				if err != nil {
					return nil, 0, errBadJSONDiff
				}
				out = utf8.AppendRune(out, rune(r))
				i += 4
			default:
				out = append(out, b[i])
			}
		}
	}
	return nil, 0, fmt.Errorf("%w: unterminated key in path", errBadJSONDiff)
}

// memberIndex finds key in an expanded object.
func (d *jsonDOM) memberIndex(n int32, key []byte) int {
	for i, k := range d.nodes[n].keys {
		if bytes.Equal(k, key) {
			return i
		}
	}
	return -1
}

// arrayIndex resolves a leg to a position in an expanded array of length l.
func (leg jsonLeg) arrayIndex(l int) int {
	if leg.fromLast {
		return l - 1 - leg.index
	}
	return leg.index
}

// apply applies one diff to the DOM rooted at *root.
func (d *jsonDOM) apply(root *int32, op byte, value int32) error {
	if len(d.legs) == 0 {
		if op != jsonDiffReplace {
			return fmt.Errorf("%w: operation %d on the whole document", errBadJSONDiff, op)
		}
		*root = value
		return nil
	}
	parent := *root
	for _, leg := range d.legs[:len(d.legs)-1] {
		if err := d.expand(parent); err != nil {
			return err
		}
		nd := &d.nodes[parent]
		switch {
		case leg.key != nil && d.isObject(parent):
			k := d.memberIndex(parent, leg.key)
			if k < 0 {
				return fmt.Errorf("%w: member %q not found", errBadJSONDiff, leg.key)
			}
			parent = nd.kids[k]
		case leg.key == nil && d.isArray(parent):
			k := leg.arrayIndex(len(nd.kids))
			if k < 0 || k >= len(nd.kids) {
				return fmt.Errorf("%w: index %d out of range", errBadJSONDiff, k)
			}
			parent = nd.kids[k]
		default:
			return fmt.Errorf("%w: path does not match the document", errBadJSONDiff)
		}
	}
	if err := d.expand(parent); err != nil {
		return err
	}
	leg := d.legs[len(d.legs)-1]
	nd := &d.nodes[parent]
	if leg.key != nil {
		if !d.isObject(parent) {
			return fmt.Errorf("%w: member of a non-object", errBadJSONDiff)
		}
		k := d.memberIndex(parent, leg.key)
		switch {
		case op == jsonDiffRemove:
			if k < 0 {
				return fmt.Errorf("%w: member %q to remove not found", errBadJSONDiff, leg.key)
			}
			nd.keys = append(nd.keys[:k], nd.keys[k+1:]...)
			nd.kids = append(nd.kids[:k], nd.kids[k+1:]...)
		case k >= 0:
			nd.kids[k] = value
		case op == jsonDiffReplace:
			return fmt.Errorf("%w: member %q to replace not found", errBadJSONDiff, leg.key)
		default:
			// MySQL keeps object keys sorted by length, then bytes.
			at := len(nd.keys)
			for i, key := range nd.keys {
				if len(key) > len(leg.key) || (len(key) == len(leg.key) && bytes.Compare(key, leg.key) > 0) {
					at = i
					break
				}
			}
			key := append([]byte(nil), leg.key...)
			nd.keys = append(nd.keys[:at], append([][]byte{key}, nd.keys[at:]...)...)
			nd.kids = append(nd.kids[:at], append([]int32{value}, nd.kids[at:]...)...)
		}
		return nil
	}
	if !d.isArray(parent) {
		return fmt.Errorf("%w: index into a non-array", errBadJSONDiff)
	}
	k := leg.arrayIndex(len(nd.kids))
	switch op {
	case jsonDiffInsert:
		k = max(0, min(k, len(nd.kids)))
		nd.kids = append(nd.kids[:k], append([]int32{value}, nd.kids[k:]...)...)
	case jsonDiffReplace, jsonDiffRemove:
		if k < 0 || k >= len(nd.kids) {
			return fmt.Errorf("%w: index %d out of range", errBadJSONDiff, k)
		}
		if op == jsonDiffReplace {
			nd.kids[k] = value
		} else {
			nd.kids = append(nd.kids[:k], nd.kids[k+1:]...)
		}
	}
	return nil
}

// applyPartial decodes the JSON diffs of column col of the current row's
// after image and applies them to the column's before image, returning the
// whole new document. When the before image lacks the column, it returns
// the diffs themselves as KindOther text (Names[0] = "JSON_DIFF").
func (r *RowsReader) applyPartial(col int, diffs []byte) (change.Value, error) {
	before, ok, err := r.columnBytes(0, col)
	if err != nil {
		return change.Value{}, err
	}
	if !ok {
		return r.renderDiffs(diffs)
	}
	d := &r.json.dom
	d.nodes = d.nodes[:0]
	budget := 16*(len(before)+len(diffs)) + 1<<20
	var root int32
	if len(before) == 0 {
		root = d.add(jsonbLiteral, []byte{0})
	} else {
		root = d.add(before[0], before[1:])
	}
	for len(diffs) > 0 {
		op, path, value, n, err := nextJSONDiff(diffs)
		if err != nil {
			return change.Value{}, err
		}
		diffs = diffs[n:]
		if err := d.parsePath(path); err != nil {
			return change.Value{}, err
		}
		var v int32 = -1
		if op != jsonDiffRemove {
			if len(value) == 0 {
				return change.Value{}, fmt.Errorf("%w: empty value", errBadJSONDiff)
			}
			v = d.add(value[0], value[1:])
		}
		if err := d.apply(&root, op, v); err != nil {
			return change.Value{}, err
		}
	}
	start := len(r.arena)
	r.json.limit = len(r.arena) + budget
	r.arena, err = d.render(&r.json, r.arena, root, 0)
	if err != nil {
		return change.Value{}, err
	}
	return change.JSON(r.arena[start:len(r.arena):len(r.arena)]), nil
}

// nextJSONDiff decodes one diff: operation, path and (except for remove)
// the binary JSON value; n is the number of bytes consumed.
func nextJSONDiff(b []byte) (op byte, path, value []byte, n int, err error) {
	if len(b) < 1 || b[0] > jsonDiffRemove {
		return 0, nil, nil, 0, fmt.Errorf("%w: operation", errBadJSONDiff)
	}
	op = b[0]
	p := 1
	l, k, ok := ReadLenenc(b[p:])
	if !ok || l > uint64(len(b)-p-k) {
		return 0, nil, nil, 0, fmt.Errorf("%w: path length", errBadJSONDiff)
	}
	p += k
	path = b[p : p+int(l)]
	p += int(l)
	if op == jsonDiffRemove {
		return op, path, nil, p, nil
	}
	l, k, ok = ReadLenenc(b[p:])
	if !ok || l > uint64(len(b)-p-k) {
		return 0, nil, nil, 0, fmt.Errorf("%w: value length", errBadJSONDiff)
	}
	p += k
	return op, path, b[p : p+int(l)], p + int(l), nil
}

// renderDiffs renders diffs that cannot be applied as a JSON array of
// {"op", "path", "value"} objects.
func (r *RowsReader) renderDiffs(diffs []byte) (change.Value, error) {
	start := len(r.arena)
	r.arena = append(r.arena, '[')
	names := [...]string{"replace", "insert", "remove"}
	for first := true; len(diffs) > 0; first = false {
		op, path, value, n, err := nextJSONDiff(diffs)
		if err != nil {
			return change.Value{}, err
		}
		diffs = diffs[n:]
		if !first {
			r.arena = append(r.arena, ", "...)
		}
		r.arena = append(r.arena, `{"op": "`...)
		r.arena = append(r.arena, names[op]...)
		r.arena = append(r.arena, `", "path": `...)
		r.arena = appendJSONString(r.arena, path)
		if op != jsonDiffRemove {
			r.arena = append(r.arena, `, "value": `...)
			if r.arena, err = r.json.appendDocument(r.arena, value); err != nil {
				return change.Value{}, err
			}
		}
		r.arena = append(r.arena, '}')
	}
	r.arena = append(r.arena, ']')
	return change.Value{Kind: change.KindOther, B: r.arena[start:len(r.arena):len(r.arena)], Names: []string{"JSON_DIFF"}}, nil
}
