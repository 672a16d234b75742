package canal

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	pbe "github.com/withlin/canal-go/protocol/entry"
)

// pgTypes are the columns of source/postgres's type test: SQL type and
// literal.
var pgTypes = [][2]string{
	{"smallint", "-32768"}, {"integer", "-2147483648"}, {"bigint", "9223372036854775807"},
	{"numeric", "'-123456789012345678901234567890.123456789012345'"}, {"numeric", "'NaN'"},
	{"numeric(10,2)", "1.5"}, {"real", "1.5"}, {"real", "'-0.1'"}, {"double precision", "0.1"},
	{"double precision", "'-Infinity'"}, {"double precision", "1e308"}, {"boolean", "true"}, {"boolean", "false"},
	{"text", "'héllo ✓ \"quoted\" \\ back 漢字 😀'"}, {"text", "''"}, {"varchar(5)", "'abc'"}, {"char(5)", "'ab'"},
	{`"char"`, "'x'"}, {"bytea", `'\xdeadbeef00'`}, {"bytea", "''"},
	{"json", `'{"b": [1, 2],  "a": null}'`}, {"jsonb", `'{"b": 1, "a": {"x": "é"}}'`},
	{"uuid", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"}, {"date", "'2024-02-29'"}, {"date", "'infinity'"},
	{"date", "'0044-03-15 BC'"}, {"time", "'23:59:59.999999'"}, {"time(3)", "'12:00:00.5'"}, {"time", "'24:00:00'"},
	{"timetz", "'12:34:56+05:30'"}, {"timetz", "'01:02:03.25-08'"}, {"timestamp", "'2024-01-02 03:04:05.678'"},
	{"timestamp(0)", "'2024-01-02 03:04:05'"}, {"timestamp", "'infinity'"},
	{"timestamptz", "'2024-01-02 03:04:05.678+02'"}, {"timestamptz", "'0044-03-15 12:00:00+00 BC'"},
	{"timestamptz", "'-infinity'"}, {"interval", "'1 year 2 mons 3 days 04:05:06.5'"}, {"inet", "'192.168.0.1/24'"},
	{"cidr", "'10.0.0.0/8'"}, {"macaddr", "'08:00:2b:01:02:03'"}, {"bit(8)", "B'10101010'"}, {"varbit", "B'101'"},
	{"oid", "12345"}, {"xml", "'<a>1</a>'"}, {"integer[]", "'{{1,2},{3,NULL}}'"},
	{"text[]", `'{"a b","c,d","NULL",NULL,"q\"x",""}'`}, {"numeric[]", "'{1.5,NaN}'"}, {"integer[]", "'{}'"},
	{"mood", "'happy'"}, {"mood[]", "'{sad,happy}'"}, {"posint", "42"}, {"int4range", "'[1,10)'"},
	{"pair", `'(1,"x y")'`}, {"money", "12.5"}, {"point", "'(1,2)'"}, {"tsvector", "'a b'"}, {"integer", "NULL"},
}

// pgSQLTypes is the sqlType each pgTypes column must get (PostgreSQL's
// JDBC driver's types).
var pgSQLTypes = []int32{5, 4, -5, 2, 2, 2, 7, 7, 8, 8, 8, -7, -7, 12, 12, 12, 1, 1, -2, -2, 1111, 1111, 1111, 91, 91, 91,
	92, 92, 92, 92, 92, 93, 93, 93, 93, 93, 93, 1111, 1111, 1111, 1111, -7, 1111, -5, 2009, 2003, 2003, 2003, 2003,
	1111, 2003, 1111, 1111, 1111, 8, 1111, 1111, 4}

// TestPostgresEveryType: a canal-go client on a PostgreSQL destination gets
// every column type of the source's type test as PostgreSQL prints it
// (bytea in Canal's ISO-8859-1 form), with sqlType from PostgreSQL's JDBC
// driver, and the table rebuilt from the entries equals SELECT; two client
// ids read through two slots and each get everything.
func TestPostgresEveryType(t *testing.T) {
	ctx := context.Background()
	if len(pgSQLTypes) != len(pgTypes) {
		t.Fatalf("%d sqlTypes for %d columns", len(pgSQLTypes), len(pgTypes))
	}
	var defs, lits, names []string
	for i, c := range pgTypes {
		defs = append(defs, fmt.Sprintf("c%d %s", i, c[0]))
		lits = append(lits, c[1])
		names = append(names, fmt.Sprintf("c%d", i))
	}
	if err := pg.Exec(ctx, "postgres", "CREATE DATABASE ctypes"); err != nil {
		t.Fatal(err)
	}
	if err := pg.Exec(ctx, "ctypes",
		`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`,
		`CREATE DOMAIN posint AS integer CHECK (VALUE > 0)`,
		`CREATE TYPE pair AS (a int, b text)`,
		"CREATE TABLE every (id int PRIMARY KEY, "+strings.Join(defs, ", ")+")"); err != nil {
		t.Fatal(err)
	}
	url := strings.Replace(pg.DSN("ctypes"), "sslmode=disable", "sslmode=disable&slot=ctest&publication=ctest", 1)
	ts := startTestServer(t, nil, Config{Destinations: []Destination{{Name: "example", URL: url}}})
	a := ts.connect(t, 1001, "")
	b := ts.connect(t, 1002, `public\.every`)
	// The slots start where they are created: wait for both.
	for deadline := time.Now().Add(30 * time.Second); ; {
		conn, err := pg.Connect(ctx, "ctypes")
		if err != nil {
			t.Fatal(err)
		}
		var n int
		err = conn.QueryRow(ctx, "SELECT count(*) FROM pg_replication_slots WHERE slot_name IN ('ctest_1001', 'ctest_1002')").Scan(&n)
		conn.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of the slots ctest_1001 and ctest_1002 exist:\n%s", n, ts.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := pg.Exec(ctx, "ctypes",
		"INSERT INTO every (id, "+strings.Join(names, ", ")+") VALUES (1, "+strings.Join(lits, ", ")+")",
		"INSERT INTO every (id, "+strings.Join(names, ", ")+") VALUES (2, "+strings.Join(lits, ", ")+")",
		"UPDATE every SET c0 = 7, c13 = 'changed' WHERE id = 1",
		"UPDATE every SET id = 3 WHERE id = 2",
		"INSERT INTO every (id) VALUES (4)",
		"DELETE FROM every WHERE id = 4"); err != nil {
		t.Fatal(err)
	}
	var got [2]map[string][]string
	for n, c := range []*struct{ rows []rowEntry }{{collect(t, a, time.Minute, func(r []rowEntry) bool { return len(r) >= 6 })},
		{collect(t, b, time.Minute, func(r []rowEntry) bool { return len(r) >= 6 })}} {
		rebuilt := map[string][]string{}
		for _, r := range c.rows {
			h := r.header
			if h.GetSourceType() != pbe.Type_PGSQL || h.GetSchemaName() != "public" || h.GetTableName() != "every" {
				t.Fatalf("header %v", h)
			}
			rd := r.rc.GetRowDatas()[0]
			render := func(cols []*pbe.Column) []string {
				out := make([]string, len(pgTypes)+1)
				for i := range out {
					out[i] = "(absent)"
				}
				for _, col := range cols {
					i := int(col.GetIndex())
					out[i] = canalText(col, same)
					if i > 0 && r.rc.GetEventType() == pbe.EventType_INSERT && col.GetSqlType() != pgSQLTypes[i-1] {
						t.Errorf("column %s %s: sqlType %d, want %d", col.GetName(), col.GetMysqlType(), col.GetSqlType(), pgSQLTypes[i-1])
					}
					if pgTypes[max(i-1, 0)][0] == "bytea" && i > 0 && !col.GetIsNull() {
						out[i] = `\x` + strings.ToLower(latin1Hex(col.GetValue()))
					}
				}
				return out
			}
			switch r.rc.GetEventType() {
			case pbe.EventType_INSERT:
				row := render(rd.GetAfterColumns())
				rebuilt[row[0]] = row
			case pbe.EventType_UPDATE:
				after := render(rd.GetAfterColumns())
				key := after[0]
				if bc := rd.GetBeforeColumns(); len(bc) > 0 && bc[0].GetIndex() == 0 {
					key = bc[0].GetValue()
				}
				old := rebuilt[key]
				delete(rebuilt, key)
				for i, v := range after {
					if v == "(absent)" && old != nil {
						after[i] = old[i] // an unchanged TOASTed value, not sent
					}
				}
				rebuilt[after[0]] = after
			case pbe.EventType_DELETE:
				delete(rebuilt, render(rd.GetBeforeColumns())[0])
			}
		}
		got[n] = rebuilt
	}
	conn, err := pg.Connect(ctx, "ctypes")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SET TimeZone = 'UTC'"); err != nil {
		t.Fatal(err)
	}
	sels := []string{"id::text"}
	for _, n := range names {
		sels = append(sels, "COALESCE("+n+"::text, 'NULL')")
	}
	rs, err := conn.Query(ctx, "SELECT "+strings.Join(sels, ", ")+" FROM every ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	var want [][]string
	for rs.Next() {
		vals, err := rs.Values()
		if err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			row[i] = fmt.Sprint(v)
		}
		want = append(want, row)
	}
	rs.Close()
	for n, rebuilt := range got {
		if len(rebuilt) != len(want) {
			t.Fatalf("client %d rebuilt %d rows, SELECT has %d", 1001+n, len(rebuilt), len(want))
		}
		bad := 0
		for _, w := range want {
			g := rebuilt[w[0]]
			for i := range w {
				gi := g[i]
				if i > 0 && strings.HasPrefix(pgTypes[i-1][0], "char(") {
					gi = strings.TrimRight(gi, " ") // ::text drops char(n)'s padding, which the value keeps
				}
				if gi != w[i] && !samePGNumber(gi, w[i]) {
					bad++
					t.Errorf("client %d id %s column %d (%s): canal %q, SELECT %q", 1001+n, w[0], i, pgTypes[max(i-1, 0)][0], g[i], w[i])
				}
			}
		}
		if bad == 0 {
			t.Logf("client %d: %d rows × %d columns rebuilt from canal-go entries equal SELECT", 1001+n, len(want), len(pgTypes)+1)
		}
	}
}

// samePGNumber compares float texts numerically ("1e+308" and "1e308").
func samePGNumber(a, b string) bool {
	x, err1 := strconv.ParseFloat(a, 64)
	y, err2 := strconv.ParseFloat(b, 64)
	return err1 == nil && err2 == nil && x == y
}
