package change

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxParseDepth bounds the nesting DecodeJSON accepts.
const maxParseDepth = 10000

// jnode is one parsed JSON value of a line.
type jnode struct {
	t          byte   // 'n' null, 't' true, 'f' false, '0' number, 's' string, '[' array, '{' object
	start, end int    // the value's bytes in the line
	str        string // a string's decoded text, or a number's text
	elems      []jnode
	keys       []string // object member names, aligned with elems
}

type jparser struct {
	b []byte
	i int
	// Children of the containers being parsed, copied out in one exact
	// allocation when a container ends.
	nodes []jnode
	keys  []string
}

// parseJSON parses b as exactly one JSON value (surrounding whitespace allowed).
func parseJSON(b []byte) (jnode, error) {
	p := jparser{b: b}
	p.ws()
	n, err := p.value(0)
	if err != nil {
		return n, err
	}
	p.ws()
	if p.i != len(b) {
		return n, p.errf("trailing data")
	}
	return n, nil
}

func (p *jparser) errf(format string, args ...any) error {
	return fmt.Errorf("json at byte %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *jparser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jparser) value(depth int) (jnode, error) {
	if depth > maxParseDepth {
		return jnode{}, p.errf("nested too deep")
	}
	if p.i >= len(p.b) {
		return jnode{}, p.errf("unexpected end")
	}
	n := jnode{start: p.i}
	switch c := p.b[p.i]; {
	case c == '{':
		n.t = '{'
		p.i++
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == '}' {
			p.i++
			break
		}
		base, kbase := len(p.nodes), len(p.keys)
		for {
			p.ws()
			k, err := p.str()
			if err != nil {
				return n, err
			}
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != ':' {
				return n, p.errf("expected ':'")
			}
			p.i++
			p.ws()
			v, err := p.value(depth + 1)
			if err != nil {
				return n, err
			}
			p.keys = append(p.keys, k)
			p.nodes = append(p.nodes, v)
			p.ws()
			if p.i < len(p.b) && p.b[p.i] == '}' {
				p.i++
				break
			}
			if p.i >= len(p.b) || p.b[p.i] != ',' {
				return n, p.errf("expected ',' or '}'")
			}
			p.i++
		}
		n.keys = append([]string(nil), p.keys[kbase:]...)
		n.elems = append([]jnode(nil), p.nodes[base:]...)
		p.keys, p.nodes = p.keys[:kbase], p.nodes[:base]
	case c == '[':
		n.t = '['
		p.i++
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			break
		}
		base := len(p.nodes)
		for {
			p.ws()
			v, err := p.value(depth + 1)
			if err != nil {
				return n, err
			}
			p.nodes = append(p.nodes, v)
			p.ws()
			if p.i < len(p.b) && p.b[p.i] == ']' {
				p.i++
				break
			}
			if p.i >= len(p.b) || p.b[p.i] != ',' {
				return n, p.errf("expected ',' or ']'")
			}
			p.i++
		}
		n.elems = append([]jnode(nil), p.nodes[base:]...)
		p.nodes = p.nodes[:base]
	case c == '"':
		s, err := p.str()
		if err != nil {
			return n, err
		}
		n.t, n.str = 's', s
	case c == '-' || c >= '0' && c <= '9':
		l := scanNumber(p.b[p.i:])
		if l == 0 {
			return n, p.errf("bad number")
		}
		n.t, n.str = '0', string(p.b[p.i:p.i+l])
		p.i += l
	case c == 't' || c == 'f' || c == 'n':
		for _, w := range [...]string{"true", "false", "null"} {
			if len(p.b)-p.i >= len(w) && string(p.b[p.i:p.i+len(w)]) == w {
				n.t = w[0]
				p.i += len(w)
				break
			}
		}
		if n.t == 0 {
			return n, p.errf("bad literal")
		}
	default:
		return n, p.errf("unexpected %q", c)
	}
	n.end = p.i
	return n, nil
}

// str parses a JSON string. Escaped lone surrogates become U+FFFD; raw
// bytes must be valid UTF-8.
func (p *jparser) str() (string, error) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", p.errf("expected string")
	}
	p.i++
	start := p.i
	// Fast path: no escapes.
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			s := p.b[start:p.i]
			p.i++
			if !utf8.Valid(s) {
				return "", p.errf("invalid UTF-8 in string")
			}
			return string(s), nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		p.i++
	}
	buf := append([]byte(nil), p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			if !utf8.Valid(buf) {
				return "", p.errf("invalid UTF-8 in string")
			}
			return string(buf), nil
		case c < 0x20:
			return "", p.errf("control character in string")
		case c != '\\':
			buf = append(buf, c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.b) {
			break
		}
		e := p.b[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.errf("bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				save := p.i
				if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
					p.i += 2
					if lo, ok := p.hex4(); ok {
						r2 = utf16.DecodeRune(r, lo)
					}
					if r2 == utf8.RuneError {
						p.i = save
					}
				}
				r = r2
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", p.errf("bad escape")
		}
	}
	return "", errors.New("json: unterminated string")
}

func (p *jparser) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.b[p.i:p.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(v), true
}
