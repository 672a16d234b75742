package format

import (
	"encoding/binary"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/change"
)

// canalOptions are the parameters of the canal-json format.
type canalOptions struct {
	strict bool
}

func parseCanal(p *address.Params) (options, error) {
	o := &canalOptions{}
	p.Bool("strict", &o.strict)
	return o, p.Err()
}

func (o *canalOptions) beginCommit() bool { return false }

func (o *canalOptions) encoder(Target) (Encoder, error) { return &canalEncoder{opt: *o}, nil }

// canalEncoder writes Canal's flat message, as Canal's MQ mode
// (canal.mq.flatMessage=true) sends it to Kafka or RocketMQ: one message
// per row change, every value as its text.
type canalEncoder struct {
	opt       canalOptions
	tmp, tmp2 []byte
}

func (e *canalEncoder) Encode(b *Batch, c *change.Change) error {
	m := b.mark()
	var err error
	switch c.Op {
	case change.OpInsert, change.OpUpdate, change.OpDelete:
		err = e.row(b, c)
	case change.OpDDL, change.OpTruncate:
		e.query(b, c, true)
	case change.OpBegin, change.OpCommit, change.OpHeartbeat:
		// Canal's MQ mode sends no transaction entries.
	default:
		if c.Op.String() == "statement" {
			e.query(b, c, false)
		} else {
			err = errors.New("op has no Canal message")
		}
	}
	if err != nil {
		b.rollback(m)
		return changeError("canal-json", c, err)
	}
	return nil
}

