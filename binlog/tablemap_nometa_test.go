package binlog

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/change"
)

// rowTexts renders the after images of every row as change.AppendText
// does, "|"-separated, with "-" for absent and NULL for NULL values.
func rowTexts(t *testing.T, r *RowsReader) []string {
	t.Helper()
	var out []string
	var vals []change.Value
	var err error
	for r.Next() {
		if vals, err = r.After(vals[:0]); err != nil {
			t.Fatalf("row %d: %v", r.Row(), err)
		}
		var parts []string
		for _, v := range vals {
			switch v.Kind {
			case change.KindAbsent:
				parts = append(parts, "-")
			case change.KindNull:
				parts = append(parts, "NULL")
			default:
				parts = append(parts, string(change.AppendText(nil, v)))
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// tableMapWithoutMetadata builds a TABLE_MAP body as MySQL 5.1 wrote it
// before 5.1.18: the column types are the end of the event, with no
// metadata length, metadata or null bitmap.
func tableMapWithoutMetadata(id uint64, db, table string, types ...ColumnType) []byte {
	b := []byte{byte(id), byte(id >> 8), byte(id >> 16), byte(id >> 24), byte(id >> 32), byte(id >> 40), 1, 0}
	b = append(b, byte(len(db)))
	b = append(append(b, db...), 0)
	b = append(b, byte(len(table)))
	b = append(append(b, table...), 0)
	b = testPacked(b, uint64(len(types)))
	for _, t := range types {
		b = append(b, byte(t))
	}
	return b
}

// TestTableMapWithoutMetadata reads a pre-5.1.18 TABLE_MAP (which failed
// with "truncated: metadata length") the way mariadb-binlog does: metadata
// 0, so CHAR and VARCHAR have 1-byte length prefixes, and no column is
// nullable. Rows of the columns it can size decode; a column only metadata
// can size (BLOB here) fails with a clear error instead of a misread.
func TestTableMapWithoutMetadata(t *testing.T) {
	body := tableMapWithoutMetadata(7, "shop", "t", TypeLong, TypeVarchar, TypeString, TypeDouble, TypeDateTime, TypeTimestamp, TypeBlob)
	tm, err := DecodeTableMap(body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !tm.NoColumnMetadata || tm.HasFullMetadata {
		t.Errorf("NoColumnMetadata %v, HasFullMetadata %v", tm.NoColumnMetadata, tm.HasFullMetadata)
	}
	var types []string
	for _, c := range tm.Columns {
		types = append(types, c.Type)
		if c.Nullable {
			t.Errorf("column %s nullable without a null bitmap", c.Type)
		}
	}
	if got := strings.Join(types, ","); got != "INT,VARCHAR,CHAR,DOUBLE,DATETIME,TIMESTAMP,BLOB" {
		t.Errorf("types %s", got)
	}
	tables := func(uint64) *TableMap { return tm }

	// Two rows without the BLOB column (bit 6 clear), the second with NULLs.
	present := []byte{0x3f}
	row1 := image(leBytes(42, 4), lenPrefixed(1, []byte("abc")), lenPrefixed(1, []byte("xy")),
		leBytes(0x3ff8000000000000, 8), leBytes(20240229123456, 8), leBytes(1700000000, 4))
	row2 := image(leBytes(7, 4), nil, lenPrefixed(1, nil), nil, leBytes(0, 8), nil)
	r, err := NewRowsReader(WriteRowsEventV1, buildRowsBody(WriteRowsEventV1, 7, 7, [][]byte{present}, nil, append(row1, row2...)), nil, tables)
	if err != nil {
		t.Fatal(err)
	}
	afters := rowTexts(t, r)
	want := []string{
		"42|abc|xy|1.5|2024-02-29 12:34:56|2023-11-14 22:13:20|-",
		"7|NULL||NULL|0000-00-00 00:00:00|NULL|-",
	}
	if strings.Join(afters, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant\n%s", strings.Join(afters, "\n"), strings.Join(want, "\n"))
	}

	// A row with the BLOB column cannot be sized.
	body = buildRowsBody(WriteRowsEventV1, 7, 7, [][]byte{{0x7f}}, nil, image(leBytes(1, 4), nil, nil, nil, nil, nil, lenPrefixed(2, []byte("blob"))))
	r, err = NewRowsReader(WriteRowsEventV1, body, nil, tables)
	if !errors.Is(err, ErrUnsupported) || r != nil {
		t.Fatalf("rows with the BLOB column: %v, want ErrUnsupported", err)
	}
	for _, want := range []string{"col 7 BLOB", "shop.t", "no column metadata", "5.1.18"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
