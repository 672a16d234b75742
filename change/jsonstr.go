package change

import "encoding/base64"

// appendJSONStr appends s as a JSON string and reports whether s was valid
// UTF-8. On invalid UTF-8 it returns dst unchanged and false, so the caller
// can fall back to a lossless form. Only '"', '\\', control characters and
// U+2028/U+2029 are escaped.
func appendJSONStr[T string | []byte](dst []byte, s T) ([]byte, bool) {
	i := plainPrefix(s)
	if i == len(s) {
		// The common case: nothing to escape or validate.
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"'), true
	}
	mark := len(dst)
	dst = append(dst, '"')
	start := 0
	for i < len(s) {
		c := s[i]
		if jsonPlain[c] != 0 {
			i++
			continue
		}
		if c < 0x80 {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', lowerHex[c>>4], lowerHex[c&15])
			}
			i++
			start = i
			continue
		}
		n := utf8Len(s, i)
		if n == 0 {
			return dst[:mark], false
		}
		if n == 3 && c == 0xe2 && s[i+1] == 0x80 && (s[i+2] == 0xa8 || s[i+2] == 0xa9) {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', lowerHex[s[i+2]&15])
			start = i + n
		}
		i += n
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), true
}

// plainPrefix returns the length of the longest prefix of s made of bytes
// a JSON string holds as they are (see jsonPlain), looking at eight bytes
// at a time.
func plainPrefix[T string | []byte](s T) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		q := w ^ ('"' * ones)
		b := w ^ ('\\' * ones)
		// A high bit set in any term marks a byte >= 0x80, < 0x20, '"' or
		// '\\' (the zero-byte tests are exact about whether there is one).
		if (w|(w-0x20*ones)|(q-ones)&^q|(b-ones)&^b)&highs != 0 {
			break
		}
	}
	for i < len(s) && jsonPlain[s[i]] != 0 {
		i++
	}
	return i
}

// utf8Len returns the length of the valid UTF-8 sequence starting at s[i]
// (a byte >= 0x80), or 0 if it is not valid UTF-8.
func utf8Len[T string | []byte](s T, i int) int {
	c := s[i]
	rest := len(s) - i
	cont := func(j int) bool { return s[i+j]&0xc0 == 0x80 }
	switch {
	case c >= 0xc2 && c <= 0xdf:
		if rest >= 2 && cont(1) {
			return 2
		}
	case c >= 0xe0 && c <= 0xef:
		if rest < 3 || !cont(1) || !cont(2) {
			return 0
		}
		if c == 0xe0 && s[i+1] < 0xa0 || c == 0xed && s[i+1] > 0x9f {
			return 0
		}
		return 3
	case c >= 0xf0 && c <= 0xf4:
		if rest < 4 || !cont(1) || !cont(2) || !cont(3) {
			return 0
		}
		if c == 0xf0 && s[i+1] < 0x90 || c == 0xf4 && s[i+1] > 0x8f {
			return 0
		}
		return 4
	}
	return 0
}

// validUTF8 reports whether s is valid UTF-8.
func validUTF8[T string | []byte](s T) bool {
	for i := 0; i < len(s); {
		if s[i] < 0x80 {
			i++
			continue
		}
		n := utf8Len(s, i)
		if n == 0 {
			return false
		}
		i += n
	}
	return true
}

// appendStrField appends a free-form string field: a JSON string, or
// {"b64":"…"} when s is not valid UTF-8.
func appendStrField[T string | []byte](dst []byte, s T) []byte {
	if out, ok := appendJSONStr(dst, s); ok {
		return out
	}
	dst = append(dst, `{"b64":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, []byte(s))
	return append(dst, `"}`...)
}

// jsonPlain marks the bytes a JSON string holds as they are: printable
// ASCII other than '"' and '\\'.
const jsonPlain = "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x01\x00\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x00\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
