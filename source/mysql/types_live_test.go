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
	"github.com/sluice-cdc/sluice/internal/everytype"
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

// everyTypeColumns are the columns of the every-type table
// (internal/everytype) for TestEveryTypeEndToEnd (and the output format,
// sink and snapshot tests, which stream the same table): the SELECT
// expression whose text is the reference for each column — the column
// itself unless MariaDB's text of it is not the value's — and how the
// streamed value is rendered for comparison with it.
func everyTypeColumns() []typeColumn {
	var cols []typeColumn
	for _, c := range everytype.Columns() {
		tc := typeColumn{name: c.Name, def: c.Def, sel: c.Name, render: text}
		switch c.Name {
		case "fl", "db":
			tc.render = floatText
		case "b1", "b64":
			tc.sel = c.Name + "+0"
		case "dt", "tm", "tm6", "dtt", "dt3", "dt6", "yr", "i4", "i6", "uu":
			tc.sel = "CAST(" + c.Name + " AS CHAR)"
		case "ts":
			tc.sel = "UNIX_TIMESTAMP(ts)"
			tc.render = func(v change.Value) string { return strconv.FormatInt(v.I, 10) }
		case "ts6":
			tc.sel = "UNIX_TIMESTAMP(ts6)"
			tc.render = func(v change.Value) string { return fmt.Sprintf("%d.%06d", v.I, v.U/1000) }
		case "bn", "vb", "tb", "bl", "mb", "lb":
			tc.sel, tc.render = "HEX("+c.Name+")", hexOf
		case "geo", "pt":
			tc.sel, tc.render = "HEX(ST_AsWKB("+c.Name+"))", hexOf
		}
		cols = append(cols, tc)
	}
	return cols
}

// everyTypeRows are the rows TestEveryTypeEndToEnd inserts, one SQL
// literal per column of everyTypeColumns.
func everyTypeRows() [][]string { return everytype.Rows() }

// TestEveryTypeEndToEnd writes rows with edge values of every MariaDB
// column type (signed and unsigned integers at their limits, wide
// decimals, float and double, bits, every temporal type with fractions,
// character sets, binary strings, every BLOB/TEXT size, ENUM, SET, JSON,
// geometry, INET4/INET6/UUID), updates and deletes some, and checks that
// every streamed value equals what SELECT returns — the table rebuilt from
// the stream equals the table — with column names and the primary key,
// in file+position and GTID mode.
func TestEveryTypeEndToEnd(t *testing.T) {
	cols := everyTypeColumns()
	var names, sels []string
	for _, c := range cols {
		names = append(names, c.name)
		sels = append(sels, c.sel+" AS "+c.name)
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
			exec(t, shared, "CREATE DATABASE IF NOT EXISTS types", "DROP TABLE IF EXISTS "+full, everytype.CreateTable(full))
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
			stmts := append(everytype.Inserts(full, everyTypeRows()), everytype.Updates(full)...)
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
