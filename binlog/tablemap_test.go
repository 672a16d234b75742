package binlog

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/change"
)

// tcol is a column for hand-built TABLE_MAP bodies.
type tcol struct {
	typ      ColumnType
	meta     []byte
	nullable bool
}

func testPacked(dst []byte, v uint64) []byte {
	switch {
	case v < 251:
		return append(dst, byte(v))
	case v < 1<<16:
		return append(dst, 252, byte(v), byte(v>>8))
	case v < 1<<24:
		return append(dst, 253, byte(v), byte(v>>8), byte(v>>16))
	}
	return append(dst, 254, byte(v), byte(v>>8), byte(v>>16), byte(v>>24), byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56))
}

func testTLV(typ byte, v []byte) []byte {
	return append(testPacked([]byte{typ}, uint64(len(v))), v...)
}

// buildTableMap builds a TABLE_MAP body with a 6-byte table id.
func buildTableMap(id uint64, db, table string, cols []tcol, optional ...[]byte) []byte {
	b := []byte{byte(id), byte(id >> 8), byte(id >> 16), byte(id >> 24), byte(id >> 32), byte(id >> 40), 1, 0}
	b = append(b, byte(len(db)))
	b = append(append(b, db...), 0)
	b = append(b, byte(len(table)))
	b = append(append(b, table...), 0)
	b = testPacked(b, uint64(len(cols)))
	var meta []byte
	for _, c := range cols {
		b = append(b, byte(c.typ))
		meta = append(meta, c.meta...)
	}
	b = testPacked(b, uint64(len(meta)))
	b = append(b, meta...)
	nulls := make([]byte, (len(cols)+7)/8)
	for i, c := range cols {
		if c.nullable {
			nulls[i/8] |= 1 << (uint(i) % 8)
		}
	}
	b = append(b, nulls...)
	for _, o := range optional {
		b = append(b, o...)
	}
	return b
}

func packedSeq(vs ...uint64) []byte {
	var b []byte
	for _, v := range vs {
		b = testPacked(b, v)
	}
	return b
}

func strSeq(lists ...[]string) []byte {
	var b []byte
	for _, l := range lists {
		b = testPacked(b, uint64(len(l)))
		for _, s := range l {
			b = testPacked(b, uint64(len(s)))
			b = append(b, s...)
		}
	}
	return b
}

