package change

import (
	"slices"
	"strconv"
	"time"
)

// AppendJSON appends c as one line of Sluice JSON (without the trailing
// newline) and returns the extended buffer. The format is described in
// docs/format.md; DecodeJSON reads it back into an identical Change. It does
// not allocate when dst has room for the line. An Encoder writes the same
// bytes faster when many changes share their Columns.
func AppendJSON(dst []byte, c *Change) []byte {
	return appendJSON(dst, c, nil)
}

// appendJSON is AppendJSON, using and filling e's column cache when e is
// not nil.
func appendJSON(dst []byte, c *Change, e *Encoder) []byte {
	if e != nil {
		if d, ok := e.appendHead(dst, c); ok {
			return appendRest(d, c, e)
		}
	}
	dst = appendHeadFields(dst, c, e)
	if !c.Pos.IsZero() {
		dst = append(dst, `,"pos":`...)
		dst = append(dst, '"')
		dst = appendPositionJSON(dst, c.Pos) // with an Encoder: a row and snapshot part alone (appendHead takes the rest)
		dst = append(dst, '"')
	}
	return appendRest(dst, c, e)
}

// appendHeadFields appends the members of c before "pos": the opening
// brace, "op", "source", "db", "table", "ts" and "read_ts".
func appendHeadFields(dst []byte, c *Change, e *Encoder) []byte {
	dst = append(dst, `{"op":"`...)
	dst = appendOp(dst, c.Op)
	dst = append(dst, '"')
	if c.Source != "" {
		dst = append(dst, `,"source":`...)
		dst = appendStrField(dst, c.Source)
	}
	if c.Database != "" {
		dst = append(dst, `,"db":`...)
		dst = appendStrField(dst, c.Database)
	}
	if c.Table != "" {
		dst = append(dst, `,"table":`...)
		dst = appendStrField(dst, c.Table)
	}
	if !c.CommitTime.IsZero() {
		dst = append(dst, `,"ts":`...)
		dst = appendUTC(dst, c.CommitTime)
	}
	if !c.ReadTime.IsZero() {
		dst = append(dst, `,"read_ts":`...)
		if e != nil {
			dst = e.appendReadTime(dst, c.ReadTime)
		} else {
			dst = appendUTC(dst, c.ReadTime)
		}
	}
	return dst
}

// appendRest appends the members of c after "pos" and the closing brace.
func appendRest(dst []byte, c *Change, e *Encoder) []byte {
	if c.Tx != (Tx{}) {
		dst = appendTx(dst, c.Tx)
	}
	if c.Snapshot != SnapshotNone {
		dst = append(dst, `,"snapshot":"`...)
		dst = append(dst, c.Snapshot.String()...)
		dst = append(dst, '"')
	}
	n := max(len(c.Columns), len(c.Before), len(c.After))
	switch {
	case e != nil:
		e.prepare(c, n)
		return appendBody(dst, c, n, e.ctxs[:n], &e.kt, e)
	case n <= stackCols:
		return appendBodyStack(dst, c, n)
	}
	return appendBody(dst, c, n, nil, nil, nil)
}

// stackCols is the most columns whose contexts and keys appendJSON works
// out on the stack when it has no Encoder.
const stackCols = 32

// appendBodyStack is appendBody with the column contexts and keys worked
// out in arrays on its stack (kept out of appendJSON, which would
// otherwise clear them on every call, Encoder or not).
func appendBodyStack(dst []byte, c *Change, n int) []byte {
	var cache [stackCols]ctx
	var keyText [1024]byte
	var keyEnd [stackCols]int32
	var keyNamed [stackCols]bool
	var kt *keyTable
	stackKeys, ok := buildKeys(keyTable{text: keyText[:0], end: keyEnd[:0], named: keyNamed[:0]}, c, n, len(keyText))
	if ok {
		kt = &stackKeys
	}
	return appendBody(dst, c, n, cache[:n], kt, nil)
}

