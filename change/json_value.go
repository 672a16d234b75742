package change

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"strconv"
)

// ctx is what a reader of a JSON value knows before reading it: the kind
// and Size its column declares (and the column type text, which ENUM, SET
// and KindOther values need), or auto inside arrays and documents, where
// the JSON type alone decides the kind.
type ctx struct {
	kind Kind
	size uint8
	// zoned is the Zoned flag of the column's values; it tells whether
	// "infinity" is a zoned timestamp.
	zoned bool
	auto  bool
	typ   string
	// enums maps ENUM texts of this change to their index where the
	// column type does not list the members (cols "enum").
	enums  [2]enumPair
	nenums int
	// memo holds answers of member for this column's type text.
	memo    [2]enumPair
	memoSet [2]bool
	nmemo   uint8
}

// enumPair is one ENUM text and its index.
type enumPair struct {
	text  []byte
	index uint64
}

// enumIndexIn returns the index of an ENUM text in context c: from the
// context's pairs, else from the members listed in the column type.
func enumIndexIn(c *ctx, text []byte) uint64 {
	for i := range c.nenums {
		if string(c.enums[i].text) == string(text) {
			return c.enums[i].index
		}
	}
	return c.member(text, false)
}

// member returns enumIndex (or, for set, setBits) of text and the column
// type, remembering the last few answers in c: the before and after
// values and the key of one change often share their text.
func (c *ctx) member(text []byte, set bool) uint64 {
	for i := range c.nmemo {
		if c.memoSet[i] == set && string(c.memo[i].text) == string(text) {
			return c.memo[i].index
		}
	}
	var u uint64
	if set {
		u = setBits(c.typ, text)
	} else {
		u = enumIndex(c.typ, text)
	}
	if int(c.nmemo) < len(c.memo) {
		c.memo[c.nmemo] = enumPair{text: text, index: u}
		c.memoSet[c.nmemo] = set
		c.nmemo++
	}
	return u
}

// Field masks: which Value fields a kind's natural form carries.
const (
	fI = 1 << iota
	fU
	fF
	fB
	fElems
	fNames
	fNeg
	fZone // Off and Zoned
)

// onlyFields reports whether every field of v outside mask (and Size, which
// the context carries) is zero.
func onlyFields(v *Value, mask int) bool {
	return (mask&fI != 0 || v.I == 0) &&
		(mask&fU != 0 || v.U == 0) &&
		(mask&fF != 0 || math.Float64bits(v.F) == 0) &&
		(mask&fB != 0 || len(v.B) == 0) &&
		(mask&fElems != 0 || len(v.Elems) == 0) &&
		(mask&fNames != 0 || len(v.Names) == 0) &&
		(mask&fNeg != 0 || !v.Neg) &&
		(mask&fZone != 0 || v.Off == 0 && !v.Zoned)
}

// isZeroValue reports whether v is exactly the zero Value (absent).
func isZeroValue(v *Value) bool { return v.Kind == KindAbsent && v.Size == 0 && onlyFields(v, 0) }

// autoNatural reports whether v, inside an array or document, can be
// written as the plain JSON that auto-reading turns back into it.
func autoNatural(v *Value) bool {
	switch v.Kind {
	case KindBool, KindString, KindArray:
		return v.Size == 0
	case KindInt:
		return v.Size == 64
	case KindFloat:
		return v.Size == 64 && !math.IsNaN(v.F) && !math.IsInf(v.F, 0)
	case KindDocument:
		return v.Size == 0 && !(len(v.Names) > 0 && v.Names[0] == tagKey)
	}
	return false
}

const tagKey = "$kind"

