package binlog

import (
	"errors"
	"fmt"
	"math"
	"math/bits"

	"github.com/sluice-cdc/sluice/change"
	"golang.org/x/text/encoding"
)

// Rows event flags (the 16-bit flags of the rows post-header).
const (
	RowsFlagStmtEnd            uint16 = 0x0001 // last rows event of the statement
	RowsFlagNoForeignKeyChecks uint16 = 0x0002
	RowsFlagRelaxedUniqueCheck uint16 = 0x0004
	RowsFlagCompleteRows       uint16 = 0x0008 // the images hold every column
	RowsFlagNoCheckConstraints uint16 = 0x0080 // MariaDB
)

// RowsKind is what a rows event does to each row.
type RowsKind uint8

// Rows event kinds.
const (
	RowsInsert RowsKind = iota + 1
	RowsUpdate
	RowsDelete
)

// maxKeptScratch is the largest scratch buffer a RowsReader keeps between
// rows or events; a bigger one (a huge BLOB or JSON row) is dropped after use.
const maxKeptScratch = 16 << 20

// ErrNoTableMap is wrapped when a rows event names a table id that no
// preceding TABLE_MAP_EVENT mapped.
var ErrNoTableMap = errors.New("no TABLE_MAP_EVENT for table id")

// rowsEventInfo returns the kind, the layout version (0 pre-GA, 1, 2) and
// whether the rows are MariaDB-compressed, or ok=false for a non-rows type.
func rowsEventInfo(t EventType) (kind RowsKind, version int, compressed, ok bool) {
	switch t {
	case PreGAWriteRowsEvent:
		return RowsInsert, 0, false, true
	case PreGAUpdateRowsEvent:
		return RowsUpdate, 0, false, true
	case PreGADeleteRowsEvent:
		return RowsDelete, 0, false, true
	case WriteRowsEventV1:
		return RowsInsert, 1, false, true
	case UpdateRowsEventV1:
		return RowsUpdate, 1, false, true
	case DeleteRowsEventV1:
		return RowsDelete, 1, false, true
	case WriteRowsEventV2:
		return RowsInsert, 2, false, true
	case UpdateRowsEventV2, PartialUpdateRowsEvent:
		return RowsUpdate, 2, false, true
	case DeleteRowsEventV2:
		return RowsDelete, 2, false, true
	case MariaWriteRowsCompressedEventV1:
		return RowsInsert, 1, true, true
	case MariaUpdateRowsCompressedEventV1:
		return RowsUpdate, 1, true, true
	case MariaDeleteRowsCompressedEventV1:
		return RowsDelete, 1, true, true
	case MariaWriteRowsCompressedEvent:
		return RowsInsert, 2, true, true
	case MariaUpdateRowsCompressedEvent:
		return RowsUpdate, 2, true, true
	case MariaDeleteRowsCompressedEvent:
		return RowsDelete, 2, true, true
	}
	return 0, 0, false, false
}

// IsRowsEvent reports whether t is a rows event type this package decodes.
func IsRowsEvent(t EventType) bool {
	_, _, _, ok := rowsEventInfo(t)
	return ok
}

