package binlog

import (
	"errors"
	"testing"
)

func TestMySQLGTIDSetText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"3E11FA47-71CA-11E1-9E33-C80AA9429562:23", "3e11fa47-71ca-11e1-9e33-c80aa9429562:23"},
		{"3e11fa47-71ca-11e1-9e33-c80aa9429562:1-3:5:4", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5"},
		{"3e11fa47-71ca-11e1-9e33-c80aa9429562:7-9:1-2, 3e11fa47-71ca-11e1-9e33-c80aa9429562:3", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-3:7-9"},
		{"b0000000-0000-0000-0000-000000000000:1,a0000000-0000-0000-0000-000000000000:2", "a0000000-0000-0000-0000-000000000000:2,b0000000-0000-0000-0000-000000000000:1"},
		{"55778904-0299-11f1-b1b8-4ef0c4956feb:mytag:1-2:Other:5,55778904-0299-11f1-b1b8-4ef0c4956feb:1-13", "55778904-0299-11f1-b1b8-4ef0c4956feb:1-13:mytag:1-2:other:5"},
	} {
		s, err := ParseMySQLGTIDSet(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got := s.String(); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
		// Binary encoding round trip.
		enc := s.AppendEncoding(nil)
		back, n, err := DecodeMySQLGTIDSet(enc)
		if err != nil || n != len(enc) || back.String() != tc.want {
			t.Errorf("%q: binary round trip gave %q, %d/%d, %v", tc.in, back, n, len(enc), err)
		}
	}
	for _, bad := range []string{"x", "3e11fa47-71ca-11e1-9e33-c80aa9429562:0", "3e11fa47-71ca-11e1-9e33-c80aa9429562:5-3", "3e11fa47-71ca-11e1-9e33-c80aa9429562::1", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1tag:1", "3e11fa47-71ca-11e1-9e33-c80aa9429562:a-b"} {
		if _, err := ParseMySQLGTIDSet(bad); !errors.Is(err, ErrBadGTID) {
			t.Errorf("%q: got %v, want ErrBadGTID", bad, err)
		}
	}
}

func TestMySQLGTIDSetContains(t *testing.T) {
	s, err := ParseMySQLGTIDSet("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:10-20,3e11fa47-71ca-11e1-9e33-c80aa9429562:tg:7")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := ParseUUID("3e11fa47-71ca-11e1-9e33-c80aa9429562")
	for _, tc := range []struct {
		g    MySQLGTID
		want bool
	}{
		{MySQLGTID{u, "", 1}, true}, {MySQLGTID{u, "", 5}, true}, {MySQLGTID{u, "", 6}, false},
		{MySQLGTID{u, "", 20}, true}, {MySQLGTID{u, "", 21}, false}, {MySQLGTID{u, "tg", 7}, true},
		{MySQLGTID{u, "tg", 6}, false}, {MySQLGTID{UUID{}, "", 1}, false},
	} {
		if got := s.Contains(tc.g); got != tc.want {
			t.Errorf("Contains(%v) = %v", tc.g, got)
		}
	}
	sub, _ := ParseMySQLGTIDSet("3e11fa47-71ca-11e1-9e33-c80aa9429562:2-4:12")
	notSub, _ := ParseMySQLGTIDSet("3e11fa47-71ca-11e1-9e33-c80aa9429562:4-11")
	if !s.ContainsSet(sub) || s.ContainsSet(notSub) {
		t.Error("ContainsSet")
	}
	c := s.Clone()
	c.Add(MySQLGTID{u, "", 6})
	c.Union(notSub)
	if c.String() != "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-20:tg:7" || s.Contains(MySQLGTID{u, "", 6}) {
		t.Errorf("Add/Union/Clone: %s, original %s", c, s)
	}
}

func TestMariaGTIDSet(t *testing.T) {
	s, err := ParseMariaGTIDSet("0-1-100, 1-2-5,0-2-90")
	if err != nil {
		t.Fatal(err)
	}
	if s.String() != "0-1-100,0-2-90,1-2-5" {
		t.Errorf("String %q", s)
	}
	s.Add(MariaGTID{0, 1, 101})
	s.Add(MariaGTID{0, 1, 50}) // older: ignored
	if !s.Contains(MariaGTID{0, 3, 101}) || s.Contains(MariaGTID{0, 1, 102}) || s.Contains(MariaGTID{2, 1, 1}) {
		t.Errorf("Contains on %s", s)
	}
	o, _ := ParseMariaGTIDSet("0-9-7,1-2-5")
	if !s.ContainsSet(o) {
		t.Error("ContainsSet")
	}
	for _, bad := range []string{"1-2", "a-1-1", "1-1-1-1", "99999999999-1-1"} {
		if _, err := ParseMariaGTIDSet(bad); !errors.Is(err, ErrBadGTID) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestVarlenIntegers(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 1<<14 - 1, 1 << 14, 1<<21 + 5, 1<<56 - 1, 1 << 56, 1<<64 - 1} {
		b := appendVarUint(nil, v)
		c := cursor{b: b}
		if got := c.varUint("v"); got != v || c.err != nil || c.left() != 0 {
			t.Errorf("varUint %d: encoded % x, decoded %d, %v", v, b, got, c.err)
		}
	}
	for _, v := range []int64{0, -1, 1, 3, -64, 1<<62 + 7, -1 << 63, 1<<63 - 1} {
		c := cursor{b: appendVarInt(nil, v)}
		if got := c.varInt("v"); got != v {
			t.Errorf("varInt %d: got %d", v, got)
		}
	}
	for _, v := range []uint64{0, 250, 251, 0xffff, 0x10000, 0xffffff, 0x1000000, 1<<64 - 1} {
		c := cursor{b: AppendLenenc(nil, v)}
		if got := c.lenenc("v"); got != v || c.left() != 0 {
			t.Errorf("lenenc %d: got %d", v, got)
		}
	}
	c := cursor{b: []byte{0xfb}}
	if c.lenenc("v"); !errors.Is(c.err, ErrMalformed) {
		t.Errorf("lenenc NULL: %v", c.err)
	}
}
