package change

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
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

// decodeValue reads a value in context c (see appendValueJSON).
func decodeValue(n *jnode, c ctx, line []byte) (Value, error) {
	switch {
	case n.t == 'n':
		return Null(), nil
	case n.t == '{' && len(n.keys) > 0 && n.keys[0] == tagKey:
		return decodeTagged(n, line)
	case c.auto:
		return decodeAuto(n, line)
	}
	return decodeNatural(n, c, line)
}

func decodeAuto(n *jnode, line []byte) (Value, error) {
	switch n.t {
	case 't', 'f':
		return Bool(n.t == 't'), nil
	case 's':
		return String([]byte(n.str)), nil
	case '0':
		if isIntegerText(n.str) {
			i, err := strconv.ParseInt(n.str, 10, 64)
			return Int(i, 64), err
		}
		f, err := strconv.ParseFloat(n.str, 64)
		return Float64(f), err
	case '[':
		return decodeNatural(n, ctx{kind: KindArray}, line)
	case '{':
		return decodeNatural(n, ctx{kind: KindDocument}, line)
	}
	return Value{}, errors.New("unexpected JSON value")
}

func isIntegerText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '.' || c == 'e' || c == 'E' {
			return false
		}
	}
	return true
}

// decodeTagged reads {"$kind":K, "size":N, "v":natural} or
// {"$kind":K, field: value, …}.
func decodeTagged(n *jnode, line []byte) (Value, error) {
	var v Value
	s, err := nodeString(&n.elems[0])
	if err != nil {
		return v, fmt.Errorf("$kind: %w", err)
	}
	if v.Kind, err = ParseKind(s); err != nil {
		return v, err
	}
	var natural *jnode
	raw := false
	seen := map[string]bool{}
	for i := 1; i < len(n.keys); i++ {
		k, f := n.keys[i], &n.elems[i]
		if seen[k] {
			return v, fmt.Errorf("repeated %q", k)
		}
		seen[k] = true
		var err error
		switch k {
		case "size":
			var u uint64
			u, err = uintField(f, 8)
			v.Size = uint8(u)
		case "v":
			natural = f
		case "neg":
			v.Neg, err = boolField(f)
		case "off":
			var i int64
			i, err = intField(f, 32)
			v.Off = int32(i)
		case "zoned":
			v.Zoned, err = boolField(f)
		case "i":
			v.I, err = intField(f, 64)
		case "u":
			v.U, err = uintField(f, 64)
		case "f":
			v.F, err = floatNode(f, 64)
		case "text":
			var s string
			if s, err = nodeString(f); err == nil {
				v.B = []byte(s)
			}
		case "b64":
			var s string
			if s, err = nodeString(f); err == nil {
				v.B, err = base64.StdEncoding.DecodeString(s)
			}
		case "elems":
			v.Elems, err = decodeElems(f, line)
		case "names":
			if f.t != '[' {
				err = errors.New("want an array")
				break
			}
			v.Names = make([]string, len(f.elems))
			for j := range f.elems {
				if v.Names[j], err = strField(&f.elems[j]); err != nil {
					break
				}
			}
		default:
			err = errors.New("unknown field")
		}
		if err != nil {
			return v, fmt.Errorf("%s %s: %w", v.Kind, k, err)
		}
		if k != "size" && k != "v" {
			raw = true
		}
	}
	if seen["text"] && seen["b64"] {
		return v, errors.New(`both "text" and "b64"`)
	}
	if natural == nil {
		return v, nil
	}
	if raw {
		return v, errors.New(`"v" with other fields`)
	}
	return decodeNatural(natural, ctx{kind: v.Kind, size: v.Size}, line)
}

func decodeElems(n *jnode, line []byte) ([]Value, error) {
	if n.t != '[' {
		return nil, errors.New("want an array")
	}
	out := make([]Value, len(n.elems))
	for i := range n.elems {
		var err error
		if out[i], err = decodeValue(&n.elems[i], ctx{auto: true}, line); err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
	}
	return out, nil
}

func floatNode(n *jnode, bits int) (float64, error) {
	switch n.t {
	case '0':
		return strconv.ParseFloat(n.str, bits)
	case 's':
		switch n.str {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
	}
	return 0, errors.New("want a number, \"NaN\", \"Infinity\" or \"-Infinity\"")
}

func decodeBase64(n *jnode) ([]byte, error) {
	s, err := nodeString(n)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(s)
}

func decodeHex(s string, want int) ([]byte, error) {
	if len(s) != 2*want {
		return nil, fmt.Errorf("want %d hex digits", 2*want)
	}
	b := make([]byte, want)
	for i := range b {
		h, ok1 := unhex(s[2*i])
		l, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return nil, errors.New("bad hex digit")
		}
		b[i] = h<<4 | l
	}
	return b, nil
}