// RowsReader decodes the rows of one rows event lazily: Next finds the
// next row, and only Before and After decode values. It reuses its memory:
// after warm-up, decoding a row allocates nothing. Values' byte slices
// point into the event body or into the reader's scratch buffer and are
// valid until the next call to Next or Reset; Clone what you keep.
//
//	r, err := binlog.NewRowsReader(ev.Header.Type, ev.Body, ev.FDE, tables)
//	for r.Next() {
//		before, err = r.Before(before[:0])
//		after, err = r.After(after[:0])
//	}
//	err = r.Err()
//
// Column types map to change values as follows. Integers: KindInt, or
// KindUint when the signedness metadata says UNSIGNED (without metadata
// every integer is signed), Size the width in bits. FLOAT/DOUBLE: KindFloat.
// DECIMAL: KindDecimal exact text with scale digits ("-0.50"). CHAR,
// VARCHAR, TEXT: KindString decoded to UTF-8 from the column charset
// (binary collation, BLOB without metadata, and charsets without a decoder:
// KindBytes). ENUM/SET: member text and index/bitmap (text empty without the
// member metadata). BIT: KindBit. YEAR: KindYear (0 for 0000). DATE:
// KindDate. TIME/TIME2: KindTime (negative and > 24h kept). DATETIME:
// KindDateTime. TIMESTAMP: KindTimestamp in Unix seconds; MySQL's zero
// timestamp '0000-00-00 00:00:00' is Unix 0 (MySQL cannot store 1970-01-01
// 00:00:00 UTC). Zero and invalid dates are kept as given. JSON: KindJSON
// text as MySQL prints it. GEOMETRY: KindGeometry (SRID, WKB). VECTOR:
// KindVector. A column missing from an image is change.Absent().
type RowsReader struct {
	Type    EventType // the event type, e.g. UpdateRowsEventV2
	Kind    RowsKind  // insert, update or delete
	TableID uint64    // the table id the event refers to
	Flags   uint16    // RowsFlagStmtEnd, ...
	// Extra is the v2 extra row information (NDB or partition info)
	// without its length field, verbatim; nil when absent.
	Extra []byte
	// Table is the TABLE_MAP the event refers to (nil only for the dummy
	// event that carries no rows).
	Table *TableMap

	source  string
	offset  int64
	poff    int64 // payload byte of a nested event, or -1
	ncols   int
	present [2][]byte // column-present bitmaps: [0] before (or the only image), [1] after
	nulls   [2]int    // null-bitmap bytes of each image
	images  int       // images per row: 1 or 2
	partial bool      // PARTIAL_UPDATE_ROWS_EVENT
	data    []byte    // row images
	dataOff int       // body offset of the rows data
	pos     int       // start of the next row in data
	row     int       // 1-based number of the current row
	span    [2][2]int // [image] start and end in data of the current row
	vals    [2][]valSpan
	stale   bool      // NextSpan found the current row: vals not yet recorded
	sizes   []int32   // NextSpan's size table of sizesOf: fixed size, or -prefix bytes
	sizesOf *TableMap // the table sizes describes
	err     error

	arena    []byte
	inflated []byte
	decoders [csCount]*encoding.Decoder
	json     jsonScratch
}

// NewRowsReader returns a reader over the rows of a rows event body (after
// the common header, without the checksum). tables resolves the event's
// table id to its TABLE_MAP. fde gives the table-id width and the flavor;
// nil means a current MySQL server.
func NewRowsReader(typ EventType, body []byte, fde *FormatDescription, tables func(id uint64) *TableMap) (*RowsReader, error) {
	r := &RowsReader{}
	if err := r.Reset(typ, body, fde, tables); err != nil {
		return nil, err
	}
	return r, nil
}

// ResetEvent points the reader at a rows event read by a Reader (or framed
// by ParseEvent), keeping its buffers. It is the variant to use whenever
// the event is at hand: errors name the event's file and offset, and the
// payload byte of an event inside a TRANSACTION_PAYLOAD_EVENT.
func (r *RowsReader) ResetEvent(ev *Event, tables func(id uint64) *TableMap) error {
	postHeaderLen := 0
	if ev.FDE != nil {
		postHeaderLen = ev.FDE.PostHeaderLen(ev.Header.Type)
	}
	r.source, r.offset, r.poff = ev.Source, ev.Offset, -1
	if ev.Nested {
		r.poff = ev.PayloadOffset
	}
	return r.reset(ev.Header.Type, ev.Body, postHeaderLen, tables)
}

// SetLocation names the file (or stream) and the event offset that errors
// of this reader report (until the next Reset).
func (r *RowsReader) SetLocation(source string, offset int64) {
	r.source, r.offset = source, offset
}

