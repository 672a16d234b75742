package sql

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/everytype"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/pipeline"
	mysqlsrc "github.com/sluice-cdc/sluice/source/mysql"
	pgsrc "github.com/sluice-cdc/sluice/source/postgres"
)

// myTypeColumn is a column of the every-type table (internal/everytype,
// the table of source/mysql's TestEveryTypeEndToEnd): the expression
// giving its text on MariaDB, the expression giving the same text on
// PostgreSQL, and how both texts are normalized before they are compared
// (nil: not at all).
type myTypeColumn struct {
	name, my, pg string
	norm         func(string) string
}

// trimFrac drops trailing zeros of a fraction (and a bare '.'): MariaDB
// prints a TIME(6) or DATETIME(3) with all its digits, PostgreSQL without
// trailing zeros.
func trimFrac(s string) string {
	i := strings.LastIndexByte(s, '.')
	if i < 0 {
		return s
	}
	j := i + 1
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	frac := strings.TrimRight(s[i+1:j], "0")
	if frac == "" {
		return s[:i] + s[j:]
	}
	return s[:i+1] + frac + s[j:]
}

// floatNorm reads a float's text as the float32 or float64 it is.
func floatNorm(bits int) func(string) string {
	return func(s string) string {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return "bad float " + s
		}
		return strconv.FormatFloat(f, 'g', -1, bits)
	}
}

func bitNorm(s string) string {
	if t := strings.TrimLeft(s, "0"); t != "" {
		return t
	}
	return "0"
}

// myTypeColumns are the columns of the every-type table with their
// expressions and normalization: the column itself (::text on PostgreSQL),
// not normalized, unless said otherwise.
func myTypeColumns() []myTypeColumn {
	var cols []myTypeColumn
	for _, c := range everytype.Columns() {
		n := c.Name
		tc := myTypeColumn{name: n, my: n, pg: n + "::text"}
		switch n {
		case "fl":
			tc.my, tc.pg, tc.norm = "CAST(fl AS DOUBLE)", "fl::float8::text", floatNorm(32)
		case "db":
			tc.norm = floatNorm(64)
		case "b1", "b64":
			tc.my, tc.norm = "BIN("+n+")", bitNorm
		case "dt", "yr", "uu":
			tc.my = "CAST(" + n + " AS CHAR)"
		case "tm", "tm6", "dtt", "dt3", "dt6":
			tc.my, tc.norm = "CAST("+n+" AS CHAR)", trimFrac
		case "ts", "ts6":
			tc.my, tc.pg, tc.norm = "UNIX_TIMESTAMP("+n+")", "extract(epoch from "+n+")::text", trimFrac
		case "bn", "vb", "tb", "bl", "mb", "lb":
			tc.my, tc.pg = "HEX("+n+")", "upper(encode("+n+", 'hex'))"
		case "geo", "pt":
			tc.my, tc.pg = "HEX(ST_AsWKB("+n+"))", "upper(encode("+n+", 'hex'))"
		case "i4", "i6":
			tc.my, tc.pg = "CAST("+n+" AS CHAR)", "host("+n+")"
		}
		cols = append(cols, tc)
	}
	return cols
}

// binlogPosition returns MariaDB's current binlog file and position.
func binlogPosition(t *testing.T) change.Position {
	t.Helper()
	pool, err := maria.DB()
	if err != nil {
		t.Fatal(err)
	}
	var file string
	var pos uint64
	var a, b any
	if err := pool.QueryRow("SHOW MASTER STATUS").Scan(&file, &pos, &a, &b); err != nil {
		t.Fatal(err)
	}
	return change.Position{Flavor: change.FlavorBinlog, File: file, Offset: pos}
}

