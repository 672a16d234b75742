package binlog

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-cdc/sluice/change"
)

// Optional metadata field types of TABLE_MAP_EVENT (binlog_row_metadata).
const (
	tmSignedness             = 1
	tmDefaultCharset         = 2
	tmColumnCharset          = 3
	tmColumnName             = 4
	tmSetStrValue            = 5
	tmEnumStrValue           = 6
	tmGeometryType           = 7
	tmSimplePrimaryKey       = 8
	tmPrimaryKeyWithPrefix   = 9
	tmEnumAndSetDefaultChset = 10
	tmEnumAndSetColumnChset  = 11
	tmColumnVisibility       = 12
)

// TableMap is a decoded TABLE_MAP_EVENT: the table a following rows event
// changes and how to decode each of its columns. Decode it once; the rows
// reader uses the precomputed per-column information for every row.
type TableMap struct {
	TableID  uint64
	Flags    uint16
	Database string
	Table    string
	// Columns describes the columns in table order: Name from the
	// column-name metadata ("" without it), Type text such as
	// "DECIMAL(12,2)", Nullable from the null bitmap, Key from the
	// primary-key metadata.
	Columns []change.Column
	// PrimaryKey holds the 0-based indexes of the primary-key columns and
	// PrimaryKeyPrefix their prefix lengths (0 = whole column), when the
	// metadata says.
	PrimaryKey       []int
	PrimaryKeyPrefix []int
	// HasFullMetadata reports whether any optional metadata was present
	// (binlog_row_metadata=FULL or MINIMAL on MySQL 8 / MariaDB 10.5+).
	HasFullMetadata bool
	// NoColumnMetadata reports an event that ends right after its column
	// types, with no column metadata and no null bitmap: the form MySQL 5.1
	// wrote before 5.1.18. It is read as the server and mariadb-binlog read
	// it (Table_map_log_event leaves the metadata empty, and table_def then
	// takes every column's metadata as 0): CHAR and VARCHAR values have a
	// 1-byte length prefix, FLOAT and DOUBLE are 4 and 8 bytes, and every
	// column counts as NOT NULL. DECIMAL, BIT, BLOB/TEXT, GEOMETRY and JSON
	// values cannot be sized without their metadata: a rows event that
	// holds one fails with ErrUnsupported naming the column.
	NoColumnMetadata bool

	cols      []colInfo
	unsized   bool // some column cannot be sized (NoColumnMetadata)
	unsureFsp bool // MariaDB old-code TIME/DATETIME/TIMESTAMP columns of unknown precision
	jsonCols  int  // number of JSON columns, for PARTIAL_UPDATE_ROWS bitmaps
	mariaDB   bool
	names     []string // column names while decoding
}

// ColumnCount returns the number of columns.
func (t *TableMap) ColumnCount() int { return len(t.cols) }

// ColumnType returns the binlog type code of column i (0-based).
func (t *TableMap) ColumnType(i int) ColumnType { return t.cols[i].typ }

// RealType returns the real type of column i: ENUM or SET for STRING
// columns holding them, otherwise ColumnType(i).
func (t *TableMap) RealType(i int) ColumnType { return t.cols[i].real }

// Unsigned reports whether numeric column i is UNSIGNED per the signedness
// metadata (false when the metadata is absent).
func (t *TableMap) Unsigned(i int) bool { return t.cols[i].unsigned }

// Collation returns the collation id of character, ENUM or SET column i,
// or 0 when the metadata does not say.
func (t *TableMap) Collation(i int) uint32 { return t.cols[i].coll }

// Visible reports whether column i is visible (true unless the visibility
// metadata marks it invisible).
func (t *TableMap) Visible(i int) bool { return t.cols[i].visible }

// SetCharset sets the character set of character column i (CHAR, VARCHAR,
// TEXT/BLOB) by its server
// name ("latin1", "utf8mb4", "binary", ...), for tables logged without
// charset metadata whose schema is known from elsewhere. It updates the
// column's type text and reports whether the name is known. Call it before
// the TableMap is shared.
func (t *TableMap) SetCharset(i int, name string) bool {
	cs := charsetByName(name)
	if cs == csUnknown || i < 0 || i >= len(t.cols) || !t.cols[i].isCharacter(t.mariaDB) {
		return false
	}
	c := &t.cols[i]
	c.cs = cs
	c.text = c.typeText()
	t.Columns[i].Type = c.text
	return true
}

