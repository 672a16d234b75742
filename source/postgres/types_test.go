package postgres

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
)

func oth(name, text string) change.Value {
	return change.Value{Kind: change.KindOther, B: []byte(text), Names: []string{name}}
}

func str(s string) change.Value { return change.String([]byte(s)) }

func withOff(v change.Value, off int32) change.Value {
	v.Off, v.Zoned = off, true
	return v
}

func arr(elems ...change.Value) change.Value {
	return change.Value{Kind: change.KindArray, Elems: elems}
}

// typeCases are the columns of the type test table: SQL type, literal, and
// the value the source must produce.
func typeCases() []struct {
	typ, lit string
	want     change.Value
} {
	tsz := time.Date(2024, 1, 2, 1, 4, 5, 0, time.UTC).Unix()
	bc := time.Date(-43, 3, 15, 12, 0, 0, 0, time.UTC).Unix() // 44 BC
	uuid := []byte{0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11}
	return []struct {
		typ, lit string
		want     change.Value
	}{
		{"smallint", "-32768", change.Int(-32768, 16)},
		{"integer", "-2147483648", change.Int(math.MinInt32, 32)},
		{"bigint", "9223372036854775807", change.Int(math.MaxInt64, 64)},
		{"numeric", "'-123456789012345678901234567890.123456789012345'", change.Decimal([]byte("-123456789012345678901234567890.123456789012345"))},
		{"numeric", "'NaN'", change.Decimal([]byte("NaN"))},
		{"numeric", "'Infinity'", change.Decimal([]byte("Infinity"))},
		{"numeric", "'-Infinity'", change.Decimal([]byte("-Infinity"))},
		{"numeric(10,2)", "1.5", change.Decimal([]byte("1.50"))},
		{"real", "1.5", change.Float32(1.5)},
		{"real", "'-0.1'", change.Float32(-0.1)},
		{"double precision", "0.1", change.Float64(0.1)},
		{"double precision", "'-Infinity'", change.Float64(math.Inf(-1))},
		{"double precision", "1e308", change.Float64(1e308)},
		{"boolean", "true", change.Bool(true)},
		{"boolean", "false", change.Bool(false)},
		{"text", "'héllo ✓ \"quoted\" \\ back'", str(`héllo ✓ "quoted" \ back`)},
		{"text", "''", str("")},
		{"varchar(5)", "'abc'", str("abc")},
		{"char(5)", "'ab'", str("ab   ")},
		{`"char"`, "'x'", str("x")},
		{"bytea", `'\xdeadbeef00'`, change.Bytes([]byte{0xde, 0xad, 0xbe, 0xef, 0})},
		{"bytea", "''", change.Bytes([]byte{})},
		{"json", `'{"b": [1, 2],  "a": null}'`, change.JSON([]byte(`{"b": [1, 2],  "a": null}`))},
		{"jsonb", `'{"b": 1, "a": {"x": "é"}}'`, change.JSON([]byte(`{"a": {"x": "é"}, "b": 1}`))},
		{"uuid", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", change.Value{Kind: change.KindUUID, B: uuid}},
		{"date", "'2024-02-29'", change.Date(2024, 2, 29)},
		{"date", "'infinity'", oth("date", "infinity")},
		{"date", "'0044-03-15 BC'", oth("date", "0044-03-15 BC")},
		{"time", "'23:59:59.999999'", change.Time(false, 23, 59, 59, 999999000, 6)},
		{"time(3)", "'12:00:00.5'", change.Time(false, 12, 0, 0, 500000000, 3)},
		{"time", "'24:00:00'", change.Time(false, 24, 0, 0, 0, 6)},
		{"timetz", "'12:34:56+05:30'", withOff(change.Time(false, 12, 34, 56, 0, 6), 19800)},
		{"timetz", "'01:02:03.25-08'", withOff(change.Time(false, 1, 2, 3, 250000000, 6), -28800)},
		{"timestamp", "'2024-01-02 03:04:05.678'", change.DateTime(2024, 1, 2, 3, 4, 5, 678000000, 6)},
		{"timestamp(0)", "'2024-01-02 03:04:05'", change.DateTime(2024, 1, 2, 3, 4, 5, 0, 0)},
		{"timestamp", "'infinity'", oth("timestamp without time zone", "infinity")},
		{"timestamp", "'0044-03-15 12:00:00.25 BC'", oth("timestamp without time zone", "0044-03-15 12:00:00.25 BC")},
		{"timestamptz", "'2024-01-02 03:04:05.678+02'", withOff(change.Timestamp(tsz, 678000000, 6), 0)},
		{"timestamptz", "'0044-03-15 12:00:00+00 BC'", withOff(change.Timestamp(bc, 0, 6), 0)},
		{"timestamptz", "'-infinity'", withOff(change.TimestampInfinity(false), 0)},
		{"timestamptz", "'infinity'", withOff(change.TimestampInfinity(true), 0)},
		{"interval", "'1 year 2 mons 3 days 04:05:06.5'", oth("interval", "1 year 2 mons 3 days 04:05:06.5")},
		{"inet", "'192.168.0.1/24'", oth("inet", "192.168.0.1/24")},
		{"cidr", "'10.0.0.0/8'", oth("cidr", "10.0.0.0/8")},
		{"macaddr", "'08:00:2b:01:02:03'", oth("macaddr", "08:00:2b:01:02:03")},
		{"bit(8)", "B'10101010'", change.Bit(0xaa, 8)},
		{"varbit", "B'101'", change.Bit(5, 3)},
		{"oid", "12345", change.Uint(12345, 32)},
		{"xml", "'<a>1</a>'", str("<a>1</a>")},
		{"integer[]", "'{{1,2},{3,NULL}}'", arr(arr(change.Int(1, 32), change.Int(2, 32)), arr(change.Int(3, 32), change.Null()))},
		{"text[]", `'{"a b","c,d","NULL",NULL,"q\"x",""}'`, arr(str("a b"), str("c,d"), str("NULL"), change.Null(), str(`q"x`), str(""))},
		{"numeric[]", "'{1.5,NaN}'", arr(change.Decimal([]byte("1.5")), change.Decimal([]byte("NaN")))},
		{"integer[]", "'{}'", arr()},
		{"integer[]", "'[0:1]={7,8}'", oth("integer[]", "[0:1]={7,8}")},
		{"mood", "'happy'", change.Enum([]byte("happy"), 3)},
		{"mood[]", "'{sad,happy}'", arr(change.Enum([]byte("sad"), 1), change.Enum([]byte("happy"), 3))},
		{"posint", "42", change.Int(42, 32)},
		{"int4range", "'[1,10)'", oth("int4range", "[1,10)")},
		{"pair", `'(1,"x y")'`, oth("pair", `(1,"x y")`)},
		{"money", "12.5", change.Value{}}, // compared with SELECT text only
		{"point", "'(1,2)'", oth("point", "(1,2)")},
		{"tsvector", "'a b'", oth("tsvector", "'a' 'b'")},
	}
}

// TestTypesAndReplicaIdentity inserts one row holding every type into a
// table of each replica identity, updates it leaving a TOASTed column
// alone, and deletes it. Every value must arrive exactly; the TOASTed
// column must arrive as Unchanged in the update; old images must be what
// the identity promises.
func TestTypesAndReplicaIdentity(t *testing.T) {
	exec(t,
		`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`,
		`CREATE DOMAIN posint AS integer CHECK (VALUE > 0)`,
		`CREATE TYPE pair AS (a int, b text)`,
	)
	cases := typeCases()
	var cols, lits []string
	for i, c := range cases {
		cols = append(cols, fmt.Sprintf("c%d %s", i, c.typ))
		lits = append(lits, c.lit)
	}
	// Incompressible text large enough to be stored out of line.
	toast := `(SELECT string_agg(md5(g::text), '') FROM generate_series(1, 400) g)`
	identities := []struct{ table, setup string }{
		{"ident_default", ""},
		{"ident_full", "ALTER TABLE ident_full REPLICA IDENTITY FULL"},
		{"ident_index", "CREATE UNIQUE INDEX ident_index_k ON ident_index (k); ALTER TABLE ident_index REPLICA IDENTITY USING INDEX ident_index_k"},
	}
	var tables []string
	for _, id := range identities {
		exec(t, fmt.Sprintf(`CREATE TABLE %s (id int PRIMARY KEY, k int NOT NULL, n int, big text, %s)`, id.table, strings.Join(cols, ", ")))
		if id.setup != "" {
			exec(t, strings.Split(id.setup, "; ")...)
		}
		tables = append(tables, id.table)
	}
	dropSlot(t, "types")
	r := start(t, "slot=types&publication=types&create-publication="+strings.Join(tables, ","), change.Position{})
	for _, table := range tables {
		exec(t,
			fmt.Sprintf(`INSERT INTO %s VALUES (1, 100, 5, %s, %s)`, table, toast, strings.Join(lits, ", ")),
			fmt.Sprintf(`UPDATE %s SET n = 6 WHERE id = 1`, table),
		)
	}
	// Values as the server prints them, read before the rows are deleted.
	selectText := make(map[string]string)
	var exprs []string
	for i := range cases {
		exprs = append(exprs, fmt.Sprintf("concat(c%d)", i))
	}
	for i, text := range strings.Split(queryText(t, fmt.Sprintf(`SELECT concat_ws(E'\x01', %s) FROM ident_default`, strings.Join(exprs, ", "))), "\x01") {
		selectText[fmt.Sprintf("c%d", i)] = text
	}
	bigText := queryText(t, `SELECT big FROM ident_default`)
	for _, table := range tables {
		exec(t, fmt.Sprintf(`DELETE FROM %s WHERE id = 1`, table))
	}
	got := r.col.waitCommits(t, 3*len(tables), r)

	for _, table := range tables {
		t.Run(table, func(t *testing.T) {
			rs := rows(got, table)
			if len(rs) != 3 || rs[0].Op != change.OpInsert || rs[1].Op != change.OpUpdate || rs[2].Op != change.OpDelete {
				t.Fatalf("%d changes: %+v", len(rs), rs)
			}
			ins, upd, del := rs[0], rs[1], rs[2]
			if v := col(t, ins, ins.After, "big"); v.Kind != change.KindString || string(v.B) != bigText {
				t.Errorf("big column: kind %v, %d bytes, want the %d-byte text", v.Kind, len(v.B), len(bigText))
			}
			for i, c := range cases {
				name := fmt.Sprintf("c%d", i)
				v := col(t, ins, ins.After, name)
				if c.want.Kind != change.KindAbsent && !change.Equal(v, c.want) {
					t.Errorf("%s %s %s: got %+v (%q), want %+v", name, c.typ, c.lit, v, v.B, c.want)
				}
				switch v.Kind {
				case change.KindOther, change.KindString, change.KindDecimal, change.KindJSON:
					if string(v.B) != selectText[name] {
						t.Errorf("%s %s: text %q, SELECT gives %q", name, c.typ, v.B, selectText[name])
					}
				}
				if u := col(t, upd, upd.After, name); !change.Equal(u, v) {
					t.Errorf("%s %s: update after-image %+v differs from insert %+v", name, c.typ, u, v)
				}
			}
			if v := col(t, upd, upd.After, "big"); v.Kind != change.KindUnchanged {
				t.Errorf("update: TOASTed column not sent must be Unchanged, got kind %v", v.Kind)
			}
			if v := col(t, upd, upd.After, "n"); !change.Equal(v, change.Int(6, 32)) {
				t.Errorf("update: n = %+v", v)
			}
			for i, c := range cases {
				if c.typ == "posint" && ins.Columns[4+i].Type != "posint" {
					t.Errorf("domain column type %q, want posint", ins.Columns[4+i].Type)
				}
			}
			switch table {
			case "ident_default":
				if upd.Before != nil {
					t.Errorf("DEFAULT identity, key unchanged: want no old image, got %+v", upd.Before)
				}
				checkKeyOnly(t, del, "id")
			case "ident_index":
				if upd.Before != nil {
					t.Errorf("USING INDEX identity, key unchanged: want no old image, got %+v", upd.Before)
				}
				checkKeyOnly(t, del, "k")
			case "ident_full":
				if upd.Before == nil {
					t.Fatal("FULL identity: update without old image")
				}
				if v := col(t, upd, upd.Before, "n"); !change.Equal(v, change.Int(5, 32)) {
					t.Errorf("FULL old n = %+v", v)
				}
				if v := col(t, upd, upd.Before, "big"); string(v.B) != bigText {
					t.Errorf("FULL old image of the TOASTed column: kind %v, %d bytes", v.Kind, len(v.B))
				}
				for i := range cases {
					name := fmt.Sprintf("c%d", i)
					if !change.Equal(col(t, del, del.Before, name), col(t, ins, ins.After, name)) {
						t.Errorf("FULL delete old %s differs from the inserted value", name)
					}
				}
				if !del.Columns[0].Key || del.Columns[1].Key {
					t.Errorf("FULL: key columns should be the primary key: %+v", del.Columns[:2])
				}
			}
		})
	}
}

// checkKeyOnly checks a delete's old image holds the key column and nothing else.
func checkKeyOnly(t *testing.T, del change.Change, key string) {
	t.Helper()
	for i, c := range del.Columns {
		v := del.Before[i]
		if c.Name == key {
			if !v.Present() || v.IsNull() || !c.Key {
				t.Errorf("delete: key column %s = %+v (key %v)", key, v, c.Key)
			}
		} else if v.Present() {
			t.Errorf("delete: non-key column %s present in key-only old image: %+v", c.Name, v)
		}
	}
}

// TestSessionSettings: the URL may set TimeZone (timestamptz values then
// carry its offset, same instant) but not settings that change the text
// forms the decoder reads (DateStyle, bytea_output, IntervalStyle).
func TestSessionSettings(t *testing.T) {
	exec(t, `CREATE TABLE sess (id int PRIMARY KEY, ts timestamptz, d date, b bytea, i interval)`)
	dropSlot(t, "sess")
	r := start(t, "slot=sess&publication=sess&create-publication=sess&TimeZone=Asia/Kolkata&datestyle=SQL,DMY&bytea_output=escape&intervalstyle=sql_standard", change.Position{})
	exec(t, `INSERT INTO sess VALUES (1, '2024-01-02 03:04:05+00', '2024-02-29', '\xff00', '1 day 02:00:00')`)
	got := rows(r.col.waitCommits(t, 1, r), "sess")
	want := withOff(change.Timestamp(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC).Unix(), 0, 6), 19800)
	if v := got[0].After[1]; !change.Equal(v, want) {
		t.Errorf("timestamptz with TimeZone=Asia/Kolkata: %+v, want %+v", v, want)
	}
	if v := got[0].After[2]; !change.Equal(v, change.Date(2024, 2, 29)) {
		t.Errorf("date with datestyle=SQL in the URL: %+v", v)
	}
	if v := got[0].After[3]; !change.Equal(v, change.Bytes([]byte{0xff, 0})) {
		t.Errorf("bytea with bytea_output=escape in the URL: %+v", v)
	}
	if v := got[0].After[4]; string(v.B) != "1 day 02:00:00" {
		t.Errorf("interval with intervalstyle=sql_standard in the URL: %q", v.B)
	}
}

