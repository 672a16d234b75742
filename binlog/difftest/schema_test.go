package difftest

import (
	"fmt"
	"strings"
)

// class is how a column's values are normalised for comparison.
type class int

const (
	clsInt       class = iota // decimal text, signedness from the column
	clsDecimal                // exact decimal, trailing fraction zeros removed
	clsFloat                  // FLOAT: shortest float32 text
	clsDouble                 // DOUBLE: shortest float64 text
	clsTime                   // [-]h:mm:ss[.f…] with fsp digits
	clsDateTime               // YYYY-MM-DD hh:mm:ss[.f…]
	clsTimestamp              // Unix seconds[.f…]
	clsDate                   // YYYY-MM-DD
	clsYear                   // number
	clsText                   // quoted UTF-8 text, decoded from the column charset
	clsBinary                 // hex of BINARY(n), padded with zero bytes to n
	clsBytes                  // hex of VARBINARY/BLOB bytes
	clsEnum                   // 1-based member index
	clsSet                    // member bitmap
	clsBit                    // unsigned number
	clsGeometry               // hex of SRID (4 bytes LE) + WKB
)

// column is one column of a test table with the edge values it cycles through.
type column struct {
	name     string
	def      string   // SQL type
	cls      class    //
	unsigned bool     // clsInt
	bits     int      // clsInt width; clsBit width
	fsp      int      // temporal fractional digits
	charset  string   // clsText: utf8mb4, latin1, gbk
	size     int      // clsBinary: n
	vals     []string // SQL literals; row i takes vals[i%len(vals)]
}

// table is a test table: an INT primary key "id" plus columns.
type table struct {
	name string
	cols []column
}

func intCols() []column {
	type w struct {
		name     string
		bits     int
		min, max string
		umax     string
	}
	var out []column
	for _, x := range []w{
		{"TINYINT", 8, "-128", "127", "255"},
		{"SMALLINT", 16, "-32768", "32767", "65535"},
		{"MEDIUMINT", 24, "-8388608", "8388607", "16777215"},
		{"INT", 32, "-2147483648", "2147483647", "4294967295"},
		{"BIGINT", 64, "-9223372036854775808", "9223372036854775807", "18446744073709551615"},
	} {
		n := strings.ToLower(x.name[:len(x.name)-3])
		out = append(out,
			column{name: n + "_s", def: x.name, cls: clsInt, bits: x.bits, vals: []string{x.min, x.max, "0", "-1", "1", "NULL"}},
			column{name: n + "_u", def: x.name + " UNSIGNED", cls: clsInt, unsigned: true, bits: x.bits, vals: []string{"0", x.umax, "1", x.max, "NULL"}},
		)
	}
	return out
}

func temporalCols() []column {
	var out []column
	for fsp := 0; fsp <= 6; fsp++ {
		frac := func(s string) string {
			if fsp == 0 {
				return s
			}
			return s + "." + "987654"[:fsp]
		}
		out = append(out,
			column{name: fmt.Sprintf("tm%d", fsp), def: fmt.Sprintf("TIME(%d)", fsp), cls: clsTime, fsp: fsp,
				vals: []string{"'-838:59:59'", "'838:59:59'", "'00:00:00'", q(frac("-00:00:01")), q(frac("12:34:56")), q(frac("-100:00:00")), "NULL"}},
			column{name: fmt.Sprintf("dt%d", fsp), def: fmt.Sprintf("DATETIME(%d)", fsp), cls: clsDateTime, fsp: fsp,
				vals: []string{"'0000-00-00 00:00:00'", "'1000-01-01 00:00:00'", q(frac("9999-12-31 23:59:59")), q(frac("2024-02-29 12:34:56")), "'2024-00-00 00:00:00'", "NULL"}},
			column{name: fmt.Sprintf("ts%d", fsp), def: fmt.Sprintf("TIMESTAMP(%d) NULL", fsp), cls: clsTimestamp, fsp: fsp,
				vals: []string{"'0000-00-00 00:00:00'", "'1970-01-01 00:00:01'", q(frac("2038-01-19 03:14:07")), q(frac("2024-02-29 12:34:56")), "NULL"}},
		)
	}
	return out
}

