package change

// maxEmbedDepth bounds the nesting of a JSON document embedded raw; deeper
// documents are written as text instead.
const maxEmbedDepth = 1000

// embeddable reports whether the JSON text b can be written raw into a
// line and read back byte for byte: it is one valid JSON value (RFC 8259)
// of valid UTF-8, with no whitespace before or after it, no CR or LF
// anywhere, and nesting at most maxEmbedDepth. tagLike reports that raw b
// could be read as something else at the top of a column: it is "null", or
// an object whose first member name is "$kind" (or is written with escapes,
// which this check does not decode).
func embeddable(b []byte) (ok, tagLike bool) {
	s := jsonScanner{b: b}
	if !s.value(0) || s.i != len(b) {
		return false, false
	}
	return true, s.firstKeyTag || string(b) == "null"
}

type jsonScanner struct {
	b           []byte
	i           int
	firstKeyTag bool
}

func (s *jsonScanner) ws() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t') {
		s.i++
	}
}

func (s *jsonScanner) lit(w string) bool {
	if len(s.b)-s.i < len(w) || string(s.b[s.i:s.i+len(w)]) != w {
		return false
	}
	s.i += len(w)
	return true
}

func (s *jsonScanner) value(depth int) bool {
	if s.i >= len(s.b) || depth > maxEmbedDepth {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '{':
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == '}' {
			s.i++
			return true
		}
		for first := true; ; first = false {
			start := s.i
			if !s.str() {
				return false
			}
			if first && depth == 0 {
				key := s.b[start:s.i]
				if string(key) == `"$kind"` || containsByte(key, '\\') {
					s.firstKeyTag = true
				}
			}
			s.ws()
			if s.i >= len(s.b) || s.b[s.i] != ':' {
				return false
			}
			s.i++
			s.ws()
			if !s.value(depth + 1) {
				return false
			}
			s.ws()
			if s.i >= len(s.b) {
				return false
			}
			if s.b[s.i] == '}' {
				s.i++
				return true
			}
			if s.b[s.i] != ',' {
				return false
			}
			s.i++
			s.ws()
		}
	case c == '[':
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == ']' {
			s.i++
			return true
		}
		for {
			if !s.value(depth + 1) {
				return false
			}
			s.ws()
			if s.i >= len(s.b) {
				return false
			}
			if s.b[s.i] == ']' {
				s.i++
				return true
			}
			if s.b[s.i] != ',' {
				return false
			}
			s.i++
			s.ws()
		}
	case c == '"':
		return s.str()
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	case c == '-' || c >= '0' && c <= '9':
		n := scanNumber(s.b[s.i:])
		s.i += n
		return n > 0
	}
	return false
}

func containsByte(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}

// str scans a JSON string: valid escapes, no control characters, valid UTF-8.
func (s *jsonScanner) str() bool {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return false
	}
	s.i++
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return true
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return false
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) {
					return false
				}
				for _, h := range s.b[s.i+2 : s.i+6] {
					if _, ok := unhex(h); !ok {
						return false
					}
				}
				s.i += 6
			default:
				return false
			}
		case c < 0x20:
			return false
		case c < 0x80:
			s.i++
		default:
			n := utf8Len(s.b, s.i)
			if n == 0 {
				return false
			}
			s.i += n
		}
	}
	return false
}

// scanNumber returns the length of the JSON number at the start of b, or 0.
func scanNumber(b []byte) int {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return 0
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return 0
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return 0
		}
	}
	return i
}