// header appends the members every flat message starts with, up to sql.
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
			b.buf, _ = e.appendValue(b.buf, keyValue(c, i))
		}
		b.buf = append(b.buf, '}')
		p.key = span{start, len(b.buf)}
	}
	start := len(b.buf)
	typ := "INSERT"
	img := c.After
	switch c.Op {
	case change.OpUpdate:
		typ = "UPDATE"
	case change.OpDelete:
		typ, img = "DELETE", c.Before
	}
	dst := canalHeader(b.buf, c, pk, false, typ)
	dst = append(dst, `,"sql":"","sqlType":{`...)
	n := max(len(c.Columns), len(img))
	for i := 0; i < n; i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendColumnKey(dst, c, i)
		dst = appendInt(dst, int64(canalSQLType(c, i)))
	}
	dst = append(dst, `},"mysqlType":{`...)
	for i := 0; i < n; i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendColumnKey(dst, c, i)
		typ := ""
		if i < len(c.Columns) {
			typ = c.Columns[i].Type
		}
		dst = appendString(dst, typ)
	}
	dst = append(dst, `},"data":[{`...)
	sep := false
	for i := range img {
		v := &img[i]
		if !v.Present() || v.Kind == change.KindUnchanged {
			continue
		}
		if sep {
			dst = append(dst, ',')
		}
		sep = true
		dst = appendColumnKey(dst, c, i)
		var why string
		if dst, why = e.appendValue(dst, v); why != "" && e.opt.strict {
			return inexactError(c, i, v, why)
		}
	}
	dst = append(dst, `}],"old":`...)
	wroteOld := false
	if c.Op == change.OpUpdate && len(c.Before) > 0 {
		mark := len(dst)
		dst = append(dst, `[{`...)
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
			var why string
			if dst, why = e.appendValue(dst, old); why != "" && e.opt.strict {
				return inexactError(c, i, old, why)
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

// query writes a DDL change (isDdl true, its type worked out from the
// statement), a truncate (TRUNCATE) or a statement-based data change
// (QUERY, isDdl false).
func (e *canalEncoder) query(b *Batch, c *change.Change, ddl bool) {
	start := len(b.buf)
	typ := "QUERY"
	switch {
	case c.Op == change.OpTruncate:
		typ = "TRUNCATE"
	case ddl:
		typ = canalDDLType(c.SQL)
	}
	dst := canalHeader(b.buf, c, false, ddl, typ)
	dst = append(dst, `,"sql":`...)
	dst = appendString(dst, c.SQL)
	b.buf = append(dst, `,"sqlType":null,"mysqlType":null,"data":null,"old":null}`...)
	b.addValue(span{start, len(b.buf)})
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

// appendValue appends v as Canal's text (a JSON string, or null) and
// returns why it is inexact ("" when exact). Binary values are one
// character per byte (ISO-8859-1), as Canal writes them.
func (e *canalEncoder) appendValue(dst []byte, v *change.Value) ([]byte, string) {
	switch v.Kind {
	case change.KindNull, change.KindAbsent, change.KindUnchanged:
		return append(dst, "null"...), ""
	case change.KindBytes:
		return appendLatin1(dst, v.B), ""
	case change.KindGeometry:
		// MySQL's own form: the SRID (4 bytes, little-endian) and the WKB.
		var srid [4]byte
		binary.LittleEndian.PutUint32(srid[:], uint32(v.U))
		e.tmp = append(append(e.tmp[:0], srid[:]...), v.B...)
		return appendLatin1(dst, e.tmp), ""
	case change.KindArray, change.KindDocument:
		// JSON, elements as Maxwell writes them.
		var why string
		e.tmp, why = appendMaxwellValue(e.tmp[:0], v, &e.tmp2)
		return appendString(dst, e.tmp), why
	}
	e.tmp = change.AppendText(e.tmp[:0], *v)
	out, ok := appendStr(dst, e.tmp)
	if !ok {
		return out, "not UTF-8: the bytes that are not are written as U+FFFD"
	}
	return out, ""
}

// appendLatin1 appends b as a JSON string with one character per byte,
// U+0000 to U+00FF: the string Java's new String(bytes, ISO_8859_1) gives.
func appendLatin1(dst, b []byte) []byte {
	dst = append(dst, '"')
	for _, c := range b {
		if c < utf8.RuneSelf {
			if safe[c] {
				dst = append(dst, c)
				continue
			}
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			continue
		}
		dst = utf8.AppendRune(dst, rune(c))
	}
	return append(dst, '"')
}

// canalSQLType returns the java.sql.Types code Canal gives column i.
func canalSQLType(c *change.Change, i int) int {
	typ := ""
	if i < len(c.Columns) {
		typ = c.Columns[i].Type
	}
	var v *change.Value
	if i < len(c.After) && c.After[i].Present() && c.After[i].Kind > change.KindNull {
		v = &c.After[i]
	} else if i < len(c.Before) && c.Before[i].Present() && c.Before[i].Kind > change.KindNull {
		v = &c.Before[i]
	}
	kind, size := kindOfType(typ)
	if v != nil && v.Kind != change.KindOther {
		kind, size = v.Kind, v.Size
	}
	switch kind {
	case change.KindBool:
		return 16 // BOOLEAN
	case change.KindInt:
		switch {
		case size == 8:
			return -6 // TINYINT
		case size == 16:
			return 5 // SMALLINT
		case size == 24 || size == 32:
			return 4 // INTEGER
		}
		return -5 // BIGINT
	case change.KindUint:
		switch {
		case size == 8:
			return 5
		case size == 16 || size == 24:
			return 4
		case size == 32:
			return -5
		}
		return 3 // DECIMAL
	case change.KindFloat:
		if size == 32 {
			return 7 // REAL
		}
		return 8 // DOUBLE
	case change.KindDecimal:
		return 3
	case change.KindString:
		switch typeName(typ) {
		case "char", "character", "bpchar":
			return 1 // CHAR
		case "text", "tinytext", "mediumtext", "longtext":
			return 2005 // CLOB
		}
		return 12 // VARCHAR
	case change.KindBytes:
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
	case change.KindGeometry:
		return -2 // BINARY
	case change.KindArray:
		return 2003 // ARRAY
	}
	return 1111 // OTHER
}
