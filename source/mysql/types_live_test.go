package mysql

import (
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// typeColumn is one column of TestEveryTypeEndToEnd: its definition, the
// SELECT expression whose text is the reference, and how the streamed
// value is rendered for comparison with it.
type typeColumn struct {
	name, def, sel string
	render         func(v change.Value) string
}

// text renders a streamed value with change.AppendText.
func text(v change.Value) string { return string(change.AppendText(nil, v)) }

// hexOf renders the bytes of a streamed value in upper-case hex, as HEX()
// does.
func hexOf(v change.Value) string { return strings.ToUpper(hex.EncodeToString(v.B)) }

// floatText renders a FLOAT or DOUBLE as the reference query does:
// FORMAT-free, exact round trip through strconv of the stored bits.
func floatText(v change.Value) string {
	if v.Size == 4 {
		return strconv.FormatFloat(float64(float32(v.F)), 'g', -1, 32)
	}
	return strconv.FormatFloat(v.F, 'g', -1, 64)
}

// everyTypeColumns are the columns of the every-type table of
// TestEveryTypeEndToEnd (and of the output format tests, which stream the
// same table).
func everyTypeColumns() []typeColumn {
	return []typeColumn{
		{"id", "INT NOT NULL", "id", text},
		{"ti", "TINYINT", "ti", text},
		{"tu", "TINYINT UNSIGNED", "tu", text},
		{"si", "SMALLINT", "si", text},
		{"su", "SMALLINT UNSIGNED", "su", text},
		{"mi", "MEDIUMINT", "mi", text},
		{"mu", "MEDIUMINT UNSIGNED", "mu", text},
		{"ii", "INT", "ii", text},
		{"iu", "INT UNSIGNED", "iu", text},
		{"bi", "BIGINT", "bi", text},
		{"bu", "BIGINT UNSIGNED", "bu", text},
		{"d0", "DECIMAL(10,0)", "d0", text},
		{"d1", "DECIMAL(65,30)", "d1", text},
		{"d2", "DECIMAL(12,4) UNSIGNED", "d2", text},
		{"fl", "FLOAT", "fl", floatText},
		{"db", "DOUBLE", "db", floatText},
		{"b1", "BIT(1)", "b1+0", text},
		{"b64", "BIT(64)", "b64+0", text},
		{"dt", "DATE", "CAST(dt AS CHAR)", text},
		{"tm", "TIME", "CAST(tm AS CHAR)", text},
		{"tm6", "TIME(6)", "CAST(tm6 AS CHAR)", text},
		{"dtt", "DATETIME", "CAST(dtt AS CHAR)", text},
		{"dt3", "DATETIME(3)", "CAST(dt3 AS CHAR)", text},
		{"dt6", "DATETIME(6)", "CAST(dt6 AS CHAR)", text},
		{"ts", "TIMESTAMP NULL", "UNIX_TIMESTAMP(ts)", func(v change.Value) string { return strconv.FormatInt(v.I, 10) }},
		{"ts6", "TIMESTAMP(6) NULL", "UNIX_TIMESTAMP(ts6)", func(v change.Value) string {
			return fmt.Sprintf("%d.%06d", v.I, v.U/1000)
		}},
		{"yr", "YEAR", "CAST(yr AS CHAR)", text},
		{"ch", "CHAR(10) CHARACTER SET utf8mb4", "ch", text},
		{"vc", "VARCHAR(300) CHARACTER SET utf8mb4", "vc", text},
		{"l1", "VARCHAR(20) CHARACTER SET latin1", "l1", text},
		{"bn", "BINARY(4)", "HEX(bn)", hexOf},
		{"vb", "VARBINARY(300)", "HEX(vb)", hexOf},
		{"tt", "TINYTEXT", "tt", text},
		{"tx", "TEXT", "tx", text},
		{"mt", "MEDIUMTEXT", "mt", text},
		{"lt", "LONGTEXT", "lt", text},
		{"tb", "TINYBLOB", "HEX(tb)", hexOf},
		{"bl", "BLOB", "HEX(bl)", hexOf},
		{"mb", "MEDIUMBLOB", "HEX(mb)", hexOf},
		{"lb", "LONGBLOB", "HEX(lb)", hexOf},
		{"en", "ENUM('a','b','ç')", "en", text},
		{"st", "SET('x','y','z')", "st", text},
		{"js", "JSON", "js", text},
		{"geo", "GEOMETRY", "HEX(ST_AsWKB(geo))", hexOf},
		{"pt", "POINT", "HEX(ST_AsWKB(pt))", hexOf},
		{"i4", "INET4", "CAST(i4 AS CHAR)", text},
		{"i6", "INET6", "CAST(i6 AS CHAR)", text},
		{"uu", "UUID", "CAST(uu AS CHAR)", text},
	}
}

// everyTypeRows are the rows TestEveryTypeEndToEnd inserts, one SQL
// literal per column of everyTypeColumns.
func everyTypeRows() [][]string {
	return [][]string{
		{"1", "-128", "255", "-32768", "65535", "-8388608", "16777215", "-2147483648", "4294967295",
			"-9223372036854775808", "18446744073709551615", "-9999999999",
			"-12345678901234567890123456789012345.123456789012345678901234567890", "99999999.9999",
			"-3.40282e38", "-1.7976931348623157e308", "b'1'", "b'1111111111111111111111111111111111111111111111111111111111111111'",
			"'1000-01-01'", "'-838:59:59'", "'838:59:58.999999'", "'1000-01-01 00:00:00'", "'2024-02-29 23:59:59.999'",
			"'9999-12-31 23:59:59.999999'", "'1970-01-01 00:00:01'", "'2038-01-19 03:14:07.999999'", "1901",
			"'ünïcödé ✓'", "REPEAT('€', 300)", "'Grüße'", "x'00FF1000'", "x''", "''", "REPEAT('t', 65535)",
			"REPEAT('m', 70000)", "REPEAT('L', 100000)", "x'00'", "REPEAT(x'FE', 65535)", "REPEAT(x'01', 70000)", "x''",
			"'ç'", "'x,y,z'", `'{"a": [1, 2.5, "three", null, true], "b": {"c": "ü"}}'`,
			"ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0))')", "POINT(1.5, -2.25)",
			"'255.255.255.255'", "'2001:db8::ff00:42:8329'", "'123e4567-e89b-12d3-a456-426614174000'"},
		{"2", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "-0", "b'0'", "b'0'",
			"'9999-12-31'", "'00:00:00'", "'-00:00:00.000001'", "'9999-12-31 23:59:59'", "'1000-01-01 00:00:00.000'",
			"'1000-01-01 00:00:00.000000'", "NULL", "NULL", "2155", "''", "''", "''", "x'00000000'", "x'00'",
			"NULL", "''", "''", "''", "x''", "x''", "x''", "x'00'", "'a'", "''", "'[]'",
			"ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1),LINESTRING(0 0,1 1))')", "POINT(0, 0)",
			"'0.0.0.0'", "'::'", "'00000000-0000-0000-0000-000000000000'"},
		{"3", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL",
			"NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL",
			"NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL",
			"NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL"},
		{"4", "127", "1", "32767", "1", "8388607", "1", "2147483647", "1", "9223372036854775807", "1", "9999999999",
			"0.000000000000000000000000000001", "0.0001", "1.17549e-38", "2.2250738585072014e-308", "b'1'",
			"b'1000000000000000000000000000000000000000000000000000000000000001'",
			"'2000-02-29'", "'12:34:56'", "'-12:34:56.000100'", "'2000-02-29 12:34:56'", "'2000-02-29 12:34:56.100'",
			"'2000-02-29 12:34:56.000001'", "'2000-02-29 12:34:56'", "'2000-02-29 12:34:56.123456'", "2000",
			"'a'", "'tab\\there\\nnewline'", "'\\'quote\\''", "x'DEADBEEF'", "x'0A0D1A5C27'", "'t'", "'x'", "'y'", "'z'",
			"x'0102'", "x'03'", "x'04'", "x'05'", "'b'", "'y'", `'"just a string"'`,
			"ST_GeomFromText('MULTILINESTRING((0 0,1 1),(2 2,3 3))')", "POINT(-180, 90)",
			"'10.1.2.3'", "'::ffff:10.1.2.3'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'"},
	}
}

// TestEveryTypeEndToEnd writes rows with edge values of every MariaDB
// column type (signed and unsigned integers at their limits, wide
// decimals, float and double, bits, every temporal type with fractions,
// character sets, binary strings, every BLOB/TEXT size, ENUM, SET, JSON,
// geometry, INET4/INET6/UUID), updates and deletes some, and checks that
// every streamed value equals what SELECT returns — the table rebuilt from
// the stream equals the table — with column names and the primary key,
// in file+position and GTID mode.
func TestEveryTypeEndToEnd(t *testing.T) {
	cols, rows := everyTypeColumns(), everyTypeRows()
	var defs, names, sels []string
	for _, c := range cols {
		defs = append(defs, c.name+" "+c.def)
		names = append(names, c.name)
		sels = append(sels, c.sel+" AS "+c.name)
	}
	create := "CREATE TABLE %s (" + strings.Join(defs, ", ") + ", PRIMARY KEY (id))"
	var inserts []string
	for _, r := range rows {
		if len(r) != len(cols) {
			t.Fatalf("row %s has %d values for %d columns", r[0], len(r), len(cols))
		}
		inserts = append(inserts, "INSERT INTO %[1]s ("+strings.Join(names, ", ")+") VALUES ("+strings.Join(r, ", ")+")")
	}

	var minimal *testenv.MariaDB
	for _, tc := range []struct {
		name, meta string
		gtid       bool
	}{{"filepos", "FULL", false}, {"gtid", "FULL", true}, {"minimal", "MINIMAL", true}} {
		t.Run(tc.name, func(t *testing.T) {
			shared := shared
			if tc.meta == "MINIMAL" {
				if minimal == nil {
					minimal = testenv.NewMariaDB(t, testenv.MariaDBOptions{RowMetadata: "MINIMAL"})
				}
				shared = minimal
			}
			table := "every_" + tc.name
			full := "types." + table
			exec(t, shared, "CREATE DATABASE IF NOT EXISTS types", "DROP TABLE IF EXISTS "+full, fmt.Sprintf(create, full))
			from := currentPosition(t, shared)
			if !tc.gtid {
				from.GTIDSet = ""
			}
			cfg := testConfig(shared.Addr())
			cfg.GTID = tc.gtid
			cfg.SchemaHistory = t.TempDir() + "/schema.jsonl"
			src, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			col := startCollector(t, src, from)
			var stmts []string
			for _, ins := range inserts {
				stmts = append(stmts, fmt.Sprintf(ins, full))
			}
			stmts = append(stmts,
				"UPDATE "+full+" SET vc = CONCAT(LEFT(vc, 299), '!'), d1 = -d1, ts = '2001-01-01 00:00:00', js = JSON_SET(js, '$.b.c', 42), i6 = '::10.1.2.3', uu = '6ccd780c-baba-1026-9564-5b8c656024db', bn = x'01' WHERE id = 1",
				"UPDATE "+full+" SET id = 30, ti = -1 WHERE id = 3",
				"DELETE FROM "+full+" WHERE id = 2")
			exec(t, shared, stmts...)
			got := col.waitFor(t, 30*time.Second, "7 row changes", countData(table, 7))
			checkTransactions(t, got)

			// Rebuild the table from the stream: id -> rendered row.
			rebuilt := map[string][]string{}
			for _, c := range data(got, table) {
				if c.Database != "types" {
					t.Fatalf("change in database %q", c.Database)
				}
				if len(c.Columns) != len(cols) {
					t.Fatalf("%s has %d columns, want %d", c.Op, len(c.Columns), len(cols))
				}
				for i, cc := range c.Columns {
					if cc.Name != cols[i].name || cc.Key != (i == 0) {
						t.Fatalf("column %d is %q key=%t, want %q key=%t", i, cc.Name, cc.Key, cols[i].name, i == 0)
					}
				}
				render := func(img []change.Value) []string {
					out := make([]string, len(img))
					for i, v := range img {
						if v.Kind == change.KindNull {
							out[i] = "NULL"
						} else {
							out[i] = cols[i].render(v)
						}
					}
					return out
				}
				switch c.Op {
				case change.OpInsert:
					r := render(c.After)
					rebuilt[r[0]] = r
				case change.OpUpdate:
					b, a := render(c.Before), render(c.After)
					if _, ok := rebuilt[b[0]]; !ok {
						t.Fatalf("update of id %s, which the stream never inserted", b[0])
					}
					delete(rebuilt, b[0])
					rebuilt[a[0]] = a
				case change.OpDelete:
					delete(rebuilt, render(c.Before)[0])
				default:
					t.Fatalf("unexpected %s", c.Op)
				}
			}
			db, err := shared.DB()
			if err != nil {
				t.Fatal(err)
			}
			want := selectText(t, db, "SELECT "+strings.Join(sels, ", ")+" FROM "+full+" ORDER BY id")
			if len(want) != len(rebuilt) {
				t.Fatalf("SELECT has %d rows, the stream rebuilt %d", len(want), len(rebuilt))
			}
			mismatches := 0
			for _, line := range want {
				fields := splitSelectLine(line, names)
				r, ok := rebuilt[fields[0]]
				if !ok {
					t.Fatalf("row id=%s is in SELECT but not in the stream", fields[0])
				}
				for i := range cols {
					if r[i] != fields[i] && !sameFloat(cols[i].def, r[i], fields[i]) {
						mismatches++
						t.Errorf("id=%s column %s %s: stream %.120q, SELECT %.120q", fields[0], cols[i].name, cols[i].def, r[i], fields[i])
					}
				}
			}
			if mismatches == 0 {
				t.Logf("%d rows × %d columns equal SELECT", len(want), len(cols))
			}
		})
	}
}

// splitSelectLine cuts a selectText line ("a=1 b=x y ...") back into its
// values, knowing the column names in order.
func splitSelectLine(line string, names []string) []string {
	out := make([]string, len(names))
	rest := line
	for i := range names {
		rest = strings.TrimPrefix(rest, names[i]+"=")
		if i+1 < len(names) {
			j := strings.Index(rest, " "+names[i+1]+"=")
			out[i], rest = rest[:j], rest[j+1:]
		} else {
			out[i] = rest
		}
	}
	return out
}

// sameFloat reports whether two texts of a FLOAT or DOUBLE column are the
// same number: the server prints FLOAT with 6 significant digits, so the
// stream's exact value is compared after rounding to the server's digits.
func sameFloat(def, stream, server string) bool {
	if def != "FLOAT" && def != "DOUBLE" {
		return false
	}
	a, err1 := strconv.ParseFloat(stream, 64)
	b, err2 := strconv.ParseFloat(server, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	if a == b {
		return true
	}
	digits := len(strings.TrimLeft(strings.Split(strings.Split(strings.TrimLeft(server, "-"), "e")[0], ".")[0]+strings.Split(strings.Split(server, "e")[0]+".", ".")[1], "0"))
	r, _ := strconv.ParseFloat(strconv.FormatFloat(a, 'g', max(digits, 1), 64), 64)
	return r == b || math.Abs(a-b) <= math.Abs(b)*1e-6
}
