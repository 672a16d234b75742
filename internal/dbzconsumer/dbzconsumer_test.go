package dbzconsumer

import (
	"encoding/json"
	"math/big"
	"testing"
	"time"
)

func TestRestore(t *testing.T) {
	tests := []struct {
		raw    string
		schema Schema
		want   string
	}{
		{`"B8Y="`, Schema{Type: "bytes", Name: "org.apache.kafka.connect.data.Decimal", Parameters: map[string]string{"scale": "2"}}, "19.90"},
		{`"/w=="`, Schema{Type: "bytes", Name: "org.apache.kafka.connect.data.Decimal", Parameters: map[string]string{"scale": "3"}}, "-0.001"},
		{`{"scale":0,"value":"AA=="}`, Schema{Type: "struct", Name: "io.debezium.data.VariableScaleDecimal"}, "0"},
		{`19782`, Schema{Type: "int32", Name: "io.debezium.time.Date"}, "2024-02-29"},
		{`-735160`, Schema{Type: "int32", Name: "io.debezium.time.Date"}, "-0043-03-15"},
		{`-3020399000000`, Schema{Type: "int64", Name: "io.debezium.time.MicroTime"}, "-838:59:59.000000"},
		{`1709251199999`, Schema{Type: "int64", Name: "io.debezium.time.Timestamp"}, "2024-02-29 23:59:59.999000"},
		{`"//////////8="`, Schema{Type: "bytes", Name: "io.debezium.data.Bits", Parameters: map[string]string{"length": "64"}}, `{"Value":18446744073709551615,"Length":64}`},
		{`"-Infinity"`, Schema{Type: "double"}, "-Inf"},
		{`null`, Schema{Type: "string"}, "<nil>"},
	}
	for _, tt := range tests {
		v, err := Restore(json.RawMessage(tt.raw), &tt.schema)
		if err != nil {
			t.Errorf("Restore(%s): %v", tt.raw, err)
			continue
		}
		var got string
		switch x := v.(type) {
		case TimeOfDay:
			got = x.Text(6)
		case WallClock:
			got = x.Text(6)
		case interface{ String() string }:
			got = x.String()
		default:
			got = fmtAny(v)
		}
		if got != tt.want {
			t.Errorf("Restore(%s, %s) = %q, want %q", tt.raw, tt.schema.Name, got, tt.want)
		}
	}
	z, err := Restore(json.RawMessage(`"-0043-03-15T12:00:00.5Z"`), &Schema{Type: "string", Name: "io.debezium.time.ZonedTimestamp"})
	if want := time.Date(-43, 3, 15, 12, 0, 0, 5e8, time.UTC); err != nil || !z.(Instant).T.Equal(want) {
		t.Errorf("BC instant: %v %v", z, err)
	}
	if d := (Decimal{big.NewInt(-5), 3}).String(); d != "-0.005" {
		t.Errorf("Decimal = %s", d)
	}
}

func fmtAny(v any) string {
	b, _ := json.Marshal(v)
	if v == nil {
		return "<nil>"
	}
	if f, ok := v.(float64); ok {
		return big.NewFloat(f).String()
	}
	return string(b)
}
