package binlog

import (
	"errors"
	"fmt"
	"strconv"
)

// MySQL binary JSON value types (json_binary.h).
const (
	jsonbSmallObject = 0x00
	jsonbLargeObject = 0x01
	jsonbSmallArray  = 0x02
	jsonbLargeArray  = 0x03
	jsonbLiteral     = 0x04
	jsonbInt16       = 0x05
	jsonbUint16      = 0x06
	jsonbInt32       = 0x07
	jsonbUint32      = 0x08
	jsonbInt64       = 0x09
	jsonbUint64      = 0x0a
	jsonbDouble      = 0x0b
	jsonbString      = 0x0c
	jsonbOpaque      = 0x0f
)

// jsonMaxDepth bounds nesting; MySQL itself refuses documents deeper than 100.
const jsonMaxDepth = 150

// errBadJSON is wrapped by errors about malformed binary JSON.
var errBadJSON = errors.New("malformed binary JSON")

// jsonScratch holds reusable state for JSON decoding and partial-update
// application; the zero value is ready.
type jsonScratch struct {
	limit int // the output may not grow past this length (guards against offset loops)
	dom   jsonDOM
}

// appendDocument renders a binary JSON document as MySQL prints it
// (JSON_UNQUOTE-free, ", " and ": " separators, keys in stored order) and
// appends the text to dst. An empty document is the JSON null literal, as
// MySQL reads it.
func (s *jsonScratch) appendDocument(dst, doc []byte) ([]byte, error) {
	if len(doc) == 0 {
		return append(dst, "null"...), nil
	}
	s.limit = len(dst) + 16*len(doc) + 4096
	return s.appendValue(dst, doc[0], doc[1:], 0)
}

func jsonErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errBadJSON}, args...)...)
}

// appendValue renders a value of binary type typ whose bytes start at data
// (for containers: the container; for inline values: the entry's bytes).
func (s *jsonScratch) appendValue(dst []byte, typ byte, data []byte, depth int) ([]byte, error) {
	if len(dst) > s.limit {
		return dst, jsonErr("document expands beyond %d bytes", s.limit)
	}
	switch typ {
	case jsonbSmallObject, jsonbLargeObject, jsonbSmallArray, jsonbLargeArray:
		return s.appendContainer(dst, typ, data, depth+1)
	case jsonbLiteral:
		if len(data) < 1 {
			return dst, jsonErr("literal truncated")
		}
		switch data[0] {
		case 0:
			return append(dst, "null"...), nil
		case 1:
			return append(dst, "true"...), nil
		case 2:
			return append(dst, "false"...), nil
		}
		return dst, jsonErr("literal %d", data[0])
	case jsonbInt16, jsonbUint16:
		if len(data) < 2 {
			return dst, jsonErr("int16 truncated")
		}
		u := uint16(data[0]) | uint16(data[1])<<8
		if typ == jsonbInt16 {
			return strconv.AppendInt(dst, int64(int16(u)), 10), nil
		}
		return strconv.AppendUint(dst, uint64(u), 10), nil
	case jsonbInt32, jsonbUint32:
		if len(data) < 4 {
			return dst, jsonErr("int32 truncated")
		}
		if typ == jsonbInt32 {
			return strconv.AppendInt(dst, int64(int32(le32(data))), 10), nil
		}
		return strconv.AppendUint(dst, uint64(le32(data)), 10), nil
	case jsonbInt64, jsonbUint64:
		if len(data) < 8 {
			return dst, jsonErr("int64 truncated")
		}
		if typ == jsonbInt64 {
			return strconv.AppendInt(dst, int64(le64(data)), 10), nil
		}
		return strconv.AppendUint(dst, le64(data), 10), nil
	case jsonbDouble:
		if len(data) < 8 {
			return dst, jsonErr("double truncated")
		}
		return appendMySQLDouble(dst, le64(data)), nil
	case jsonbString:
		l, n, err := jsonVarLen(data)
		if err != nil {
			return dst, err
		}
		return appendJSONString(dst, data[n:n+l]), nil
	case jsonbOpaque:
		if len(data) < 1 {
			return dst, jsonErr("opaque type truncated")
		}
		l, n, err := jsonVarLen(data[1:])
		if err != nil {
			return dst, err
		}
		return appendJSONOpaque(dst, ColumnType(data[0]), data[1+n:1+n+l])
	}
	return dst, jsonErr("value type %#x", typ)
}

