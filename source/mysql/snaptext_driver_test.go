package mysql

import (
	"database/sql/driver"
	"math"
	"testing"

	"github.com/sluice-cdc/sluice/change"
)

// TestDecodeDriver: a value the driver parsed decodes to what its text
// decodes to.
func TestDecodeDriver(t *testing.T) {
	tests := []struct {
		name string
		col  snapColumn
		v    driver.Value
		text string // what the server sent ("" and null: NULL)
		null bool
	}{
		{"int", snapColumn{kind: tkInt, size: 32}, int64(-42), "-42", false},
		{"int min", snapColumn{kind: tkInt, size: 64}, int64(math.MinInt64), "-9223372036854775808", false},
		{"unsigned int as int64", snapColumn{kind: tkUint, size: 32}, int64(4294967295), "4294967295", false},
		{"unsigned bigint", snapColumn{kind: tkUint, size: 64}, uint64(math.MaxUint64), "18446744073709551615", false},
		{"year", snapColumn{kind: tkYear}, int64(2026), "2026", false},
		{"float", snapColumn{kind: tkFloat}, float32(1.1), "1.1", false},
		{"double", snapColumn{kind: tkDouble}, float64(-2.5e-300), "-2.5e-300", false},
		{"decimal text", snapColumn{kind: tkDecimal}, []byte("12.50"), "12.50", false},
		{"null", snapColumn{kind: tkInt, size: 32}, nil, "", true},
	}
	var num []byte
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got, want change.Value
			if err := tc.col.decodeDriver(tc.v, &got, &num); err != nil {
				t.Fatal(err)
			}
			var raw []byte
			if !tc.null {
				raw = []byte(tc.text)
			}
			if err := tc.col.decode(raw, &want); err != nil {
				t.Fatal(err)
			}
			if !change.Equal(got, want) || got.Kind != want.Kind || got.Size != want.Size {
				t.Fatalf("%+v, want %+v", got, want)
			}
		})
	}
	var v change.Value
	if err := (&snapColumn{name: "c", kind: tkInt}).decodeDriver(true, &v, &num); err == nil {
		t.Fatal("a bool from the driver decoded without error")
	}
}
