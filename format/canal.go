package format

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/change"
)

// canalOptions are the parameters of the canal-json format.
type canalOptions struct {
	zone   *time.Location
	strict bool
}

func parseCanal(p *address.Params) (options, error) {
	o := &canalOptions{zone: time.UTC}
	var zone string
	p.String("time.zone", &zone)
	p.Bool("strict", &o.strict)
	if err := p.Err(); err != nil {
		return nil, err
	}
	if zone != "" {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			return nil, fmt.Errorf("parameter time.zone=%q: want an IANA time zone such as UTC or Asia/Shanghai", zone)
		}
		o.zone = loc
	}
	return o, nil
}

func (o *canalOptions) beginCommit() bool { return false }

func (o *canalOptions) encoder(Target) (Encoder, error) { return &canalEncoder{opt: *o}, nil }

// canalEncoder writes Canal's flat message, as Canal's MQ mode
// (canal.mq.flatMessage=true) sends it to Kafka or RocketMQ: one message
// per change, every value the text Canal gives it.
type canalEncoder struct {
	opt       canalOptions
	tmp, prev []byte
}

func (e *canalEncoder) Encode(b *Batch, c *change.Change) error {
	m := b.mark()
	var err error
	switch c.Op {
	case change.OpInsert, change.OpUpdate, change.OpDelete, change.OpRead:
		err = e.row(b, c)
	case change.OpBegin, change.OpCommit, change.OpHeartbeat:
		// Canal's MQ mode sends no transaction entries.
	default: // DDL, truncate, statement
		e.query(b, c)
	}
	if err != nil {
		b.rollback(m)
		return changeError("canal-json", c, err)
	}
	return nil
}

// canalHeader appends the members every flat message starts with, up to
// sql.
func canalHeader(dst []byte, c *change.Change, pk bool, ddl bool, typ string) []byte {
	dst = append(dst, `{"id":0,"database":`...)
	dst = appendString(dst, c.Database)
	dst = append(dst, `,"table":`...)
	dst = appendString(dst, c.Table)
	dst = append(dst, `,"pkNames":`...)
	if pk {
		dst = append(dst, '[')
		n := 0
		for i := range c.Columns {
			if c.Columns[i].Key {
				if n > 0 {
					dst = append(dst, ',')
				}
				n++
				dst = appendString(dst, c.Columns[i].Name)
			}
		}
		dst = append(dst, ']')
	} else {
		dst = append(dst, "null"...)
	}
	if ddl {
		dst = append(dst, `,"isDdl":true,"type":"`...)
	} else {
		dst = append(dst, `,"isDdl":false,"type":"`...)
	}
	dst = append(dst, typ...)
	dst = append(dst, `","es":`...)
	dst = appendMillis(dst, c)
	dst = append(dst, `,"ts":`...)
	t := c.ReadTime
	if t.IsZero() {
		t = c.CommitTime
	}
	return appendInt(dst, t.UnixMilli())
}

// row writes an insert, update or delete.
func (e *canalEncoder) row(b *Batch, c *change.Change) error {
	p := pending{key: none, hdrs: len(b.hdrs)}
	pk := hasKey(c)
	if pk {
		start := len(b.buf)
		b.buf = append(b.buf, '{')
		n := 0
		for i := range c.Columns {
			if !c.Columns[i].Key {
				continue
			}
			if n > 0 {
				b.buf = append(b.buf, ',')
			}
			n++
			b.buf = appendColumnKey(b.buf, c, i)
			b.buf, _ = e.appendValue(b.buf, c, keyValue(c, i))
		}
		b.buf = append(b.buf, '}')
		p.key = span{start, len(b.buf)}
	}
	start := len(b.buf)
	typ, _, _ := canalEvent(c)
	img := c.After
	if c.Op == change.OpDelete {
		img = c.Before
	}
	dst := canalHeader(b.buf, c, pk, false, typ)
	dst = append(dst, `,"sql":"","sqlType":{`...)
	sep := false
	for i := range img {
		if !inRow(img, i) || i >= len(c.Columns) {
			continue
		}
		if sep {
			dst = append(dst, ',')
		}
		sep = true
		dst = appendColumnKey(dst, c, i)
		dst = appendInt(dst, int64(canalSQLType(c, &c.Columns[i], &img[i])))
	}
	dst = append(dst, `},"mysqlType":{`...)
	sep = false
	for i := range img {
		if !inRow(img, i) || i >= len(c.Columns) {
			continue
		}
		if sep {
			dst = append(dst, ',')
		}
		sep = true
		dst = appendColumnKey(dst, c, i)
		dst = appendString(dst, c.Columns[i].Type)
	}
	dst = append(dst, `},"data":[{`...)
	sep = false
	for i := range img {
		if !inRow(img, i) || i >= len(c.Columns) {
			continue
		}
		if sep {
			dst = append(dst, ',')
		}
		sep = true
		dst = appendColumnKey(dst, c, i)
		var why string
		if dst, why = e.appendValue(dst, c, &img[i]); why != "" && e.opt.strict {
			return inexactError(c, i, &img[i], why)
		}
	}
	dst = append(dst, `}],"old":`...)
	wroteOld := false
	if c.Op == change.OpUpdate && len(c.Before) > 0 {
		mark := len(dst)
		dst = append(dst, `[{`...)
		sep = false
		for i := range c.Before {
			if !inRow(c.Before, i) || i >= len(c.Columns) || !e.updated(c, i) {
				continue
			}
			if sep {
				dst = append(dst, ',')
			}
			sep = true
			dst = appendColumnKey(dst, c, i)
			var why string
			if dst, why = e.appendValue(dst, c, &c.Before[i]); why != "" && e.opt.strict {
				return inexactError(c, i, &c.Before[i], why)
			}
		}
		if sep {
			dst = append(dst, "}]"...)
			wroteOld = true
		} else {
			dst = dst[:mark]
		}
	}
	if !wroteOld {
		dst = append(dst, "null"...)
	}
	b.buf = append(dst, '}')
	p.value = span{start, len(b.buf)}
	b.add(p)
	return nil
}

