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

	"github.com/sluice-cdc/sluice/internal/everytype"
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
		maria, pg, err = testenv.StartMariaDBAndPostgres(ctx, c)
		return err
	})
}

// mariaURL is a destination URL reading the shared MariaDB from its first binlog.
func mariaURL(serverID int) string {
	return fmt.Sprintf("mariadb://%s:%s@%s/?server-id=%d&from=earliest", testenv.MariaDBReplUser, testenv.MariaDBReplPassword, maria.Addr(), serverID)
}

// typeCol is one column of the every-type table (internal/everytype, the
// table of source/mysql's TestEveryTypeEndToEnd): the SELECT expression
// whose text Canal's value must equal, how the Canal value is turned into
// that text, and the sqlType Canal gives a value of row 1 and a NULL.
type typeCol struct {
	name, sel         string
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

// everyType are the columns of the every-type table, in its order.
var everyType = []typeCol{
	{"id", "id", same, 4, 4},
	{"ti", "ti", same, -6, -6},
	{"tu", "tu", same, 5, -6},
	{"si", "si", same, 5, 5},
	{"su", "su", same, 4, 5},
	{"mi", "mi", same, 4, 4},
	{"mu", "mu", same, 4, 4},
	{"ii", "ii", same, 4, 4},
	{"iu", "iu", same, -5, 4},
	{"bi", "bi", same, -5, -5},
	{"bu", "bu", same, 3, -5},
	{"d0", "d0", same, 3, 3},
	{"d1", "d1", same, 3, 3},
	{"d2", "d2", same, 3, 3},
	{"fl", "fl", same, 7, 7},
	{"db", "db", same, 8, 8},
	{"b1", "b1+0", same, -7, -7},
	{"b64", "b64+0", same, -7, -7},
	{"dt", "CAST(dt AS CHAR)", same, 91, 91},
	{"tm", "CAST(tm AS CHAR)", same, 92, 92},
	{"tm6", "CAST(tm6 AS CHAR)", same, 92, 92},
	{"dtt", "CAST(dtt AS CHAR)", same, 93, 93},
	{"dt3", "CAST(dt3 AS CHAR)", same, 93, 93},
	{"dt6", "CAST(dt6 AS CHAR)", same, 93, 93},
	{"ts", "CAST(ts AS CHAR)", same, 93, 93},
	{"ts6", "CAST(ts6 AS CHAR)", same, 93, 93},
	{"yr", "CAST(yr AS CHAR)", same, 12, 12},
	{"ch", "ch", same, 1, 1},
	{"vc", "vc", same, 12, 12},
	{"l1", "l1", same, 12, 12},
	{"bn", "HEX(bn)", latin1Hex, 2004, -2},
	{"vb", "HEX(vb)", latin1Hex, 2004, -3},
	{"tt", "tt", same, 2005, -3},
	{"tx", "tx", same, 2005, -4},
	{"mt", "mt", same, 2005, -4},
	{"lt", "lt", same, 2005, -4},
	{"tb", "HEX(tb)", latin1Hex, 2004, -3},
	{"bl", "HEX(bl)", latin1Hex, 2004, -4},
	{"mb", "HEX(mb)", latin1Hex, 2004, -4},
	{"lb", "HEX(lb)", latin1Hex, 2004, -4},
	{"en", "en+0", same, 4, 4},
	{"st", "st+0", same, -7, -2},
	{"js", "js", same, 2005, -4},
	{"geo", "HEX(geo)", latin1Hex, 2004, -2},
	{"pt", "HEX(pt)", latin1Hex, 2004, -2},
	{"i4", "CAST(i4 AS CHAR)", same, 1, 1},
	{"i6", "CAST(i6 AS CHAR)", same, 1, 1},
	{"uu", "CAST(uu AS CHAR)", same, 1, 1},
}

// everyTypeRows are the rows of the every-type table, but for row 4's
// CHAR and VARCHAR, which here also hold characters outside the Basic
// Multilingual Plane and CJK.
func everyTypeRows() [][]string {
	rows := everytype.Rows()
	rows[3][everytype.Index("ch")] = "'😀𝄞a'"
	rows[3][everytype.Index("vc")] = "'tab\\there\\nnewline 漢字 😀'"
	return rows
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
	defs := everytype.Columns()
	var sels []string
	for i, c := range everyType {
		if i >= len(defs) || c.name != defs[i].Name {
			t.Fatalf("everyType column %d is %s, not the every-type table's", i, c.name)
		}
		sels = append(sels, "COALESCE("+c.sel+", 'NULL')")
	}
	if len(everyType) != len(defs) {
		t.Fatalf("everyType has %d columns, the every-type table %d", len(everyType), len(defs))
	}
	if err := maria.Exec(ctx, "CREATE DATABASE ctypes", everytype.CreateTable("ctypes.every")); err != nil {
		t.Fatal(err)
	}
	ts := startTestServer(t, nil, Config{Destinations: []Destination{{Name: "example", URL: mariaURL(6001)}}})
	c := ts.connect(t, 1001, `ctypes\..*`)
	stmts := append(everytype.Inserts("ctypes.every", everyTypeRows()),
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
			if g[i] != w[i] && !sameNumber(defs[i].Def, g[i], w[i]) {
				bad++
				t.Errorf("id=%s column %s %s: canal %.100q, SELECT %.100q", w[0], tc.name, defs[i].Def, g[i], w[i])
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
