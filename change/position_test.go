package change

import (
	"math"
	"slices"
	"testing"
)

func TestPositionText(t *testing.T) {
	tests := []struct {
		p    Position
		text string
	}{
		{Position{}, ""},
		{Position{Flavor: FlavorBinlog, File: "mysql-bin.000003", Offset: 1234, Index: 5}, "binlog:mysql-bin.000003:1234#5"},
		{Position{Flavor: FlavorBinlog, File: "mysql-bin.000003", Offset: 4}, "binlog:mysql-bin.000003:4"},
		{Position{Flavor: FlavorBinlog, File: "bin.000001", Offset: 4,
			GTIDSet: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,\n4c2b0a11-71ca-11e1-9e33-c80aa9429562:1-3"},
			"binlog:bin.000001:4;gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,%0A4c2b0a11-71ca-11e1-9e33-c80aa9429562:1-3"},
		{Position{Flavor: FlavorBinlog, File: "odd:name#1;x %", Offset: 0, GTIDSet: "0-1-100"}, "binlog:odd%3Aname%231%3Bx%20%25:0;gtid=0-1-100"},
		{Position{Flavor: FlavorBinlog}, "binlog::0"},
		{Position{Flavor: FlavorLSN, Offset: 0x16B3748, Index: 2}, "lsn:0/16B3748#2"},
		{Position{Flavor: FlavorLSN, Offset: math.MaxUint64}, "lsn:FFFFFFFF/FFFFFFFF"},
		{Position{Flavor: FlavorMongo, Offset: 1700000000<<32 | 5, Index: 1, Token: `{"_data":"8265"}`}, `mongo:1700000000.5#1;token={"_data":"8265"}`},
		{Position{Flavor: FlavorMongo, Token: "82;é"}, "mongo:0.0;token=82%3B%C3%A9"},
		{Position{Index: 3}, "none:0#3"},
		{Position{Flavor: FlavorLSN, File: "f", GTIDSet: "g", Token: "t"}, "lsn:0/0;file=f;gtid=g;token=t"},
		{Position{Flavor: 9, Offset: math.MaxUint64, Index: math.MaxUint64}, "flavor(9):18446744073709551615#18446744073709551615"},
		{Position{Flavor: FlavorLSN, Offset: 0x16B3748, Row: 17, Snapshot: "t=public.orders,k=42"}, "lsn:0/16B3748;row=17;snap=t=public.orders,k=42"},
		{Position{Flavor: FlavorBinlog, File: "b.000001", Offset: 4, GTIDSet: "0-1-5", Row: math.MaxUint64, Snapshot: "t=a b;c#d%"},
			"binlog:b.000001:4;gtid=0-1-5;row=18446744073709551615;snap=t=a%20b%3Bc%23d%25"},
		{Position{Flavor: FlavorMongo, Offset: 7, Index: 2, Token: "x", Snapshot: "inc=1"}, "mongo:0.7#2;token=x;snap=inc=1"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.text {
			t.Errorf("%+v.String() = %q, want %q", tt.p, got, tt.text)
		}
		back, err := ParsePosition(tt.text)
		if err != nil || back != tt.p {
			t.Errorf("ParsePosition(%q) = %+v, %v; want %+v", tt.text, back, err, tt.p)
		}
		if tt.p.IsZero() != (tt.text == "") {
			t.Errorf("%+v.IsZero() wrong", tt.p)
		}
	}
}

func TestParsePositionErrors(t *testing.T) {
	for _, bad := range []string{
		"binlog", "binlog:file", "binlog:f:-1", "binlog:f:+1", "binlog:f:x", "binlog:f:1#", "binlog:f:1#x",
		"binlog:f:1;gtid=a;gtid=b", "binlog:f:1;file=x", "binlog:f:1;other=1", "binlog:f:1;gtid", "binlog:f%4:1",
		"lsn:0", "lsn:1/G", "lsn:100000000/0", "lsn:/1", "mongo:1", "mongo:4294967296.0", "mongo:1.x",
		"what:1", "flavor(300):1", "none:", "binlog:f:18446744073709551616",
		"lsn:0/1;row=", "lsn:0/1;row=x", "lsn:0/1;row=-1", "lsn:0/1;row=1;row=2", "lsn:0/1;snap=%zz", "lsn:0/1;snap=a;snap=b",
	} {
		if p, err := ParsePosition(bad); err == nil {
			t.Errorf("ParsePosition(%q) = %+v, want an error", bad, p)
		}
	}
}

func TestCompare(t *testing.T) {
	// Each list is in strictly increasing order.
	ordered := []Position{
		{},
		{Index: 1},
		{Flavor: FlavorBinlog, File: "a.000001", Offset: 9999},
		{Flavor: FlavorBinlog, File: "mysql-bin", Offset: 4},
		{Flavor: FlavorBinlog, File: "mysql-bin.000002", Offset: 4},
		// A snapshot taken at mysql-bin.000002:4: its rows come after the
		// point and before the first transaction that begins there.
		{Flavor: FlavorBinlog, File: "mysql-bin.000002", Offset: 4, Row: 1, Snapshot: "t=z"},
		{Flavor: FlavorBinlog, File: "mysql-bin.000002", Offset: 4, Row: 2, Snapshot: "t=a"},
		{Flavor: FlavorBinlog, File: "mysql-bin.000002", Offset: 4, Row: 2, Snapshot: "t=b"},
		{Flavor: FlavorBinlog, File: "mysql-bin.000002", Offset: 4, Row: 1 << 40},
		{Flavor: FlavorBinlog, File: "mysql-bin.000002", Offset: 4, Index: 1},
		{Flavor: FlavorBinlog, File: "mysql-bin.000002", Offset: 4, Index: 1, GTIDSet: "x:1"},
		{Flavor: FlavorBinlog, File: "mysql-bin.000002", Offset: 120},
		{Flavor: FlavorBinlog, File: "mysql-bin.000010", Offset: 4},
		{Flavor: FlavorBinlog, File: "mysql-bin.999999", Offset: 4},
		{Flavor: FlavorBinlog, File: "mysql-bin.01000000", Offset: 4}, // same number: ties break on the text
		{Flavor: FlavorBinlog, File: "mysql-bin.1000000", Offset: 4},
		{Flavor: FlavorBinlog, File: "mysql-bin.x", Offset: 4},
		{Flavor: FlavorLSN, Offset: 0x16B3748},
		{Flavor: FlavorLSN, Offset: 0x16B3748, Index: 1},
		{Flavor: FlavorLSN, Offset: 0x1_00000000},
		{Flavor: FlavorMongo, Offset: 1 << 32, Token: "z"},
		{Flavor: FlavorMongo, Offset: 1<<32 | 1},
		{Flavor: FlavorMongo, Offset: 1<<32 | 1, Index: 1},
		{Flavor: FlavorMongo, Offset: 1<<32 | 1, Index: 1, Token: "a"},
		{Flavor: FlavorMongo, Offset: 1<<32 | 1, Index: 1, Token: "b"},
		{Flavor: FlavorMongo, Offset: 2 << 32},
	}
	for i := range ordered {
		for j := range ordered {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := Compare(ordered[i], ordered[j]); got != want {
				t.Errorf("Compare(%v, %v) = %d, want %d", ordered[i], ordered[j], got, want)
			}
			// ComparePlace agrees, or calls the two the same place.
			if got := ComparePlace(ordered[i], ordered[j]); got != want && got != 0 {
				t.Errorf("ComparePlace(%v, %v) = %d, want %d or 0", ordered[i], ordered[j], got, want)
			}
		}
	}
	// Same place, told apart only by a GTID set, a token or the snapshot progress.
	for _, pair := range [][2]Position{
		{ordered[6], ordered[7]},
		{ordered[9], ordered[10]},
		{ordered[22], ordered[23]},
		{ordered[23], ordered[24]},
		{{Flavor: FlavorBinlog, File: "b.000003", Offset: 841}, {Flavor: FlavorBinlog, File: "b.000003", Offset: 841, GTIDSet: "0-1-3"}},
	} {
		if ComparePlace(pair[0], pair[1]) != 0 || ComparePlace(pair[1], pair[0]) != 0 {
			t.Errorf("ComparePlace(%v, %v) is not 0", pair[0], pair[1])
		}
	}
	shuffled := slices.Clone(ordered)
	slices.Reverse(shuffled)
	slices.SortFunc(shuffled, Compare)
	if !slices.Equal(shuffled, ordered) {
		t.Error("sorting with Compare does not restore the order")
	}
}