// appendValueJSON appends v as read in context c: null, its natural form
// when c already tells its kind and Size, or a tagged object otherwise.
func appendValueJSON(dst []byte, v *Value, c *ctx) []byte {
	if v.Kind == c.kind && v.Size == c.size && !c.auto {
		// The commonest columns' natural forms, as appendNatural writes them.
		switch v.Kind {
		case KindInt:
			if onlyFields(v, fI) {
				return strconv.AppendInt(dst, v.I, 10)
			}
		case KindString, KindDecimal:
			if onlyFields(v, fB) {
				if out, ok := appendJSONStr(dst, v.B); ok {
					return out
				}
			}
		}
	}
	if v.Kind == KindNull && v.Size == 0 && onlyFields(v, 0) {
		return append(dst, "null"...)
	}
	mark := len(dst)
	natural := false
	if c.auto {
		natural = autoNatural(v)
	} else if v.Kind == c.kind && v.Size == c.size {
		if v.Kind == KindJSON {
			// Scan the document once: raw when it reads back as itself.
			if ok, tagLike := embeddable(v.B); ok && !tagLike && onlyFields(v, fB) {
				return append(dst, v.B...)
			}
		} else {
			natural = !topTagLike(v)
		}
	}
	if natural {
		if out, ok := appendNatural(dst, v, c); ok {
			return out
		}
		dst = dst[:mark]
	}
	// Tagged, with the natural form under "v" when there is one.
	dst = append(dst, `{"$kind":"`...)
	dst = appendKind(dst, v.Kind)
	dst = append(dst, '"')
	if v.Size != 0 {
		dst = append(dst, `,"size":`...)
		dst = strconv.AppendUint(dst, uint64(v.Size), 10)
	}
	body := len(dst)
	dst = append(dst, `,"v":`...)
	if out, ok := appendNatural(dst, v, &ctx{kind: v.Kind, size: v.Size}); ok {
		return append(out, '}')
	}
	return appendRawFields(dst[:body], v)
}

// topTagLike reports whether v's natural form would read back as a tagged
// object at the top of a column (JSON documents are checked by the caller).
func topTagLike(v *Value) bool {
	return v.Kind == KindDocument && len(v.Names) > 0 && v.Names[0] == tagKey
}