// Members returns the ENUM or SET member names of column i, decoded to
// UTF-8, or nil when the metadata does not list them.
func (t *TableMap) Members(i int) []string {
	m := t.cols[i].members
	if m == nil {
		return nil
	}
	out := make([]string, len(m))
	for j := range m {
		out[j] = string(m[j])
	}
	return out
}

// tmReader reads TABLE_MAP fields with bounds checks.
type tmReader struct {
	b   []byte
	off int
	err error
}

func (r *tmReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s at body offset %d", ErrTruncated, what, r.off)
	}
	r.off = len(r.b)
}

func (r *tmReader) bytes(n int, what string) []byte {
	if r.err != nil || n < 0 || n > len(r.b)-r.off {
		r.fail(what)
		return nil
	}
	p := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return p
}

func (r *tmReader) uint(n int, what string) uint64 {
	p := r.bytes(n, what)
	var v uint64
	for i := len(p) - 1; i >= 0; i-- {
		v = v<<8 | uint64(p[i])
	}
	return v
}

func (r *tmReader) packed(what string) uint64 {
	v, n, ok := ReadLenenc(r.b[min(r.off, len(r.b)):])
	if r.err != nil || !ok {
		r.fail(what)
		return 0
	}
	r.off += n
	return v
}

// ReadLenenc reads a MySQL length-encoded (packed) integer at the start
// of b: its value and length; ok is false when b is cut short or starts
// with 0xfb (NULL) or 0xff. The client protocol's packets use the same
// encoding (source/mysql).
func ReadLenenc(b []byte) (v uint64, n int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	switch c := b[0]; {
	case c < 251:
		return uint64(c), 1, true
	case c == 251: // NULL marker; never valid here
		return 0, 0, false
	case c == 252:
		if len(b) < 3 {
			return 0, 0, false
		}
		return uint64(b[1]) | uint64(b[2])<<8, 3, true
	case c == 253:
		if len(b) < 4 {
			return 0, 0, false
		}
		return uint64(b[1]) | uint64(b[2])<<8 | uint64(b[3])<<16, 4, true
	case c == 254:
		if len(b) < 9 {
			return 0, 0, false
		}
		return le64(b[1:]), 9, true
	}
	return 0, 0, false
}

// errTableMapMeta is wrapped by errors about inconsistent optional metadata.
var errTableMapMeta = errors.New("inconsistent optional metadata")

// DecodeTableMap decodes the body of a TABLE_MAP_EVENT (after the common
// header, without the checksum). fde gives the table-id width and the
// flavor; nil means a current MySQL server.
//
// DecodeTableMap has no event, so its errors are *Error values with Type
// TABLE_MAP_EVENT and the table id and name (when the body got that far)
// but no file or offset. For an event from a Reader or ParseEvent use
// DecodeTableMapEvent, whose errors also name the file, the event offset
// and, for an event inside a TRANSACTION_PAYLOAD_EVENT, the payload byte.
func DecodeTableMap(body []byte, fde *FormatDescription) (*TableMap, error) {
	idLen, mariaDB := 6, false
	if fde != nil {
		idLen, mariaDB = fde.TableIDLen(), fde.MariaDB
	}
	return decodeTableMap(body, idLen, mariaDB)
}

// DecodeTableMapEvent decodes a TABLE_MAP_EVENT read by a Reader (or
// framed by ParseEvent). It is the variant to use whenever the event is at
// hand: errors are *Error values naming the event's file, offset and type,
// the payload byte of a nested event, and the table id and name when known.
func DecodeTableMapEvent(ev *Event) (*TableMap, error) {
	idLen, mariaDB := 6, false
	if ev.FDE != nil {
		idLen, mariaDB = ev.FDE.TableIDLen(), ev.FDE.MariaDB
	}
	t, err := decodeTableMapBody(ev.Body, idLen, mariaDB)
	if err != nil {
		return nil, ev.Wrap(tableMapErr(ev.Body, idLen, err))
	}
	return t, nil
}

// DecodeTableMapPostHeader is DecodeTableMap for callers that only know the
// TABLE_MAP post-header length (6 means a 4-byte table id). Its errors
// carry no file or offset, like DecodeTableMap's.
func DecodeTableMapPostHeader(body []byte, postHeaderLen int, mariaDB bool) (*TableMap, error) {
	idLen := 6
	if postHeaderLen == 6 {
		idLen = 4
	}
	return decodeTableMap(body, idLen, mariaDB)
}

