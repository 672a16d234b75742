package change

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// DecodeJSON reads one line of Sluice JSON, as written by AppendJSON, back
// into a Change. Every value comes back with the same Kind and fields it was
// written with. Values in the result do not share memory with line.
func DecodeJSON(line []byte) (Change, error) {
	var c Change
	root, err := parseJSON(line)
	if err != nil {
		return c, fmt.Errorf("change: decode JSON: %w", err)
	}
	if err := decodeChange(&c, &root, line); err != nil {
		return Change{}, fmt.Errorf("change: decode JSON: %w", err)
	}
	return c, nil
}

func decodeChange(c *Change, root *jnode, line []byte) error {
	if root.t != '{' {
		return errors.New("a change must be a JSON object")
	}
	var before, after, cols, ncols *jnode
	hasOp := false
	for i, k := range root.keys {
		n := &root.elems[i]
		var err error
		switch k {
		case "op":
			var s string
			if s, err = nodeString(n); err == nil {
				c.Op, err = ParseOp(s)
				hasOp = true
			}
		case "source":
			c.Source, err = strField(n)
		case "db":
			c.Database, err = strField(n)
		case "table":
			c.Table, err = strField(n)
		case "sql":
			c.SQL, err = strField(n)
		case "ts":
			c.CommitTime, err = timeField(n)
		case "read_ts":
			c.ReadTime, err = timeField(n)
		case "pos":
			var s string
			if s, err = nodeString(n); err == nil {
				c.Pos, err = ParsePosition(s)
			}
		case "tx":
			c.Tx, err = txField(n)
		case "snapshot":
			var s string
			if s, err = nodeString(n); err == nil {
				c.Snapshot, err = ParseSnapshotMark(s)
			}
		case "before":
			before = n
		case "after":
			after = n
		case "cols":
			cols = n
		case "ncols":
			ncols = n
		}
		if err != nil {
			return fmt.Errorf("field %q: %w", k, err)
		}
	}
	if !hasOp {
		return errors.New(`missing "op"`)
	}
	var ctxs []ctx
	if cols != nil {
		var err error
		if c.Columns, ctxs, err = colsField(cols); err != nil {
			return fmt.Errorf(`field "cols": %w`, err)
		}
	}
	var err error
	if ncols != nil {
		// The images are longer than Columns; keep only the real columns.
		var n uint64
		if n, err = uintField(ncols, 64); err != nil || n > uint64(len(c.Columns)) {
			return fmt.Errorf(`field "ncols": %d columns of %d, %v`, n, len(c.Columns), err)
		}
		defer func() { c.Columns = c.Columns[:n:n] }()
	}
	if before != nil {
		if c.Before, err = imageField(before, c.Columns, ctxs, line); err != nil {
			return fmt.Errorf(`field "before": %w`, err)
		}
	}
	if after != nil {
		if c.After, err = imageField(after, c.Columns, ctxs, line); err != nil {
			return fmt.Errorf(`field "after": %w`, err)
		}
	}
	return nil
}

func nodeString(n *jnode) (string, error) {
	if n.t != 's' {
		return "", errors.New("want a string")
	}
	return n.str, nil
}

// strField reads a free-form string: a JSON string or {"b64":"…"}.
func strField(n *jnode) (string, error) {
	if n.t == 's' {
		return n.str, nil
	}
	if n.t == '{' && len(n.keys) == 1 && n.keys[0] == "b64" && n.elems[0].t == 's' {
		b, err := base64.StdEncoding.DecodeString(n.elems[0].str)
		return string(b), err
	}
	return "", errors.New(`want a string or {"b64":…}`)
}

func timeField(n *jnode) (time.Time, error) {
	s, err := nodeString(n)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, err
	}
	return t.UTC(), nil
}

func boolField(n *jnode) (bool, error) {
	switch n.t {
	case 't':
		return true, nil
	case 'f':
		return false, nil
	}
	return false, errors.New("want true or false")
}

func uintField(n *jnode, bits int) (uint64, error) {
	if n.t != '0' {
		return 0, errors.New("want a number")
	}
	return strconv.ParseUint(n.str, 10, bits)
}

func intField(n *jnode, bits int) (int64, error) {
	if n.t != '0' {
		return 0, errors.New("want a number")
	}
	return strconv.ParseInt(n.str, 10, bits)
}

func txField(n *jnode) (Tx, error) {
	var tx Tx
	if n.t != '{' {
		return tx, errors.New("want an object")
	}
	for i, k := range n.keys {
		var err error
		switch k {
		case "id":
			tx.ID, err = strField(&n.elems[i])
		case "index":
			tx.Index, err = uintField(&n.elems[i], 64)
		case "last":
			tx.Last, err = boolField(&n.elems[i])
		}
		if err != nil {
			return tx, fmt.Errorf("%s: %w", k, err)
		}
	}
	return tx, nil
}

func colsField(n *jnode) ([]Column, []ctx, error) {
	if n.t != '[' {
		return nil, nil, errors.New("want an array")
	}
	cols := make([]Column, len(n.elems))
	ctxs := make([]ctx, len(n.elems))
	for i := range n.elems {
		e := &n.elems[i]
		if e.t != '{' {
			return nil, nil, fmt.Errorf("column %d: want an object", i+1)
		}
		for j, k := range e.keys {
			f := &e.elems[j]
			var err error
			switch k {
			case "name":
				cols[i].Name, err = strField(f)
			case "type":
				cols[i].Type, err = strField(f)
			case "kind":
				var s string
				if s, err = nodeString(f); err == nil {
					ctxs[i].kind, err = ParseKind(s)
				}
			case "size":
				var u uint64
				u, err = uintField(f, 8)
				ctxs[i].size = uint8(u)
			case "zoned":
				ctxs[i].zoned, err = boolField(f)
			case "enum":
				err = enumField(f, &ctxs[i])
			case "nullable":
				cols[i].Nullable, err = boolField(f)
			case "key":
				cols[i].Key, err = boolField(f)
			}
			if err != nil {
				return nil, nil, fmt.Errorf("column %d: %s: %w", i+1, k, err)
			}
		}
		ctxs[i].typ = cols[i].Type
	}
	return cols, ctxs, nil
}

// enumField reads a column's "enum" object: ENUM texts and their indexes.
func enumField(n *jnode, x *ctx) error {
	if n.t != '{' || len(n.keys) > len(x.enums) {
		return fmt.Errorf("want an object of at most %d members", len(x.enums))
	}
	for i, k := range n.keys {
		u, err := uintField(&n.elems[i], 64)
		if err != nil {
			return fmt.Errorf("%q: %w", k, err)
		}
		x.enums[i] = enumPair{text: []byte(k), index: u}
	}
	x.nenums = len(n.keys)
	return nil
}

// jsonKey is column i's key in row objects (see colName).
func jsonKey(cols []Column, i int) string {
	if n := cols[i].Name; n != "" && validUTF8(n) {
		return n
	}
	return "@" + strconv.Itoa(i+1)
}

// imageField reads a row image. Keys are matched to columns in column
// order, each from just after the column the previous key matched.
func imageField(n *jnode, cols []Column, ctxs []ctx, line []byte) ([]Value, error) {
	if n.t != '{' {
		return nil, errors.New("want an object")
	}
	img := make([]Value, len(cols))
	next := 0
	for i, k := range n.keys {
		j := next
		for j < len(cols) && jsonKey(cols, j) != k {
			j++
		}
		if j == len(cols) {
			return nil, fmt.Errorf("column %q: not in cols (or out of order)", k)
		}
		v, err := decodeValue(&n.elems[i], ctxs[j], line)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", k, err)
		}
		img[j] = v
		next = j + 1
	}
	return img, nil
}
