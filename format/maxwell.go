package format

import (
	"encoding/base64"
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/change"
)

// maxwellOptions are the parameters of the maxwell format, named after
// Maxwell's own output options.
type maxwellOptions struct {
	position, gtid, commit, xoffset, nulls bool
	serverID, primaryKeys, pkColumns, ddl  bool
	keyFormat                              string // hash or array
	strict                                 bool
}

func parseMaxwell(p *address.Params) (options, error) {
	o := &maxwellOptions{position: true, gtid: true, commit: true, nulls: true, keyFormat: "hash"}
	p.Bool("output_binlog_position", &o.position)
	p.Bool("output_gtid_position", &o.gtid)
	p.Bool("output_commit_info", &o.commit)
	p.Bool("output_xoffset", &o.xoffset)
	p.Bool("output_nulls", &o.nulls)
	p.Bool("output_server_id", &o.serverID)
	p.Bool("output_primary_keys", &o.primaryKeys)
	p.Bool("output_primary_key_columns", &o.pkColumns)
	p.Bool("output_ddl", &o.ddl)
	p.Enum("kafka_key_format", &o.keyFormat, "hash", "array")
	p.Bool("strict", &o.strict)
	return o, p.Err()
}

func (o *maxwellOptions) beginCommit() bool { return false }

func (o *maxwellOptions) encoder(Target) (Encoder, error) {
	return &maxwellEncoder{opt: *o}, nil
}

// maxwellEncoder writes Maxwell's JSON: one message per row change (and
// per DDL with output_ddl), keyed like Maxwell's Kafka producer.
type maxwellEncoder struct {
	opt maxwellOptions
	c   *change.Change
	tmp []byte
}

func (e *maxwellEncoder) Encode(b *Batch, c *change.Change) error {
	m := b.mark()
	e.c = c
	var err error
	switch c.Op {
	case change.OpInsert, change.OpUpdate, change.OpDelete, change.OpRead:
		err = e.row(b, c)
	case change.OpDDL, change.OpTruncate:
		if e.opt.ddl {
			e.ddl(b, c)
		}
	case change.OpBegin, change.OpCommit, change.OpHeartbeat:
		// Maxwell writes no transaction or heartbeat messages: the rows
		// carry xid and commit.
	default:
		if c.Op.String() == "statement" && e.opt.ddl {
			e.ddl(b, c)
		} else if c.Op.String() == "statement" {
			err = errors.New("a data change the binlog holds as SQL text (binlog_format=STATEMENT) has no Maxwell row; output_ddl=true writes it as a \"statement\" message, or leave statements out (--exclude)")
		}
	}
	if err != nil {
		b.rollback(m)
		return changeError("maxwell", c, err)
	}
	return nil
}

// row writes an insert, update or delete.
func (e *maxwellEncoder) row(b *Batch, c *change.Change) error {
	p := pending{key: none, hdrs: len(b.hdrs)}
	if hasKey(c) {
		start := len(b.buf)
		var err error
		if b.buf, err = e.appendKey(b.buf, c); err != nil {
			return err
		}
		p.key = span{start, len(b.buf)}
	}
	start := len(b.buf)
	dst := b.buf
	dst = append(dst, `{"database":`...)
	dst = appendString(dst, c.Database)
	dst = append(dst, `,"table":`...)
	dst = appendString(dst, c.Table)
	dst = append(dst, `,"type":"`...)
	switch c.Op {
	case change.OpInsert:
		dst = append(dst, "insert"...)
	case change.OpUpdate:
		dst = append(dst, "update"...)
	case change.OpRead:
		// Maxwell's bootstrap writes the rows it reads so.
		dst = append(dst, "bootstrap-insert"...)
	default:
		dst = append(dst, "delete"...)
	}
	dst = append(dst, `","ts":`...)
	dst = appendSeconds(dst, c)
	dst = e.appendTxInfo(dst, c)
	if e.opt.primaryKeys || e.opt.pkColumns {
		var err error
		if dst, err = e.appendPrimaryKey(dst, c); err != nil {
			return err
		}
	}
	img := c.After
	if c.Op == change.OpDelete {
		img = c.Before
	}
	dst = append(dst, `,"data":{`...)
	var err error
	sep := false
	for i := range img {
		v := &img[i]
		if !v.Present() || v.Kind == change.KindUnchanged || (v.Kind == change.KindNull && !e.opt.nulls) {
			continue
		}
		if sep {
			dst = append(dst, ',')
		}
		sep = true
		dst = appendColumnKey(dst, c, i)
		if dst, err = e.appendValue(dst, c, i, v); err != nil {
			return err
		}
	}
	dst = append(dst, '}')
	if c.Op == change.OpUpdate && len(c.Before) > 0 {
		mark := len(dst)
		dst = append(dst, `,"old":{`...)
		sep = false
		for i := range c.Before {
			old := &c.Before[i]
			if !old.Present() || old.Kind == change.KindUnchanged {
				continue
			}
			if i < len(c.After) && (!c.After[i].Present() || c.After[i].Kind == change.KindUnchanged || change.Equal(*old, c.After[i])) {
				continue
			}
			if sep {
				dst = append(dst, ',')
			}
			sep = true
			dst = appendColumnKey(dst, c, i)
			if dst, err = e.appendValue(dst, c, i, old); err != nil {
				return err
			}
		}
		if sep {
			dst = append(dst, '}')
		} else {
			dst = dst[:mark] // no column changed: no "old"
		}
	}
	b.buf = append(dst, '}')
	p.value = span{start, len(b.buf)}
	b.add(p)
	return nil
}