func TestDecodeTableMapFullMetadata(t *testing.T) {
	cols := []tcol{
		{TypeLong, nil, false},                        // id INT UNSIGNED PK
		{TypeVarchar, []byte{0xfc, 0x03}, true},       // name VARCHAR(255) utf8mb4
		{TypeString, []byte{byte(TypeEnum), 1}, true}, // e ENUM
		{TypeString, []byte{byte(TypeSet), 1}, true},  // s SET
		{TypeNewDecimal, []byte{12, 2}, true},         // d DECIMAL(12,2)
		{TypeBlob, []byte{2}, true},                   // b BLOB (binary)
		{TypeString, []byte{0xfe, 40}, true},          // c CHAR(40) latin1
		{TypeGeometry, []byte{4}, true},               // g POINT
		{TypeTiny, nil, true},                         // t TINYINT signed
		{TypeDateTime2, []byte{6}, true},              // dt DATETIME(6)
		{TypeBit, []byte{1, 0}, true},                 // replaced below
	}
	cols[10] = tcol{TypeBit, []byte{0, 8}, true} // BIT(64)
	body := buildTableMap(0x123456789a, "shop", "items", cols,
		testTLV(tmSignedness, []byte{0b10000000}), // numeric cols: id, d, t -> id unsigned
		testTLV(tmDefaultCharset, packedSeq(255, 1, 63, 2, 8)),
		testTLV(tmColumnName, strSeq([]string{"id", "name", "e", "s", "d", "b", "c", "g", "t", "dt", "bit"})[1:]),
		testTLV(tmSetStrValue, strSeq([]string{"a", "b", "c"})),
		testTLV(tmEnumStrValue, strSeq([]string{"x", "y"})),
		testTLV(tmGeometryType, packedSeq(1)),
		testTLV(tmSimplePrimaryKey, packedSeq(0)),
		testTLV(200, []byte{1, 2, 3}), // unknown: skipped
		testTLV(tmColumnVisibility, []byte{0xff, 0b10000000}),
	)
	tm, err := DecodeTableMap(body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tm.TableID != 0x123456789a || tm.Database != "shop" || tm.Table != "items" || tm.Flags != 1 {
		t.Fatalf("header: %+v", tm)
	}
	want := []change.Column{
		{Name: "id", Type: "INT UNSIGNED", Key: true},
		{Name: "name", Type: "VARCHAR(255)", Nullable: true},
		{Name: "e", Type: "ENUM('x','y')", Nullable: true},
		{Name: "s", Type: "SET('a','b','c')", Nullable: true},
		{Name: "d", Type: "DECIMAL(12,2)", Nullable: true},
		{Name: "b", Type: "BLOB", Nullable: true},
		{Name: "c", Type: "CHAR(40)", Nullable: true},
		{Name: "g", Type: "POINT", Nullable: true},
		{Name: "t", Type: "TINYINT", Nullable: true},
		{Name: "dt", Type: "DATETIME(6)", Nullable: true},
		{Name: "bit", Type: "BIT(64)", Nullable: true},
	}
	if !reflect.DeepEqual(tm.Columns, want) {
		t.Errorf("columns:\n got %+v\nwant %+v", tm.Columns, want)
	}
	if !tm.Unsigned(0) || tm.Unsigned(4) || tm.Unsigned(8) {
		t.Error("signedness")
	}
	if tm.Collation(1) != 255 || tm.Collation(5) != 63 || tm.Collation(6) != 8 {
		t.Errorf("collations %d %d %d", tm.Collation(1), tm.Collation(5), tm.Collation(6))
	}
	if got := tm.Members(3); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Errorf("set members %q", got)
	}
	if tm.Visible(8) != true || tm.Visible(9) != false || tm.Visible(10) != false {
		t.Error("visibility")
	}
	if !reflect.DeepEqual(tm.PrimaryKey, []int{0}) || !tm.HasFullMetadata {
		t.Error("primary key")
	}
}

func TestDecodeTableMapColumnCharsets(t *testing.T) {
	cols := []tcol{
		{TypeShort, nil, false},
		{TypeVarchar, []byte{100, 0}, true},           // latin1 VARCHAR(100)
		{TypeString, []byte{byte(TypeEnum), 2}, true}, // latin1 enum with 2-byte index
		{TypeBlob, []byte{4}, true},                   // LONGTEXT gbk
		{TypeVarString, []byte{0x2c, 0x01}, true},     // VARBINARY(300)
		{TypeString, []byte{0xee, 0x2c}, false},       // CHAR(300) utf8mb3: length 0x12c hides in the type byte
	}
	body := buildTableMap(7, "d", "t", cols,
		testTLV(tmColumnCharset, packedSeq(8, 28, 63, 33)),
		testTLV(tmEnumStrValue, strSeq([]string{"caf\xe9", "na\xefve"})),
		testTLV(tmEnumAndSetColumnChset, packedSeq(8)),
		testTLV(tmPrimaryKeyWithPrefix, packedSeq(0, 0, 1, 10)),
	)
	tm, err := DecodeTableMap(body, nil)
	if err != nil {
		t.Fatal(err)
	}
	types := []string{"SMALLINT", "VARCHAR(100)", "ENUM('café','naïve')", "LONGTEXT", "VARBINARY(300)", "CHAR(100)"}
	for i, want := range types {
		if got := tm.Columns[i].Type; got != want {
			t.Errorf("col %d type %q, want %q", i+1, got, want)
		}
	}
	if !reflect.DeepEqual(tm.PrimaryKey, []int{0, 1}) || !reflect.DeepEqual(tm.PrimaryKeyPrefix, []int{0, 10}) {
		t.Errorf("pk %v %v", tm.PrimaryKey, tm.PrimaryKeyPrefix)
	}
	if !tm.Columns[0].Key || !tm.Columns[1].Key || tm.Columns[2].Key {
		t.Error("key flags")
	}
	if tm.cols[5].length != 300 || tm.cols[5].prefix != 2 {
		t.Errorf("CHAR(300) length %d prefix %d", tm.cols[5].length, tm.cols[5].prefix)
	}
}