// jsonVarLen reads the variable-length size of a string or opaque value
// and checks that that many bytes follow.
func jsonVarLen(b []byte) (l, n int, err error) {
	var v uint64
	for i := 0; i < 5 && i < len(b); i++ {
		v |= uint64(b[i]&0x7f) << (7 * uint(i))
		if b[i]&0x80 == 0 {
			if v > uint64(len(b)-i-1) {
				return 0, 0, jsonErr("string of %d bytes, %d left", v, len(b)-i-1)
			}
			return int(v), i + 1, nil
		}
	}
	return 0, 0, jsonErr("bad variable-length size")
}

// jsonInline reports whether a value of type typ is stored in its entry.
func jsonInline(typ byte, large bool) bool {
	switch typ {
	case jsonbLiteral, jsonbInt16, jsonbUint16:
		return true
	case jsonbInt32, jsonbUint32:
		return large
	}
	return false
}

func jsonOffset(b []byte, large bool) int {
	if large {
		return int(le32(b))
	}
	return int(b[0]) | int(b[1])<<8
}

// appendContainer renders an object or array.
func (s *jsonScratch) appendContainer(dst []byte, typ byte, data []byte, depth int) ([]byte, error) {
	if depth > jsonMaxDepth {
		return dst, jsonErr("nesting deeper than %d", jsonMaxDepth)
	}
	large := typ == jsonbLargeObject || typ == jsonbLargeArray
	object := typ == jsonbSmallObject || typ == jsonbLargeObject
	osz := 2
	if large {
		osz = 4
	}
	if len(data) < 2*osz {
		return dst, jsonErr("container header truncated")
	}
	count, size := jsonOffset(data, large), jsonOffset(data[osz:], large)
	if size > len(data) || size < 0 {
		return dst, jsonErr("container of %d bytes, %d left", size, len(data))
	}
	data = data[:size]
	keyEntry, valEntry := 0, 1+osz
	if object {
		keyEntry = osz + 2
	}
	if count < 0 || count > size {
		return dst, jsonErr("container count %d", count)
	}
	hdr := 2*osz + count*(keyEntry+valEntry)
	if hdr > size {
		return dst, jsonErr("container header %d exceeds size %d", hdr, size)
	}
	if object {
		dst = append(dst, '{')
	} else {
		dst = append(dst, '[')
	}
	for i := 0; i < count; i++ {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		if object {
			ke := 2*osz + i*keyEntry
			koff := jsonOffset(data[ke:], large)
			klen := int(data[ke+osz]) | int(data[ke+osz+1])<<8
			if koff < 0 || koff+klen > size {
				return dst, jsonErr("key %d out of bounds", i)
			}
			dst = appendJSONString(dst, data[koff:koff+klen])
			dst = append(dst, ": "...)
		}
		ve := 2*osz + count*keyEntry + i*valEntry
		vt := data[ve]
		var err error
		if jsonInline(vt, large) {
			dst, err = s.appendValue(dst, vt, data[ve+1:ve+1+osz], depth)
		} else {
			off := jsonOffset(data[ve+1:], large)
			if off < 0 || off >= size {
				return dst, jsonErr("value %d offset %d out of bounds", i, off)
			}
			dst, err = s.appendValue(dst, vt, data[off:], depth)
		}
		if err != nil {
			return dst, err
		}
	}
	if object {
		return append(dst, '}'), nil
	}
	return append(dst, ']'), nil
}

