package format

import (
	"math/big"
	"testing"
)

// TestUnscaledBytes compares the two's-complement bytes with math/big for
// decimals of every sign and size, and the scale with the text.
func TestUnscaledBytes(t *testing.T) {
	tests := []struct {
		text  string
		scale int
		ok    bool
	}{
		{"0", 0, true}, {"-0", 0, true}, {"0.00", 2, true}, {"1", 0, true}, {"-1", 0, true},
		{"127", 0, true}, {"128", 0, true}, {"-128", 0, true}, {"-129", 0, true}, {"255", 0, true}, {"256", 0, true},
		{"-256", 0, true}, {"-255", 0, true}, {"-32768", 0, true}, {"32768", 0, true}, {"-12.50", 2, true},
		{"19.90", 2, true}, {"0.001", 3, true}, {"99999999.9999", 4, true},
		{"-12345678901234567890123456789012345.123456789012345678901234567890", 30, true},
		{"-123456789012345678901234567890.123456789012345", 15, true},
		{"18446744073709551615", 0, true}, {"-9223372036854775808", 0, true}, {"4294967296", 0, true},
		{"1E+5", -5, true}, {"1.5e-3", 4, true}, {"12x", 0, false}, {"", 0, false}, {"-", 0, false}, {"1e", 0, false},
	}
	var d decimal
	var tw twos
	for _, tt := range tests {
		if ok := parseDecimal(&d, []byte(tt.text)); ok != tt.ok {
			t.Fatalf("parseDecimal(%q) = %v", tt.text, ok)
		}
		if !tt.ok {
			continue
		}
		if d.scale != tt.scale {
			t.Errorf("%s: scale %d, want %d", tt.text, d.scale, tt.scale)
		}
		for _, extra := range []int{0, 1, 20} {
			got := tw.unscaledBytes(&d, extra)
			want := new(big.Int)
			want.SetString("0"+string(d.digits), 10)
			want.Mul(want, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(extra)), nil))
			if d.neg {
				want.Neg(want)
			}
			if back := fromTwos(got); back.Cmp(want) != 0 || len(got) != minLen(want) {
				t.Errorf("%s ×10^%d: bytes %x read back as %s (%d bytes), want %s (%d bytes)", tt.text, extra, got, back, len(got), want, minLen(want))
			}
		}
	}
	for _, s := range []string{"NaN", "Infinity", "-Infinity"} {
		if !parseDecimal(&d, []byte(s)) || d.special != s {
			t.Errorf("parseDecimal(%s): special %q", s, d.special)
		}
	}
}

// fromTwos reads big-endian two's-complement bytes, as Java's
// BigInteger(byte[]) does.
func fromTwos(b []byte) *big.Int {
	v := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return v
}

// minLen is the length of BigInteger.toByteArray: bitLength/8 + 1.
func minLen(v *big.Int) int {
	if v.Sign() >= 0 {
		return v.BitLen()/8 + 1
	}
	// For negative v, Java's bitLength is that of -v-1.
	m := new(big.Int).Neg(v)
	m.Sub(m, big.NewInt(1))
	return m.BitLen()/8 + 1
}
