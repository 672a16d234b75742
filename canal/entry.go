package canal

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sluice-cdc/sluice/change"
)

// This file builds proto/entry_protocol.proto's Entry from a
// change.Change, appending the protobuf bytes straight from the change
// (no intermediate message structs): TRANSACTIONBEGIN, ROWDATA (a row
// change, DDL or statement) and TRANSACTIONEND, as Canal's parser builds
// them. docs/canal.md documents every field.

// EntryType values.
const (
	entryTransactionBegin = 1
	entryRowData          = 2
	entryTransactionEnd   = 3
)

// EventType values.
const (
	eventInsert   = 1
	eventUpdate   = 2
	eventDelete   = 3
	eventCreate   = 4
	eventAlter    = 5
	eventErase    = 6
	eventQuery    = 7
	eventTruncate = 8
	eventRename   = 9
	eventCIndex   = 10
	eventDIndex   = 11
)

// Type (Header.sourceType) values.
const (
	sourceMySQL = 2
	sourcePgSQL = 3
)

// Field numbers of EntryProtocol.proto's messages.
const (
	fEntryHeader     = 1
	fEntryType       = 2
	fEntryStoreValue = 3

	fHeaderVersion       = 1
	fHeaderLogfileName   = 2
	fHeaderLogfileOffset = 3
	fHeaderServerID      = 4
	fHeaderServerenCode  = 5
	fHeaderExecuteTime   = 6
	fHeaderSourceType    = 7
	fHeaderSchemaName    = 8
	fHeaderTableName     = 9
	fHeaderEventLength   = 10
	fHeaderEventType     = 11
	fHeaderProps         = 12
	fHeaderGtid          = 13

	fColumnIndex     = 1
	fColumnSQLType   = 2
	fColumnName      = 3
	fColumnIsKey     = 4
	fColumnUpdated   = 5
	fColumnIsNull    = 6
	fColumnProps     = 7
	fColumnValue     = 8
	fColumnLength    = 9
	fColumnMySQLType = 10

	fRowDataBefore = 1
	fRowDataAfter  = 2
	fRowDataProps  = 3

	fRowChangeTableID       = 1
	fRowChangeEventType     = 2
	fRowChangeIsDdl         = 10
	fRowChangeSQL           = 11
	fRowChangeRowDatas      = 12
	fRowChangeProps         = 13
	fRowChangeDdlSchemaName = 14

	fBeginExecuteTime   = 1
	fBeginTransactionID = 2
	fBeginProps         = 3
	fBeginThreadID      = 4

	fEndExecuteTime   = 1
	fEndTransactionID = 2
	fEndProps         = 3

	fPairKey   = 1
	fPairValue = 2
)

// entryEncoder turns changes into Entry messages. Its buffers are reused
// from entry to entry; it is not safe for concurrent use.
type entryEncoder struct {
	zone  *time.Location // MySQL TIMESTAMP values are shown in this zone
	store []byte         // the storeValue being built
	text  []byte         // a value's text
	prev  []byte         // the before image's texts (updates)
	spans []span         // per column index: where its before text is in prev
	pos   []byte         // a position's text

	gtidID   string // the last Tx.ID looked at, and whether it is a GTID
	gtidIsID bool

	// bases are the typeBase of the columns of the last Columns slice
	// seen (sources share one per table version), which starts at cols.
	cols  *change.Column
	bases []string
}

// columnBases returns the typeBase of every column of cols, computed once
// per Columns slice.
func (e *entryEncoder) columnBases(cols []change.Column) []string {
	if len(cols) == 0 {
		return nil
	}
	if &cols[0] != e.cols || len(cols) != len(e.bases) {
		e.cols, e.bases = &cols[0], e.bases[:0]
		for i := range cols {
			base, _ := typeBase(cols[i].Type)
			e.bases = append(e.bases, base)
		}
	}
	return e.bases
}

// span locates a before-image value: null, absent, or prev[from:to].
type span struct {
	from, to int32
	state    uint8 // 0 absent, 1 null, 2 value
}

func newEntryEncoder(zone *time.Location) *entryEncoder {
	if zone == nil {
		zone = time.Local
	}
	return &entryEncoder{zone: zone}
}

