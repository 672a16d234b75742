// Package everytype is the MariaDB every-type table of the live tests: a
// column of every column type (signed and unsigned integers, wide
// decimals, float and double, bits, every temporal type with fractions,
// character sets, binary strings, every BLOB/TEXT size, ENUM, SET, JSON,
// geometry, INET4/INET6/UUID) and rows of edge values, which
// source/mysql's TestEveryTypeEndToEnd streams and compares with SELECT,
// and which the SQL sink's and the Canal server's tests carry on. Each
// test keeps its own way of reading a column (the SELECT expression it
// compares with, how it renders a value); the table itself is here once.
//
// Only tests import it; it imports no testing package.
package everytype

import "strings"

// Column is a column of the table.
type Column struct {
	Name string // the column's name
	Def  string // its type, as CREATE TABLE takes it
}

// Columns returns the table's columns, in order; id is the primary key.
func Columns() []Column {
	return []Column{
		{"id", "INT NOT NULL"},
		{"ti", "TINYINT"},
		{"tu", "TINYINT UNSIGNED"},
		{"si", "SMALLINT"},
		{"su", "SMALLINT UNSIGNED"},
		{"mi", "MEDIUMINT"},
		{"mu", "MEDIUMINT UNSIGNED"},
		{"ii", "INT"},
		{"iu", "INT UNSIGNED"},
		{"bi", "BIGINT"},
		{"bu", "BIGINT UNSIGNED"},
		{"d0", "DECIMAL(10,0)"},
		{"d1", "DECIMAL(65,30)"},
		{"d2", "DECIMAL(12,4) UNSIGNED"},
		{"fl", "FLOAT"},
		{"db", "DOUBLE"},
		{"b1", "BIT(1)"},
		{"b64", "BIT(64)"},
		{"dt", "DATE"},
		{"tm", "TIME"},
		{"tm6", "TIME(6)"},
		{"dtt", "DATETIME"},
		{"dt3", "DATETIME(3)"},
		{"dt6", "DATETIME(6)"},
		{"ts", "TIMESTAMP NULL"},
		{"ts6", "TIMESTAMP(6) NULL"},
		{"yr", "YEAR"},
		{"ch", "CHAR(10) CHARACTER SET utf8mb4"},
		{"vc", "VARCHAR(300) CHARACTER SET utf8mb4"},
		{"l1", "VARCHAR(20) CHARACTER SET latin1"},
		{"bn", "BINARY(4)"},
		{"vb", "VARBINARY(300)"},
		{"tt", "TINYTEXT"},
		{"tx", "TEXT"},
		{"mt", "MEDIUMTEXT"},
		{"lt", "LONGTEXT"},
		{"tb", "TINYBLOB"},
		{"bl", "BLOB"},
		{"mb", "MEDIUMBLOB"},
		{"lb", "LONGBLOB"},
		{"en", "ENUM('a','b','ç')"},
		{"st", "SET('x','y','z')"},
		{"js", "JSON"},
		{"geo", "GEOMETRY"},
		{"pt", "POINT"},
		{"i4", "INET4"},
		{"i6", "INET6"},
		{"uu", "UUID"},
	}
}

// Names returns the names of Columns, in order.
func Names() []string {
	var names []string
	for _, c := range Columns() {
		names = append(names, c.Name)
	}
	return names
}

// Index returns the position of the column named name in Columns, or -1.
func Index(name string) int {
	for i, c := range Columns() {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// Rows returns the table's rows, one SQL literal per column of Columns:
// id 1 holds the lower or upper limits and long values, 2 zeros and empty
// values, 3 NULL in every column but id, 4 other edges. A new slice every
// call: a test may change its copy.
func Rows() [][]string {
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

// CreateTable returns the statement that creates the table as table (a
// name, qualified or not).
func CreateTable(table string) string {
	var defs []string
	for _, c := range Columns() {
		defs = append(defs, c.Name+" "+c.Def)
	}
	return "CREATE TABLE " + table + " (" + strings.Join(defs, ", ") + ", PRIMARY KEY (id))"
}

// Inserts returns an INSERT INTO table of each of rows (as Rows gives
// them), naming every column.
func Inserts(table string, rows [][]string) []string {
	names := strings.Join(Names(), ", ")
	var out []string
	for _, r := range rows {
		out = append(out, "INSERT INTO "+table+" ("+names+") VALUES ("+strings.Join(r, ", ")+")")
	}
	return out
}

// Updates returns the statements the tests run on table after Inserts of
// Rows: an update of row 1 that changes a text, a decimal, a timestamp,
// JSON, INET6, UUID and BINARY value; a change of row 3's primary key (to
// 30); the delete of row 2.
func Updates(table string) []string {
	return []string{
		"UPDATE " + table + " SET vc = CONCAT(LEFT(vc, 299), '!'), d1 = -d1, ts = '2001-01-01 00:00:00', js = JSON_SET(js, '$.b.c', 42), i6 = '::10.1.2.3', uu = '6ccd780c-baba-1026-9564-5b8c656024db', bn = x'01' WHERE id = 1",
		"UPDATE " + table + " SET id = 30, ti = -1 WHERE id = 3",
		"DELETE FROM " + table + " WHERE id = 2",
	}
}