// inRow reports whether column i is part of the image: present and sent
// (Canal has no unchanged values; an unchanged TOAST column is left out).
func inRow(img []change.Value, i int) bool {
	return i < len(img) && img[i].Present() && img[i].Kind != change.KindUnchanged
}

// updated reports whether column i of an update changed, as Canal decides
// a column's updated flag: its after text differs from its before text
// (or one of them is NULL and the other not).
func (e *canalEncoder) updated(c *change.Change, i int) bool {
	if !inRow(c.After, i) {
		return false
	}
	before, after := &c.Before[i], &c.After[i]
	if before.IsNull() || after.IsNull() {
		return before.IsNull() != after.IsNull()
	}
	e.prev = canalText(e.prev[:0], c.Source, before, e.opt.zone)
	e.tmp = canalText(e.tmp[:0], c.Source, after, e.opt.zone)
	return string(e.prev) != string(e.tmp)
}

// query writes a DDL change, a truncate or a statement-based change with
// the event type, isDdl and SQL Canal gives it.
func (e *canalEncoder) query(b *Batch, c *change.Change) {
	start := len(b.buf)
	typ, ddl, sql := canalEvent(c)
	dst := canalHeader(b.buf, c, false, ddl, typ)
	dst = append(dst, `,"sql":`...)
	dst = appendString(dst, sql)
	b.buf = append(dst, `,"sqlType":null,"mysqlType":null,"data":null,"old":null}`...)
	b.addValue(span{start, len(b.buf)})
}

// appendValue appends v as Canal's text (a JSON string, or null) and
// returns why it is inexact ("" when exact).
func (e *canalEncoder) appendValue(dst []byte, c *change.Change, v *change.Value) ([]byte, string) {
	if v.Kind == change.KindNull || !v.Present() || v.Kind == change.KindUnchanged {
		return append(dst, "null"...), ""
	}
	e.tmp = canalText(e.tmp[:0], c.Source, v, e.opt.zone)
	out, ok := appendStr(dst, e.tmp)
	if !ok {
		return out, "not UTF-8: the bytes that are not are written as U+FFFD"
	}
	return out, ""
}

// canalEvent returns the Canal event type of a change ("INSERT", "ALTER",
// "TRUNCATE", "QUERY", …), whether Canal marks it isDdl, and the SQL it
// carries (a truncate without SQL gets a TRUNCATE TABLE statement). A
// statement-based change keeps its INSERT, UPDATE or DELETE type with
// isDdl false, as Canal reports DML logged as SQL text; any other
// statement is a QUERY.
func canalEvent(c *change.Change) (typ string, isDDL bool, sql string) {
	sql = c.SQL
	switch c.Op {
	case change.OpInsert, change.OpRead:
		// Canal has no snapshot event: a snapshot's row is an INSERT.
		return "INSERT", false, sql
	case change.OpUpdate:
		return "UPDATE", false, sql
	case change.OpDelete:
		return "DELETE", false, sql
	case change.OpDDL:
		return canalDDLType(c.SQL), true, sql
	case change.OpTruncate:
		if sql == "" {
			sql = truncateSQL(c)
		}
		return "TRUNCATE", true, sql
	}
	switch firstWord(c.SQL) {
	case "insert", "replace":
		return "INSERT", false, sql
	case "update":
		return "UPDATE", false, sql
	case "delete":
		return "DELETE", false, sql
	}
	return "QUERY", true, sql
}

// firstWord returns the first word of a statement, lower case, after
// comments.
func firstWord(sql string) string {
	s := sqlWithoutComments(sql)
	s = strings.TrimLeft(s, "( \t\r\n")
	i := 0
	for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z') {
		i++
	}
	return strings.ToLower(s[:i])
}