// Reset points the reader at a new rows event, keeping its buffers. It has
// no event, so its errors name no file or offset: prefer ResetEvent, or
// call SetLocation after Reset.
func (r *RowsReader) Reset(typ EventType, body []byte, fde *FormatDescription, tables func(id uint64) *TableMap) error {
	postHeaderLen := 0
	if fde != nil {
		postHeaderLen = fde.PostHeaderLen(typ)
	}
	r.source, r.offset, r.poff = "", 0, -1
	return r.reset(typ, body, postHeaderLen, tables)
}

// ResetPostHeader is Reset for callers that know only the post-header
// length of the event type (6 means a 4-byte table id). Like Reset, its
// errors name no file or offset until SetLocation.
func (r *RowsReader) ResetPostHeader(typ EventType, body []byte, postHeaderLen int, tables func(id uint64) *TableMap) error {
	r.source, r.offset, r.poff = "", 0, -1
	return r.reset(typ, body, postHeaderLen, tables)
}

func (r *RowsReader) reset(typ EventType, body []byte, postHeaderLen int, tables func(id uint64) *TableMap) error {
	kind, version, compressed, ok := rowsEventInfo(typ)
	if cap(r.inflated) > maxKeptScratch {
		r.inflated = nil
	}
	*r = RowsReader{
		Type: typ, Kind: kind, source: r.source, offset: r.offset, poff: r.poff,
		arena: r.arena[:0], inflated: r.inflated[:0], decoders: r.decoders, json: r.json, vals: r.vals,
		sizes: r.sizes, sizesOf: r.sizesOf,
	}
	if !ok {
		return r.fail(fmt.Errorf("%w: %s is not a rows event", ErrUnsupported, typ))
	}
	if version == 0 {
		// Old_rows_log_event: the master's record null bytes (whose count
		// and bit offset depend on the table's storage format) followed by
		// every column's value, NULL or not.
		return r.fail(fmt.Errorf("%w: the rows events of MySQL 5.1.0 to 5.1.15 copy the storage engine's record null bytes "+
			"and hold a value for every column, NULL or not, a layout the binlog does not describe", ErrUnsupported))
	}
	idLen := 6
	if postHeaderLen == 6 {
		idLen = 4
	}
	p := 0
	need := func(n int, what string) bool {
		if n < 0 || len(body)-p < n {
			r.fail(fmt.Errorf("%w: %s at body offset %d", ErrTruncated, what, p))
			return false
		}
		return true
	}
	if !need(idLen+2, "post-header") {
		return r.err
	}
	for i := idLen - 1; i >= 0; i-- {
		r.TableID = r.TableID<<8 | uint64(body[p+i])
	}
	p += idLen
	r.Flags = uint16(body[p]) | uint16(body[p+1])<<8
	p += 2
	if version == 2 {
		if !need(2, "extra data length") {
			return r.err
		}
		l := int(body[p]) | int(body[p+1])<<8
		if l < 2 || !need(l, "extra data") {
			if r.err == nil {
				r.fail(fmt.Errorf("%w: extra data length %d", ErrMalformed, l))
			}
			return r.err
		}
		if l > 2 {
			r.Extra = body[p+2 : p+l]
		}
		p += l
	}
	ncols, n, ok := ReadLenenc(body[p:])
	if !ok {
		return r.fail(fmt.Errorf("%w: column count at body offset %d", ErrTruncated, p))
	}
	p += n
	if ncols > uint64(len(body))*8 {
		return r.fail(fmt.Errorf("%w: column count %d exceeds the event", ErrTruncated, ncols))
	}
	r.ncols = int(ncols)
	bm := (r.ncols + 7) / 8
	r.images = 1
	if kind == RowsUpdate {
		r.images = 2
	}
	for i := 0; i < r.images; i++ {
		if !need(bm, "column bitmap") {
			return r.err
		}
		r.present[i] = body[p : p+bm]
		p += bm
		r.nulls[i] = (countBits(r.present[i], r.ncols) + 7) / 8
	}
	if r.images == 1 && kind == RowsInsert {
		// The only image is the after image; keep [1] pointing at it too.
		r.present[1], r.nulls[1] = r.present[0], r.nulls[0]
	}
	r.partial = typ == PartialUpdateRowsEvent
	r.data = body[p:]
	r.dataOff = p
	if compressed {
		out, err := DecompressMariaDB(r.inflated[:0], r.data)
		if err != nil {
			return r.fail(err)
		}
		r.inflated = out
		r.data = out
	}
	if len(r.data) > math.MaxInt32 {
		return r.fail(fmt.Errorf("%w: rows data of %d bytes", ErrUnsupported, len(r.data)))
	}
	if tables != nil {
		r.Table = tables(r.TableID)
	}
	if r.Table == nil {
		if len(r.data) == 0 {
			return nil // the dummy "free table maps" event carries no rows
		}
		return r.fail(fmt.Errorf("%w %d", ErrNoTableMap, r.TableID))
	}
	if r.Table.ColumnCount() != r.ncols {
		return r.fail(fmt.Errorf("%w: event has %d columns, TABLE_MAP of %s.%s has %d",
			ErrMalformed, r.ncols, r.Table.Database, r.Table.Table, r.Table.ColumnCount()))
	}
	if r.Table.unsized {
		return r.checkSized()
	}
	if r.Table.unsureFsp {
		return r.checkClassicTemporal()
	}
	return nil
}