// appendTxInfo appends xid, xoffset, commit, position, gtid and server_id
// as the options ask.
func (e *maxwellEncoder) appendTxInfo(dst []byte, c *change.Change) []byte {
	if e.opt.commit {
		if xid, ok := txNumber(c.Tx.ID); ok {
			dst = append(dst, `,"xid":`...)
			dst = append(dst, xid...)
		}
		if e.opt.xoffset && !c.Tx.Last {
			dst = append(dst, `,"xoffset":`...)
			dst = appendUint(dst, c.Tx.Index)
		}
		if c.Tx.Last {
			dst = append(dst, `,"commit":true`...)
		}
	}
	if e.opt.position && !c.Pos.IsZero() {
		dst = append(dst, `,"position":`...)
		dst = appendPositionText(dst, c.Pos)
	}
	if e.opt.gtid && isGTID(c.Tx.ID) {
		dst = append(dst, `,"gtid":`...)
		dst = appendString(dst, c.Tx.ID)
	}
	if e.opt.serverID {
		if id := gtidServerID(c.Tx.ID); id != 0 {
			dst = append(dst, `,"server_id":`...)
			dst = appendUint(dst, id)
		}
	}
	return dst
}

// appendPrimaryKey appends primary_key and primary_key_columns as the
// options ask.
func (e *maxwellEncoder) appendPrimaryKey(dst []byte, c *change.Change) ([]byte, error) {
	var err error
	if e.opt.primaryKeys {
		dst = append(dst, `,"primary_key":[`...)
		n := 0
		for i := range c.Columns {
			if !c.Columns[i].Key {
				continue
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			if dst, err = e.appendValue(dst, c, i, keyValue(c, i)); err != nil {
				return nil, err
			}
		}
		dst = append(dst, ']')
	}
	if e.opt.pkColumns {
		dst = append(dst, `,"primary_key_columns":[`...)
		n := 0
		for i := range c.Columns {
			if !c.Columns[i].Key {
				continue
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = appendString(dst, c.Columns[i].Name)
		}
		dst = append(dst, ']')
	}
	return dst, nil
}

// appendKey appends Maxwell's Kafka key: {"database":…,"table":…,
// "pk.<col>":…} (kafka_key_format=hash) or [db, table, [{"col":…}]]
// (array), key column names lower-cased as Maxwell does.
func (e *maxwellEncoder) appendKey(dst []byte, c *change.Change) ([]byte, error) {
	var err error
	if e.opt.keyFormat == "array" {
		dst = append(dst, '[')
		dst = appendString(dst, c.Database)
		dst = append(dst, ',')
		dst = appendString(dst, c.Table)
		dst = append(dst, ",["...)
	} else {
		dst = append(dst, `{"database":`...)
		dst = appendString(dst, c.Database)
		dst = append(dst, `,"table":`...)
		dst = appendString(dst, c.Table)
	}
	n := 0
	for i := range c.Columns {
		if !c.Columns[i].Key {
			continue
		}
		if e.opt.keyFormat == "array" {
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '{')
			dst = appendLowerKey(dst, "", c.Columns[i].Name)
		} else {
			dst = append(dst, ',')
			dst = appendLowerKey(dst, "pk.", c.Columns[i].Name)
		}
		n++
		if dst, err = e.appendValue(dst, c, i, keyValue(c, i)); err != nil {
			return nil, err
		}
		if e.opt.keyFormat == "array" {
			dst = append(dst, '}')
		}
	}
	if e.opt.keyFormat == "array" {
		return append(dst, "]]"...), nil
	}
	return append(dst, '}'), nil
}

// appendLowerKey appends `"<prefix><lower-case name>":`.
func appendLowerKey(dst []byte, prefix, name string) []byte {
	dst = append(dst, '"')
	dst = append(dst, prefix...)
	start := len(dst)
	dst, _ = appendStrBody(dst, name)
	for i := start; i < len(dst); i++ {
		if c := dst[i]; c >= 'A' && c <= 'Z' {
			dst[i] = c + 'a' - 'A'
		}
	}
	return append(dst, '"', ':')
}

// ddl writes a DDL change (output_ddl=true) as Maxwell's schema change
// message, its type worked out from the statement; truncates and
// statement-based DML get the types "truncate" and "statement".
func (e *maxwellEncoder) ddl(b *Batch, c *change.Change) {
	start := len(b.buf)
	dst := append(b.buf, `{"type":"`...)
	switch c.Op {
	case change.OpTruncate:
		dst = append(dst, "truncate"...)
	case change.OpDDL:
		dst = append(dst, maxwellDDLType(c.SQL)...)
	default:
		dst = append(dst, "statement"...)
	}
	dst = append(dst, `","database":`...)
	dst = appendString(dst, c.Database)
	if c.Table != "" {
		dst = append(dst, `,"table":`...)
		dst = appendString(dst, c.Table)
	}
	dst = append(dst, `,"ts":`...)
	dst = appendSeconds(dst, c)
	if c.SQL != "" {
		dst = append(dst, `,"sql":`...)
		dst = appendString(dst, c.SQL)
	}
	if e.opt.position && !c.Pos.IsZero() {
		dst = append(dst, `,"position":`...)
		dst = appendPositionText(dst, c.Pos)
	}
	b.buf = append(dst, '}')
	b.addValue(span{start, len(b.buf)})
}

// maxwellDDLType classifies a DDL statement the way Maxwell names its
// schema changes: database-create/-drop/-alter, table-create/-drop/-alter.
func maxwellDDLType(sql string) string {
	words := strings.Fields(strings.ToLower(sqlWithoutComments(sql)))
	verb, object := "", ""
	if len(words) > 0 {
		verb = words[0]
	}
	for _, w := range words[1:] {
		if w == "database" || w == "schema" || w == "table" {
			object = w
			break
		}
		if w == "index" || w == "view" || w == "trigger" {
			break
		}
	}
	kind := "table"
	if object == "database" || object == "schema" {
		kind = "database"
	}
	switch verb {
	case "create":
		if object != "" {
			return kind + "-create"
		}
	case "drop":
		if object != "" {
			return kind + "-drop"
		}
	}
	return kind + "-alter"
}

// sqlWithoutComments drops leading /* … */ and -- comments.
func sqlWithoutComments(s string) string {
	for {
		s = strings.TrimSpace(s)
		switch {
		case strings.HasPrefix(s, "/*"):
			i := strings.Index(s, "*/")
			if i < 0 {
				return ""
			}
			s = s[i+2:]
		case strings.HasPrefix(s, "--") || strings.HasPrefix(s, "#"):
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				return ""
			}
			s = s[i+1:]
		default:
			return s
		}
	}
}

