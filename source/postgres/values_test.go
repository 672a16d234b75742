package postgres

import (
	"github.com/sluice-cdc/sluice/source"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/change"
)

// TestDecodeText covers forms the live type test cannot produce easily and
// malformed text, which must be an error, never a panic or a wrong value.
func TestDecodeText(t *testing.T) {
	types := builtinTypes()
	enum := &pgType{OID: 90000, Name: "mood", Class: classEnum, Delim: ',', Labels: map[string]uint64{"sad": 1, "ok": 2}}
	box := &pgType{OID: 603, Name: "box", Class: classOther, Delim: ';'}
	boxArr := &pgType{OID: 1020, Name: "box[]", Class: classArray, Elem: box, Delim: ';'}
	domain := &pgType{OID: 90001, Name: "posint", Class: classInt4, Base: types[23]}
	tests := []struct {
		typ  *pgType
		mod  int32
		text string
		want change.Value
		err  string
	}{
		{types[21], -1, "32768", change.Value{}, "out of range"},
		{types[23], -1, "", change.Value{}, "invalid syntax"},
		{types[16], -1, "true", change.Value{}, "not t or f"},
		{types[1700], -1, "1.2.3", change.Value{}, "not a numeric"},
		{types[1700], -1, "-", change.Value{}, "not a numeric"},
		{types[1700], -1, "-0.000", change.Decimal([]byte("-0.000")), ""},
		{types[17], -1, `\xzz`, change.Value{}, "invalid byte"},
		{types[17], -1, `abc`, change.Value{}, "hex output format"},
		{types[2950], -1, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1", change.Value{}, "not a uuid"},
		{types[1082], -1, "2024-13", change.Value{}, "not a date"},
		{types[1082], -1, "12345-01-01", change.Date(12345, 1, 1), ""},
		{types[1083], 0, "10:11:12", change.Time(false, 10, 11, 12, 0, 0), ""},
		{types[1083], -1, "10:11", change.Value{}, "not a time"},
		{types[1083], -1, "10:11:12.", change.Value{}, "not a time"},
		{types[1266], -1, "10:11:12", change.Value{}, "no zone offset"},
		{types[1266], -1, "10:11:12+05:30:15", change.Value{Kind: change.KindTime, I: 101112, Size: 6, Off: 19815, Zoned: true}, ""},
		{types[1114], -1, "2024-01-01T00:00:00", change.Value{}, "not a timestamp"},
		{types[1114], -1, "0001-01-01 00:00:00 BC", change.Value{Kind: change.KindOther, B: []byte("0001-01-01 00:00:00 BC"), Names: []string{"timestamp without time zone"}}, ""},
		{types[1184], 3, "2000-01-01 00:00:00.123+00", change.Value{Kind: change.KindTimestamp, I: 946684800, U: 123000000, Size: 3, Zoned: true}, ""},
		{types[1184], -1, "2000-01-01 00:00:00+00 junk", change.Value{}, "trailing text"},
		{types[1560], -1, "10x", change.Value{}, "not a bit string"},
		{types[1562], -1, strings.Repeat("1", 65), change.Value{Kind: change.KindOther, B: []byte(strings.Repeat("1", 65)), Names: []string{"bit varying"}}, ""},
		{enum, -1, "ok", change.Enum([]byte("ok"), 2), ""},
		{domain, -1, "7", change.Int(7, 32), ""},
		{types[1007], -1, "{1,2", change.Value{}, "unterminated array"},
		{types[1007], -1, "{1,x}", change.Value{}, "element: integer value"},
		{types[1007], -1, "{1}}", change.Value{}, "trailing text"},
		{types[1009], -1, `{"a\`, change.Value{}, "dangling backslash"},
		{types[1009], -1, `{"a`, change.Value{}, "unterminated quoted element"},
		{types[1009], -1, `{a"b}`, change.Value{Kind: change.KindArray, Elems: []change.Value{change.String([]byte(`a"b`))}}, ""},
		{boxArr, -1, "{(1,1),(0,0);(2,2),(1,1)}", change.Value{Kind: change.KindArray, Elems: []change.Value{
			{Kind: change.KindOther, B: []byte("(1,1),(0,0)"), Names: []string{"box"}},
			{Kind: change.KindOther, B: []byte("(2,2),(1,1)"), Names: []string{"box"}}}}, ""},
	}
	for _, tc := range tests {
		v, err := decodeText(tc.typ, tc.mod, []byte(tc.text))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s %q: error %v, want %q", tc.typ.Name, tc.text, err, tc.err)
			}
			continue
		}
		if err != nil || !change.Equal(v, tc.want) {
			t.Errorf("%s %q: got %+v, %v; want %+v", tc.typ.Name, tc.text, v, err, tc.want)
		}
	}
	if _, err := decodeText(enum, -1, []byte("happy")); err != errUnknownLabel {
		t.Errorf("unknown enum label: %v, want errUnknownLabel", err)
	}
}

// FuzzDecodeText: no text makes any built-in decoder panic.
func FuzzDecodeText(f *testing.F) {
	for _, s := range []string{"{1,2}", `{"a\"b",NULL}`, "2024-01-02 03:04:05.6+05:30", "12:00:00-08", "NaN", `\x00ff`} {
		f.Add(s)
	}
	types := builtinTypes()
	f.Fuzz(func(t *testing.T, text string) {
		for _, typ := range types {
			_, _ = decodeText(typ, -1, []byte(text))
		}
	})
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		url  string
		err  string
		test func(t *testing.T, c *Config)
	}{
		{"postgres://u:p@h:6543/db?slot=s1&publication=p1&create-publication=a,s.b&temporary=true&sslmode=disable&memory-bytes=1000",
			"", func(t *testing.T, c *Config) {
				target, _ := c.publicationTarget()
				if c.Slot != "s1" || c.Publication != "p1" || !c.Temporary || c.MemoryBytes != 1000 || c.Conn.Port != 6543 ||
					c.Conn.Database != "db" || c.Conn.User != "u" || c.Conn.Password != "p" || target != `FOR TABLE "a", "s"."b"` {
					t.Errorf("%+v target %q", c, target)
				}
				if _, ok := c.Conn.RuntimeParams["slot"]; ok {
					t.Error("source parameters passed to the server")
				}
			}},
		{"postgres://h/db", "", func(t *testing.T, c *Config) {
			target, _ := c.publicationTarget()
			if c.Slot != DefaultSlot || c.Publication != DefaultPublication || target != "FOR ALL TABLES" || !c.Streaming {
				t.Errorf("%+v", c)
			}
		}},
		{"postgres://h/db?from=latest&memory-bytes=64KiB&max-retries=-1&application_name=x&sslmode=disable", "", func(t *testing.T, c *Config) {
			if c.Start != source.StartLatest || c.MemoryBytes != 64<<10 || !c.Retry.GiveUp(1) || c.Conn.RuntimeParams["application_name"] != "x" {
				t.Errorf("%+v", c)
			}
		}},
		{"postgres://h/db?create-publication=no", "", func(t *testing.T, c *Config) {
			if target, err := c.publicationTarget(); target != "" || err != nil {
				t.Errorf("target %q %v", target, err)
			}
		}},
		{"mysql://h/db", "want postgres://", nil},
		{"postgres://h/db?slot=Bad-Name", "slot name", nil},
		{"postgres://h/db?temporary=maybe", "temporary", nil},
		{"postgres://h/db?proto-version=9", `parameter proto-version="9"`, nil},
		{"postgres://h/db?slto=x&password=secret", "unknown parameter slto (known: ", nil},
		{"postgres://h/db?memory-bytes=lots", `parameter memory-bytes="lots"`, nil},
		{"postgres://h/db?from=middle", `parameter from="middle"`, nil},
		{"postgres://h/db?retry-min=2s&retry-max=1s", "retry-max", nil},
		{"postgres://h/db?create-publication=a..b", "empty name part", nil},
		{"postgres://u:secret@h:99999x/db", "", nil},
	}
	for _, tc := range tests {
		c, err := ParseURL(tc.url)
		if tc.test == nil {
			if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "secret") {
				t.Errorf("%s: error %v, want %q without the password", tc.url, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		tc.test(t, &c)
	}
}

func TestLSN(t *testing.T) {
	for _, tc := range []struct {
		s   string
		lsn uint64
	}{{"0/0", 0}, {"16/B374D848", 0x16_B374D848}, {"FFFFFFFF/FFFFFFFF", ^uint64(0)}} {
		if got, err := parseLSN(tc.s); err != nil || got != tc.lsn || formatLSN(tc.lsn) != tc.s {
			t.Errorf("%s: %x %v, format %s", tc.s, got, err, formatLSN(tc.lsn))
		}
	}
	for _, bad := range []string{"", "1", "x/1", "1/100000000"} {
		if _, err := parseLSN(bad); err == nil {
			t.Errorf("parseLSN(%q) accepted", bad)
		}
	}
	if protoVersion(150018, 0) != 3 || protoVersion(140000, 0) != 2 || protoVersion(130000, 0) != 1 || protoVersion(170000, 0) != 4 || protoVersion(150000, 1) != 1 {
		t.Error("protoVersion")
	}
}