func TestDecodeTableMapShortTableID(t *testing.T) {
	full := buildTableMap(0x01020304, "a", "b", []tcol{{TypeLong, nil, false}})
	body := append(full[:4:4], full[6:]...) // drop the two high id bytes
	tm, err := DecodeTableMapPostHeader(body, 6, false)
	if err != nil {
		t.Fatal(err)
	}
	if tm.TableID != 0x01020304 || tm.Table != "b" || tm.Columns[0].Type != "INT" {
		t.Fatalf("%+v", tm)
	}
	fde := &FormatDescription{PostHeaderLengths: make([]byte, 40)}
	fde.PostHeaderLengths[TableMapEvent-1] = 6
	if tm, err = DecodeTableMap(body, fde); err != nil || tm.TableID != 0x01020304 {
		t.Fatalf("with FDE: %v %+v", err, tm)
	}
}

func TestDecodeTableMapTypeTexts(t *testing.T) {
	tests := []struct {
		col  tcol
		text string
	}{
		{tcol{TypeTiny, nil, false}, "TINYINT"},
		{tcol{TypeShort, nil, false}, "SMALLINT"},
		{tcol{TypeInt24, nil, false}, "MEDIUMINT"},
		{tcol{TypeLong, nil, false}, "INT"},
		{tcol{TypeLongLong, nil, false}, "BIGINT"},
		{tcol{TypeFloat, []byte{4}, false}, "FLOAT"},
		{tcol{TypeDouble, []byte{8}, false}, "DOUBLE"},
		{tcol{TypeNewDecimal, []byte{65, 30}, false}, "DECIMAL(65,30)"},
		{tcol{TypeYear, nil, false}, "YEAR"},
		{tcol{TypeDate, nil, false}, "DATE"},
		{tcol{TypeTime, nil, false}, "TIME"},
		{tcol{TypeTime2, []byte{3}, false}, "TIME(3)"},
		{tcol{TypeTime2, []byte{0}, false}, "TIME"},
		{tcol{TypeDateTime, nil, false}, "DATETIME"},
		{tcol{TypeTimestamp, nil, false}, "TIMESTAMP"},
		{tcol{TypeTimestamp2, []byte{6}, false}, "TIMESTAMP(6)"},
		{tcol{TypeBit, []byte{1, 0}, false}, "BIT(1)"},
		{tcol{TypeBlob, []byte{1}, false}, "TINYBLOB"},
		{tcol{TypeBlob, []byte{3}, false}, "MEDIUMBLOB"},
		{tcol{TypeJSON, []byte{4}, false}, "JSON"},
		{tcol{TypeGeometry, []byte{4}, false}, "GEOMETRY"},
		{tcol{TypeVector, []byte{4}, false}, "VECTOR"},
		{tcol{TypeString, []byte{byte(TypeEnum), 1}, false}, "ENUM"},
		{tcol{TypeString, []byte{byte(TypeSet), 8}, false}, "SET"},
	}
	for _, tc := range tests {
		tm, err := DecodeTableMap(buildTableMap(1, "d", "t", []tcol{tc.col}), nil)
		if err != nil {
			t.Errorf("%s: %v", tc.text, err)
			continue
		}
		if got := tm.Columns[0].Type; got != tc.text {
			t.Errorf("type %d meta %v: %q, want %q", tc.col.typ, tc.col.meta, got, tc.text)
		}
	}
}