func decodeTableMap(body []byte, idLen int, mariaDB bool) (*TableMap, error) {
	t, err := decodeTableMapBody(body, idLen, mariaDB)
	if err != nil {
		return nil, &Error{Type: TableMapEvent, Err: tableMapErr(body, idLen, err)}
	}
	return t, nil
}

// tableMapErr adds to err the table id and the database and table names,
// as far as body holds them.
func tableMapErr(body []byte, idLen int, err error) error {
	r := &tmReader{b: body}
	id := r.uint(idLen, "table id")
	if r.err != nil {
		return err
	}
	r.uint(2, "flags")
	db := r.bytes(int(r.uint(1, "database name length")), "database name")
	r.bytes(1, "database name terminator")
	tbl := r.bytes(int(r.uint(1, "table name length")), "table name")
	if r.err != nil {
		return fmt.Errorf("table id %d: %w", id, err)
	}
	return fmt.Errorf("table id %d (%s.%s): %w", id,
		strings.ToValidUTF8(string(db), "\uFFFD"), strings.ToValidUTF8(string(tbl), "\uFFFD"), err)
}

func decodeTableMapBody(body []byte, idLen int, mariaDB bool) (*TableMap, error) {
	r := &tmReader{b: body}
	t := &TableMap{mariaDB: mariaDB}
	t.TableID = r.uint(idLen, "table id")
	t.Flags = uint16(r.uint(2, "flags"))
	dbLen := int(r.uint(1, "database name length"))
	t.Database = string(r.bytes(dbLen, "database name"))
	r.bytes(1, "database name terminator")
	tblLen := int(r.uint(1, "table name length"))
	t.Table = string(r.bytes(tblLen, "table name"))
	r.bytes(1, "table name terminator")
	ncols := r.packed("column count")
	if r.err != nil {
		return nil, r.err
	}
	if ncols > uint64(len(body)) { // one type byte per column must fit
		return nil, fmt.Errorf("%w: column count %d exceeds the event", ErrTruncated, ncols)
	}
	n := int(ncols)
	types := r.bytes(n, "column types")
	if r.err != nil {
		return nil, r.err
	}
	var meta, nulls []byte
	if r.off == len(body) {
		t.NoColumnMetadata = true
	} else {
		metaLenTotal := r.packed("metadata length")
		if r.err != nil {
			return nil, r.err
		}
		if metaLenTotal > uint64(len(body)) {
			return nil, fmt.Errorf("%w: metadata length %d exceeds the event", ErrTruncated, metaLenTotal)
		}
		meta = r.bytes(int(metaLenTotal), "column metadata")
		nulls = r.bytes((n+7)/8, "null bitmap")
		if r.err != nil {
			return nil, r.err
		}
	}
	t.cols = make([]colInfo, n)
	mp := 0
	for i := range t.cols {
		c := &t.cols[i]
		c.typ = ColumnType(types[i])
		c.visible = true
		var why string
		if t.NoColumnMetadata {
			why = c.setupWithoutMetadata()
			t.unsized = t.unsized || c.unsized
		} else {
			ml := metaLen(c.typ)
			if mp+ml > len(meta) {
				return nil, fmt.Errorf("%w: metadata of column %d", ErrTruncated, i+1)
			}
			var m [2]byte
			copy(m[:], meta[mp:mp+ml])
			mp += ml
			why = c.setup(m[:])
		}
		if why != "" {
			return nil, fmt.Errorf("%w: column %d: %s", ErrMalformed, i+1, why)
		}
		if c.typ == TypeJSON {
			t.jsonCols++
		}
		if mariaDB && isOldTemporal(c.typ) && !c.nometa {
			t.unsureFsp = true
		}
	}
	if err := t.decodeOptional(body[r.off:]); err != nil {
		return nil, err
	}
	t.Columns = make([]change.Column, n)
	for i := range t.cols {
		c := &t.cols[i]
		if c.coll != 0 {
			c.cs = collationCharset(c.coll)
		}
		c.text = c.typeText()
		t.Columns[i].Type = c.text
		t.Columns[i].Nullable = nulls != nil && nulls[i/8]&(1<<(uint(i)%8)) != 0
	}
	for _, k := range t.PrimaryKey {
		t.Columns[k].Key = true
	}
	if t.names != nil {
		for i := range t.Columns {
			t.Columns[i].Name = t.names[i]
		}
		t.names = nil
	}
	return t, nil
}