// entryKind is what entry a change becomes, or 0 for none (heartbeats).
func entryKind(c *change.Change) int {
	switch c.Op {
	case change.OpBegin:
		return entryTransactionBegin
	case change.OpCommit:
		return entryTransactionEnd
	case change.OpHeartbeat:
		return 0
	case change.OpInsert, change.OpUpdate, change.OpDelete, change.OpRead, change.OpDDL, change.OpTruncate, change.OpStatement:
		return entryRowData
	}
	if c.SQL != "" {
		return entryRowData // a statement (statement-based DML and the like)
	}
	return 0
}

// isRow reports whether op is a row change (a snapshot's read row is an
// insert for Canal, which has no event for it).
func isRow(op change.Op) bool {
	return op == change.OpInsert || op == change.OpUpdate || op == change.OpDelete || op == change.OpRead
}

// entryBytes is the size of a row entry's RowChange past which it takes no
// more rows. Canal puts the rows of one binlog rows event (8 KiB of binlog
// by default, some tens of KiB as entries) in one entry; so does Sluice,
// for the rows of a run of changes that could be one such event.
const entryBytes = 32 << 10

// sameEntry reports whether row change b may share the entry of row change
// a: same transaction, table and event type, and a header that would be
// the same but for the position.
func sameEntry(a, b *change.Change) bool {
	return a.Op == b.Op &&
		a.Tx.ID == b.Tx.ID && a.Table == b.Table && a.Database == b.Database && a.Source == b.Source &&
		a.Pos.Flavor == b.Pos.Flavor && a.Pos.Offset == b.Pos.Offset && a.Pos.File == b.Pos.File && a.Pos.GTIDSet == b.Pos.GTIDSet &&
		a.CommitTime.Equal(b.CommitTime)
}

// appendEntry appends a serialized Entry (without a length prefix) for
// the changes at the front of cs and returns how many it took: one,
// except for a row change, whose entry takes the row changes after it
// that sameEntry allows while its RowChange is under entryBytes, as
// Canal's entry of a rows event holds its rows. ok is false when cs[0]
// is no entry at all (a heartbeat; n is then 1 and nothing is appended).
// The grouping depends on cs only, so the same changes always make the
// same entries.
func (e *entryEncoder) appendEntry(dst []byte, cs []change.Change) (_ []byte, n int, ok bool) {
	c := &cs[0]
	kind := entryKind(c)
	if kind == 0 {
		return dst, 1, false
	}
	var evType int32
	n = 1
	e.store = e.store[:0]
	switch {
	case kind == entryTransactionBegin:
		if c.Tx.ID != "" {
			e.store = appendStringField(e.store, fBeginTransactionID, c.Tx.ID)
		}
	case kind == entryTransactionEnd:
		if c.Tx.ID != "" {
			e.store = appendStringField(e.store, fEndTransactionID, c.Tx.ID)
		}
	case isRow(c.Op):
		evType, n = e.appendRows(cs)
	default:
		evType = e.appendRowChange(c)
	}
	dst = protowire.AppendTag(dst, fEntryHeader, protowire.BytesType)
	dst, m := appendLenBegin(dst, 2)
	dst = e.appendHeader(dst, c, &cs[n-1], n, kind, evType, len(e.store))
	dst = appendLenEnd(dst, m)
	dst = protowire.AppendTag(dst, fEntryType, protowire.VarintType)
	dst = protowire.AppendVarint(dst, uint64(kind))
	dst = protowire.AppendTag(dst, fEntryStoreValue, protowire.BytesType)
	dst = protowire.AppendBytes(dst, e.store)
	return dst, n, true
}

// gtidPattern matches a MariaDB (domain-server-seq) or MySQL (uuid:n) GTID.
var gtidPattern = regexp.MustCompile(`^(?:[0-9]+-[0-9]+-[0-9]+|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}:(?:[A-Za-z_][A-Za-z0-9_]*:)?[0-9]+)$`)

// isGTID reports whether a transaction id is a GTID (MySQL without GTIDs
// names transactions by file and offset instead).
func (e *entryEncoder) isGTID(id string) bool {
	if id != e.gtidID {
		e.gtidID, e.gtidIsID = id, gtidPattern.MatchString(id)
	}
	return e.gtidIsID
}

