package change

// ENUM and SET values are written as their text; the index or bitmap is
// recovered from the column type text, e.g. enum('a','b''c') or
// set('x','y'), by the two functions below. When the type does not list the
// members (PostgreSQL enums, or an unknown type) they return 0, and a value
// whose U differs from what they return is written in tagged form.

// memberIter walks the quoted members of "enum(...)" or "set(...)" type text.
type memberIter struct {
	s string
	i int
}

func newMemberIter(typ, prefix string) (memberIter, bool) {
	if len(typ) < len(prefix) {
		return memberIter{}, false
	}
	for i := 0; i < len(prefix); i++ {
		c := typ[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return memberIter{}, false
		}
	}
	return memberIter{s: typ, i: len(prefix)}, true
}

// next returns the raw body of the next member (escapes still in it).
func (m *memberIter) next() (string, bool) {
	if m.i >= len(m.s) || m.s[m.i] != '\'' {
		return "", false
	}
	start := m.i + 1
	for j := start; j < len(m.s); j++ {
		switch m.s[j] {
		case '\\':
			j++
		case '\'':
			if j+1 < len(m.s) && m.s[j+1] == '\'' {
				j++
				continue
			}
			body := m.s[start:j]
			m.i = j + 1
			if m.i < len(m.s) && m.s[m.i] == ',' {
				m.i++
			}
			return body, true
		}
	}
	return "", false
}

// memberEq reports whether the raw member body, unescaped, equals text.
func memberEq(raw string, text []byte) bool {
	k := 0
	for j := 0; j < len(raw); j++ {
		c := raw[j]
		if (c == '\\' || c == '\'') && j+1 < len(raw) {
			j++
			c = raw[j]
			if raw[j-1] == '\\' {
				switch c {
				case 'n':
					c = '\n'
				case 't':
					c = '\t'
				case 'r':
					c = '\r'
				case '0':
					c = 0
				}
			}
		}
		if k >= len(text) || text[k] != c {
			return false
		}
		k++
	}
	return k == len(text)
}

// enumIndex returns the 1-based index of text among the members listed in
// an enum(...) column type, or 0.
func enumIndex(typ string, text []byte) uint64 {
	it, ok := newMemberIter(typ, "enum(")
	if !ok {
		return 0
	}
	for n := uint64(1); ; n++ {
		m, ok := it.next()
		if !ok {
			return 0
		}
		if memberEq(m, text) {
			return n
		}
	}
}

// setBits returns the member bitmap of the comma-separated text for a
// set(...) column type, or 0 when a member is not listed.
func setBits(typ string, text []byte) uint64 {
	if _, ok := newMemberIter(typ, "set("); !ok || len(text) == 0 {
		return 0
	}
	var bits uint64
	for start := 0; start <= len(text); {
		end := start
		for end < len(text) && text[end] != ',' {
			end++
		}
		it, _ := newMemberIter(typ, "set(")
		found := false
		for n := 0; n < 64; n++ {
			m, ok := it.next()
			if !ok {
				break
			}
			if memberEq(m, text[start:end]) {
				bits |= 1 << n
				found = true
				break
			}
		}
		if !found {
			return 0
		}
		start = end + 1
	}
	return bits
}
