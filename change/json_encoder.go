package change

import "time"

// Encoder writes changes as Sluice JSON lines, byte for byte what
// AppendJSON writes, but faster when consecutive changes share their
// column descriptions, as the changes of one table do: it keeps each
// column's JSON key and the "cols" member it last wrote, and reuses them
// while the columns (compared by value on every call, so a Columns slice
// changed in place is noticed) and the kinds of the values stay the same.
// It also keeps the text of the last line up to its position's row and
// snapshot parts (op, source, db, table, ts, read_ts and the rest of the
// position), which the rows of a snapshot batch and of one binlog event
// share, and the text of the last read time.
//
// The zero Encoder is ready to use. An Encoder is not safe for concurrent
// use: keep one per goroutine, e.g. one per sink.
type Encoder struct {
	valid bool
	// cols is a copy of the Columns the cache describes, n the number of
	// columns of those changes (Columns or the longer image).
	cols []Column
	n    int
	// kt holds `"name":` for every column.
	kt keyTable
	// keys is what checkKeys found out (keysUnknown until an image
	// with an absent value needed it).
	keys int
	// ctxs is room for the column contexts of one change; ctxsValid
	// reports that they are those of the last change, of these Columns.
	ctxs      []ctx
	ctxsValid bool
	// colsText is the "cols" (and "ncols") member last written, for
	// column contexts colsSig; colsValid is false when there is none.
	colsText  []byte
	colsSig   []ctxSig
	colsValid bool
	// keyStart and keyEnd are where, in dst, the last Append wrote the
	// value of the "key" member (equal when it wrote none).
	keyStart, keyEnd int
	// readTime and readText are the last read_ts and its JSON: the rows
	// of a snapshot batch share it.
	readTime time.Time
	readText []byte
	// head is what the last line's text up to its position's row and
	// snapshot parts was made of, headText that text: the rows of a
	// snapshot batch, and of one binlog event, share it.
	head      headKey
	headText  []byte
	headValid bool
}

// headKey is what the text of a line up to its position's row and snapshot
// parts depends on.
type headKey struct {
	op                Op
	source, db, table string
	commit, read      time.Time
	pos               Position // without Row and Snapshot
}

// appendHead appends the text of c up to and with "pos" (the members
// appendHeadFields writes, then the position), reusing the last text when
// c shares what it is made of, and reports false (appending nothing) when
// c's position has no part but its row and snapshot.
func (e *Encoder) appendHead(dst []byte, c *Change) ([]byte, bool) {
	base := c.Pos
	base.Row, base.Snapshot = 0, ""
	k := headKey{op: c.Op, source: c.Source, db: c.Database, table: c.Table, commit: c.CommitTime, read: c.ReadTime, pos: base}
	// The head is only kept for a position with more than a row and
	// snapshot part, so the same head needs no IsZero.
	if !e.headValid || k != e.head {
		if base.IsZero() {
			return dst, false
		}
		// Times that are == print the same; Equal ones in other zones or
		// with other monotonic readings only cost a new text.
		e.head, e.headValid = k, true
		e.headText = appendHeadFields(e.headText[:0], c, e)
		e.headText = append(e.headText, `,"pos":"`...)
		e.headText = appendPositionJSON(e.headText, base)
	}
	dst = append(dst, e.headText...)
	dst = appendPosTail(dst, c.Pos, true)
	return append(dst, '"'), true
}

// appendReadTime appends t as appendUTC does, reusing the last text when
// t is the last read time.
func (e *Encoder) appendReadTime(dst []byte, t time.Time) []byte {
	if !t.Equal(e.readTime) || len(e.readText) == 0 {
		e.readTime = t
		e.readText = appendUTC(e.readText[:0], t)
	}
	return append(dst, e.readText...)
}

// ctxSig is the part of a column context that "cols" shows (for columns
// without ENUM pairs of their own).
type ctxSig struct {
	kind  Kind
	size  uint8
	zoned bool
}

// Append appends c as one line of Sluice JSON (without the trailing
// newline), exactly what AppendJSON(dst, c) appends, and returns the
// extended buffer. Once the encoder has seen c's columns it does not
// allocate when dst has room for the line.
func (e *Encoder) Append(dst []byte, c *Change) []byte {
	return appendJSON(dst, c, e)
}