// appendRawFields appends every nonzero field of v and closes the tagged object.
func appendRawFields(dst []byte, v *Value) []byte {
	if v.Neg {
		dst = append(dst, `,"neg":true`...)
	}
	if v.Off != 0 {
		dst = append(dst, `,"off":`...)
		dst = strconv.AppendInt(dst, int64(v.Off), 10)
	}
	if v.Zoned {
		dst = append(dst, `,"zoned":true`...)
	}
	if v.I != 0 {
		dst = append(dst, `,"i":`...)
		dst = strconv.AppendInt(dst, v.I, 10)
	}
	if v.U != 0 {
		dst = append(dst, `,"u":`...)
		dst = strconv.AppendUint(dst, v.U, 10)
	}
	if math.Float64bits(v.F) != 0 {
		dst = append(dst, `,"f":`...)
		dst = appendFloatJSON(dst, v.F, 64)
	}
	if len(v.B) > 0 {
		mark := len(dst)
		dst = append(dst, `,"text":`...)
		if out, ok := appendJSONStr(dst, v.B); ok {
			dst = out
		} else {
			dst = append(dst[:mark], `,"b64":"`...)
			dst = base64.StdEncoding.AppendEncode(dst, v.B)
			dst = append(dst, '"')
		}
	}
	if len(v.Elems) > 0 {
		dst = append(dst, `,"elems":[`...)
		auto := ctx{auto: true}
		for i := range v.Elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendValueJSON(dst, &v.Elems[i], &auto)
		}
		dst = append(dst, ']')
	}
	if len(v.Names) > 0 {
		dst = append(dst, `,"names":[`...)
		for i, n := range v.Names {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendStrField(dst, n)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// appendFloatJSON appends a float as a JSON number that always shows it is
// a float ("1.0", not "1"), or as "NaN", "Infinity", "-Infinity" strings.
func appendFloatJSON(dst []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		dst = append(dst, '"')
		dst = appendFloatText(dst, f, bits)
		return append(dst, '"')
	}
	start := len(dst)
	dst = appendFloatText(dst, f, bits)
	for _, c := range dst[start:] {
		if c == '.' || c == 'e' {
			return dst
		}
	}
	return append(dst, '.', '0')
}

// fracOK reports whether nanos is exactly what size fraction digits show.
func fracOK(nanos uint64, size uint8) bool {
	return size <= 9 && nanos < 1e9 && nanos%pow10[9-size] == 0
}

// zoneOK reports whether Off and Zoned can be written as a zone suffix.
func zoneOK(v *Value) bool {
	return (v.Zoned || v.Off == 0) && v.Off > -100*3600 && v.Off < 100*3600
}

// appendNatural appends v's natural form for context c (whose kind is
// v.Kind) and reports whether that form reads back exactly.
func appendNatural(dst []byte, v *Value, c *ctx) ([]byte, bool) {
	switch v.Kind {
	case KindDate, KindTime, KindDateTime, KindTimestamp:
		return appendTemporalJSON(dst, v, c)
	case KindGeometry, KindVector, KindUUID, KindObjectID, KindBSONTimestamp, KindRegex, KindOther:
		return appendSpecialJSON(dst, v, c)
	case KindArray, KindDocument:
		return appendContainerJSON(dst, v, c)
	}
	return appendScalarJSON(dst, v, c)
}

// appendScalarJSON is appendNatural for numbers, text, bytes, JSON, ENUM and SET.
func appendScalarJSON(dst []byte, v *Value, c *ctx) ([]byte, bool) {
	quoted := func(dst []byte) []byte { return append(dst, '"') }
	switch v.Kind {
	case KindBool:
		if !onlyFields(v, fI) || v.I != 0 && v.I != 1 {
			return dst, false
		}
		if v.I == 1 {
			return append(dst, "true"...), true
		}
		return append(dst, "false"...), true
	case KindInt, KindYear:
		if !onlyFields(v, fI) {
			return dst, false
		}
		return strconv.AppendInt(dst, v.I, 10), true
	case KindUint, KindBit:
		if !onlyFields(v, fU) {
			return dst, false
		}
		return strconv.AppendUint(dst, v.U, 10), true
	case KindFloat:
		bits := floatBits(v.Size)
		if !onlyFields(v, fF) || bits == 32 && float64(float32(v.F)) != v.F && !math.IsNaN(v.F) {
			return dst, false
		}
		return appendFloatJSON(dst, v.F, bits), true
	case KindDecimal, KindString:
		if !onlyFields(v, fB) {
			return dst, false
		}
		return appendJSONStr(dst, v.B)
	case KindBytes:
		if !onlyFields(v, fB) {
			return dst, false
		}
		dst = quoted(dst)
		dst = base64.StdEncoding.AppendEncode(dst, v.B)
		return quoted(dst), true
	case KindJSON:
		if !onlyFields(v, fB) {
			return dst, false
		}
		if ok, _ := embeddable(v.B); !ok {
			return dst, false
		}
		return append(dst, v.B...), true
	case KindEnum:
		if !onlyFields(v, fB|fU) || enumIndexIn(c, v.B) != v.U {
			return dst, false
		}
		return appendJSONStr(dst, v.B)
	case KindSet:
		if !onlyFields(v, fB|fU) || c.member(v.B, true) != v.U {
			return dst, false
		}
		return appendJSONStr(dst, v.B)
	}
	return dst, false
}

// appendTemporalJSON is appendNatural for dates and times.
func appendTemporalJSON(dst []byte, v *Value, c *ctx) ([]byte, bool) {
	quoted := func(dst []byte) []byte { return append(dst, '"') }
	switch v.Kind {
	case KindDate:
		if !onlyFields(v, fI) || v.I < 0 {
			return dst, false
		}
		return quoted(appendDate(quoted(dst), v.I)), true
	case KindTime:
		if !onlyFields(v, fI|fU|fNeg|fZone) || v.I < 0 || !fracOK(v.U, v.Size) || !zoneOK(v) {
			return dst, false
		}
		return quoted(appendTimeText(quoted(dst), v)), true
	case KindDateTime:
		if !onlyFields(v, fI|fU) || v.I < 0 || !fracOK(v.U, v.Size) {
			return dst, false
		}
		return quoted(appendDateTimeText(quoted(dst), v)), true
	case KindTimestamp:
		if !onlyFields(v, fI|fU|fZone) {
			return dst, false
		}
		if v.I == math.MaxInt64 || v.I == math.MinInt64 {
			if v.U != 0 || v.Off != 0 || v.Zoned != c.zoned {
				return dst, false
			}
		} else if !isZeroTimestamp(v) {
			wall := v.I + int64(v.Off)
			if !fracOK(v.U, v.Size) || !zoneOK(v) || v.I < minTextUnix || v.I > maxTextUnix ||
				wall < minTextUnix || wall > maxTextUnix {
				return dst, false
			}
		}
		return quoted(appendTimestampText(quoted(dst), v)), true
	}
	return dst, false
}

// appendSpecialJSON is appendNatural for spatial, vector, UUID, MongoDB and other values.
func appendSpecialJSON(dst []byte, v *Value, c *ctx) ([]byte, bool) {
	mark := len(dst)
	quoted := func(dst []byte) []byte { return append(dst, '"') }
	switch v.Kind {
	case KindGeometry:
		if !onlyFields(v, fB|fU) {
			return dst, false
		}
		dst = append(dst, `{"srid":`...)
		dst = strconv.AppendUint(dst, v.U, 10)
		dst = append(dst, `,"wkb":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, v.B)
		return append(dst, `"}`...), true
	case KindVector:
		if !onlyFields(v, fB) || len(v.B)%4 != 0 {
			return dst, false
		}
		dst = append(dst, '[')
		for i := 0; i < len(v.B); i += 4 {
			f := float64(math.Float32frombits(binary.LittleEndian.Uint32(v.B[i:])))
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return dst[:mark], false
			}
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendFloatJSON(dst, f, 32)
		}
		return append(dst, ']'), true
	case KindUUID:
		if !onlyFields(v, fB) || len(v.B) != 16 {
			return dst, false
		}
		return quoted(appendUUID(quoted(dst), v.B)), true
	case KindObjectID:
		if !onlyFields(v, fB) || len(v.B) != 12 {
			return dst, false
		}
		return quoted(appendHex(quoted(dst), v.B, lowerHex)), true
	case KindBSONTimestamp:
		if !onlyFields(v, fU) {
			return dst, false
		}
		dst = append(dst, `{"t":`...)
		dst = strconv.AppendUint(dst, v.U>>32, 10)
		dst = append(dst, `,"i":`...)
		dst = strconv.AppendUint(dst, v.U&0xffffffff, 10)
		return append(dst, '}'), true
	case KindRegex:
		if !onlyFields(v, fB|fNames) || len(v.Names) > 1 {
			return dst, false
		}
		dst = append(dst, `{"pattern":`...)
		dst, ok := appendJSONStr(dst, v.B)
		if !ok {
			return dst[:mark], false
		}
		if len(v.Names) == 1 {
			dst = append(dst, `,"options":`...)
			if dst, ok = appendJSONStr(dst, v.Names[0]); !ok {
				return dst[:mark], false
			}
		}
		return append(dst, '}'), true
	case KindOther:
		if !onlyFields(v, fB|fNames) || len(v.Names) != 1 || c.typ == "" || v.Names[0] != c.typ {
			return dst, false
		}
		return appendJSONStr(dst, v.B)
	}
	return dst, false
}

// appendContainerJSON is appendNatural for arrays and documents.
func appendContainerJSON(dst []byte, v *Value, c *ctx) ([]byte, bool) {
	mark := len(dst)
	switch v.Kind {
	case KindArray:
		if !onlyFields(v, fElems) {
			return dst, false
		}
		dst = append(dst, '[')
		auto := ctx{auto: true}
		for i := range v.Elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendValueJSON(dst, &v.Elems[i], &auto)
		}
		return append(dst, ']'), true
	case KindDocument:
		if !onlyFields(v, fElems|fNames) || len(v.Names) != len(v.Elems) {
			return dst, false
		}
		dst = append(dst, '{')
		auto := ctx{auto: true}
		for i := range v.Elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			var ok bool
			if dst, ok = appendJSONStr(dst, v.Names[i]); !ok {
				return dst[:mark], false
			}
			dst = append(dst, ':')
			dst = appendValueJSON(dst, &v.Elems[i], &auto)
		}
		return append(dst, '}'), true
	}
	return dst, false
}
