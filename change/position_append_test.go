package change

import "testing"

func TestAppendPosition(t *testing.T) {
	for _, p := range []Position{
		{},
		{Flavor: FlavorBinlog, File: "bin.000003", Offset: 1234, Index: 2, GTIDSet: "0-1-5"},
		{Flavor: FlavorLSN, Offset: 0x16B3748, Index: 7},
	} {
		if got := string(AppendPosition([]byte("x"), p)); got != "x"+p.String() {
			t.Errorf("AppendPosition(%v) = %q, want x%s", p, got, p.String())
		}
	}
}