// appendJSONString appends s as a quoted JSON string, escaping like MySQL's
// double_quote: '"', '\\' and control characters only.
func appendJSONString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i, c := range s {
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		start = i + 1
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		}
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendJSONOpaque renders an opaque value: DECIMAL as a number, temporal
// types as quoted strings with six fraction digits, VAR_STRING as a string,
// anything else as "base64:typeNN:<base64>" like MySQL.
func appendJSONOpaque(dst []byte, ft ColumnType, data []byte) ([]byte, error) {
	switch ft {
	case TypeNewDecimal:
		if len(data) < 2 {
			return dst, jsonErr("opaque decimal truncated")
		}
		prec, scale := int(data[0]), int(data[1])
		if prec < 1 || prec > 65 || scale > 30 || scale > prec {
			return dst, jsonErr("opaque DECIMAL(%d,%d)", prec, scale)
		}
		out, err := appendDecimal(dst, data[2:], prec, scale)
		if err != nil {
			return dst, fmt.Errorf("%w: opaque decimal: %w", errBadJSON, err)
		}
		return out, nil
	case TypeDate, TypeDateTime, TypeTimestamp, TypeTime:
		if len(data) < 8 {
			return dst, jsonErr("opaque temporal value of %d bytes", len(data))
		}
		packed := int64(le64(data))
		dst = append(dst, '"')
		if ft == TypeTime {
			dst = appendPackedTime(dst, packed)
		} else {
			y, mo, d, h, mi, s, us := unpackDateTime(packed)
			dst = appendPadded(dst, uint64(y), 4)
			dst = append(dst, '-')
			dst = appendPadded(dst, uint64(mo), 2)
			dst = append(dst, '-')
			dst = appendPadded(dst, uint64(d), 2)
			if ft != TypeDate {
				dst = append(dst, ' ')
				dst = appendClock(dst, uint64(h), uint64(mi), uint64(s), us)
			}
		}
		return append(dst, '"'), nil
	case TypeVarString:
		return appendJSONString(dst, data), nil
	}
	dst = append(dst, `"base64:type`...)
	dst = strconv.AppendUint(dst, uint64(ft), 10)
	dst = append(dst, ':')
	dst = appendMySQLBase64(dst, data)
	return append(dst, '"'), nil
}

// appendPackedTime appends a packed TIME as [-]hh:mm:ss.ffffff.
func appendPackedTime(dst []byte, packed int64) []byte {
	if packed < 0 {
		dst = append(dst, '-')
		packed = -packed
	}
	hms := packed >> 24
	return appendClock(dst, uint64(hms>>12%(1<<10)), uint64(hms>>6%(1<<6)), uint64(hms%(1<<6)), uint32(packed%(1<<24)))
}

func appendClock(dst []byte, h, m, s uint64, micros uint32) []byte {
	dst = appendPadded(dst, h, 2)
	dst = append(dst, ':')
	dst = appendPadded(dst, m, 2)
	dst = append(dst, ':')
	dst = appendPadded(dst, s, 2)
	dst = append(dst, '.')
	return appendPadded(dst, uint64(micros), 6)
}

// appendMySQLBase64 appends standard base64 with MySQL's line break after
// every 76 output characters, escaped for a JSON string ("\n").
func appendMySQLBase64(dst, src []byte) []byte {
	const table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	line := 0
	for i := 0; i < len(src); i += 3 {
		if line == 76 {
			dst = append(dst, '\\', 'n')
			line = 0
		}
		var c uint32
		n := min(3, len(src)-i)
		for k := 0; k < 3; k++ {
			c <<= 8
			if k < n {
				c |= uint32(src[i+k])
			}
		}
		dst = append(dst, table[c>>18&63], table[c>>12&63])
		if n > 1 {
			dst = append(dst, table[c>>6&63])
		} else {
			dst = append(dst, '=')
		}
		if n > 2 {
			dst = append(dst, table[c&63])
		} else {
			dst = append(dst, '=')
		}
		line += 4
	}
	return dst
}
