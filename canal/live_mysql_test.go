package canal

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	canalclient "github.com/withlin/canal-go/client"
	pbe "github.com/withlin/canal-go/protocol/entry"
	"google.golang.org/protobuf/proto"

	"github.com/sluice-cdc/sluice/internal/testenv"
	_ "github.com/sluice-cdc/sluice/sources" // the real sources for the live tests
)

var (
	maria *testenv.MariaDB
	pg    *testenv.Postgres
	// binDir holds the binaries the tests build (removed at the end).
	binDir string
)

func TestMain(m *testing.M) {
	testenv.RunMain(m, func(ctx context.Context, c *testenv.Cleanup) error {
		var err error
		if binDir, err = os.MkdirTemp("", "canal-test-bin"); err != nil {
			return err
		}
		c.Add(func() { os.RemoveAll(binDir) })
		if maria, err = testenv.StartMariaDB(ctx, testenv.MariaDBOptions{}); err != nil {
			return err
		}
		c.Add(func() { maria.Close() })
		if pg, err = testenv.StartPostgres(ctx, testenv.PostgresOptions{}); err != nil {
			return err
		}
		c.Add(func() { pg.Close() })
		return nil
	})
}

// mariaURL is a destination URL reading the shared MariaDB from its first binlog.
func mariaURL(serverID int) string {
	return fmt.Sprintf("mariadb://%s:%s@%s/?server-id=%d&from=earliest", testenv.MariaDBReplUser, testenv.MariaDBReplPassword, maria.Addr(), serverID)
}

// typeCol is one column of the every-type table (the columns and values of
// source/mysql's TestEveryTypeEndToEnd): its definition, the SELECT
// expression whose text Canal's value must equal, how the Canal value is
// turned into that text, and the sqlType Canal gives a value of row 1 and
// a NULL.
type typeCol struct {
	name, def, sel    string
	conv              func(string) string
	sqlType, nullType int32
}

func same(s string) string { return s }

// latin1Hex turns a Canal ISO-8859-1 value back into its bytes, in upper-case hex.
func latin1Hex(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		b = append(b, byte(r))
	}
	return strings.ToUpper(hex.EncodeToString(b))
}

var everyType = []typeCol{
	{"id", "INT NOT NULL", "id", same, 4, 4},
	{"ti", "TINYINT", "ti", same, -6, -6},
	{"tu", "TINYINT UNSIGNED", "tu", same, 5, -6},
	{"si", "SMALLINT", "si", same, 5, 5},
	{"su", "SMALLINT UNSIGNED", "su", same, 4, 5},
	{"mi", "MEDIUMINT", "mi", same, 4, 4},
	{"mu", "MEDIUMINT UNSIGNED", "mu", same, 4, 4},
	{"ii", "INT", "ii", same, 4, 4},
	{"iu", "INT UNSIGNED", "iu", same, -5, 4},
	{"bi", "BIGINT", "bi", same, -5, -5},
	{"bu", "BIGINT UNSIGNED", "bu", same, 3, -5},
	{"d0", "DECIMAL(10,0)", "d0", same, 3, 3},
	{"d1", "DECIMAL(65,30)", "d1", same, 3, 3},
	{"d2", "DECIMAL(12,4) UNSIGNED", "d2", same, 3, 3},
	{"fl", "FLOAT", "fl", same, 7, 7},
	{"db", "DOUBLE", "db", same, 8, 8},
	{"b1", "BIT(1)", "b1+0", same, -7, -7},
	{"b64", "BIT(64)", "b64+0", same, -7, -7},
	{"dt", "DATE", "CAST(dt AS CHAR)", same, 91, 91},
	{"tm", "TIME", "CAST(tm AS CHAR)", same, 92, 92},
	{"tm6", "TIME(6)", "CAST(tm6 AS CHAR)", same, 92, 92},
	{"dtt", "DATETIME", "CAST(dtt AS CHAR)", same, 93, 93},
	{"dt3", "DATETIME(3)", "CAST(dt3 AS CHAR)", same, 93, 93},
	{"dt6", "DATETIME(6)", "CAST(dt6 AS CHAR)", same, 93, 93},
	{"ts", "TIMESTAMP NULL", "CAST(ts AS CHAR)", same, 93, 93},
	{"ts6", "TIMESTAMP(6) NULL", "CAST(ts6 AS CHAR)", same, 93, 93},
	{"yr", "YEAR", "CAST(yr AS CHAR)", same, 12, 12},
	{"ch", "CHAR(10) CHARACTER SET utf8mb4", "ch", same, 1, 1},
	{"vc", "VARCHAR(300) CHARACTER SET utf8mb4", "vc", same, 12, 12},
	{"l1", "VARCHAR(20) CHARACTER SET latin1", "l1", same, 12, 12},
	{"bn", "BINARY(4)", "HEX(bn)", latin1Hex, 2004, -2},
	{"vb", "VARBINARY(300)", "HEX(vb)", latin1Hex, 2004, -3},
	{"tt", "TINYTEXT", "tt", same, 2005, -3},
	{"tx", "TEXT", "tx", same, 2005, -4},
	{"mt", "MEDIUMTEXT", "mt", same, 2005, -4},
	{"lt", "LONGTEXT", "lt", same, 2005, -4},
	{"tb", "TINYBLOB", "HEX(tb)", latin1Hex, 2004, -3},
	{"bl", "BLOB", "HEX(bl)", latin1Hex, 2004, -4},
	{"mb", "MEDIUMBLOB", "HEX(mb)", latin1Hex, 2004, -4},
	{"lb", "LONGBLOB", "HEX(lb)", latin1Hex, 2004, -4},
	{"en", "ENUM('a','b','ç')", "en+0", same, 4, 4},
	{"st", "SET('x','y','z')", "st+0", same, -7, -2},
	{"js", "JSON", "js", same, 2005, -4},
	{"geo", "GEOMETRY", "HEX(geo)", latin1Hex, 2004, -2},
	{"pt", "POINT", "HEX(pt)", latin1Hex, 2004, -2},
	{"i4", "INET4", "CAST(i4 AS CHAR)", same, 1, 1},
	{"i6", "INET6", "CAST(i6 AS CHAR)", same, 1, 1},
	{"uu", "UUID", "CAST(uu AS CHAR)", same, 1, 1},
}