// appendBody appends the members of c that describe its row ("key",
// "before", "after", "sql", "cols") and the closing brace. ctxs has room
// for the context of every column (or is nil: each is worked out where
// needed); kt holds the columns' keys, or is nil.
func appendBody(dst []byte, c *Change, n int, ctxs []ctx, kt *keyTable, e *Encoder) []byte {
	if e != nil && e.ctxsValid {
		// The contexts of the change before, of the same columns: most
		// still hold.
		for i := range ctxs {
			if !ctxHolds(&ctxs[i], c, i) {
				colCtx(&ctxs[i], c, i)
			}
		}
	} else {
		for i := range ctxs {
			colCtx(&ctxs[i], c, i)
		}
		if e != nil {
			e.ctxsValid = true
		}
	}
	keyMark := len(dst)
	dst = appendKey(dst, c, ctxs, n, kt)
	if e != nil {
		e.keyStart, e.keyEnd = keyMark, len(dst)
		if e.keyEnd > e.keyStart {
			e.keyStart += len(`,"key":`)
		}
	}
	if len(c.Before) > 0 {
		dst = append(dst, `,"before":`...)
		dst = appendImage(dst, c, ctxs, c.Before, n, e, kt)
	}
	if len(c.After) > 0 {
		dst = append(dst, `,"after":`...)
		dst = appendImage(dst, c, ctxs, c.After, n, e, kt)
	}
	if c.SQL != "" {
		dst = append(dst, `,"sql":`...)
		dst = appendStrField(dst, c.SQL)
	}
	if n > 0 {
		if e != nil {
			dst = e.appendCols(dst, c, ctxs, n)
		} else {
			dst = appendCols(dst, c, ctxs, n, kt)
		}
	}
	return append(dst, '}')
}

// appendUTC appends t in UTC as a quoted RFC 3339 time with exactly nine
// fraction digits, "2024-05-06T07:08:09.120000000Z", so that times sort as text.
func appendUTC(dst []byte, t time.Time) []byte {
	if u := t.Unix(); u >= minTextUnix && u <= maxTextUnix {
		dst = append(dst, '"')
		dst = appendUnixDateClock(dst, u, 'T')
		dst = appendFrac(dst, uint64(t.Nanosecond()), 9)
		return append(dst, 'Z', '"')
	}
	t = t.UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	dst = append(dst, '"')
	if y < 0 {
		// Not RFC 3339 (years 0000-9999); written so it reads as what it is.
		dst = append(dst, '-')
	}
	dst = appendPad(dst, absU(int64(y)), 4)
	dst = append(dst, '-')
	dst = appendPad(dst, uint64(mo), 2)
	dst = append(dst, '-')
	dst = appendPad(dst, uint64(d), 2)
	dst = append(dst, 'T')
	dst = appendClock(dst, uint64(h*10000+mi*100+s))
	dst = appendFrac(dst, uint64(t.Nanosecond()), 9)
	return append(dst, 'Z', '"')
}

func appendTx(dst []byte, tx Tx) []byte {
	dst = append(dst, `,"tx":{`...)
	sep := false
	if tx.ID != "" {
		dst = append(dst, `"id":`...)
		dst = appendStrField(dst, tx.ID)
		sep = true
	}
	if tx.Index != 0 {
		if sep {
			dst = append(dst, ',')
		}
		dst = append(dst, `"index":`...)
		dst = strconv.AppendUint(dst, tx.Index, 10)
		sep = true
	}
	if tx.Last {
		if sep {
			dst = append(dst, ',')
		}
		dst = append(dst, `"last":true`...)
	}
	return append(dst, '}')
}

// ctxOf returns column i's context: from ctxs when the caller worked them
// out, else worked out into *tmp.
func ctxOf(c *Change, ctxs []ctx, i int, tmp *ctx) *ctx {
	if i < len(ctxs) {
		return &ctxs[i]
	}
	colCtx(tmp, c, i)
	return tmp
}

// realValue reports whether v has a kind that can describe a column.
func realValue(v *Value) bool {
	return v.Kind != KindAbsent && v.Kind != KindUnchanged && v.Kind != KindNull
}

// ctxHolds reports whether x, column i's context for a change of the same
// Columns, is column i's context for c too: the value that gives it has
// the same kind, Size and Zoned, and x holds nothing of the values it was
// worked out from (ENUM pairs, memos of ENUM and SET texts).
func ctxHolds(x *ctx, c *Change, i int) bool {
	if x.nenums != 0 || x.nmemo != 0 {
		return false
	}
	v := ctxValue(c, i)
	if v == nil {
		return x.kind == KindAbsent && x.size == 0 && !x.zoned
	}
	return v.Kind == x.kind && v.Size == x.size && v.Zoned == x.zoned && v.Kind != KindEnum
}

// ctxValue returns the value that gives column i its context: its after
// value, or its before value, whichever first has a kind of its own (nil
// when neither has).
func ctxValue(c *Change, i int) *Value {
	if i < len(c.After) && realValue(&c.After[i]) {
		return &c.After[i]
	}
	if i < len(c.Before) && realValue(&c.Before[i]) {
		return &c.Before[i]
	}
	return nil
}