// AppendKeyed is Append that also reports where, in the returned buffer,
// the value of the line's "key" member starts and ends: out[start:end] is
// the JSON object of the key columns, `{"id":42}`, and start == end when
// the line has no key. Sinks that key their messages (Kafka) use it as the
// message key without encoding the key twice.
func (e *Encoder) AppendKeyed(dst []byte, c *Change) (out []byte, start, end int) {
	out = appendJSON(dst, c, e)
	return out, e.keyStart, e.keyEnd
}

// prepare makes e's cache describe c, whose rows have n columns, and
// makes room for n column contexts.
func (e *Encoder) prepare(c *Change, n int) {
	if !e.same(c, n) {
		e.reset(c, n)
	}
	if cap(e.ctxs) < n {
		e.ctxs = make([]ctx, n)
		e.ctxsValid = false
	}
}

// same reports whether the cache describes c's columns.
func (e *Encoder) same(c *Change, n int) bool {
	if !e.valid || e.n != n || len(e.cols) != len(c.Columns) {
		return false
	}
	for i := range e.cols {
		// Shared strings compare by pointer first, so this is cheap for
		// changes of one table.
		if e.cols[i] != c.Columns[i] {
			return false
		}
	}
	return true
}

func (e *Encoder) reset(c *Change, n int) {
	e.cols = append(e.cols[:0], c.Columns...)
	e.n = n
	e.kt, _ = buildKeys(keyTable{text: e.kt.text[:0], end: e.kt.end[:0], named: e.kt.named[:0]}, c, n, -1)
	e.keys = keysUnknown
	e.colsValid = false
	e.ctxsValid = false
	e.valid = true
}

// appendCols is appendCols, copying the member last written when the
// column contexts are those it was written for.
func (e *Encoder) appendCols(dst []byte, c *Change, ctxs []ctx, n int) []byte {
	if e.colsValid && len(e.colsSig) == len(ctxs) {
		same := true
		for i := range ctxs {
			x := &ctxs[i]
			if x.nenums != 0 || e.colsSig[i] != (ctxSig{x.kind, x.size, x.zoned}) {
				same = false
				break
			}
		}
		if same {
			return append(dst, e.colsText...)
		}
	}
	mark := len(dst)
	dst = appendCols(dst, c, ctxs, n, &e.kt)
	e.colsValid = false
	for i := range ctxs {
		if ctxs[i].nenums != 0 {
			return dst
		}
	}
	e.colsText = append(e.colsText[:0], dst[mark:]...)
	e.colsSig = e.colsSig[:0]
	for i := range ctxs {
		e.colsSig = append(e.colsSig, ctxSig{ctxs[i].kind, ctxs[i].size, ctxs[i].zoned})
	}
	e.colsValid = true
	return dst
}

// keyTable holds the JSON key and a colon, `"name":`, of every column of a
// change, so that each name is checked and escaped once per change (or,
// in an Encoder, once per Columns).
type keyTable struct {
	// text holds the keys back to back; column i's is
	// text[end[i-1]:end[i]] (from 0 for column 0).
	text []byte
	end  []int32
	// named[i] reports whether column i's key is its name (not "@<i+1>").
	named []bool
}

// buildKeys appends the keys of c's n columns to kt and returns it. With
// limit >= 0 it gives up, returning false, rather than let text grow past
// limit bytes. (It works on a copy so that a table on the caller's stack
// stays there.)
func buildKeys(kt keyTable, c *Change, n, limit int) (keyTable, bool) {
	for i := 0; i < n; i++ {
		name, ok := colName(c, i)
		if limit >= 0 && len(kt.text)+6*len(name)+24 > limit {
			return kt, false
		}
		if ok {
			kt.text, _ = appendJSONStr(kt.text, name)
		} else {
			kt.text = appendColKey(kt.text, c, i)
		}
		kt.text = append(kt.text, ':')
		kt.end = append(kt.end, int32(len(kt.text)))
		kt.named = append(kt.named, ok)
	}
	return kt, true
}

// key returns column i's key and colon.
func (kt *keyTable) key(i int) []byte {
	start := int32(0)
	if i > 0 {
		start = kt.end[i-1]
	}
	return kt.text[start:kt.end[i]]
}