func q(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func enumMembers(n int) []string {
	m := make([]string, n)
	for i := range m {
		m[i] = fmt.Sprintf("m%03d", i+1)
	}
	return m
}

func quoteList(ms []string) string {
	qs := make([]string, len(ms))
	for i, m := range ms {
		qs[i] = q(m)
	}
	return strings.Join(qs, ",")
}

// allTypes is the wide table with every MariaDB column type.
func allTypes() table {
	cols := intCols()
	cols = append(cols,
		column{name: "dec65_30", def: "DECIMAL(65,30)", cls: clsDecimal, vals: []string{
			"-99999999999999999999999999999999999.999999999999999999999999999999",
			"99999999999999999999999999999999999.999999999999999999999999999999",
			"0", "-0.000000000000000000000000000001", "12345.5", "NULL"}},
		column{name: "dec65_0", def: "DECIMAL(65,0)", cls: clsDecimal, vals: []string{
			"-99999999999999999999999999999999999999999999999999999999999999999", "1", "0", "NULL"}},
		column{name: "dec10_2", def: "DECIMAL(10,2)", cls: clsDecimal, vals: []string{"-12345678.99", "0.01", "-0.10", "100", "NULL"}},
		column{name: "dec5_5", def: "DECIMAL(5,5) UNSIGNED", cls: clsDecimal, vals: []string{"0.99999", "0.00001", "0", "NULL"}},
		column{name: "f", def: "FLOAT", cls: clsFloat, vals: []string{"1.5", "-3.4028234e38", "1.1754944e-38", "0.1", "0", "NULL", "123456.7"}},
		column{name: "d", def: "DOUBLE", cls: clsDouble, vals: []string{"-2.25e100", "1.7976931348623157e308", "2.2250738585072014e-308", "0.1", "0", "3.141592653589793", "NULL"}},
	)
	cols = append(cols, temporalCols()...)
	cols = append(cols,
		column{name: "dd", def: "DATE", cls: clsDate, vals: []string{"'0000-00-00'", "'1000-01-01'", "'9999-12-31'", "'2024-02-00'", "'2024-02-29'", "NULL"}},
		column{name: "yr", def: "YEAR", cls: clsYear, vals: []string{"0", "1901", "2155", "2024", "NULL"}},
		column{name: "c_u8", def: "CHAR(10) CHARACTER SET utf8mb4", cls: clsText, charset: "utf8mb4", vals: []string{"'😀é中'", "''", "'abc'", "' x'", "NULL"}},
		column{name: "v_u8", def: "VARCHAR(300) CHARACTER SET utf8mb4", cls: clsText, charset: "utf8mb4",
			vals: []string{"'😀 4-byte 𝄞 and \\' quote \\\\ backslash'", "REPEAT('ä', 300)", "''", "'line\\nbreak\\ttab\\0nul'", "NULL"}},
		column{name: "v_l1", def: "VARCHAR(20) CHARACTER SET latin1", cls: clsText, charset: "latin1", vals: []string{"'é€ÿ'", "'plain'", "''", "NULL"}},
		column{name: "c_l1", def: "CHAR(5) CHARACTER SET latin1", cls: clsText, charset: "latin1", vals: []string{"'ßü'", "'abcde'", "NULL"}},
		column{name: "v_gbk", def: "VARCHAR(20) CHARACTER SET gbk", cls: clsText, charset: "gbk", vals: []string{"'中文字符'", "'ascii'", "''", "NULL"}},
		column{name: "tx", def: "TEXT CHARACTER SET utf8mb4", cls: clsText, charset: "utf8mb4", vals: []string{"'text 😀'", "REPEAT('x', 1000)", "''", "NULL"}},
		column{name: "ttx", def: "TINYTEXT CHARACTER SET latin1", cls: clsText, charset: "latin1", vals: []string{"'tïny'", "NULL"}},
		column{name: "mtx", def: "MEDIUMTEXT CHARACTER SET gbk", cls: clsText, charset: "gbk", vals: []string{"'中'", "REPEAT('文', 40000)", "NULL"}},
		column{name: "bn", def: "BINARY(4)", cls: clsBinary, size: 4, vals: []string{"x'01020000'", "x'00000000'", "x'ffffffff'", "''", "NULL"}},
		column{name: "vb", def: "VARBINARY(20)", cls: clsBytes, vals: []string{"x'ff00'", "''", "x'00'", "NULL"}},
		column{name: "tb", def: "TINYBLOB", cls: clsBytes, vals: []string{"x'00ff27'", "''", "NULL"}},
		column{name: "bl", def: "BLOB", cls: clsBytes, vals: []string{"x'deadbeef'", "REPEAT(x'00ff', 30000)", "NULL"}},
		column{name: "mb", def: "MEDIUMBLOB", cls: clsBytes, vals: []string{"x'5c27'", "NULL"}},
		column{name: "lb", def: "LONGBLOB", cls: clsBytes, vals: []string{"x'0a0d'", "NULL"}},
		column{name: "js", def: "JSON", cls: clsText, charset: "utf8mb4", vals: []string{`'{"a":[1,2,{"b":null}],"c":"😀"}'`, "'[]'", "'null'", "NULL"}},
		column{name: "e_small", def: "ENUM('a','b','c')", cls: clsEnum, vals: []string{"'a'", "'c'", "''", "NULL"}},
		column{name: "e_big", def: "ENUM(" + quoteList(enumMembers(300)) + ")", cls: clsEnum, vals: []string{"'m001'", "'m300'", "'m256'", "NULL"}},
		column{name: "s_small", def: "SET('x','y','z')", cls: clsSet, vals: []string{"'x,z'", "''", "'x,y,z'", "NULL"}},
		column{name: "s_big", def: "SET(" + quoteList(enumMembers(64)) + ")", cls: clsSet, vals: []string{"'m001,m064'", "'m032,m033'", "''", "NULL"}},
	)
	for _, n := range []int{1, 7, 8, 9, 31, 63, 64} {
		max := fmt.Sprintf("b'%s'", strings.Repeat("1", n))
		cols = append(cols, column{name: fmt.Sprintf("bit%d", n), def: fmt.Sprintf("BIT(%d)", n), cls: clsBit, bits: n,
			vals: []string{"b'0'", max, "b'1'", "NULL"}})
	}
	cols = append(cols,
		column{name: "geo", def: "GEOMETRY", cls: clsGeometry, vals: []string{"ST_GeomFromText('POINT(1 2)')", "ST_GeomFromText('LINESTRING(0 0,1 1,2 -2)', 4326)", "NULL"}},
		column{name: "pt", def: "POINT", cls: clsGeometry, vals: []string{"ST_GeomFromText('POINT(-1.5 1e300)')", "NULL"}},
		column{name: "ip6", def: "INET6", cls: clsBinary, size: 16, vals: []string{"'::1'", "'2001:db8::ff00:42:8329'", "NULL"}},
		column{name: "uu", def: "UUID", cls: clsBinary, size: 16, vals: []string{"'123e4567-e89b-12d3-a456-426614174000'", "NULL"}},
	)
	return table{name: "all_types", cols: cols}
}

// bigValues is a table of 1 MB values.
func bigValues() table {
	return table{name: "big_values", cols: []column{
		{name: "lt", def: "LONGTEXT CHARACTER SET utf8mb4", cls: clsText, charset: "utf8mb4", vals: []string{"REPEAT('😀', 262144)", "REPEAT('a', 1048576)", "NULL"}},
		{name: "lb", def: "LONGBLOB", cls: clsBytes, vals: []string{"REPEAT(x'00ff7f80', 262144)", "NULL"}},
	}}
}

// rowCount is how many rows a table gets: enough for every value of every column to appear.
func (t table) rowCount() int {
	n := 0
	for _, c := range t.cols {
		n = max(n, len(c.vals))
	}
	return n + 1
}

// createSQL returns the CREATE TABLE statement.
func (t table) createSQL() string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE `%s` (id INT NOT NULL PRIMARY KEY", t.name)
	for _, c := range t.cols {
		fmt.Fprintf(&b, ", `%s` %s", c.name, c.def)
	}
	b.WriteString(") ENGINE=InnoDB")
	return b.String()
}

// value returns the SQL literal of column c in row i; the last row is all NULL.
func (t table) value(c column, i int) string {
	if i == t.rowCount()-1 {
		return "NULL"
	}
	return c.vals[i%len(c.vals)]
}

// insertSQL inserts row i (ids are 1-based).
func (t table) insertSQL(i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO `%s` VALUES (%d", t.name, i+1)
	for _, c := range t.cols {
		b.WriteString(", ")
		b.WriteString(t.value(c, i))
	}
	b.WriteString(")")
	return b.String()
}

// updateSQL gives row i the values of row i+shift, for every other column
// (MINIMAL images then carry only some columns in the after image).
func (t table) updateSQL(i, shift int) string {
	var sets []string
	for k, c := range t.cols {
		if k%2 == i%2 {
			continue
		}
		sets = append(sets, fmt.Sprintf("`%s` = %s", c.name, t.value(c, (i+shift)%t.rowCount())))
	}
	return fmt.Sprintf("UPDATE `%s` SET %s WHERE id = %d", t.name, strings.Join(sets, ", "), i+1)
}
