package snapshot

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/sluice-cdc/sluice/change"
)

// A key is the values of a row's key columns, in key order. In a
// snapshot's progress it is written with AppendKey, a text that gives back
// the exact typed values (ParseKey), so that a restart can ask the
// database for the rows after it and compare stream changes with it.
//
// Each value is written as its kind's name followed by the value's
// non-zero fields, each a letter and its content, separated by '.':
//
//	int.s32.i-42                Int(-42, 32)
//	string.bd%C3%A9j%C3%A0      String("déjà")
//	datetime.s6.i20240102030405.u123456000
//	document.e(int.s32.i1~string.bx).m(nid~nname)   (elements, then names)
//
// Values are separated by '/'. Inside a value, bytes outside [A-Za-z0-9_-]
// are written %XX; elements are listed between ".e(" and ")" and names
// (each after an 'n') between ".m(" and ")", separated by '~'. So '.',
// '/', '~', '(' and ')' are never part of a value's bytes, and the text
// needs no escaping inside a Position's snap field beyond what
// Position.String adds.

// AppendKey appends the text of key to dst.
func AppendKey(dst []byte, key []change.Value) []byte {
	for i := range key {
		if i > 0 {
			dst = append(dst, '/')
		}
		dst = appendValue(dst, &key[i])
	}
	return dst
}

// ParseKey reads a key written by AppendKey. The values own their bytes.
func ParseKey(s string) ([]change.Value, error) {
	if s == "" {
		return nil, errors.New("snapshot: empty key")
	}
	p := keyParser{s: s}
	var out []change.Value
	for {
		v, err := p.value()
		if err != nil {
			return nil, fmt.Errorf("snapshot: key %q: %w", s, err)
		}
		out = append(out, v)
		if p.i == len(p.s) {
			return out, nil
		}
		if p.s[p.i] != '/' {
			return nil, fmt.Errorf("snapshot: key %q: unexpected %q at %d", s, p.s[p.i], p.i)
		}
		p.i++
	}
}

func appendValue(dst []byte, v *change.Value) []byte {
	if v.Kind == change.KindInt && v.Size != 0 && v.I != 0 && !v.Neg && !v.Zoned && v.Off == 0 && v.U == 0 && v.F == 0 && v.B == nil && v.Elems == nil && v.Names == nil {
		// The commonest key, an integer column's value (written once per
		// row of a snapshot): what the general path below writes for it.
		dst = append(dst, "int.s"...)
		dst = strconv.AppendUint(dst, uint64(v.Size), 10)
		dst = append(dst, ".i"...)
		return strconv.AppendInt(dst, v.I, 10)
	}
	dst = append(dst, v.Kind.String()...)
	if v.Size != 0 {
		dst = append(dst, ".s"...)
		dst = strconv.AppendUint(dst, uint64(v.Size), 10)
	}
	if v.Neg {
		dst = append(dst, ".n"...)
	}
	if v.Zoned {
		dst = append(dst, ".z"...)
	}
	if v.Off != 0 {
		dst = append(dst, ".o"...)
		dst = strconv.AppendInt(dst, int64(v.Off), 10)
	}
	if v.I != 0 {
		dst = append(dst, ".i"...)
		dst = strconv.AppendInt(dst, v.I, 10)
	}
	if v.U != 0 {
		dst = append(dst, ".u"...)
		dst = strconv.AppendUint(dst, v.U, 10)
	}
	if v.F != 0 || math.Signbit(v.F) {
		dst = append(dst, ".f"...)
		dst = strconv.AppendUint(dst, math.Float64bits(v.F), 16)
	}
	if v.B != nil {
		dst = append(dst, ".b"...)
		dst = appendEscaped(dst, v.B)
	}
	if v.Elems != nil {
		dst = append(dst, ".e("...)
		for i := range v.Elems {
			if i > 0 {
				dst = append(dst, '~')
			}
			dst = appendValue(dst, &v.Elems[i])
		}
		dst = append(dst, ')')
	}
	if v.Names != nil {
		dst = append(dst, ".m("...)
		for i, n := range v.Names {
			if i > 0 {
				dst = append(dst, '~')
			}
			dst = append(dst, 'n')
			dst = appendEscaped(dst, []byte(n))
		}
		dst = append(dst, ')')
	}
	return dst
}

const upperHex = "0123456789ABCDEF"

// appendEscaped writes b with every byte outside [A-Za-z0-9_-] as %XX.
func appendEscaped(dst, b []byte) []byte {
	for _, c := range b {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
	}
	return dst
}

type keyParser struct {
	s string
	i int
}

// token returns the run of unescaped-text bytes at the cursor.
func (p *keyParser) token() string {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '.' || c == '/' || c == '~' || c == '(' || c == ')' {
			break
		}
		p.i++
	}
	return p.s[start:p.i]
}

func (p *keyParser) value() (change.Value, error) {
	var v change.Value
	name := p.token()
	if name == "" {
		return v, errors.New("missing kind")
	}
	k, err := change.ParseKind(name)
	if err != nil {
		return v, err
	}
	v.Kind = k
	for p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if p.i >= len(p.s) {
			return v, errors.New("truncated field")
		}
		f := p.s[p.i]
		p.i++
		switch f {
		case 'n':
			v.Neg = true
		case 'z':
			v.Zoned = true
		case 'e':
			if !p.take('(') {
				return v, errors.New("elements without '('")
			}
			v.Elems = []change.Value{}
			for !p.take(')') {
				if len(v.Elems) > 0 && !p.take('~') {
					return v, errors.New("elements not separated by '~'")
				}
				e, err := p.value()
				if err != nil {
					return v, err
				}
				v.Elems = append(v.Elems, e)
			}
		case 'm':
			if !p.take('(') {
				return v, errors.New("names without '('")
			}
			v.Names = []string{}
			for !p.take(')') {
				if len(v.Names) > 0 && !p.take('~') {
					return v, errors.New("names not separated by '~'")
				}
				if !p.take('n') {
					return v, errors.New("name without its 'n'")
				}
				b, err := unescape(p.token())
				if err != nil {
					return v, err
				}
				v.Names = append(v.Names, string(b))
			}
		default:
			t := p.token()
			var err error
			switch f {
			case 's':
				var n uint64
				n, err = strconv.ParseUint(t, 10, 8)
				v.Size = uint8(n)
			case 'o':
				var n int64
				n, err = strconv.ParseInt(t, 10, 32)
				v.Off = int32(n)
			case 'i':
				v.I, err = strconv.ParseInt(t, 10, 64)
			case 'u':
				v.U, err = strconv.ParseUint(t, 10, 64)
			case 'f':
				var bits uint64
				bits, err = strconv.ParseUint(t, 16, 64)
				v.F = math.Float64frombits(bits)
			case 'b':
				v.B, err = unescape(t)
			default:
				err = fmt.Errorf("unknown field %q", f)
			}
			if err != nil {
				return v, fmt.Errorf("field %c: %w", f, err)
			}
		}
	}
	return v, nil
}

func (p *keyParser) take(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func unescape(t string) ([]byte, error) {
	b := make([]byte, 0, len(t))
	for i := 0; i < len(t); i++ {
		if t[i] != '%' {
			b = append(b, t[i])
			continue
		}
		if i+2 >= len(t) {
			return nil, errors.New("truncated %XX escape")
		}
		h, err := hex.DecodeString(t[i+1 : i+3])
		if err != nil {
			return nil, fmt.Errorf("bad escape %q", t[i:i+3])
		}
		b = append(b, h[0])
		i += 2
	}
	return b, nil
}