// appendHeader appends the fields of the Header of an entry of rows
// changes from c to last (c itself for entries of one change).
func (e *entryEncoder) appendHeader(dst []byte, c, last *change.Change, rows int, kind int, evType int32, storeLen int) []byte {
	fam := familyOf(c.Source)
	dst = protowire.AppendTag(dst, fHeaderVersion, protowire.VarintType)
	dst = protowire.AppendVarint(dst, 1)
	if c.Pos.File != "" {
		dst = appendStringField(dst, fHeaderLogfileName, c.Pos.File)
	}
	if c.Pos.Offset != 0 {
		dst = protowire.AppendTag(dst, fHeaderLogfileOffset, protowire.VarintType)
		dst = protowire.AppendVarint(dst, c.Pos.Offset)
	}
	dst = appendStringField(dst, fHeaderServerenCode, "UTF-8")
	if !c.CommitTime.IsZero() {
		dst = protowire.AppendTag(dst, fHeaderExecuteTime, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(c.CommitTime.UnixMilli()))
	}
	switch fam {
	case familyMySQL:
		dst = protowire.AppendTag(dst, fHeaderSourceType, protowire.VarintType)
		dst = protowire.AppendVarint(dst, sourceMySQL)
	case familyPostgres:
		dst = protowire.AppendTag(dst, fHeaderSourceType, protowire.VarintType)
		dst = protowire.AppendVarint(dst, sourcePgSQL)
	}
	if kind == entryRowData {
		dst = appendStringField(dst, fHeaderSchemaName, c.Database)
		dst = appendStringField(dst, fHeaderTableName, c.Table)
	}
	if storeLen > 0 {
		dst = protowire.AppendTag(dst, fHeaderEventLength, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(storeLen))
	}
	if kind == entryRowData {
		dst = protowire.AppendTag(dst, fHeaderEventType, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(evType))
	}
	if fam == familyMySQL && c.Tx.ID != "" && e.isGTID(c.Tx.ID) {
		dst = appendPair(dst, fHeaderProps, "curtGtid", c.Tx.ID)
	}
	if kind == entryRowData && isRow(c.Op) {
		e.pos = strconv.AppendInt(e.pos[:0], int64(rows), 10)
		dst = appendPairBytes(dst, fHeaderProps, "rowsCount", e.pos)
	}
	if c.Source != "" {
		dst = appendPair(dst, fHeaderProps, "source", c.Source)
	}
	if !last.Pos.IsZero() {
		e.pos = last.Pos.Append(e.pos[:0])
		dst = appendPairBytes(dst, fHeaderProps, "position", e.pos)
	}
	if c.Pos.GTIDSet != "" {
		dst = appendStringField(dst, fHeaderGtid, c.Pos.GTIDSet)
	}
	return dst
}

// appendRowChange appends the RowChange of c, a DDL, truncate or
// statement, to e.store and returns its event type.
func (e *entryEncoder) appendRowChange(c *change.Change) int32 {
	var ev int32
	isDDL := false
	sql := c.SQL
	switch c.Op {
	case change.OpDDL:
		ev, isDDL = ddlEventType(c.SQL), true
	case change.OpTruncate:
		ev, isDDL = eventTruncate, true
		if sql == "" {
			sql = truncateSQL(c)
		}
	default: // OpStatement: DML keeps its type and isDdl false, as Canal's QUERY events
		ev = statementEventType(c.SQL)
		isDDL = ev == eventQuery
	}
	s := e.store
	s = protowire.AppendTag(s, fRowChangeEventType, protowire.VarintType)
	s = protowire.AppendVarint(s, uint64(ev))
	s = protowire.AppendTag(s, fRowChangeIsDdl, protowire.VarintType)
	s = protowire.AppendVarint(s, protowire.EncodeBool(isDDL))
	if sql != "" {
		s = appendStringField(s, fRowChangeSQL, sql)
	}
	if c.Database != "" {
		s = appendStringField(s, fRowChangeDdlSchemaName, c.Database)
	}
	e.store = s
	return ev
}

