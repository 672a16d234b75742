package tools

import (
	"math/rand/v2"
	"testing"
)

// escapeOneByOne is the byte-at-a-time escaping appendString replaces.
func escapeOneByOne(b []byte) string {
	out := []byte{'\''}
	for _, ch := range b {
		switch ch {
		case 0:
			out = append(out, '\\', '0')
		case '\n':
			out = append(out, '\\', 'n')
		case '\r':
			out = append(out, '\\', 'r')
		case 0x1a:
			out = append(out, '\\', 'Z')
		case '\\', '\'':
			out = append(out, '\\', ch)
		default:
			out = append(out, ch)
		}
	}
	return string(append(out, '\''))
}

func TestAppendStringEscapes(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `''`},
		{"plain text", `'plain text'`},
		{"it's", `'it\'s'`},
		{`back\slash`, `'back\\slash'`},
		{"nul\x00, newline\n, return\r, ctrl-z\x1a", `'nul\0, newline\n, return\r, ctrl-z\Z'`},
		{"\x00\x00", `'\0\0'`},
		{"é中 \"quoted\" `tick`", "'é中 \"quoted\" `tick`'"},
	} {
		if got := string(appendString([]byte("x"), []byte(tc.in))); got != "x"+tc.want {
			t.Errorf("appendString(%q) = %s, want x%s", tc.in, got, tc.want)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		b := make([]byte, rng.IntN(64))
		for j := range b {
			b[j] = byte(rng.IntN(256))
			if rng.IntN(4) == 0 {
				b[j] = "\x00\n\r\x1a\\'a"[rng.IntN(7)]
			}
		}
		if got, want := string(appendString(nil, b)), escapeOneByOne(b); got != want {
			t.Fatalf("appendString(%q) = %q, want %q", b, got, want)
		}
	}
}

func TestAppendIdentQuotes(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "``"},
		{"orders", "`orders`"},
		{"a`b", "`a``b`"},
		{"`", "````"},
		{"``x`", "`````x```"},
	} {
		if got := string(appendIdent(nil, tc.in)); got != tc.want {
			t.Errorf("appendIdent(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