func TestDecodeTableMapErrors(t *testing.T) {
	bad := []tcol{
		{TypeNewDecimal, []byte{66, 2}, false},
		{TypeNewDecimal, []byte{10, 11}, false},
		{TypeBit, []byte{0, 9}, false},
		{TypeBlob, []byte{5}, false},
		{TypeDateTime2, []byte{7}, false},
		{TypeString, []byte{byte(TypeEnum), 3}, false},
		{TypeDecimal, nil, false},
		{ColumnType(100), nil, false},
	}
	for _, c := range bad {
		_, err := DecodeTableMap(buildTableMap(1, "d", "t", []tcol{c}), nil)
		var be *Error
		if !errors.As(err, &be) || !errors.Is(err, ErrMalformed) || be.Type != TableMapEvent {
			t.Errorf("type %d meta %v: err %v", c.typ, c.meta, err)
		}
	}
	// Every cut of a body before its optional metadata must fail cleanly,
	// except right after the column types: that is the pre-5.1.18 form
	// without metadata (TestTableMapWithoutMetadata).
	body := buildTableMap(9, "db", "tbl", []tcol{{TypeVarchar, []byte{10, 0}, true}, {TypeNewDecimal, []byte{5, 2}, false}},
		testTLV(tmColumnName, strSeq([]string{"a", "b"})[1:]))
	fixedEnd := len(body) - len(testTLV(tmColumnName, strSeq([]string{"a", "b"})[1:]))
	typesEnd := len(tableMapWithoutMetadata(9, "db", "tbl", TypeVarchar, TypeNewDecimal))
	for n := 0; n < len(body); n++ {
		tm, err := DecodeTableMap(body[:n], nil)
		if n == typesEnd {
			if err != nil || !tm.NoColumnMetadata {
				t.Errorf("cut after the column types: %v", err)
			}
			continue
		}
		if n < fixedEnd && !errors.Is(err, ErrTruncated) {
			t.Errorf("cut at %d: err %v", n, err)
		}
		if n > fixedEnd && err == nil {
			t.Errorf("cut at %d inside optional metadata: no error", n)
		}
	}
	// Metadata that names columns that do not exist.
	_, err := DecodeTableMap(buildTableMap(1, "d", "t", []tcol{{TypeLong, nil, false}}, testTLV(tmSimplePrimaryKey, packedSeq(3))), nil)
	if !errors.Is(err, errTableMapMeta) {
		t.Errorf("pk out of range: %v", err)
	}
	_, err = DecodeTableMap(buildTableMap(1, "d", "t", []tcol{{TypeLong, nil, false}}, testTLV(tmColumnName, strSeq([]string{"a", "b"})[1:])), nil)
	if !errors.Is(err, errTableMapMeta) {
		t.Errorf("too many names: %v", err)
	}
}