var everyTypeRows = [][]string{
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
		"'😀𝄞a'", "'tab\\there\\nnewline 漢字 😀'", "'\\'quote\\''", "x'DEADBEEF'", "x'0A0D1A5C27'", "'t'", "'x'", "'y'", "'z'",
		"x'0102'", "x'03'", "x'04'", "x'05'", "'b'", "'y'", `'"just a string"'`,
		"ST_GeomFromText('MULTILINESTRING((0 0,1 1),(2 2,3 3))')", "POINT(-180, 90)",
		"'10.1.2.3'", "'::ffff:10.1.2.3'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'"},
}

// rowEntry is a ROWDATA entry decoded.
type rowEntry struct {
	header *pbe.Header
	rc     *pbe.RowChange
}

// collect gets and acks batches until stop says the rows so far are
// enough, checking on the way that every row entry lies between a BEGIN
// and an END of the same transaction. It returns one rowEntry per row (a
// row entry holds several rows of a table in a transaction), with the
// header of its entry.
func collect(t *testing.T, c *canalclient.SimpleCanalConnector, timeout time.Duration, stop func([]rowEntry) bool) []rowEntry {
	t.Helper()
	var rows []rowEntry
	inTx, txID := false, ""
	lastPos := ""
	deadline := time.Now().Add(timeout)
	for !stop(rows) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out with %d row entries", len(rows))
		}
		wait, unit := int64(500), int32(2)
		msg, err := c.GetWithOutAck(500, &wait, &unit)
		if err != nil {
			t.Fatal(err)
		}
		for i := range msg.Entries {
			e := &msg.Entries[i]
			h := e.GetHeader()
			pos := ""
			for _, p := range h.GetProps() {
				if p.GetKey() == "position" {
					pos = p.GetValue()
				}
			}
			if pos == "" || h.GetVersion() != 1 || h.GetServerenCode() != "UTF-8" {
				t.Fatalf("entry header %v", h)
			}
			lastPos = pos
			switch e.GetEntryType() {
			case pbe.EntryType_TRANSACTIONBEGIN:
				var b pbe.TransactionBegin
				if err := proto.Unmarshal(e.GetStoreValue(), &b); err != nil {
					t.Fatal(err)
				}
				if inTx {
					t.Fatalf("BEGIN at %s inside transaction %s", pos, txID)
				}
				inTx, txID = true, b.GetTransactionId()
				if txID == "" || h.GetExecuteTime() == 0 || h.GetLogfileName() == "" && h.GetSourceType() == pbe.Type_MYSQL {
					t.Fatalf("BEGIN without transaction id, time or file: %v %v", h, &b)
				}
			case pbe.EntryType_TRANSACTIONEND:
				var b pbe.TransactionEnd
				if err := proto.Unmarshal(e.GetStoreValue(), &b); err != nil {
					t.Fatal(err)
				}
				if !inTx || b.GetTransactionId() != txID {
					t.Fatalf("END of %q at %s, open transaction %q (%v)", b.GetTransactionId(), pos, txID, inTx)
				}
				inTx = false
			case pbe.EntryType_ROWDATA:
				rc := &pbe.RowChange{}
				if err := proto.Unmarshal(e.GetStoreValue(), rc); err != nil {
					t.Fatal(err)
				}
				if !rc.GetIsDdl() && !inTx && h.GetSourceType() != pbe.Type_TYPECOMPATIBLEPROTO2 { // MongoDB writes outside a transaction have no BEGIN/END
					t.Fatalf("row entry outside a transaction at %s", pos)
				}
				if rc.GetIsDdl() {
					break
				}
				// One rowEntry per row: the rows of one entry, each with
				// its position, the entry's header saying how many and
				// the last one's position.
				count := ""
				for _, p := range h.GetProps() {
					if p.GetKey() == "rowsCount" {
						count = p.GetValue()
					}
				}
				rds := rc.GetRowDatas()
				if count != fmt.Sprint(len(rds)) {
					t.Fatalf("entry at %s: rowsCount %q, %d rows", pos, count, len(rds))
				}
				for k, rd := range rds {
					rp := ""
					for _, p := range rd.GetProps() {
						if p.GetKey() == "position" {
							rp = p.GetValue()
						}
					}
					if rp == "" || k == len(rds)-1 && rp != pos {
						t.Fatalf("row %d of the entry at %s: position %q", k, pos, rp)
					}
					one := &pbe.RowChange{}
					proto.Merge(one, rc)
					one.RowDatas = []*pbe.RowData{rd}
					rows = append(rows, rowEntry{header: h, rc: one})
				}
			default:
				t.Fatalf("entry type %v", e.GetEntryType())
			}
		}
		if msg.Id > 0 {
			if err := c.Ack(msg.Id); err != nil {
				t.Fatal(err)
			}
		}
	}
	_ = lastPos
	return rows
}