// checkSized fails when the event holds a column that a TABLE_MAP without
// column metadata cannot size.
func (r *RowsReader) checkSized() error {
	for i := range r.Table.cols {
		if !r.Table.cols[i].unsized {
			continue
		}
		for img := 0; img < 2; img++ {
			if len(r.present[img]) > 0 && bitSet(r.present[img], i) {
				r.err = r.colErr(i, fmt.Errorf("%w: the TABLE_MAP of %s.%s has no column metadata (written by MySQL before 5.1.18), "+
					"and a value of this type cannot be sized without it", ErrUnsupported, r.Table.Database, r.Table.Table))
				return r.err
			}
		}
	}
	return nil
}

// PartitionID returns the partition id from the v2 extra row information
// and, for updates, the partition the row came from; ok is false when the
// event carries none.
func (r *RowsReader) PartitionID() (id, source int, ok bool) {
	b := r.Extra
	for len(b) > 0 {
		switch b[0] {
		case 0: // NDB info: length (counting itself and the format byte), format, data
			if len(b) < 2 || int(b[1]) < 2 || int(b[1]) > len(b)-1 {
				return 0, 0, false
			}
			b = b[1+int(b[1]):]
		case 1: // partition info
			if len(b) < 3 {
				return 0, 0, false
			}
			id = int(b[1]) | int(b[2])<<8
			source = id
			if r.Kind == RowsUpdate && len(b) >= 5 {
				source = int(b[3]) | int(b[4])<<8
			}
			return id, source, true
		default:
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// countBits counts the set bits among the first n bits of bitmap.
func countBits(bitmap []byte, n int) int {
	c := 0
	full := n / 8
	for _, b := range bitmap[:full] {
		c += bits.OnesCount8(b)
	}
	if rem := n % 8; rem != 0 {
		c += bits.OnesCount8(bitmap[full] & (1<<uint(rem) - 1))
	}
	return c
}

func bitSet(bitmap []byte, i int) bool { return bitmap[i>>3]&(1<<(uint(i)&7)) != 0 }

// fail records err located at this event and returns it.
func (r *RowsReader) fail(err error) error {
	if r.err == nil {
		r.err = &Error{Source: r.source, Offset: r.offset, Type: r.Type, Row: r.row, Err: r.inPayload(err)}
	}
	return r.err
}

// inPayload names the payload byte of a nested event in err.
func (r *RowsReader) inPayload(err error) error {
	if r.poff < 0 {
		return err
	}
	return fmt.Errorf("payload byte %d: %w", r.poff, err)
}

// colErr locates err at column i (0-based; -1 for the row itself) of the current row.
func (r *RowsReader) colErr(i int, err error) error {
	e := &Error{Source: r.source, Offset: r.offset, Type: r.Type, Row: r.row, Col: i + 1, Err: r.inPayload(err)}
	if r.Table != nil && i >= 0 && i < len(r.Table.cols) {
		e.ColType = r.Table.cols[i].text
	}
	return e
}

// Err returns the first error Next met, or nil.
func (r *RowsReader) Err() error { return r.err }

// Row returns the 1-based number of the current row.
func (r *RowsReader) Row() int { return r.row }

// ColumnCount returns the number of columns of the event.
func (r *RowsReader) ColumnCount() int { return r.ncols }

// Next advances to the next row and reports whether there is one. It
// checks that the row's images are complete but decodes no values.
func (r *RowsReader) Next() bool {
	if r.err != nil || r.Table == nil || r.pos >= len(r.data) {
		return false
	}
	if cap(r.arena) > maxKeptScratch {
		r.arena = nil // do not pin the memory of one huge row for the reader's life
	}
	r.arena = r.arena[:0]
	r.row++
	r.stale = false
	p := r.pos
	for img := 0; img < r.images; img++ {
		bitmap := img
		if r.Kind == RowsInsert {
			bitmap = 1
		}
		end, col, err := r.skipImage(p, bitmap, img)
		if err != nil {
			if col >= 0 {
				r.err = r.colErr(col, err)
			} else {
				r.fail(err)
			}
			return false
		}
		r.span[img] = [2]int{p, end}
		p = end
	}
	if p == r.pos {
		// A row that takes no bytes would repeat forever: no column is present.
		r.fail(fmt.Errorf("%w: row images with no columns", ErrMalformed))
		return false
	}
	r.pos = p
	return true
}

// imageHeader reads the per-image prefix at p: for the after image of a
// PARTIAL_UPDATE_ROWS_EVENT the value options and partial-JSON bitmap, then
// the null bitmap. It returns the partial bitmap (nil when none), the null
// bitmap and the offset of the first value.
func (r *RowsReader) imageHeader(p, img int) (partial, nulls []byte, start int, err error) {
	d := r.data
	if r.partial && img == 1 {
		opts, n, ok := ReadLenenc(d[p:])
		if !ok {
			return nil, nil, 0, fmt.Errorf("%w: value options", ErrTruncated)
		}
		p += n
		if opts&1 != 0 {
			l := (r.Table.jsonCols + 7) / 8
			if len(d)-p < l {
				return nil, nil, 0, fmt.Errorf("%w: partial JSON bitmap", ErrTruncated)
			}
			partial = d[p : p+l]
			p += l
		}
	}
	l := r.nulls[img]
	if len(d)-p < l {
		return nil, nil, 0, fmt.Errorf("%w: null bitmap", ErrTruncated)
	}
	return partial, d[p : p+l], p + l, nil
}

// valSpan is where a column's value lies in the row data: start and end
// offsets, or start valAbsent / valNull.
type valSpan struct{ start, end int32 }

const (
	valAbsent = -1
	valNull   = -2
)

// skipImage walks one image starting at p, records where each value lies
// in vals[sp] and returns where the image ends. On error col is the
// failing column (or -1).
func (r *RowsReader) skipImage(p, img, sp int) (end, col int, err error) {
	_, nulls, p, err := r.imageHeader(p, img)
	if err != nil {
		return 0, -1, err
	}
	cols := r.Table.cols
	if cap(r.vals[sp]) < len(cols) {
		r.vals[sp] = make([]valSpan, len(cols))
	}
	vals := r.vals[sp][:len(cols)]
	r.vals[sp] = vals
	present := r.present[img]
	k := 0
	for i := range cols {
		if !bitSet(present, i) {
			vals[i].start = valAbsent
			continue
		}
		null := bitSet(nulls, k)
		k++
		if null {
			vals[i].start = valNull
			continue
		}
		n, err := valueSize(&cols[i], r.data[p:])
		if err != nil {
			return 0, i, err
		}
		vals[i] = valSpan{int32(p), int32(p + n)}
		p += n
	}
	return p, -1, nil
}

// valueSize returns the size of the value of column c at the start of b.
func valueSize(c *colInfo, b []byte) (int, error) {
	if c.fixed >= 0 {
		if len(b) < c.fixed {
			return 0, ErrTruncated
		}
		return c.fixed, nil
	}
	if len(b) < c.prefix {
		return 0, ErrTruncated
	}
	var l uint64
	for i := c.prefix - 1; i >= 0; i-- {
		l = l<<8 | uint64(b[i])
	}
	if l > uint64(len(b)-c.prefix) {
		return 0, fmt.Errorf("%w: value of %d bytes, %d left", ErrTruncated, l, len(b)-c.prefix)
	}
	return c.prefix + int(l), nil
}

// Before decodes the before image of the current row into dst (resized to
// the column count) and returns it. Columns missing from the image are
// change.Absent(). It returns nil for an insert.
func (r *RowsReader) Before(dst []change.Value) ([]change.Value, error) {
	if r.Kind == RowsInsert || r.row == 0 {
		return nil, nil
	}
	return r.decodeImage(dst, 0)
}

// After decodes the after image of the current row like Before. It returns
// nil for a delete. For a PARTIAL_UPDATE_ROWS_EVENT the JSON diffs are
// applied to the before image, so JSON values are whole documents.
func (r *RowsReader) After(dst []change.Value) ([]change.Value, error) {
	if r.Kind == RowsDelete || r.row == 0 {
		return nil, nil
	}
	if r.Kind == RowsInsert {
		return r.decodeImageAt(dst, 0, 1)
	}
	return r.decodeImage(dst, 1)
}

func (r *RowsReader) decodeImage(dst []change.Value, img int) ([]change.Value, error) {
	return r.decodeImageAt(dst, img, img)
}

// decodeImageAt decodes the image in span[sp] using the bitmaps of image img.
func (r *RowsReader) decodeImageAt(dst []change.Value, sp, img int) ([]change.Value, error) {
	if cap(dst) < r.ncols {
		dst = make([]change.Value, r.ncols)
	}
	dst = dst[:r.ncols]
	if err := r.recordVals(); err != nil {
		return dst, err
	}
	var partial []byte
	if r.partial && img == 1 {
		var err error
		if partial, _, _, err = r.imageHeader(r.span[sp][0], img); err != nil {
			return dst, r.colErr(-1, err)
		}
	}
	cols := r.Table.cols
	vals := r.vals[sp]
	j := 0
	for i := range cols {
		c := &cols[i]
		isPartial := false
		if partial != nil && c.typ == TypeJSON {
			isPartial = j/8 < len(partial) && bitSet(partial, j)
			j++
		}
		vs := vals[i]
		switch vs.start {
		case valAbsent:
			dst[i] = change.Value{}
			continue
		case valNull:
			dst[i] = change.Value{Kind: change.KindNull}
			continue
		}
		v := r.data[vs.start:vs.end:vs.end]
		var err error
		if isPartial {
			dst[i], err = r.applyPartial(i, v[c.prefix:])
		} else {
			err = r.decodeValue(c, v, &dst[i])
		}
		if err != nil {
			return dst, r.colErr(i, err)
		}
	}
	return dst, nil
}

// columnBytes returns the value bytes (without length prefix) of column
// col in span sp of the current row, or ok=false when absent or NULL.
func (r *RowsReader) columnBytes(sp, col int) (v []byte, ok bool, err error) {
	if err := r.recordVals(); err != nil {
		return nil, false, err
	}
	vs := r.vals[sp][col]
	if vs.start < 0 {
		return nil, false, nil
	}
	return r.data[int(vs.start)+r.Table.cols[col].prefix : vs.end], true, nil
}
