package format

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// safe[b] reports whether ASCII byte b goes into a JSON string as itself.
var safe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendStr appends s as a quoted JSON string. Control characters and the
// line separators U+2028 and U+2029 are escaped, so the result is one line
// that JavaScript also reads. Bytes that are not UTF-8 become U+FFFD, and
// ok is false then (the text was changed).
func appendStr[T string | []byte](dst []byte, s T) (out []byte, ok bool) {
	dst = append(dst, '"')
	dst, ok = appendStrBody(dst, s)
	return append(dst, '"'), ok
}

// appendStrBody is appendStr without the quotes.
func appendStrBody[T string | []byte](dst []byte, s T) (out []byte, ok bool) {
	ok = true
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if safe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		var r rune
		var n int
		switch v := any(s).(type) {
		case string:
			r, n = utf8.DecodeRuneInString(v[i:])
		case []byte:
			r, n = utf8.DecodeRune(v[i:])
		}
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			ok = false
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += n
			start = i
			continue
		}
		i += n
	}
	return append(dst, s[start:]...), ok
}

// appendString appends s as a JSON string, U+FFFD for invalid bytes.
func appendString[T string | []byte](dst []byte, s T) []byte {
	dst, _ = appendStr(dst, s)
	return dst
}

// appendInt appends a decimal integer.
func appendInt(dst []byte, i int64) []byte { return strconv.AppendInt(dst, i, 10) }

// appendUint appends a decimal unsigned integer.
func appendUint(dst []byte, u uint64) []byte { return strconv.AppendUint(dst, u, 10) }

// appendQuoted appends text known to need no escaping (digits, ASCII
// names) in quotes.
func appendQuoted[T string | []byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// appendBase64 appends b as a quoted base64 string in enc.
func appendBase64(dst, b []byte, enc *base64.Encoding) []byte {
	dst = append(dst, '"')
	dst = enc.AppendEncode(dst, b)
	return append(dst, '"')
}

// appendHexBytes appends b in lower-case hex.
func appendHexBytes(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return dst
}

// appendFloatJSON appends f as a JSON number in the shortest form that
// reads back to the same float of its size (bits 32 or 64); NaN and the
// infinities, which JSON has no number for, as the strings Jackson writes
// for them: "NaN", "Infinity", "-Infinity".
func appendFloatJSON(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

// floatBits returns the bit size of a KindFloat value: 32 for Size 32,
// else 64.
func floatBits(size uint8) int {
	if size == 32 {
		return 32
	}
	return 64
}

// jsonNumber reports whether text is a JSON number.
func jsonNumber(text []byte) bool {
	i := 0
	if i < len(text) && text[i] == '-' {
		i++
	}
	switch {
	case i < len(text) && text[i] == '0':
		i++
	case i < len(text) && text[i] >= '1' && text[i] <= '9':
		for i < len(text) && text[i] >= '0' && text[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(text) && text[i] == '.' {
		i++
		d := i
		for i < len(text) && text[i] >= '0' && text[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	if i < len(text) && (text[i] == 'e' || text[i] == 'E') {
		i++
		if i < len(text) && (text[i] == '+' || text[i] == '-') {
			i++
		}
		d := i
		for i < len(text) && text[i] >= '0' && text[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	return i == len(text)
}

// appendRawJSON appends doc, a JSON document, to be embedded in a JSON
// line: as it is when it is valid JSON on one line with no white space
// around it, compacted when it holds line breaks, and as a JSON string of
// its text when it is not valid JSON (ok false).
func appendRawJSON(dst, doc []byte) (out []byte, ok bool) {
	if !jsonValid(doc) {
		return appendString(dst, doc), false
	}
	return appendCompact(dst, doc), true
}

// appendCompact appends the valid JSON document doc without the white
// space outside its strings when it has any that would break a line (or
// surrounds it); otherwise as it is.
func appendCompact(dst, doc []byte) []byte {
	needs := len(doc) > 0 && (isSpace(doc[0]) || isSpace(doc[len(doc)-1]))
	if !needs {
		for _, c := range doc {
			if c == '\n' || c == '\r' {
				needs = true
				break
			}
		}
	}
	if !needs {
		return append(dst, doc...)
	}
	in := false
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		switch {
		case in:
			dst = append(dst, c)
			if c == '\\' && i+1 < len(doc) {
				i++
				dst = append(dst, doc[i])
			} else if c == '"' {
				in = false
			}
		case c == '"':
			in = true
			dst = append(dst, c)
		case isSpace(c):
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// jsonValid reports whether b is one valid JSON value.
func jsonValid(b []byte) bool { return json.Valid(b) }