// appendRows appends to e.store the RowChange of the row change cs[0] and
// of the row changes after it that share its entry (sameEntry, while the
// RowChange is under entryBytes): one RowData per row, each with its
// position in its props. It returns the event type and the rows taken.
func (e *entryEncoder) appendRows(cs []change.Change) (int32, int) {
	c := &cs[0]
	var ev int32
	switch c.Op {
	case change.OpUpdate:
		ev = eventUpdate
	case change.OpDelete:
		ev = eventDelete
	default: // insert, read
		ev = eventInsert
	}
	s := e.store
	s = protowire.AppendTag(s, fRowChangeEventType, protowire.VarintType)
	s = protowire.AppendVarint(s, uint64(ev))
	s = protowire.AppendTag(s, fRowChangeIsDdl, protowire.VarintType)
	s = protowire.AppendVarint(s, protowire.EncodeBool(false))
	n := 0
	for n < len(cs) && (n == 0 || len(s) < entryBytes && sameEntry(c, &cs[n])) {
		r := &cs[n]
		s = protowire.AppendTag(s, fRowChangeRowDatas, protowire.BytesType)
		var m lenMark
		s, m = appendLenBegin(s, 2)
		s = e.appendRowData(s, r)
		if !r.Pos.IsZero() {
			e.pos = r.Pos.Append(e.pos[:0])
			s = appendPairBytes(s, fRowDataProps, "position", e.pos)
		}
		s = appendLenEnd(s, m)
		n++
	}
	e.store = s
	return ev, n
}

// appendRowData appends the RowData fields of a row change: the before
// image (updates, deletes), then the after image (inserts, updates, reads).
func (e *entryEncoder) appendRowData(dst []byte, c *change.Change) []byte {
	fam := familyOf(c.Source)
	e.prev = e.prev[:0]
	if cap(e.spans) < len(c.Columns) {
		e.spans = make([]span, len(c.Columns))
	}
	e.spans = e.spans[:len(c.Columns)]
	clear(e.spans)
	bases := e.columnBases(c.Columns)
	if c.Op == change.OpUpdate || c.Op == change.OpDelete {
		keep := c.Op == change.OpUpdate
		for i := range c.Columns {
			if i >= len(c.Before) || !c.Before[i].Present() || c.Before[i].Kind == change.KindUnchanged {
				continue
			}
			dst = e.appendColumn(dst, fRowDataBefore, fam, i, &c.Columns[i], bases[i], &c.Before[i], false, keep)
		}
	}
	if c.Op != change.OpDelete {
		for i := range c.Columns {
			if i >= len(c.After) || !c.After[i].Present() || c.After[i].Kind == change.KindUnchanged {
				continue
			}
			dst = e.appendColumn(dst, fRowDataAfter, fam, i, &c.Columns[i], bases[i], &c.After[i], true, false)
		}
	}
	return dst
}

// appendColumn appends one Column as field field of a RowData; base is
// typeBase(col.Type). An after
// column is "updated" unless the before image has the same text (or NULL)
// at its index, as Canal decides; keep records a before column's text for
// that comparison.
func (e *entryEncoder) appendColumn(dst []byte, field protowire.Number, fam sourceFamily, i int, col *change.Column, base string, v *change.Value, after, keep bool) []byte {
	null := v.Kind == change.KindNull
	var sqlType int32
	e.text = e.text[:0]
	if !null {
		e.text = valueText(e.text, fam, v, e.zone)
	}
	switch {
	case fam == familyPostgres:
		sqlType = postgresType(base, v.Kind)
	case fam == familyMongo:
		sqlType = kindSQLType(v.Kind)
	case null:
		sqlType = mysqlNullType(base, v.Kind)
	default:
		sqlType = mysqlType(base, v)
	}
	updated := false
	if after {
		updated = true
		if sp := e.spans[i]; sp.state == 1 && null || sp.state == 2 && !null && string(e.prev[sp.from:sp.to]) == string(e.text) {
			updated = false
		}
	} else if keep {
		if null {
			e.spans[i] = span{state: 1}
		} else {
			from := len(e.prev)
			e.prev = append(e.prev, e.text...)
			e.spans[i] = span{from: int32(from), to: int32(len(e.prev)), state: 2}
		}
	}
	dst = protowire.AppendTag(dst, field, protowire.BytesType)
	dst, m := appendLenBegin(dst, 1)
	if i != 0 {
		dst = protowire.AppendTag(dst, fColumnIndex, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(i))
	}
	if sqlType != 0 {
		dst = protowire.AppendTag(dst, fColumnSQLType, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(int64(sqlType)))
	}
	if col.Name != "" {
		dst = appendStringField(dst, fColumnName, col.Name)
	}
	if col.Key {
		dst = protowire.AppendTag(dst, fColumnIsKey, protowire.VarintType)
		dst = protowire.AppendVarint(dst, 1)
	}
	if updated {
		dst = protowire.AppendTag(dst, fColumnUpdated, protowire.VarintType)
		dst = protowire.AppendVarint(dst, 1)
	}
	dst = protowire.AppendTag(dst, fColumnIsNull, protowire.VarintType)
	dst = protowire.AppendVarint(dst, protowire.EncodeBool(null))
	if len(e.text) > 0 {
		dst = protowire.AppendTag(dst, fColumnValue, protowire.BytesType)
		dst = protowire.AppendBytes(dst, e.text)
	}
	if col.Type != "" {
		dst = appendStringField(dst, fColumnMySQLType, col.Type)
	}
	return appendLenEnd(dst, m)
}