// objectFields maps an object's members by name, rejecting names not in allowed.
func objectFields(n *jnode, allowed ...string) (map[string]*jnode, error) {
	if n.t != '{' {
		return nil, errors.New("want an object")
	}
	m := make(map[string]*jnode, len(n.keys))
	for i, k := range n.keys {
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		if !ok || m[k] != nil {
			return nil, fmt.Errorf("unexpected or repeated member %q", k)
		}
		m[k] = &n.elems[i]
	}
	return m, nil
}

// decodeNatural reads the natural form of a value of kind c.kind and Size c.size.
func decodeNatural(n *jnode, c ctx, line []byte) (Value, error) {
	v := Value{Kind: c.kind, Size: c.size}
	var err error
	switch c.kind {
	case KindBool:
		var b bool
		b, err = boolField(n)
		if b {
			v.I = 1
		}
	case KindInt, KindYear:
		v.I, err = intField(n, 64)
	case KindUint, KindBit:
		v.U, err = uintField(n, 64)
	case KindFloat:
		v.F, err = floatNode(n, floatBits(c.size))
	case KindDecimal, KindString, KindEnum, KindSet, KindOther:
		var s string
		if s, err = nodeString(n); err != nil {
			break
		}
		v.B = []byte(s)
		switch c.kind {
		case KindEnum:
			v.U = enumIndexIn(&c, v.B)
		case KindSet:
			v.U = setBits(c.typ, v.B)
		case KindOther:
			if c.typ == "" {
				err = errors.New("a value of kind other needs the column type")
			}
			v.Names = []string{c.typ}
		}
	case KindBytes:
		v.B, err = decodeBase64(n)
	case KindJSON:
		v.B = append([]byte(nil), line[n.start:n.end]...)
	case KindDate, KindTime, KindDateTime, KindTimestamp:
		var s string
		if s, err = nodeString(n); err == nil {
			err = parseTemporal(&v, s)
		}
		if v.Kind == KindTimestamp && (v.I == math.MaxInt64 || v.I == math.MinInt64) {
			v.Zoned = c.zoned
		}
	case KindGeometry:
		var m map[string]*jnode
		if m, err = objectFields(n, "srid", "wkb"); err != nil {
			break
		}
		if m["srid"] == nil || m["wkb"] == nil {
			err = errors.New(`geometry needs "srid" and "wkb"`)
			break
		}
		if v.U, err = uintField(m["srid"], 64); err == nil {
			v.B, err = decodeBase64(m["wkb"])
		}
	case KindVector:
		if n.t != '[' {
			err = errors.New("want an array")
			break
		}
		v.B = make([]byte, 0, 4*len(n.elems))
		for i := range n.elems {
			var f float64
			if f, err = floatNode(&n.elems[i], 32); err != nil {
				break
			}
			v.B = binary.LittleEndian.AppendUint32(v.B, math.Float32bits(float32(f)))
		}
	case KindUUID:
		var s string
		if s, err = nodeString(n); err != nil {
			break
		}
		if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			err = errors.New("bad UUID")
			break
		}
		v.B, err = decodeHex(s[0:8]+s[9:13]+s[14:18]+s[19:23]+s[24:], 16)
	case KindObjectID:
		var s string
		if s, err = nodeString(n); err == nil {
			v.B, err = decodeHex(s, 12)
		}
	case KindBSONTimestamp:
		var m map[string]*jnode
		if m, err = objectFields(n, "t", "i"); err != nil {
			break
		}
		if m["t"] == nil || m["i"] == nil {
			err = errors.New(`timestamp needs "t" and "i"`)
			break
		}
		var t, i uint64
		if t, err = uintField(m["t"], 32); err == nil {
			i, err = uintField(m["i"], 32)
		}
		v.U = t<<32 | i
	case KindRegex:
		var m map[string]*jnode
		if m, err = objectFields(n, "pattern", "options"); err != nil {
			break
		}
		if m["pattern"] == nil {
			err = errors.New(`regex needs "pattern"`)
			break
		}
		var s string
		if s, err = nodeString(m["pattern"]); err != nil {
			break
		}
		v.B = []byte(s)
		if o := m["options"]; o != nil {
			if s, err = nodeString(o); err == nil {
				v.Names = []string{s}
			}
		}
	case KindArray:
		if n.t != '[' {
			err = errors.New("want an array")
			break
		}
		v.Elems, err = decodeElems(n, line)
	case KindDocument:
		if n.t != '{' {
			err = errors.New("want an object")
			break
		}
		v.Names = append([]string(nil), n.keys...)
		v.Elems = make([]Value, len(n.elems))
		for i := range n.elems {
			if v.Elems[i], err = decodeValue(&n.elems[i], ctx{auto: true}, line); err != nil {
				err = fmt.Errorf("field %q: %w", n.keys[i], err)
				break
			}
		}
	default:
		err = fmt.Errorf("no plain form for kind %s", c.kind)
	}
	if err != nil {
		return Value{}, fmt.Errorf("%s: %w", c.kind, err)
	}
	return v, nil
}
