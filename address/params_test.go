package address

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

func params(t *testing.T, raw string) *Params {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return NewParams(u)
}

func TestParamsRead(t *testing.T) {
	p := params(t, "x://h/?s=hello&b=on&b2&n=42&d=250ms&size=4MiB&u=7&e=OPLOG&other=1")
	var (
		s    string
		b    bool
		b2   bool
		miss = true
		n    int
		d    time.Duration
		size int64
		u    uint32
		e    string
	)
	p.String("s", &s)
	p.Bool("b", &b)
	p.Bool("b2", &b2)
	p.Bool("missing", &miss)
	p.Int("n", &n, 0, 100)
	p.Duration("d", &d, time.Millisecond)
	p.Size("size", &size, 1)
	p.Uint32("u", &u, 1, 10)
	p.Enum("e", &e, "auto", "oplog", "changestream")
	if s != "hello" || !b || !b2 || !miss || n != 42 || d != 250*time.Millisecond || size != 4<<20 || u != 7 || e != "oplog" {
		t.Fatalf("read %q %v %v %v %d %v %d %d %q", s, b, b2, miss, n, d, size, u, e)
	}
	err := p.Check()
	if err == nil || err.Error() != "unknown parameter other (known: b, b2, d, e, missing, n, s, size, u)" {
		t.Fatalf("Check: %v", err)
	}
	if rest := p.Rest(); len(rest) != 1 || rest.Get("other") != "1" {
		t.Fatalf("Rest: %v", rest)
	}
	p.KnownAs("driver options", "zz", "aa")
	if err := p.Check(); err == nil || !strings.HasSuffix(err.Error(), "u; driver options: aa, zz)") {
		t.Fatalf("Check with a group: %v", err)
	}
	p.Known("other")
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestParamsErrors(t *testing.T) {
	tests := []struct {
		query string
		read  func(p *Params)
		want  string
	}{
		{"b=maybe", func(p *Params) { var b bool; p.Bool("b", &b) }, `parameter b="maybe": want on/off`},
		{"n=x", func(p *Params) { var n int; p.Int("n", &n, 0, 9) }, `parameter n="x": want an integer from 0 to 9`},
		{"n=10", func(p *Params) { var n int; p.Int("n", &n, 0, 9) }, `want an integer from 0 to 9`},
		{"d=5", func(p *Params) { var d time.Duration; p.Duration("d", &d, time.Millisecond) }, `parameter d="5": want a duration`},
		{"d=-1s", func(p *Params) { var d time.Duration; p.Duration("d", &d, 0) }, `not negative`},
		{"size=lots", func(p *Params) { var n int64; p.Size("size", &n, 0) }, `parameter size="lots": want a byte count`},
		{"e=x", func(p *Params) { var e string; p.Enum("e", &e, "a", "b") }, `want one of a, b`},
		{"password=hunter2", func(p *Params) { var n int; p.Int("password", &n, 0, 1) }, `parameter password=***: want`},
		{"a=1&z=2&n=1", func(p *Params) { var n int; p.Int("n", &n, 0, 9) }, `unknown parameters a, z (known: n)`},
	}
	for _, tt := range tests {
		p := params(t, "x://h/?"+tt.query)
		tt.read(p)
		err := p.Check()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.query, err, tt.want)
		}
		if strings.Contains(tt.query, "hunter2") && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error shows a secret: %v", err)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"4096", 4096, true}, {"4MiB", 4 << 20, true}, {"4 mib", 4 << 20, true}, {"4M", 4 << 20, true},
		{"64KB", 64000, true}, {"1g", 1 << 30, true}, {"10b", 10, true}, {"-1", 0, false}, {"1.5MiB", 0, false},
		{"MiB", 0, false}, {"99999999999T", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v", tt.in, got, err)
		}
	}
}

func TestRegistry(t *testing.T) {
	r := NewRegistry[int]("source")
	if err := r.Register("MySQL", 1); err != nil {
		t.Fatal(err)
	}
	if err := r.Register("mysql", 2); err == nil {
		t.Fatal("registered a scheme twice")
	}
	if err := r.Register("postgres", 3); err != nil {
		t.Fatal(err)
	}
	u, f, err := r.Lookup("MYSQL://u:pw@h/")
	if err != nil || f != 1 || u.Host != "h" {
		t.Fatalf("Lookup: %v %d %v", u, f, err)
	}
	_, _, err = r.Lookup("mysq://u:pw@h/")
	if err == nil || err.Error() != `source mysq://u:***@h/: unknown URL scheme "mysq" (registered: mysql, postgres)` {
		t.Fatalf("unknown scheme: %v", err)
	}
	_, _, err = r.Lookup("mysql://u:pw@h/%zz")
	if !errors.Is(err, ErrMalformed) || strings.Contains(err.Error(), "pw") || !strings.HasPrefix(err.Error(), "source mysql://u:***@h/%zz: ") {
		t.Fatalf("bad URL: %v", err)
	}
	_, _, err = r.Lookup("just-a-word")
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "malformed URL: want scheme://") {
		t.Fatalf("no scheme: %v", err)
	}
	err = r.Wrap("postgres://u@h/x?password=pw", errFmt("password pw rejected"))
	if err.Error() != "source postgres://u@h/x?password=***: password *** rejected" {
		t.Fatalf("Wrap: %v", err)
	}
}

type errFmt string

func (e errFmt) Error() string { return string(e) }