// runPipeline streams src into a new sink opened on tg (with params)
// from from until the source passes stopAt, with filter.
func runPipeline(t *testing.T, src pipeline.Source, tg target, params string, from, stopAt change.Position, filter pipeline.FilterSpec, id string) error {
	t.Helper()
	s := openSink(t, tg, params)
	p, err := pipeline.New(src, s, s.CheckpointStore(), pipeline.WithID(id), pipeline.WithFrom(from),
		pipeline.WithStopAt(stopAt), pipeline.WithFilter(filter), pipeline.WithCheckpointInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return p.Run(ctx)
}

// TestEveryMariaDBType streams the MariaDB type table (every column type,
// edge values, NULLs, an update of every kind and a delete) into a
// MariaDB copy and a PostgreSQL copy that the sink creates, and compares
// every value with the source's: byte for byte on MariaDB; on PostgreSQL
// the same text after the normalization each column names (trailing
// fraction zeros, floats read as numbers).
func TestEveryMariaDBType(t *testing.T) {
	cols := myTypeColumns()
	var names, mySels []string
	for _, c := range cols {
		names = append(names, c.name)
		mySels = append(mySels, c.my)
	}
	ctx := context.Background()
	if err := maria.Exec(ctx, "DROP DATABASE IF EXISTS types", "CREATE DATABASE types",
		everytype.CreateTable("types.every"), "DROP DATABASE IF EXISTS types_copy"); err != nil {
		t.Fatal(err)
	}
	pgTarget(t, "postgres").exec(t, "DROP SCHEMA IF EXISTS types CASCADE")
	from := binlogPosition(t)
	stmts := append(everytype.Inserts("types.every", everytype.Rows()), everytype.Updates("types.every")...)
	stmts = append(stmts,
		"INSERT INTO types.every (id) VALUES (5)",
		"DELETE FROM types.every WHERE id = 5")
	if err := maria.Exec(ctx, stmts...); err != nil {
		t.Fatal(err)
	}
	stopAt := binlogPosition(t)
	if err := maria.Exec(ctx, "CREATE TABLE IF NOT EXISTS types.marker (id int PRIMARY KEY)", "INSERT INTO types.marker VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	want := mariaSelect(t, "SELECT "+strings.Join(mySels, ", ")+" FROM types.every ORDER BY every.id")
	if len(want) != 3 {
		t.Fatalf("source has %d rows", len(want))
	}
	filter := pipeline.FilterSpec{Include: `types\.every`}
	for _, tc := range []struct {
		tg     target
		params string
		query  func() []string
	}{
		{mariaTarget(t, "sink"), "schema=types_copy&create-tables=on", func() []string {
			return mariaSelect(t, "SELECT "+strings.Join(mySels, ", ")+" FROM types_copy.every ORDER BY id")
		}},
		{pgTarget(t, "postgres"), "create-tables=on", func() []string {
			var sels []string
			for _, c := range cols {
				sels = append(sels, c.pg)
			}
			return pgTarget(t, "postgres").rows(t, "SELECT "+strings.Join(sels, ", ")+" FROM types.every ORDER BY every.id")
		}},
	} {
		t.Run(tc.tg.name, func(t *testing.T) {
			src, err := mysqlsrc.Open(fmt.Sprintf("mysql://%s:%s@%s/?server-id=%d", testenv.MariaDBRootUser, url.QueryEscape(testenv.MariaDBRootPassword), maria.Addr(), 6000+len(tc.tg.name)))
			if err != nil {
				t.Fatal(err)
			}
			if err := runPipeline(t, src, tc.tg, tc.params, from, stopAt, filter, "types-"+tc.tg.name); err != nil {
				t.Fatal(err)
			}
			got := tc.query()
			compareRows(t, names, want, got, func(i int) func(string) string {
				if tc.tg.name == "mariadb" {
					return nil
				}
				return cols[i].norm
			})
		})
	}
}

// mariaSelect returns the rows of a query on MariaDB, columns joined by "|".
func mariaSelect(t *testing.T, q string) []string {
	return mariaTarget(t, "sink").rows(t, q)
}

// compareRows compares two results column by column.
func compareRows(t *testing.T, names, want, got []string, norm func(int) func(string) string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d rows in the copy, %d in the source", len(got), len(want))
	}
	bad := 0
	for r := range want {
		w, g := strings.Split(want[r], "|"), strings.Split(got[r], "|")
		if len(w) != len(names) || len(g) != len(names) {
			t.Fatalf("row %d: %d and %d fields for %d columns (a value holds '|'?)", r, len(w), len(g), len(names))
		}
		for i := range names {
			a, b := w[i], g[i]
			if n := norm(i); n != nil && a != "NULL" && b != "NULL" {
				a, b = n(a), n(b)
			}
			if a != b {
				bad++
				t.Errorf("row %s column %s: copy %.80q, source %.80q", w[0], names[i], g[i], w[i])
			}
		}
	}
	if bad == 0 {
		t.Logf("%d rows × %d columns equal", len(want), len(names))
	}
}

// pgTypeCase is a column of source/postgres's TestTypesAndReplicaIdentity
// table: its type and literal, and what MariaDB holds after the
// PostgreSQL → MariaDB copy ("" when the value cannot cross: the case
// is left out of that copy and tested as an error).
type pgTypeCase struct {
	typ, lit string
	maria    string
}

func pgTypeCases() []pgTypeCase {
	return []pgTypeCase{
		{"smallint", "-32768", "-32768"},
		{"integer", "-2147483648", "-2147483648"},
		{"bigint", "9223372036854775807", "9223372036854775807"},
		{"numeric", "'-123456789012345678901234567890.123456789012345'", "-123456789012345678901234567890.123456789012345000000000000000"},
		{"numeric", "'NaN'", ""},
		{"numeric", "'Infinity'", ""},
		{"numeric", "'-Infinity'", ""},
		{"numeric(10,2)", "1.5", "1.50"},
		{"real", "1.5", "1.5"},
		{"real", "'-0.1'", "-0.1"},
		{"double precision", "0.1", "0.1"},
		{"double precision", "'-Infinity'", ""},
		{"double precision", "1e308", "1e+308"},
		{"boolean", "true", "1"},
		{"boolean", "false", "0"},
		{"text", "'héllo ✓ \"quoted\" \\ back'", `héllo ✓ "quoted" \ back`},
		{"text", "''", ""},
		{"varchar(5)", "'abc'", "abc"},
		{"char(5)", "'ab'", "ab"},
		{`"char"`, "'x'", "x"},
		{"bytea", `'\xdeadbeef00'`, "DEADBEEF00"},
		{"bytea", "''", ""},
		{"json", `'{"b": [1, 2],  "a": null}'`, `{"b": [1, 2],  "a": null}`},
		{"jsonb", `'{"b": 1, "a": {"x": "é"}}'`, `{"a": {"x": "é"}, "b": 1}`},
		{"uuid", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{"date", "'2024-02-29'", "2024-02-29"},
		{"date", "'infinity'", ""},
		{"date", "'0044-03-15 BC'", ""},
		{"time", "'23:59:59.999999'", "23:59:59.999999"},
		{"time(3)", "'12:00:00.5'", "12:00:00.500"},
		{"time", "'24:00:00'", "24:00:00.000000"},
		{"timetz", "'12:34:56+05:30'", "12:34:56.000000+05:30"},
		{"timetz", "'01:02:03.25-08'", "01:02:03.250000-08:00"},
		{"timestamp", "'2024-01-02 03:04:05.678'", "2024-01-02 03:04:05.678000"},
		{"timestamp(0)", "'2024-01-02 03:04:05'", "2024-01-02 03:04:05"},
		{"timestamp", "'infinity'", ""},
		{"timestamptz", "'2024-01-02 03:04:05.678+02'", "2024-01-02 01:04:05.678000"},
		{"timestamptz", "'0044-03-15 12:00:00+00 BC'", ""},
		{"timestamptz", "'-infinity'", ""},
		{"timestamptz", "'infinity'", ""},
		{"interval", "'1 year 2 mons 3 days 04:05:06.5'", "1 year 2 mons 3 days 04:05:06.5"},
		{"inet", "'192.168.0.1/24'", "192.168.0.1/24"},
		{"cidr", "'10.0.0.0/8'", "10.0.0.0/8"},
		{"macaddr", "'08:00:2b:01:02:03'", "08:00:2b:01:02:03"},
		{"bit(8)", "B'10101010'", "10101010"},
		{"varbit", "B'101'", "101"},
		{"oid", "12345", "12345"},
		{"xml", "'<a>1</a>'", "<a>1</a>"},
		{"integer[]", "'{{1,2},{3,NULL}}'", "[[1,2],[3,null]]"},
		{"text[]", `'{"a b","c,d","NULL",NULL,"q\"x",""}'`, `["a b","c,d","NULL",null,"q\"x",""]`},
		{"numeric[]", "'{1.5,NaN}'", ""},
		{"integer[]", "'{}'", "[]"},
		{"integer[]", "'[0:1]={7,8}'", ""},
		{"mood", "'happy'", "happy"},
		{"mood[]", "'{sad,happy}'", `["sad","happy"]`},
		{"posint", "42", "42"},
		{"int4range", "'[1,10)'", "[1,10)"},
		{"pair", `'(1,"x y")'`, `(1,"x y")`},
		{"money", "12.5", "$12.50"},
		{"point", "'(1,2)'", "(1,2)"},
		{"tsvector", "'a b'", "'a' 'b'"},
	}
}

// TestEveryPostgresType streams a table holding every type of the
// PostgreSQL source's type test into a PostgreSQL copy (every value's
// text must equal the source's) and the values that can cross into a
// MariaDB copy (each must be what the type map promises); each value
// that cannot cross stops the MariaDB sink with an error naming it.
func TestEveryPostgresType(t *testing.T) {
	ctx := context.Background()
	src := pgTarget(t, "postgres")
	src.exec(t, "DROP SCHEMA IF EXISTS pgtypes CASCADE", "DROP SCHEMA IF EXISTS pgcopy CASCADE", "CREATE SCHEMA pgtypes",
		"DROP TYPE IF EXISTS mood CASCADE", "DROP DOMAIN IF EXISTS posint CASCADE", "DROP TYPE IF EXISTS pair CASCADE",
		`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`, `CREATE DOMAIN posint AS integer CHECK (VALUE > 0)`, `CREATE TYPE pair AS (a int, b text)`)
	if err := maria.Exec(ctx, "DROP DATABASE IF EXISTS pgtypes"); err != nil {
		t.Fatal(err)
	}
	cases := pgTypeCases()
	var defs, lits, crossDefs, crossLits, crossNames []string
	for i, c := range cases {
		defs = append(defs, fmt.Sprintf("c%d %s", i, c.typ))
		lits = append(lits, c.lit)
		if c.maria != "" {
			crossDefs = append(crossDefs, fmt.Sprintf("c%d %s", i, c.typ))
			crossLits = append(crossLits, c.lit)
			crossNames = append(crossNames, fmt.Sprintf("c%d", i))
		}
	}
	src.exec(t, "CREATE TABLE pgtypes.every (id int PRIMARY KEY, "+strings.Join(defs, ", ")+")",
		"CREATE TABLE pgtypes.cross (id int PRIMARY KEY, "+strings.Join(crossDefs, ", ")+")",
		"ALTER TABLE pgtypes.every REPLICA IDENTITY FULL",
		"DROP PUBLICATION IF EXISTS typespub", "CREATE PUBLICATION typespub FOR TABLE pgtypes.every, pgtypes.cross")
	for _, slot := range []string{"types_pg", "types_my", "types_bad"} {
		src.rows(t, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '"+slot+"'")
		src.rows(t, "SELECT 1 FROM pg_create_logical_replication_slot('"+slot+"', 'pgoutput')")
	}
	nulls := strings.TrimSuffix(strings.Repeat("NULL, ", len(cases)), ", ")
	src.exec(t,
		"INSERT INTO pgtypes.every VALUES (1, "+strings.Join(lits, ", ")+")",
		"INSERT INTO pgtypes.every VALUES (2, "+nulls+")",
		"INSERT INTO pgtypes.every VALUES (3, "+strings.Join(lits, ", ")+")",
		"UPDATE pgtypes.every SET id = 30 WHERE id = 3",
		"DELETE FROM pgtypes.every WHERE id = 2",
		"INSERT INTO pgtypes.cross VALUES (1, "+strings.Join(crossLits, ", ")+")",
		"INSERT INTO pgtypes.cross (id) VALUES (2)",
	)
	stopAt := change.Position{Flavor: change.FlavorLSN, Offset: pgLSN(t, src)}
	src.exec(t, "CREATE TABLE IF NOT EXISTS pgtypes.marker (id int)", "INSERT INTO pgtypes.marker VALUES (1)")
	open := func(slot string) pipeline.Source {
		s, err := pgsrc.Open(fmt.Sprintf("postgres://%s:%s@%s/postgres?sslmode=disable&slot=%s&publication=typespub&create-publication=no",
			testenv.PostgresUser, testenv.PostgresPassword, pg.Addr(), slot))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	t.Run("postgres", func(t *testing.T) {
		err := runPipeline(t, open("types_pg"), src, "schema=pgcopy&create-tables=on", change.Position{}, stopAt,
			pipeline.FilterSpec{Include: `pgtypes\.every`}, "types-pg")
		if err != nil {
			t.Fatal(err)
		}
		var exprs []string
		names := []string{"id"}
		for i := range cases {
			exprs = append(exprs, fmt.Sprintf("concat(c%d)", i))
			names = append(names, fmt.Sprintf("c%d %s", i, cases[i].typ))
		}
		q := "SELECT id, " + strings.Join(exprs, ", ") + " FROM %s.every ORDER BY id"
		want, got := src.rows(t, fmt.Sprintf(q, "pgtypes")), src.rows(t, fmt.Sprintf(q, "pgcopy"))
		compareRows(t, names, want, got, func(int) func(string) string { return nil })
	})

	t.Run("mariadb", func(t *testing.T) {
		err := runPipeline(t, open("types_my"), mariaTarget(t, "sink"), "create-tables=on", change.Position{}, stopAt,
			pipeline.FilterSpec{Include: `pgtypes\.cross`}, "types-my")
		if err != nil {
			t.Fatal(err)
		}
		tbl, err := maria.DB()
		if err != nil {
			t.Fatal(err)
		}
		var sels []string
		var want []string
		for i, c := range cases {
			if c.maria == "" {
				continue
			}
			col := fmt.Sprintf("c%d", i)
			switch c.typ {
			case "date", "timestamp", "timestamp(0)", "timestamptz":
				col = "CAST(" + col + " AS CHAR)"
			case "bytea":
				col = "HEX(" + col + ")"
			case "bit(8)":
				col = "BIN(" + col + ")"
			}
			sels = append(sels, col)
			want = append(want, c.maria)
		}
		got := mariaSelect(t, "SELECT id, "+strings.Join(sels, ", ")+" FROM pgtypes.cross ORDER BY id")
		wantRows := []string{"1|" + strings.Join(want, "|"), "2" + strings.Repeat("|NULL", len(want))}
		compareRows(t, append([]string{"id"}, crossNames...), wantRows, got, func(int) func(string) string { return nil })
		_ = tbl
	})

	t.Run("mariadb-cannot-hold", func(t *testing.T) {
		// The full table does not cross: the sink stops at its first
		// row, naming a column whose value MariaDB cannot hold.
		err := runPipeline(t, open("types_bad"), mariaTarget(t, "sink"), "create-tables=on&schema=pgbad", change.Position{}, stopAt,
			pipeline.FilterSpec{Include: `pgtypes\.every`}, "types-bad")
		var ae *applyError
		if !errors.As(err, &ae) || !strings.Contains(err.Error(), "pgtypes.every") || ae.c.Op != change.OpInsert {
			t.Fatalf("want an apply error of the first insert, got %v", err)
		}
		t.Logf("error: %v", err)
		if n := mariaSelect(t, "SELECT count(*) FROM pgbad.every"); n[0] != "0" {
			t.Errorf("%s rows applied before the error", n[0])
		}
	})
}

// pgLSN is the server's current WAL insert position.
func pgLSN(t *testing.T, tg target) uint64 {
	t.Helper()
	r := tg.rows(t, "SELECT pg_current_wal_insert_lsn()::text")
	hi, lo, _ := strings.Cut(r[0], "/")
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err1 != nil || err2 != nil {
		t.Fatalf("LSN %q", r[0])
	}
	return h<<32 | l
}

// TestDDLApply streams DDL and rows from MariaDB into another MariaDB
// database with ddl=apply: the copy follows ALTER TABLE, CREATE TABLE and
// DROP TABLE, and the rows after each. Then a DDL whose position was not
// saved before a crash (the checkpoint row marks it begun) is met again
// on a copy that has it already: it is skipped, not an error.
func TestDDLApply(t *testing.T) {
	ctx := context.Background()
	if err := maria.Exec(ctx, "DROP DATABASE IF EXISTS ddlsrc", "DROP DATABASE IF EXISTS ddlcopy", "CREATE DATABASE ddlsrc", "CREATE DATABASE ddlcopy",
		"CREATE TABLE ddlsrc.t (id int PRIMARY KEY, a int)", "CREATE TABLE ddlcopy.t (id int PRIMARY KEY, a int)"); err != nil {
		t.Fatal(err)
	}
	from := binlogPosition(t)
	// The DDL names its tables without their database, as the sink runs
	// it in the target's database.
	if err := maria.Exec(ctx, "USE ddlsrc", "INSERT INTO t VALUES (1, 1)",
		"ALTER TABLE t ADD COLUMN b varchar(10) NOT NULL DEFAULT 'd'",
		"INSERT INTO t VALUES (2, 2, 'x')",
		"CREATE TABLE t2 (k varchar(10) PRIMARY KEY, n bigint)",
		"INSERT INTO t2 VALUES ('a', 1), ('b', 2)",
		"UPDATE t SET b = 'y' WHERE id = 1",
		"CREATE TABLE gone (id int PRIMARY KEY)", "INSERT INTO gone VALUES (1)", "DROP TABLE gone"); err != nil {
		t.Fatal(err)
	}
	stopAt := binlogPosition(t)
	if err := maria.Exec(ctx, "CREATE TABLE IF NOT EXISTS ddlsrc.marker (id int PRIMARY KEY)", "INSERT INTO ddlsrc.marker VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	src, err := mysqlsrc.Open(fmt.Sprintf("mysql://%s:%s@%s/?server-id=6101", testenv.MariaDBRootUser, url.QueryEscape(testenv.MariaDBRootPassword), maria.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	tg := mariaTarget(t, "sink")
	if err := runPipeline(t, src, tg, "schema=ddlcopy&ddl=apply", from, stopAt, pipeline.FilterSpec{Include: `ddlsrc\.(t|t2|gone)`}, "ddl"); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]string{
		"SELECT id, a, b FROM ddlcopy.t ORDER BY id":                                                            "1|1|y 2|2|x",
		"SELECT k, n FROM ddlcopy.t2 ORDER BY k":                                                                "a|1 b|2",
		"SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'ddlcopy' AND TABLE_NAME = 'gone'": "0",
	} {
		if got := strings.Join(mariaSelect(t, q), " "); got != want {
			t.Errorf("%s: %q, want %q", q, got, want)
		}
	}

	// A crash after the DDL ran and before its position was saved.
	s := openSink(t, tg, "schema=ddlcopy&ddl=apply")
	if _, err := s.Load(ctx, "ddl-crash"); !errors.Is(err, checkpoint.ErrNotFound) {
		t.Fatal(err)
	}
	ddl := change.Change{Op: change.OpDDL, Source: "mariadb", Namespace: change.Namespace{Database: "ddlsrc", Table: "t"},
		SQL: "ALTER TABLE t ADD COLUMN c int", Pos: lsn(70, 0)}
	tg.exec(t, "ALTER TABLE ddlcopy.t ADD COLUMN c int") // it ran before the crash
	if err := s.WriteAt(ctx, []change.Change{ddl}, ddl.Pos); err == nil {
		t.Fatal("a DDL that fails without the marker was not an error")
	} else {
		t.Logf("without the marker: %v", err)
	}
	if err := s.markDDL(ctx, ddl.Pos.String()); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteAt(ctx, []change.Change{ddl}, ddl.Pos); err != nil {
		t.Fatalf("a DDL marked begun that finds its work done: %v", err)
	}
	if got := mariaSelect(t, "SELECT position, ddl FROM sink.sluice_checkpoint WHERE pipeline = 'ddl-crash'"); got[0] != ddl.Pos.String()+"|NULL" {
		t.Errorf("checkpoint row %v", got)
	}
}
