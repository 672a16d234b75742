package mysql

import (
	"strconv"
	"testing"

	"github.com/sluice-cdc/sluice/change"
)

// checkFastParsers compares parseInt, parseUint and parseDateTime with the
// general parsers they stand in front of, on text s.
func checkFastParsers(t *testing.T, s string) {
	b := []byte(s)
	i, err := parseInt(b)
	wi, werr := strconv.ParseInt(s, 10, 64)
	if i != wi || (err == nil) != (werr == nil) {
		t.Errorf("parseInt(%q) = %d, %v; strconv: %d, %v", s, i, err, wi, werr)
	}
	u, err := parseUint(b)
	wu, werr := strconv.ParseUint(s, 10, 64)
	if u != wu || (err == nil) != (werr == nil) {
		t.Errorf("parseUint(%q) = %d, %v; strconv: %d, %v", s, u, err, wu, werr)
	}
	y, mo, d, h, mi, sec, ns, ok := parseDateTime(b)
	if !ok {
		return
	}
	wy, wmo, wd, wh, wmi, wsec, wns, werr := parseDateTimeSlow(b)
	if werr != nil || y != wy || mo != wmo || d != wd || h != wh || mi != wmi || sec != wsec || ns != wns {
		t.Errorf("parseDateTime(%q) = %d-%d-%d %d:%d:%d.%d; general: %d-%d-%d %d:%d:%d.%d, %v",
			s, y, mo, d, h, mi, sec, ns, wy, wmo, wd, wh, wmi, wsec, wns, werr)
	}
}

var fastParserSeeds = []string{
	"0", "-0", "7", "-7", "123456789012345678", "-123456789012345678", "999999999999999999",
	"1234567890123456789", "-9223372036854775808", "9223372036854775807", "18446744073709551615",
	"18446744073709551616", "", "-", "+5", "1a", " 1", "1 ", "٣",
	"2024-05-06 07:08:09", "2024-05-06 07:08:09.123456", "2024-05-06 07:08:09.1", "2024-05-06 07:08:09.123456789",
	"2024-05-06 07:08:09.1234567890", "2024-05-06 07:08:09.", "0000-00-00 00:00:00", "9999-12-31 23:59:59.999999",
	"2024-05-06T07:08:09", "2024-05-06 7:08:09", "2024-05-06 07:08:9", "2024/05/06 07:08:09", "2024-05-06 07:08:09x123",
	"2024-05-06 100:08:09", "2024-0a-06 07:08:09",
}

func TestFastParsers(t *testing.T) {
	for _, s := range fastParserSeeds {
		checkFastParsers(t, s)
	}
	// Every integer text of up to 19 characters around the edges.
	for _, n := range []int64{0, 1, 9, 10, 99, 100, 1<<31 - 1, 1 << 31, 1<<53 + 1, 1e17, 1e17 - 1, 1e18 - 1, 1e18, 1<<63 - 1} {
		checkFastParsers(t, strconv.FormatInt(n, 10))
		checkFastParsers(t, strconv.FormatInt(-n, 10))
	}
}

func FuzzFastParsers(f *testing.F) {
	for _, s := range fastParserSeeds {
		f.Add(s)
	}
	f.Fuzz(checkFastParsers)
}

// TestSnapDecodeBadText feeds the snapshot decoder damaged and hostile
// texts: each gives an error naming the text, never a wrapped number.
func TestSnapDecodeBadText(t *testing.T) {
	dt := &snapColumn{name: "at", kind: tkDateTime}
	in := &snapColumn{name: "n", kind: tkInt, size: 64}
	for _, tc := range []struct {
		c   *snapColumn
		raw string
	}{
		{dt, "2024-05-06 99999999999999999999:00:00"},
		{dt, "2024-05-06 07:08:09.1234567890"},
		{dt, "2024-05-06 07:08:x9"},
		{dt, "2024-05-06"},
		{in, "99999999999999999999"},
		{in, "12a"},
		{in, ""},
	} {
		var v change.Value
		if err := tc.c.decode([]byte(tc.raw), &v); err == nil {
			t.Errorf("%s %q: decoded as %+v, want an error", tc.c.name, tc.raw, v)
		}
	}
}