// ddlEventType classifies a DDL statement as Canal's DDL parser does:
// CREATE/ALTER/DROP/TRUNCATE/RENAME TABLE, CREATE/DROP INDEX; anything
// else (CREATE DATABASE, views, grants …) is QUERY.
func ddlEventType(sql string) int32 {
	w1, rest := nextWord(sql)
	w2, rest := nextWord(rest)
	if w2 == "TEMPORARY" || w2 == "ONLINE" || w2 == "OFFLINE" || w2 == "IGNORE" || w2 == "UNIQUE" || w2 == "FULLTEXT" || w2 == "SPATIAL" {
		w2, _ = nextWord(rest)
	}
	switch {
	case w1 == "CREATE" && w2 == "TABLE":
		return eventCreate
	case w1 == "ALTER" && w2 == "TABLE":
		return eventAlter
	case w1 == "DROP" && w2 == "TABLE":
		return eventErase
	case w1 == "TRUNCATE":
		return eventTruncate
	case w1 == "RENAME" && w2 == "TABLE":
		return eventRename
	case w1 == "CREATE" && w2 == "INDEX":
		return eventCIndex
	case w1 == "DROP" && w2 == "INDEX":
		return eventDIndex
	}
	return eventQuery
}

// statementEventType classifies a logged statement: INSERT, UPDATE,
// DELETE (and REPLACE, as an insert) keep their type, anything else is QUERY.
func statementEventType(sql string) int32 {
	switch w, _ := nextWord(sql); w {
	case "INSERT", "REPLACE":
		return eventInsert
	case "UPDATE":
		return eventUpdate
	case "DELETE":
		return eventDelete
	}
	return eventQuery
}

// nextWord returns the first word of s in upper case, skipping spaces
// and comments, and the rest of s.
func nextWord(s string) (string, string) {
	for {
		s = strings.TrimLeft(s, " \t\r\n(")
		switch {
		case strings.HasPrefix(s, "/*"):
			if i := strings.Index(s, "*/"); i >= 0 {
				s = s[i+2:]
				continue
			}
			return "", ""
		case strings.HasPrefix(s, "--") || strings.HasPrefix(s, "#"):
			if i := strings.IndexByte(s, '\n'); i >= 0 {
				s = s[i+1:]
				continue
			}
			return "", ""
		}
		break
	}
	i := 0
	for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z' || s[i] == '_') {
		i++
	}
	return strings.ToUpper(s[:i]), s[i:]
}

// truncateSQL is the statement a TRUNCATE change without SQL text stands for.
func truncateSQL(c *change.Change) string {
	q := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	if familyOf(c.Source) == familyMySQL {
		q = func(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
	}
	if c.Database == "" {
		return "TRUNCATE TABLE " + q(c.Table)
	}
	return "TRUNCATE TABLE " + q(c.Database) + "." + q(c.Table)
}

func appendStringField(dst []byte, num protowire.Number, s string) []byte {
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendString(dst, s)
}

// appendPair appends a Pair{key, value} as field num.
func appendPair(dst []byte, num protowire.Number, key, value string) []byte {
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(2+len(key)+protowire.SizeVarint(uint64(len(key)))+
		protowire.SizeVarint(uint64(len(value)))+len(value)))
	dst = appendStringField(dst, fPairKey, key)
	return appendStringField(dst, fPairValue, value)
}

// appendPairBytes is appendPair with the value as bytes.
func appendPairBytes(dst []byte, num protowire.Number, key string, value []byte) []byte {
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(2+len(key)+protowire.SizeVarint(uint64(len(key)))+
		protowire.SizeVarint(uint64(len(value)))+len(value)))
	dst = appendStringField(dst, fPairKey, key)
	dst = protowire.AppendTag(dst, fPairValue, protowire.BytesType)
	return protowire.AppendBytes(dst, value)
}

// itoa is strconv.Itoa, for the few places that format ids.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }
