package sqldb

import (
	"reflect"
	"testing"
)

func TestParseType(t *testing.T) {
	for _, tc := range []struct {
		e    Engine
		text string
		want Type
	}{
		{MySQL, "int(11) unsigned", Type{Family: FamUint, Bits: 32}},
		{MySQL, "INT UNSIGNED", Type{Family: FamUint, Bits: 32}},
		{MySQL, "tinyint(1)", Type{Family: FamInt, Bits: 8}},
		{MySQL, "MEDIUMINT", Type{Family: FamInt, Bits: 24}},
		{MySQL, "bigint(20) unsigned zerofill", Type{Family: FamUint, Bits: 64}},
		{MySQL, "DECIMAL(65,30)", Type{Family: FamDecimal, Precision: 65, Scale: 30}},
		{MySQL, "decimal", Type{Family: FamDecimal, Precision: 10, Scale: 0}},
		{MySQL, "FLOAT", Type{Family: FamFloat, Bits: 32}},
		{MySQL, "float(30)", Type{Family: FamFloat, Bits: 64}},
		{MySQL, "double", Type{Family: FamFloat, Bits: 64}},
		{MySQL, "BIT(64)", Type{Family: FamBit, Bits: 64}},
		{MySQL, "datetime(6)", Type{Family: FamDateTime, Fsp: 6}},
		{MySQL, "TIMESTAMP", Type{Family: FamTimestamp}},
		{MySQL, "time(3)", Type{Family: FamTime, Fsp: 3}},
		{MySQL, "char(10)", Type{Family: FamChar, Length: 10}},
		{MySQL, "VARCHAR(300)", Type{Family: FamText, Length: 300}},
		{MySQL, "longtext", Type{Family: FamText}},
		{MySQL, "binary(16)", Type{Family: FamBinary, Length: 16}},
		{MySQL, "MEDIUMBLOB", Type{Family: FamBytes}},
		{MySQL, "enum('a','b''c','d,e')", Type{Family: FamEnum, Members: []string{"a", "b'c", "d,e"}}},
		{MySQL, "SET('x','y')", Type{Family: FamSet, Members: []string{"x", "y"}}},
		{MySQL, "point", Type{Family: FamGeometry}},
		{MySQL, "inet6", Type{Family: FamInet}},
		{MySQL, "uuid", Type{Family: FamUUID}},
		{MySQL, "json", Type{Family: FamJSON}},
		{Postgres, "smallint", Type{Family: FamInt, Bits: 16}},
		{Postgres, "numeric(10,2)", Type{Family: FamDecimal, Precision: 10, Scale: 2}},
		{Postgres, "numeric", Type{Family: FamDecimal, Precision: -1, Scale: -1}},
		{Postgres, "double precision", Type{Family: FamFloat, Bits: 64}},
		{Postgres, "character varying(20)", Type{Family: FamText, Length: 20}},
		{Postgres, "character varying", Type{Family: FamText}},
		{Postgres, "character(5)", Type{Family: FamChar, Length: 5}},
		{Postgres, `"char"`, Type{Family: FamChar, Length: 1}},
		{Postgres, "bit varying(7)", Type{Family: FamBit, Bits: 7, Var: true}},
		{Postgres, "time(3) without time zone", Type{Family: FamTime, Fsp: 3}},
		{Postgres, "time with time zone", Type{Family: FamTimeTZ, Fsp: 6}},
		{Postgres, "timestamp without time zone", Type{Family: FamDateTime, Fsp: 6}},
		{Postgres, "timestamp(0) with time zone", Type{Family: FamTimestamp, Fsp: 0}},
		{Postgres, "interval", Type{Family: FamInterval}},
		{Postgres, "jsonb", Type{Family: FamJSON, JSONB: true}},
		{Postgres, "integer[]", Type{Family: FamArray, Elem: "integer"}},
		{Postgres, "text[][]", Type{Family: FamArray, Elem: "text"}},
		{Postgres, "mood", Type{Family: FamOther}},
	} {
		got := ParseType(tc.e, tc.text)
		want := tc.want
		want.Text = tc.text
		if want.Family != FamDecimal {
			want.Precision, want.Scale = -1, -1
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s %q: %+v, want %+v", tc.e, tc.text, got, want)
		}
	}
}

func TestTypeMap(t *testing.T) {
	maria := Target{Engine: MySQL, MariaDB: true}
	pg := Target{Engine: Postgres}
	for _, tc := range []struct {
		from  Engine
		text  string
		to    Target
		want  string
		exact bool
	}{
		{MySQL, "INT UNSIGNED", pg, "bigint", true},
		{MySQL, "BIGINT UNSIGNED", pg, "numeric(20,0)", true},
		{MySQL, "TIME(6)", pg, "interval", true},
		{MySQL, "DATETIME(3)", pg, "timestamp(3) without time zone", false},
		{MySQL, "TIMESTAMP(6)", pg, "timestamp(6) with time zone", false},
		{MySQL, "CHAR(10)", pg, "character varying(10)", true},
		{MySQL, "LONGBLOB", pg, "bytea", true},
		{MySQL, "ENUM('a','b')", pg, "text", false},
		{MySQL, "GEOMETRY", pg, "bytea", false},
		{MySQL, "enum('a')", maria, "enum('a')", true}, // same engine: as it is
		{Postgres, "numeric", maria, "DECIMAL(65,30)", false},
		{Postgres, "numeric(10,2)", maria, "DECIMAL(10,2)", false},
		{Postgres, "timestamp with time zone", maria, "DATETIME(6)", false},
		{Postgres, "uuid", maria, "UUID", true},
		{Postgres, "uuid", Target{Engine: MySQL}, "CHAR(36)", true},
		{Postgres, "bit(8)", maria, "BIT(8)", true},
		{Postgres, "bit varying", maria, "TEXT", false},
		{Postgres, "integer[]", maria, "JSON", false},
		{Postgres, "character varying(5000)", maria, "LONGTEXT", true},
		{Postgres, "boolean", maria, "BOOLEAN", true},
		{Postgres, "money", maria, "LONGTEXT", false},
		{Postgres, "money", pg, "money", true},
	} {
		got, loss := ParseType(tc.from, tc.text).In(tc.from, tc.to)
		if got != tc.want || (loss == "") != tc.exact {
			t.Errorf("%s %q → %v: %q (loss %q), want %q exact=%v", tc.from, tc.text, tc.to.Engine, got, loss, tc.want, tc.exact)
		}
	}
}

func TestQuote(t *testing.T) {
	if got := MySQL.QuoteTable("a`b", "t"); got != "`a``b`.`t`" {
		t.Errorf("MySQL: %s", got)
	}
	if got := Postgres.QuoteTable("S", `t"x`); got != `"S"."t""x"` {
		t.Errorf("PostgreSQL: %s", got)
	}
}
