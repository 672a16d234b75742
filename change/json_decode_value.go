package change

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
)

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
	var v Value
	var err error
	switch c.kind {
	case KindGeometry, KindVector, KindUUID, KindObjectID, KindBSONTimestamp, KindRegex:
		v, err = decodeSpecial(n, c)
	case KindArray, KindDocument:
		v, err = decodeContainer(n, c, line)
	default:
		v, err = decodeScalar(n, c, line)
	}
	if err != nil {
		return Value{}, fmt.Errorf("%s: %w", c.kind, err)
	}
	return v, nil
}

// decodeScalar is decodeNatural for numbers, text, bytes, JSON and temporals.
func decodeScalar(n *jnode, c ctx, line []byte) (Value, error) {
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
	default:
		err = fmt.Errorf("no plain form for kind %s", c.kind)
	}
	return v, err
}

// decodeSpecial is decodeNatural for spatial, vector, UUID and MongoDB values.
func decodeSpecial(n *jnode, c ctx) (Value, error) {
	v := Value{Kind: c.kind, Size: c.size}
	var err error
	switch c.kind {
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
	}
	return v, err
}

// decodeContainer is decodeNatural for arrays and documents.
func decodeContainer(n *jnode, c ctx, line []byte) (Value, error) {
	v := Value{Kind: c.kind, Size: c.size}
	var err error
	switch c.kind {
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
	}
	return v, err
}