// colCtx sets *x to the context of column i: the kind and Size of its
// after value, or of its before value, whichever first has a kind of its own.
func colCtx(x *ctx, c *Change, i int) {
	*x = ctx{}
	if i < len(c.Columns) {
		x.typ = c.Columns[i].Type
	}
	v := ctxValue(c, i)
	if v == nil {
		return
	}
	x.kind, x.size, x.zoned = v.Kind, v.Size, v.Zoned
	if x.kind == KindEnum {
		if i < len(c.After) {
			addEnumPair(x, &c.After[i])
		}
		if i < len(c.Before) {
			addEnumPair(x, &c.Before[i])
		}
	}
}

// addEnumPair records v's text and index in x when v is a plain ENUM of
// the column whose index the column type does not give, and its text is
// not recorded yet.
func addEnumPair(x *ctx, v *Value) {
	if v.Kind != KindEnum || v.Size != x.size || !onlyFields(v, fB|fU) || !validUTF8(v.B) ||
		enumIndexIn(x, v.B) == v.U {
		return
	}
	for i := range x.nenums {
		if string(x.enums[i].text) == string(v.B) {
			return
		}
	}
	x.enums[x.nenums] = enumPair{text: v.B, index: v.U}
	x.nenums++
}

// colName returns column i's name and whether it is used as its JSON key:
// it must be nonempty valid UTF-8, otherwise the key is "@<i+1>".
func colName(c *Change, i int) (string, bool) {
	if i < len(c.Columns) {
		n := c.Columns[i].Name
		if n != "" && validUTF8(n) {
			return n, true
		}
	}
	return "", false
}

func appendColKey(dst []byte, c *Change, i int) []byte {
	if i < len(c.Columns) && c.Columns[i].Name != "" {
		if out, ok := appendJSONStr(dst, c.Columns[i].Name); ok {
			return out
		}
	}
	dst = append(dst, `"@`...)
	dst = strconv.AppendUint(dst, uint64(i+1), 10)
	return append(dst, '"')
}

// sameKey reports whether columns i and j have the same JSON key.
func sameKey(c *Change, i, j int) bool {
	ni, oki := colName(c, i)
	nj, okj := colName(c, j)
	switch {
	case oki && okj:
		return ni == nj
	case oki:
		return isAtKey(ni, j)
	case okj:
		return isAtKey(nj, i)
	}
	return i == j
}

// isAtKey reports whether name is "@<i+1>".
func isAtKey(name string, i int) bool {
	if len(name) < 2 || name[0] != '@' || name[1] == '0' {
		return false
	}
	n, err := strconv.ParseUint(name[1:], 10, 64)
	return err == nil && n == uint64(i)+1
}

// appendImage appends a row image as an object keyed by column. An absent
// column is left out, unless a later column has the same key: then it is
// written as {"$kind":"absent"} so that readers, matching keys to columns
// in order, stay aligned.
func appendImage(dst []byte, c *Change, ctxs []ctx, img []Value, n int, e *Encoder, kt *keyTable) []byte {
	dst = append(dst, '{')
	sep := false
	keys := keysUnknown
	var tmp ctx
	for i := range img {
		v := &img[i]
		if isZeroValue(v) {
			if keys == keysUnknown {
				if e != nil {
					if e.keys == keysUnknown {
						e.keys = checkKeys(c, n)
					}
					keys = e.keys
				} else {
					keys = checkKeys(c, n)
				}
			}
			if keys == keysUnique || keys == keysRepeat && !laterSameKey(c, i, n) {
				continue
			}
		}
		if sep {
			dst = append(dst, ',')
		}
		sep = true
		dst = appendKeyColon(dst, c, i, kt)
		dst = appendValueJSON(dst, v, ctxOf(c, ctxs, i, &tmp))
	}
	return append(dst, '}')
}

// appendKeyColon appends column i's JSON key and a colon, from kt when
// there is one.
func appendKeyColon(dst []byte, c *Change, i int, kt *keyTable) []byte {
	if kt != nil {
		return append(dst, kt.key(i)...)
	}
	return append(appendColKey(dst, c, i), ':')
}

// What checkKeys found out about the column keys of a change.
const (
	keysUnknown  = iota
	keysUnique   // no two columns share a key: absent columns can all be left out
	keysRepeat   // some may: check each absent column against the later ones
	keysTooMany  // some may, and there are too many columns to check pairs: write every absent column
	maxPairCheck = 128
)