func TestTableMapSetCharset(t *testing.T) {
	tm, err := DecodeTableMap(buildTableMap(1, "d", "t", []tcol{{TypeVarchar, []byte{40, 0}, true}, {TypeBlob, []byte{2}, true}, {TypeLong, nil, false}}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if tm.Columns[0].Type != "VARCHAR(40)" || tm.Columns[1].Type != "BLOB" {
		t.Fatalf("before: %+v", tm.Columns)
	}
	if !tm.SetCharset(0, "utf8mb4") || !tm.SetCharset(1, "latin1") || tm.SetCharset(1, "klingon") || tm.SetCharset(2, "utf8") || tm.SetCharset(9, "utf8") {
		t.Fatal("SetCharset results")
	}
	if tm.Columns[0].Type != "VARCHAR(10)" || tm.Columns[1].Type != "TEXT" {
		t.Errorf("after: %+v", tm.Columns)
	}
	for name, want := range map[string]charsetID{"utf8": csUTF8MB3, "binary": csBinary, "filename": csFilename, "gb18030": csGB18030, "x": csUnknown} {
		if got := charsetByName(name); got != want {
			t.Errorf("%s: %d, want %d", name, got, want)
		}
	}
}

func TestDecodeTableMapMariaDBGeometryCharset(t *testing.T) {
	// MariaDB counts GEOMETRY among the character columns of the charset
	// metadata, MySQL does not: the VARCHAR after it gets the second entry.
	cols := []tcol{{TypeGeometry, []byte{4}, true}, {TypeVarchar, []byte{40, 0}, true}}
	body := buildTableMap(3, "d", "t", cols, testTLV(tmColumnCharset, packedSeq(63, 8)))
	maria, err := DecodeTableMapPostHeader(body, 8, true)
	if err != nil {
		t.Fatal(err)
	}
	if maria.Collation(1) != 8 || maria.Columns[1].Type != "VARCHAR(40)" {
		t.Errorf("MariaDB: collation %d type %q", maria.Collation(1), maria.Columns[1].Type)
	}
	mysql, err := DecodeTableMapPostHeader(body, 8, false)
	if err != nil {
		t.Fatal(err)
	}
	if mysql.Collation(1) != 63 || mysql.Columns[1].Type != "VARBINARY(40)" {
		t.Errorf("MySQL: collation %d type %q", mysql.Collation(1), mysql.Columns[1].Type)
	}
}

func TestTableMapErrorsLocated(t *testing.T) {
	good := buildTableMap(42, "shop", "orders", []tcol{{TypeLong, nil, false}, {TypeNewDecimal, []byte{12, 2}, true}})
	bad := buildTableMap(42, "shop", "orders", []tcol{{TypeNewDecimal, []byte{66, 2}, false}})
	for _, tc := range []struct {
		name string
		ev   Event
		want string
		is   error
	}{
		{"bad metadata", Event{Source: "bin.000007", Offset: 1234, Header: Header{Type: TableMapEvent}, Body: bad},
			"binlog: bin.000007@1234 TABLE_MAP_EVENT: table id 42 (shop.orders): ", ErrMalformed},
		{"cut in the column types", Event{Source: "bin.000007", Offset: 99, Header: Header{Type: TableMapEvent}, Body: good[:len(good)-5]},
			"binlog: bin.000007@99 TABLE_MAP_EVENT: table id 42 (shop.orders): truncated: column types", ErrTruncated},
		{"cut in the metadata", Event{Source: "bin.000007", Offset: 99, Header: Header{Type: TableMapEvent}, Body: good[:len(good)-2]},
			"binlog: bin.000007@99 TABLE_MAP_EVENT: table id 42 (shop.orders): truncated: column metadata", ErrTruncated},
		{"cut in the table name", Event{Source: "relay.000002", Offset: 4, Header: Header{Type: TableMapEvent}, Body: good[:16]},
			"binlog: relay.000002@4 TABLE_MAP_EVENT: table id 42: ", ErrTruncated},
		{"cut in the table id", Event{Source: "relay.000002", Offset: 4, Header: Header{Type: TableMapEvent}, Body: good[:3]},
			"binlog: relay.000002@4 TABLE_MAP_EVENT: truncated", ErrTruncated},
		{"nested", Event{Source: "bin.000003", Offset: 500, Nested: true, PayloadOffset: 77, Header: Header{Type: TableMapEvent}, Body: bad},
			"binlog: bin.000003@500 TABLE_MAP_EVENT: payload byte 77: table id 42 (shop.orders): ", ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeTableMapEvent(&tc.ev)
			var be *Error
			if !errors.As(err, &be) || !errors.Is(err, tc.is) {
				t.Fatalf("err %v, want a located %v", err, tc.is)
			}
			if be.Source != tc.ev.Source || be.Offset != tc.ev.Offset || be.Type != TableMapEvent {
				t.Errorf("located at %q@%d %v", be.Source, be.Offset, be.Type)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("err %q, want prefix %q", err, tc.want)
			}
			// Without the event: the same facts, no file or offset.
			_, err = DecodeTableMap(tc.ev.Body, nil)
			if !errors.As(err, &be) || !errors.Is(err, tc.is) || be.Source != "" || be.Type != TableMapEvent {
				t.Fatalf("DecodeTableMap: err %v", err)
			}
			if tc.ev.Nested {
				return
			}
			if want := strings.Replace(tc.want, tc.ev.Source+"@"+strconv.FormatInt(tc.ev.Offset, 10), "@0", 1); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("DecodeTableMap: err %q, want prefix %q", err, want)
			}
		})
	}
}