// TestEnumLabelAdded: a label added after the source read the enum's labels
// is looked up again, with its position in sort order.
func TestEnumLabelAdded(t *testing.T) {
	exec(t, `CREATE TYPE grade AS ENUM ('low', 'high')`, `CREATE TABLE grades (id int PRIMARY KEY, g grade, gs grade[])`)
	dropSlot(t, "grades")
	r := start(t, "slot=grades&publication=grades&create-publication=grades", change.Position{})
	exec(t, `INSERT INTO grades VALUES (1, 'high', '{low}')`)
	r.col.waitCommits(t, 1, r)
	exec(t, `ALTER TYPE grade ADD VALUE 'mid' BEFORE 'high'`, `INSERT INTO grades VALUES (2, 'mid', '{mid,high}')`)
	got := rows(r.col.waitCommits(t, 2, r), "grades")
	if v := got[0].After[1]; !change.Equal(v, change.Enum([]byte("high"), 2)) {
		t.Errorf("before the new label: %+v", v)
	}
	if v := got[1].After[1]; !change.Equal(v, change.Enum([]byte("mid"), 2)) {
		t.Errorf("new label: %+v, want mid at 2", v)
	}
	if v := got[1].After[2]; !change.Equal(v, arr(change.Enum([]byte("mid"), 2), change.Enum([]byte("high"), 3))) {
		t.Errorf("array with the new label: %+v", v)
	}
}