// truncateSQL writes the TRUNCATE TABLE statement of a truncate change
// that carries none (PostgreSQL's), names quoted as its source quotes them.
func truncateSQL(c *change.Change) string {
	q := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	if !isPostgres(c) {
		q = func(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
	}
	if c.Database == "" {
		return "TRUNCATE TABLE " + q(c.Table)
	}
	return "TRUNCATE TABLE " + q(c.Database) + "." + q(c.Table)
}

// mysqlFamily reports whether a change comes from MySQL or MariaDB, whose
// values Canal's binlog parser prints its own way.
func mysqlFamily(c *change.Change) bool {
	switch connector(c) {
	case "mysql", "mariadb":
		return true
	}
	return false
}

// canalText appends the text Canal gives a non-NULL value: bytes (and
// MySQL geometry: the SRID in 4 little-endian bytes, then the WKB) as
// ISO-8859-1 text, one character per byte; for MySQL and MariaDB, ENUM as
// its member index and SET as its bitmap (as Canal's binlog parser sends
// them); everything else as its source prints it (change.AppendText).
func canalText(dst []byte, source string, v *change.Value, zone *time.Location) []byte {
	mysql := source == "mysql" || source == "mariadb" || source == ""
	switch v.Kind {
	case change.KindBytes:
		return appendLatin1Raw(dst, v.B)
	case change.KindGeometry:
		var srid [4]byte
		binary.LittleEndian.PutUint32(srid[:], uint32(v.U))
		return appendLatin1Raw(appendLatin1Raw(dst, srid[:]), v.B)
	case change.KindEnum, change.KindSet:
		if mysql {
			return strconv.AppendUint(dst, v.U, 10)
		}
	case change.KindTimestamp:
		if mysql && !v.Zoned && !mysqlZeroTimestamp(v) && zone != nil {
			// Shown in Canal's time zone.
			_, off := time.Unix(v.I, 0).In(zone).Zone()
			u := *v
			u.Off = int32(off)
			return change.AppendText(dst, u)
		}
	}
	return change.AppendText(dst, *v)
}

// appendLatin1Raw appends b decoded as ISO-8859-1: each byte becomes the
// character of the same code, UTF-8 encoded.
func appendLatin1Raw(dst, b []byte) []byte {
	for _, c := range b {
		if c < utf8.RuneSelf {
			dst = append(dst, c)
		} else {
			dst = utf8.AppendRune(dst, rune(c))
		}
	}
	return dst
}

// canalSQLType returns the java.sql.Types code Canal gives column col's
// value v: for MySQL the JDBC type of the column type, adjusted for
// values as Canal adjusts it (an unsigned value that does not fit the
// signed type one step up, TEXT as CLOB, binary types as BLOB, SET as
// BIT); for other sources the type the value's kind stands for.
func canalSQLType(c *change.Change, col *change.Column, v *change.Value) int {
	kind, size := v.Kind, v.Size
	if v.Kind == change.KindNull || v.Kind == change.KindOther || !v.Present() {
		kind, size = kindOfType(col.Type)
	}
	switch kind {
	case change.KindBool:
		return 16 // BOOLEAN
	case change.KindInt, change.KindUint:
		big := v.Kind == change.KindUint
		switch {
		case size == 8:
			if big && v.U > math.MaxInt8 {
				return 5
			}
			return -6 // TINYINT
		case size == 16:
			if big && v.U > math.MaxInt16 {
				return 4
			}
			return 5 // SMALLINT
		case size == 24:
			return 4
		case size == 32:
			if big && v.U > math.MaxInt32 {
				return -5
			}
			return 4 // INTEGER
		}
		if big && v.U > math.MaxInt64 {
			return 3 // DECIMAL
		}
		return -5 // BIGINT
	case change.KindFloat:
		if size == 32 {
			return 7 // REAL
		}
		return 8 // DOUBLE
	case change.KindDecimal:
		return 3
	case change.KindString:
		switch typeName(col.Type) {
		case "char", "character", "bpchar":
			return 1 // CHAR
		case "text", "tinytext", "mediumtext", "longtext":
			return 2005 // CLOB
		}
		return 12 // VARCHAR
	case change.KindBytes, change.KindGeometry:
		return 2004 // BLOB
	case change.KindJSON, change.KindYear:
		return 12
	case change.KindDate:
		return 91
	case change.KindTime:
		return 92
	case change.KindDateTime, change.KindTimestamp:
		return 93
	case change.KindEnum:
		return 4
	case change.KindSet, change.KindBit:
		return -7 // BIT
	case change.KindArray:
		return 2003 // ARRAY
	}
	return 1111 // OTHER
}

// canalDDLType names a DDL statement as Canal's event types do.
func canalDDLType(sql string) string {
	words := strings.Fields(strings.ToLower(sqlWithoutComments(sql)))
	has := func(w string) bool {
		for _, x := range words[1:min(len(words), 4)] {
			if x == w {
				return true
			}
		}
		return false
	}
	if len(words) == 0 {
		return "QUERY"
	}
	switch words[0] {
	case "create":
		switch {
		case has("table"):
			return "CREATE"
		case has("index"):
			return "CINDEX"
		}
	case "alter":
		if has("table") {
			return "ALTER"
		}
	case "drop":
		switch {
		case has("table"):
			return "ERASE"
		case has("index"):
			return "DINDEX"
		}
	case "rename":
		return "RENAME"
	case "truncate":
		return "TRUNCATE"
	}
	return "QUERY"
}
