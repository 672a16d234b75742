package binlog

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/change"
)

// Rows MariaDB 10.11 wrote with mysql56_temporal_format=OFF for
//
//	CREATE TABLE d.t (id INT PRIMARY KEY, ts TIMESTAMP(3) NULL, dt DATETIME(6), dt1 DATETIME(1),
//	                  tm TIME(4), tmn TIME(2), ts0 TIMESTAMP NULL, n INT)
//
// (TABLE_MAP with binlog_row_metadata=MINIMAL, then three WRITE_ROWS_EVENT_V1
// bodies), and the values the server returns for them.
const (
	hiresTableMap = "12000000000001000164000174000803070c0c0b0b070300fe010100"
	hiresRows1    = "120000000000010008ff00010000004d1feb2502a60100cd1c3385f58000a75eadffff00000000011200c3bf72837b3a07000000"
	hiresRows2    = "120000000000010008ff400200000000000001000100000000000000000344d965ffff0e1098edff1245e1ce08000000"
	hiresRows3    = "120000000000010008ff420300000001027abcf689900100a965a7aa8007084c770011fb157009000000"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHiresTemporalFromServer decodes the server's bytes with the
// precisions of the table's schema.
func TestHiresTemporalFromServer(t *testing.T) {
	tmBody := mustHex(t, hiresTableMap)
	tm, err := DecodeTableMapPostHeader(tmBody, 8, true)
	if err != nil {
		t.Fatal(err)
	}
	for i, fsp := range []int{0, 3, 6, 1, 4, 2, 0, 0} {
		if ok := tm.SetPrecision(i, fsp); ok != (i >= 1 && i <= 6) {
			t.Errorf("SetPrecision(%d, %d) = %v", i, fsp, ok)
		}
	}
	var types []string
	for _, c := range tm.Columns {
		types = append(types, c.Type)
	}
	if got := strings.Join(types, ","); got != "INT,TIMESTAMP(3),DATETIME(6),DATETIME(1),TIME(4),TIME(2),TIMESTAMP,INT" {
		t.Errorf("types %s", got)
	}
	var got []string
	for _, body := range []string{hiresRows1, hiresRows2, hiresRows3} {
		r, err := NewRowsReader(WriteRowsEventV1, mustHex(t, body), nil, func(uint64) *TableMap { return tm })
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rowTexts(t, r)...)
	}
	want := []string{
		"1|2011-01-02 03:04:05.678|2011-01-02 03:04:05.123456|1999-12-31 23:59:59.9|-838:59:59.9999|-00:00:00.01|2001-02-03 04:05:06|7",
		"2|1970-01-01 00:00:01.001|0000-00-00 00:00:00.000000|9999-12-31 23:59:59.9|838:59:59.9999|12:34:56.78|NULL|8",
		"3|NULL|2024-02-29 12:00:00.000001|2024-02-29 12:00:00.0|00:00:00.0000|-01:02:03.04|NULL|9",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// mariaPackTime is MariaDB's pack_time (sql/field.cc) of a non-negative value.
func mariaPackTime(y, mo, d, h, mi, s int, us int64) int64 {
	return (((((int64(y)*13+int64(mo))*32+int64(d))*24+int64(h))*60+int64(mi))*60+int64(s))*1000000 + us
}

// Encoders of MariaDB's fractional-seconds formats, written from
// Field_*_hires::store_TIME.
func hiresTimestampValue(sec uint32, us int64, fsp int) []byte {
	return append(beBytes(uint64(sec), 4), beBytes(uint64(us/pow10[6-fsp]), hiresTimestampBytes[fsp]-4)...)
}

func hiresDateTimeValue(y, mo, d, h, mi, s int, us int64, fsp int) []byte {
	return beBytes(uint64(mariaPackTime(y, mo, d, h, mi, s, us)/pow10[6-fsp]), hiresDateTimeBytes[fsp])
}

func hiresTimeValue(neg bool, h, mi, s int, us int64, fsp int) []byte {
	p := mariaPackTime(0, 0, 0, h, mi, s, us) / pow10[6-fsp]
	if neg {
		p = -p
	}
	return beBytes(uint64(p+(timeMaxSeconds+1)*pow10[fsp]), hiresTimeBytes[fsp])
}

// TestHiresTemporalValues decodes constructed values of every precision.
func TestHiresTemporalValues(t *testing.T) {
	type tc struct {
		typ   ColumnType
		fsp   int
		value []byte
		want  string
		text  string
	}
	var tests []tc
	for fsp := 1; fsp <= 6; fsp++ {
		frac := func(us int64) string { // us truncated to fsp digits, as text
			return "." + itoa(1000000 + us)[1:1+fsp]
		}
		tests = append(tests,
			tc{TypeTimestamp, fsp, hiresTimestampValue(1700000000, 987654, fsp), "2023-11-14 22:13:20" + frac(987654), "TIMESTAMP(" + itoa(int64(fsp)) + ")"},
			tc{TypeTimestamp, fsp, hiresTimestampValue(0, 0, fsp), "0000-00-00 00:00:00" + frac(0), ""}, // the zero timestamp
			tc{TypeTimestamp, fsp, hiresTimestampValue(2147483647, 999999, fsp), "2038-01-19 03:14:07" + frac(999999), ""},
			tc{TypeDateTime, fsp, hiresDateTimeValue(2024, 2, 29, 23, 59, 58, 123456/pow10[6-fsp]*pow10[6-fsp], fsp), "2024-02-29 23:59:58" + frac(123456), "DATETIME(" + itoa(int64(fsp)) + ")"},
			tc{TypeDateTime, fsp, hiresDateTimeValue(1000, 1, 1, 0, 0, 0, 0, fsp), "1000-01-01 00:00:00" + frac(0), ""},
			tc{TypeDateTime, fsp, hiresDateTimeValue(9999, 12, 31, 23, 59, 59, 999999/pow10[6-fsp]*pow10[6-fsp], fsp), "9999-12-31 23:59:59" + frac(999999), ""},
			tc{TypeTime, fsp, hiresTimeValue(false, 12, 34, 56, 500000/pow10[6-fsp]*pow10[6-fsp], fsp), "12:34:56" + frac(500000), "TIME(" + itoa(int64(fsp)) + ")"},
			tc{TypeTime, fsp, hiresTimeValue(false, 100, 0, 1, 0, fsp), "100:00:01" + frac(0), ""},
			tc{TypeTime, fsp, hiresTimeValue(true, 0, 0, 0, 100000, fsp), "-00:00:00" + frac(100000), ""},
			tc{TypeTime, fsp, hiresTimeValue(true, 838, 59, 59, 999999/pow10[6-fsp]*pow10[6-fsp], fsp), "-838:59:59" + frac(999999), ""},
			tc{TypeTime, fsp, hiresTimeValue(false, 838, 59, 59, 999999/pow10[6-fsp]*pow10[6-fsp], fsp), "838:59:59" + frac(999999), ""},
		)
	}
	for _, tt := range tests {
		tm, err := DecodeTableMapPostHeader(buildTableMap(1, "d", "t", []tcol{{tt.typ, nil, true}}), 8, true)
		if err != nil {
			t.Fatal(err)
		}
		if !tm.SetPrecision(0, tt.fsp) {
			t.Fatalf("SetPrecision(0, %d) refused %v", tt.fsp, tt.typ)
		}
		if tt.text != "" && tm.Columns[0].Type != tt.text {
			t.Errorf("type %q, want %q", tm.Columns[0].Type, tt.text)
		}
		// Two rows, so that a wrong size shows in the second.
		body := buildRowsBody(WriteRowsEventV2, 1, 1, [][]byte{{1}}, nil, append(image(tt.value), image(tt.value)...))
		r, err := NewRowsReader(WriteRowsEventV2, body, nil, func(uint64) *TableMap { return tm })
		if err != nil {
			t.Fatal(err)
		}
		got := rowTexts(t, r)
		if len(got) != 2 || got[0] != tt.want || got[1] != tt.want {
			t.Errorf("%v(%d) % x: %q, want %q twice", tt.typ, tt.fsp, tt.value, got, tt.want)
		}
	}
}

// TestHiresTemporalUnknownPrecision checks that without the precision the
// server's fractional-seconds rows fail with ErrTemporalPrecision naming
// the columns, instead of being misread (they were read as 4-byte
// TIMESTAMPs, and decoding failed a row or two later), while classic rows
// of the same types still decode.
func TestHiresTemporalUnknownPrecision(t *testing.T) {
	tm, err := DecodeTableMapPostHeader(mustHex(t, hiresTableMap), 8, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{hiresRows1, hiresRows2, hiresRows3} {
		_, err := NewRowsReader(WriteRowsEventV1, mustHex(t, body), nil, func(uint64) *TableMap { return tm })
		if !errors.Is(err, ErrTemporalPrecision) || !errors.Is(err, ErrUnsupported) {
			t.Fatalf("err %v, want ErrTemporalPrecision", err)
		}
		for _, want := range []string{"d.t", "2 TIMESTAMP, 3 DATETIME, 4 DATETIME, 5 TIME, 6 TIME, 7 TIMESTAMP", "mysql56_temporal_format=OFF"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	}

	// Classic values of a MariaDB table: no precision needed.
	tm, err = DecodeTableMapPostHeader(buildTableMap(1, "d", "t", []tcol{{TypeTimestamp, nil, true}, {TypeDateTime, nil, true}, {TypeTime, nil, true}}), 8, true)
	if err != nil {
		t.Fatal(err)
	}
	row := image(leBytes(1700000000, 4), leBytes(20240229235958, 8), leBytes(uint64(0x1000000-1234), 3))
	r, err := NewRowsReader(WriteRowsEventV2, buildRowsBody(WriteRowsEventV2, 1, 3, [][]byte{{7}}, nil, append(row, row...)), nil, func(uint64) *TableMap { return tm })
	if err != nil {
		t.Fatal(err)
	}
	if got := rowTexts(t, r); len(got) != 2 || got[0] != "2023-11-14 22:13:20|2024-02-29 23:59:58|-00:12:34" {
		t.Errorf("classic rows %q", got)
	}
	// A DATETIME that is no valid classic value gives the error too.
	bad := image(leBytes(1700000000, 4), leBytes(20241329235958, 8), leBytes(0, 3))
	if _, err := NewRowsReader(WriteRowsEventV2, buildRowsBody(WriteRowsEventV2, 1, 3, [][]byte{{7}}, nil, bad), nil, func(uint64) *TableMap { return tm }); !errors.Is(err, ErrTemporalPrecision) {
		t.Errorf("month 13: %v", err)
	}
	// MySQL never writes the fractional format under the old codes.
	my, err := DecodeTableMapPostHeader(buildTableMap(1, "d", "t", []tcol{{TypeTimestamp, nil, true}}), 8, false)
	if err != nil {
		t.Fatal(err)
	}
	if my.SetPrecision(0, 3) {
		t.Error("SetPrecision accepted a MySQL table map")
	}
}

// FuzzHiresRows decodes arbitrary rows events against an arbitrary MariaDB
// TABLE_MAP whose old-code temporal columns get the precisions in fsps
// (one byte per column, n%8: 0-6 a precision, 7 none): no panic, and
// errors are *Error values.
func FuzzHiresRows(f *testing.F) {
	tm, _ := hex.DecodeString(hiresTableMap)
	for _, rows := range []string{hiresRows1, hiresRows2, hiresRows3} {
		body, _ := hex.DecodeString(rows)
		f.Add(tm, byte(WriteRowsEventV1), body, []byte{0, 3, 6, 1, 4, 2, 0, 0})
		f.Add(tm, byte(WriteRowsEventV1), body, []byte{7, 7, 7, 7, 7, 7, 7, 7})
		f.Add(tm, byte(WriteRowsEventV1), body, []byte{0, 6, 1, 3, 2, 5, 1, 0})
	}
	f.Fuzz(func(t *testing.T, tmBody []byte, typ byte, body []byte, fsps []byte) {
		tm, err := DecodeTableMapPostHeader(tmBody, 8, true)
		if err != nil {
			return
		}
		for i, b := range fsps {
			if b%8 < 7 {
				tm.SetPrecision(i, int(b%8))
			}
		}
		r, err := NewRowsReader(EventType(typ), body, nil, func(uint64) *TableMap { return tm })
		if err != nil {
			var be *Error
			if !errors.As(err, &be) {
				t.Fatalf("error is %T, want *Error", err)
			}
			return
		}
		var vals []change.Value
		for r.Next() {
			if vals, err = r.After(vals[:0]); err != nil {
				var be *Error
				if !errors.As(err, &be) {
					t.Fatalf("error is %T, want *Error", err)
				}
			}
		}
	})
}