// appendValue appends v, column i's value, in Maxwell's form.
func (e *maxwellEncoder) appendValue(dst []byte, c *change.Change, i int, v *change.Value) ([]byte, error) {
	out, why := appendMaxwellValue(dst, v, &e.tmp)
	if why != "" && e.opt.strict {
		return nil, inexactError(c, i, v, why)
	}
	return out, nil
}

// inexactError is the error of strict=true for column i's value v.
func inexactError(c *change.Change, i int, v *change.Value, why string) error {
	name, typ := "", ""
	if i < len(c.Columns) {
		name, typ = c.Columns[i].Name, c.Columns[i].Type
	}
	return errors.New("column " + name + " (" + typ + "): value " + string(change.AppendText(nil, *v)) + ": " + why + " (strict=true refuses it)")
}

// appendMaxwellValue appends v as Maxwell writes a column value, and
// returns why the form is inexact ("" when it is exact).
func appendMaxwellValue(dst []byte, v *change.Value, tmp *[]byte) ([]byte, string) {
	switch v.Kind {
	case change.KindNull, change.KindAbsent, change.KindUnchanged:
		return append(dst, "null"...), ""
	case change.KindBool:
		if v.I != 0 {
			return append(dst, "true"...), ""
		}
		return append(dst, "false"...), ""
	case change.KindInt, change.KindYear:
		return appendInt(dst, v.I), ""
	case change.KindUint:
		return appendUint(dst, v.U), ""
	case change.KindFloat:
		if math.IsNaN(v.F) || math.IsInf(v.F, 0) {
			return appendFloatJSON(dst, v.F, 64), "a float JSON has no number for (NaN, infinity): written as a string"
		}
		return appendFloatJSON(dst, v.F, floatBits(v.Size)), ""
	case change.KindDecimal:
		if jsonNumber(v.B) {
			return append(dst, v.B...), ""
		}
		return appendString(dst, v.B), "a decimal JSON has no number for (NaN, infinity): written as a string"
	case change.KindString, change.KindEnum:
		out, ok := appendStr(dst, v.B)
		if !ok {
			return out, "not UTF-8: the bytes that are not are written as U+FFFD"
		}
		return out, ""
	case change.KindSet:
		dst = append(dst, '[')
		if len(v.B) > 0 {
			rest := v.B
			for n := 0; ; n++ {
				if n > 0 {
					dst = append(dst, ',')
				}
				i := indexByte(rest, ',')
				if i < 0 {
					dst = appendString(dst, rest)
					break
				}
				dst = appendString(dst, rest[:i])
				rest = rest[i+1:]
			}
		}
		return append(dst, ']'), ""
	case change.KindBytes:
		return appendBase64(dst, v.B, base64.StdEncoding), ""
	case change.KindJSON:
		out, ok := appendRawJSON(dst, v.B)
		if !ok {
			return out, "not valid JSON: written as a string"
		}
		return out, ""
	case change.KindDate, change.KindTime, change.KindDateTime:
		dst = append(dst, '"')
		dst = change.AppendText(dst, *v)
		return append(dst, '"'), ""
	case change.KindTimestamp:
		return appendUTCWallClock(dst, v), ""
	case change.KindBit:
		if v.Size <= 1 {
			if v.U != 0 {
				return append(dst, "true"...), ""
			}
			return append(dst, "false"...), ""
		}
		return appendUint(dst, v.U), ""
	case change.KindGeometry:
		*tmp = appendWKT((*tmp)[:0], v.B)
		if len(*tmp) == 0 {
			return appendBase64(dst, v.B, base64.StdEncoding), "WKB that is not a 2D geometry: written as base64 WKB"
		}
		return appendString(dst, *tmp), ""
	case change.KindVector:
		return appendVector(dst, v.B), ""
	case change.KindArray:
		dst = append(dst, '[')
		why := ""
		for i := range v.Elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			var w string
			dst, w = appendMaxwellValue(dst, &v.Elems[i], tmp)
			if w != "" {
				why = w
			}
		}
		return append(dst, ']'), why
	case change.KindDocument:
		dst = append(dst, '{')
		why := ""
		for i := range v.Elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			name := ""
			if i < len(v.Names) {
				name = v.Names[i]
			}
			dst = appendString(dst, name)
			dst = append(dst, ':')
			var w string
			dst, w = appendMaxwellValue(dst, &v.Elems[i], tmp)
			if w != "" {
				why = w
			}
		}
		return append(dst, '}'), why
	case change.KindUUID, change.KindObjectID, change.KindOther:
		dst = append(dst, '"')
		start := len(dst)
		dst = change.AppendText(dst, *v)
		// Escape what the text may hold.
		*tmp = append((*tmp)[:0], dst[start:]...)
		dst, _ = appendStrBody(dst[:start], *tmp)
		return append(dst, '"'), ""
	}
	*tmp = appendExtJSON((*tmp)[:0], v)
	return appendString(dst, *tmp), ""
}