// checkKeys tells whether the n column keys all differ. It compares 64-bit
// hashes of the keys, sorted, so it costs O(n log n), and allocates only for
// tables wider than 128 columns.
func checkKeys(c *Change, n int) int {
	var stack [maxPairCheck]uint64
	hs := stack[:0]
	if n > len(stack) {
		hs = make([]uint64, 0, n)
	}
	for i := 0; i < n; i++ {
		hs = append(hs, keyHash(c, i))
	}
	slices.Sort(hs)
	for i := 1; i < len(hs); i++ {
		if hs[i] == hs[i-1] {
			if n > maxPairCheck {
				return keysTooMany
			}
			return keysRepeat
		}
	}
	return keysUnique
}

// keyHash is the FNV-1a hash of column i's JSON key.
func keyHash(c *Change, i int) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	if name, ok := colName(c, i); ok {
		for j := 0; j < len(name); j++ {
			h = (h ^ uint64(name[j])) * prime
		}
		return h
	}
	var buf [24]byte
	key := strconv.AppendUint(append(buf[:0], '@'), uint64(i+1), 10)
	for _, b := range key {
		h = (h ^ uint64(b)) * prime
	}
	return h
}

func laterSameKey(c *Change, i, n int) bool {
	for j := i + 1; j < n; j++ {
		if sameKey(c, i, j) {
			return true
		}
	}
	return false
}

// appendKey appends "key": the key columns with their after values (before
// values when the after image lacks them, as in deletes).
func appendKey(dst []byte, c *Change, ctxs []ctx, n int, kt *keyTable) []byte {
	mark := len(dst)
	var tmp ctx
	dst = append(dst, `,"key":{`...)
	sep := false
	for i := 0; i < len(c.Columns) && i < n; i++ {
		if !c.Columns[i].Key {
			continue
		}
		var v *Value
		if i < len(c.After) && c.After[i].Present() && c.After[i].Kind != KindUnchanged {
			v = &c.After[i]
		} else if i < len(c.Before) && c.Before[i].Present() && c.Before[i].Kind != KindUnchanged {
			v = &c.Before[i]
		} else {
			continue
		}
		if sep {
			dst = append(dst, ',')
		}
		sep = true
		dst = appendKeyColon(dst, c, i, kt)
		dst = appendValueJSON(dst, v, ctxOf(c, ctxs, i, &tmp))
	}
	if !sep {
		return dst[:mark]
	}
	return append(dst, '}')
}

// appendCols appends "cols" (and "ncols" when the images are longer than
// Columns).
func appendCols(dst []byte, c *Change, ctxs []ctx, n int, kt *keyTable) []byte {
	var tmp ctx
	dst = append(dst, `,"cols":[`...)
	for i := 0; i < n; i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		var col Column
		if i < len(c.Columns) {
			col = c.Columns[i]
		}
		dst = append(dst, '{')
		mark := len(dst)
		if col.Name != "" {
			dst = append(dst, `,"name":`...)
			if kt != nil && kt.named[i] {
				// The key is the name as a JSON string, and a colon.
				k := kt.key(i)
				dst = append(dst, k[:len(k)-1]...)
			} else {
				dst = appendStrField(dst, col.Name)
			}
		}
		if col.Type != "" {
			dst = appendStrField(append(dst, `,"type":`...), col.Type)
		}
		if x := ctxOf(c, ctxs, i, &tmp); x.kind != KindAbsent {
			dst = append(dst, `,"kind":"`...)
			dst = appendKind(dst, x.kind)
			dst = append(dst, '"')
			if x.size != 0 {
				dst = append(dst, `,"size":`...)
				dst = strconv.AppendUint(dst, uint64(x.size), 10)
			}
			if x.zoned {
				dst = append(dst, `,"zoned":true`...)
			}
			if x.nenums > 0 {
				dst = append(dst, `,"enum":{`...)
				for k := range x.nenums {
					if k > 0 {
						dst = append(dst, ',')
					}
					dst, _ = appendJSONStr(dst, x.enums[k].text)
					dst = append(dst, ':')
					dst = strconv.AppendUint(dst, x.enums[k].index, 10)
				}
				dst = append(dst, '}')
			}
		}
		if col.Nullable {
			dst = append(dst, `,"nullable":true`...)
		}
		if col.Key {
			dst = append(dst, `,"key":true`...)
		}
		if len(dst) > mark {
			// Drop the comma before the first member.
			copy(dst[mark:], dst[mark+1:])
			dst = dst[:len(dst)-1]
		}
		dst = append(dst, '}')
	}
	dst = append(dst, ']')
	if len(c.Columns) != n {
		// Images longer than Columns: say how many columns were real.
		dst = append(dst, `,"ncols":`...)
		dst = strconv.AppendUint(dst, uint64(len(c.Columns)), 10)
	}
	return dst
}