// canalText renders a column as the test compares it: "NULL" or the
// converted value.
func canalText(col *pbe.Column, conv func(string) string) string {
	if col.GetIsNull() {
		return "NULL"
	}
	return conv(col.GetValue())
}

// TestMariaDBEveryType: a canal-go client gets every MariaDB column type
// in Canal's shape (value text, sqlType, mysqlType, isKey, updated), and
// the table rebuilt from the entries equals SELECT.
func TestMariaDBEveryType(t *testing.T) {
	ctx := context.Background()
	var defs, names, sels []string
	for _, c := range everyType {
		defs = append(defs, c.name+" "+c.def)
		names = append(names, c.name)
		sels = append(sels, "COALESCE("+c.sel+", 'NULL')")
	}
	if err := maria.Exec(ctx, "CREATE DATABASE ctypes", "CREATE TABLE ctypes.every ("+strings.Join(defs, ", ")+", PRIMARY KEY (id))"); err != nil {
		t.Fatal(err)
	}
	ts := startTestServer(t, nil, Config{Destinations: []Destination{{Name: "example", URL: mariaURL(6001)}}})
	c := ts.connect(t, 1001, `ctypes\..*`)
	var stmts []string
	for _, r := range everyTypeRows {
		stmts = append(stmts, "INSERT INTO ctypes.every ("+strings.Join(names, ", ")+") VALUES ("+strings.Join(r, ", ")+")")
	}
	stmts = append(stmts,
		"UPDATE ctypes.every SET vc = CONCAT(LEFT(vc, 299), '!'), d1 = -d1, ts = '2001-01-01 00:00:00', i6 = '::10.1.2.3', bn = x'01' WHERE id = 1",
		"UPDATE ctypes.every SET id = 30, ti = -1 WHERE id = 3",
		"DELETE FROM ctypes.every WHERE id = 2")
	if err := maria.Exec(ctx, stmts...); err != nil {
		t.Fatal(err)
	}
	rows := collect(t, c, time.Minute, func(r []rowEntry) bool { return len(r) >= 7 })

	rebuilt := map[string][]string{}
	render := func(cols []*pbe.Column, check func(i int, col *pbe.Column)) []string {
		if len(cols) != len(everyType) {
			t.Fatalf("%d columns, want %d", len(cols), len(everyType))
		}
		out := make([]string, len(cols))
		for i, col := range cols {
			tc := everyType[i]
			if col.GetName() != tc.name || col.GetIndex() != int32(i) || col.GetIsKey() != (i == 0) {
				t.Fatalf("column %d: %v", i, col)
			}
			check(i, col)
			out[i] = canalText(col, tc.conv)
		}
		return out
	}
	for n, r := range rows {
		h, rc := r.header, r.rc
		if h.GetSchemaName() != "ctypes" || h.GetTableName() != "every" || h.GetEventType() != rc.GetEventType() ||
			h.GetSourceType() != pbe.Type_MYSQL || len(rc.GetRowDatas()) != 1 {
			t.Fatalf("row entry %d: header %v", n, h)
		}
		rd := rc.GetRowDatas()[0]
		noCheck := func(int, *pbe.Column) {}
		switch rc.GetEventType() {
		case pbe.EventType_INSERT:
			if len(rd.GetBeforeColumns()) != 0 {
				t.Fatalf("insert with a before image")
			}
			a := render(rd.GetAfterColumns(), func(i int, col *pbe.Column) {
				tc := everyType[i]
				if !col.GetUpdated() {
					t.Errorf("insert column %s not updated", tc.name)
				}
				want := tc.sqlType
				if col.GetIsNull() {
					want = tc.nullType
				}
				if first := rd.GetAfterColumns()[0].GetValue(); (first == "1" || first == "3") && col.GetSqlType() != want {
					t.Errorf("row %s column %s (%q): sqlType %d, want %d", first, tc.name, col.GetMysqlType(), col.GetSqlType(), want)
				}
				if col.GetMysqlType() == "" {
					t.Errorf("column %s without mysqlType", tc.name)
				}
			})
			rebuilt[a[0]] = a
		case pbe.EventType_UPDATE:
			b := render(rd.GetBeforeColumns(), noCheck)
			a := render(rd.GetAfterColumns(), func(i int, col *pbe.Column) {
				before := rd.GetBeforeColumns()[i]
				changed := before.GetIsNull() != col.GetIsNull() || before.GetValue() != col.GetValue()
				if col.GetUpdated() != changed {
					t.Errorf("update column %s: updated=%v, value changed=%v", everyType[i].name, col.GetUpdated(), changed)
				}
			})
			if _, ok := rebuilt[b[0]]; !ok {
				t.Fatalf("update of id %s never inserted", b[0])
			}
			delete(rebuilt, b[0])
			rebuilt[a[0]] = a
		case pbe.EventType_DELETE:
			if len(rd.GetAfterColumns()) != 0 {
				t.Fatalf("delete with an after image")
			}
			delete(rebuilt, render(rd.GetBeforeColumns(), noCheck)[0])
		default:
			t.Fatalf("event type %v", rc.GetEventType())
		}
	}
	want := selectRowsTZ(t, "SELECT "+strings.Join(sels, ", ")+" FROM ctypes.every ORDER BY id")
	if len(want) != len(rebuilt) {
		t.Fatalf("SELECT has %d rows, the entries rebuilt %d", len(want), len(rebuilt))
	}
	bad := 0
	for _, w := range want {
		g, ok := rebuilt[w[0]]
		if !ok {
			t.Fatalf("row id=%s missing from the entries", w[0])
		}
		for i, tc := range everyType {
			if g[i] != w[i] && !sameNumber(tc.def, g[i], w[i]) {
				bad++
				t.Errorf("id=%s column %s %s: canal %.100q, SELECT %.100q", w[0], tc.name, tc.def, g[i], w[i])
			}
		}
	}
	if bad == 0 {
		t.Logf("%d rows × %d columns rebuilt from canal-go entries equal SELECT", len(want), len(everyType))
	}
}

// selectRowsTZ runs q in a UTC session and returns its rows as text.
func selectRowsTZ(t *testing.T, q string) [][]string {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("mysql", maria.DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET time_zone = '+00:00'"); err != nil {
		t.Fatal(err)
	}
	rs, err := conn.QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	var out [][]string
	for rs.Next() {
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = string(v)
		}
		out = append(out, row)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameNumber reports whether two texts of a FLOAT or DOUBLE column are the
// same number: MariaDB prints FLOAT with 6 significant digits, Canal the
// shortest text that reads back as the stored float.
func sameNumber(def, canal, server string) bool {
	if def != "FLOAT" && def != "DOUBLE" {
		return false
	}
	a, err1 := strconv.ParseFloat(canal, 64)
	b, err2 := strconv.ParseFloat(server, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	return a == b || math.Abs(a-b) <= math.Abs(b)*1e-6
}