// appendUTCWallClock appends a KindTimestamp as Maxwell writes TIMESTAMP
// columns: the UTC wall clock, "2024-01-02 03:04:05.678", fraction digits
// as the column's precision; PostgreSQL's infinities as their words.
func appendUTCWallClock(dst []byte, v *change.Value) []byte {
	switch {
	case timestampInfinity(v) > 0:
		return append(dst, `"infinity"`...)
	case timestampInfinity(v) < 0:
		return append(dst, `"-infinity"`...)
	case mysqlZeroTimestamp(v):
		return append(dst, `"0000-00-00 00:00:00"`...)
	}
	u := *v
	u.Off, u.Zoned = 0, false
	dst = append(dst, '"')
	dst = change.AppendText(dst, u)
	return append(dst, '"')
}

// indexByte is bytes.IndexByte.
func indexByte(b []byte, c byte) int {
	for i := range b {
		if b[i] == c {
			return i
		}
	}
	return -1
}

// hasKey reports whether c's table has key columns.
func hasKey(c *change.Change) bool {
	for i := range c.Columns {
		if c.Columns[i].Key {
			return true
		}
	}
	return false
}

// keyValue returns key column i's value: from the after image, else the
// before image.
func keyValue(c *change.Change, i int) *change.Value {
	if i < len(c.After) && c.After[i].Present() && c.After[i].Kind != change.KindUnchanged {
		return &c.After[i]
	}
	if i < len(c.Before) {
		return &c.Before[i]
	}
	return &change.Value{Kind: change.KindNull}
}

// appendColumnKey appends `"name":` for column i ("@<i+1>" without a name).
func appendColumnKey(dst []byte, c *change.Change, i int) []byte {
	if i < len(c.Columns) && c.Columns[i].Name != "" {
		dst = appendString(dst, c.Columns[i].Name)
	} else {
		dst = append(dst, `"@`...)
		dst = appendInt(dst, int64(i+1))
		dst = append(dst, '"')
	}
	return append(dst, ':')
}

// appendSeconds appends the commit time in Unix seconds (the read time
// when the source gave none).
func appendSeconds(dst []byte, c *change.Change) []byte {
	t := c.CommitTime
	if t.IsZero() {
		t = c.ReadTime
	}
	return appendInt(dst, t.Unix())
}

// txNumber returns the number that ends a transaction id (a GTID's
// sequence number, a PostgreSQL xid, a binlog offset), as text.
func txNumber(id string) (string, bool) {
	end := len(id)
	start := end
	for start > 0 && id[start-1] >= '0' && id[start-1] <= '9' {
		start--
	}
	if start == end || end-start > 19 {
		return "", false
	}
	for start < end-1 && id[start] == '0' {
		start++
	}
	return id[start:end], true
}

// appendPositionText appends a position as Maxwell's "position" string:
// "file:offset" for binlogs, the LSN for PostgreSQL, Sluice's text
// otherwise.
func appendPositionText(dst []byte, p change.Position) []byte {
	dst = append(dst, '"')
	start := len(dst)
	switch p.Flavor {
	case change.FlavorBinlog:
		dst, _ = appendStrBody(dst, p.File)
		dst = append(dst, ':')
		dst = appendUint(dst, p.Offset)
	case change.FlavorLSN:
		dst = appendLSN(dst, p.Offset)
	default:
		dst = change.AppendPosition(dst, p)
		return escapeInPlace(dst, start)
	}
	return append(dst, '"')
}

// appendLSN appends an LSN as PostgreSQL prints it: "16/B374D848".
func appendLSN(dst []byte, lsn uint64) []byte {
	dst = appendUpperHex(dst, lsn>>32)
	dst = append(dst, '/')
	return appendUpperHex(dst, lsn&0xffffffff)
}

// appendUpperHex appends u in upper-case hex.
func appendUpperHex(dst []byte, u uint64) []byte {
	start := len(dst)
	dst = strconv.AppendUint(dst, u, 16)
	for i := start; i < len(dst); i++ {
		if c := dst[i]; c >= 'a' && c <= 'f' {
			dst[i] = c - 'a' + 'A'
		}
	}
	return dst
}
