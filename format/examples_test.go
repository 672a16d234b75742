package format

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
)

var update = flag.Bool("update", false, "rewrite the examples in docs/formats.md")

// examples are the changes docs/formats.md shows in every format, by name:
// a MySQL transaction on shop.orders (the table of docs/format.md), DDL,
// a statement-based change, PostgreSQL changes, MongoDB changes, a
// heartbeat, and one row of every value kind from MySQL and PostgreSQL.
func examples() map[string]change.Change {
	commit := time.Date(2024, 5, 6, 7, 8, 9, 120000000, time.UTC)
	read := commit.Add(35 * time.Millisecond)
	cols := []change.Column{
		{Name: "id", Type: "bigint unsigned", Key: true},
		{Name: "status", Type: "enum('new','paid','shipped')", Nullable: true},
		{Name: "total", Type: "decimal(12,2)"},
		{Name: "placed_at", Type: "datetime(6)"},
		{Name: "note", Type: "text", Nullable: true},
	}
	gtid := "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77"
	pos := func(off, idx uint64) change.Position {
		return change.Position{Flavor: change.FlavorBinlog, File: "mysql-bin.000003", Offset: off, Index: idx, GTIDSet: gtid}
	}
	txID := "3e11fa47-71ca-11e1-9e33-c80aa9429562:77"
	row := func(status string, idx uint64, total string, note change.Value) []change.Value {
		return []change.Value{change.Uint(42, 64), change.Enum([]byte(status), idx), change.Decimal([]byte(total)),
			change.DateTime(2024, 5, 6, 7, 8, 1, 250000000, 6), note}
	}
	base := change.Change{Source: "mysql", Namespace: change.Namespace{Database: "shop", Table: "orders"}, CommitTime: commit, ReadTime: read}
	ins, upd, del := base, base, base
	ins.Op, ins.Columns, ins.After, ins.Tx, ins.Pos = change.OpInsert, cols, row("new", 1, "19.90", change.Null()), change.Tx{ID: txID}, pos(1234, 0)
	upd.Op, upd.Columns, upd.Before, upd.After, upd.Tx, upd.Pos = change.OpUpdate, cols, row("new", 1, "19.90", change.Null()),
		row("paid", 2, "19.90", change.String([]byte("paid by card"))), change.Tx{ID: txID, Index: 1}, pos(1234, 1)
	del.Op, del.Columns, del.Before, del.Tx, del.Pos = change.OpDelete, cols, row("paid", 2, "19.90", change.String([]byte("paid by card"))),
		change.Tx{ID: txID, Index: 2, Last: true}, pos(1234, 2)

	keyUpd := upd
	keyUpd.Before = row("paid", 2, "19.90", change.String([]byte("paid by card")))
	keyUpd.After = row("paid", 2, "19.90", change.String([]byte("paid by card")))
	keyUpd.After[0] = change.Uint(43, 64)

	lsn := func(off uint64) change.Position { return change.Position{Flavor: change.FlavorLSN, Offset: off} }
	notes := []change.Column{{Name: "id", Type: "integer", Key: true}, {Name: "doc", Type: "jsonb", Nullable: true}, {Name: "body", Type: "text", Nullable: true}}
	pgUpdate := change.Change{Op: change.OpUpdate, Source: "postgres", Namespace: change.Namespace{Database: "public", Table: "notes"}, Columns: notes,
		After: []change.Value{change.Int(7, 32), change.JSON([]byte(`{"tags": ["a", "b"]}`)), change.Unchanged()},
		Tx:    change.Tx{ID: "771", Last: true}, Pos: lsn(0x16B3748), CommitTime: commit, ReadTime: read}
	pgDelete := pgUpdate
	pgDelete.Op, pgDelete.After = change.OpDelete, nil
	pgDelete.Before = []change.Value{change.Int(7, 32), change.Absent(), change.Absent()}
	pgDelete.Tx, pgDelete.Pos = change.Tx{ID: "772", Last: true}, lsn(0x16B3900)

	oid := []byte{0x65, 0xa1, 0xf0, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09}
	mpos := change.Position{Flavor: change.FlavorMongo, Offset: 1714979289<<32 | 3, Token: "8266389D59000000032B0229296E04"}
	mongoInsert := change.Change{Op: change.OpInsert, Source: "mongodb", Namespace: change.Namespace{Database: "shop", Table: "customers"},
		Columns: []change.Column{{Name: "_id", Type: "objectId", Key: true}, {Name: "name", Type: "string"}, {Name: "visits", Type: "long"}, {Name: "tags", Type: "array"}},
		After: []change.Value{{Kind: change.KindObjectID, B: oid}, change.String([]byte("Anne")), change.Int(3, 64),
			{Kind: change.KindArray, Elems: []change.Value{change.String([]byte("vip")), change.Int(1, 32)}}},
		Pos: mpos, CommitTime: commit, ReadTime: read}
	mongoUpdate := change.Change{Op: change.OpUpdate, Source: "mongodb", Namespace: mongoInsert.Namespace,
		Columns: []change.Column{{Name: "_id", Type: "objectId", Key: true}, {Name: "$updatedFields", Type: "object"}, {Name: "$removedFields", Type: "array"}},
		After: []change.Value{{Kind: change.KindObjectID, B: oid},
			{Kind: change.KindDocument, Names: []string{"visits"}, Elems: []change.Value{change.Int(4, 64)}},
			{Kind: change.KindArray, Elems: []change.Value{change.String([]byte("tags"))}}},
		Pos: change.Position{Flavor: change.FlavorMongo, Offset: 1714979290<<32 | 1, Token: "8266389D5A000000012B0229296E04"}, CommitTime: commit.Add(time.Second), ReadTime: read.Add(time.Second)}
	mongoDelete := change.Change{Op: change.OpDelete, Source: "mongodb", Namespace: mongoInsert.Namespace,
		Columns: []change.Column{{Name: "_id", Type: "objectId", Key: true}},
		Before:  []change.Value{{Kind: change.KindObjectID, B: oid}},
		Pos:     change.Position{Flavor: change.FlavorMongo, Offset: 1714979291<<32 | 1, Token: "8266389D5B000000012B0229296E04"}, CommitTime: commit.Add(2 * time.Second), ReadTime: read.Add(2 * time.Second)}

	// The first row of an initial snapshot of MariaDB taken at
	// mysql-bin.000003:1100 (no commit time: the row was read), and a row
	// of an incremental snapshot of a MongoDB collection.
	snapRow := base
	snapRow.Op, snapRow.Columns, snapRow.After, snapRow.CommitTime, snapRow.Snapshot = change.OpRead, cols, row("new", 1, "19.90", change.Null()), time.Time{}, change.SnapshotFirst
	snapRow.Pos = change.Position{Flavor: change.FlavorBinlog, File: "mysql-bin.000003", Offset: 1100, GTIDSet: gtid, Row: 1, Snapshot: "t=shop.orders,k=42"}
	mongoRead := mongoInsert
	mongoRead.Op, mongoRead.CommitTime, mongoRead.Snapshot = change.OpRead, time.Time{}, change.SnapshotIncremental
	mongoRead.Pos = change.Position{Flavor: change.FlavorMongo, Offset: 1714979289<<32 | 3, Row: 1, Snapshot: "inc=2,t=shop.customers"}

	return map[string]change.Change{
		"read": snapRow, "mongo-read": mongoRead,
		"begin":  {Op: change.OpBegin, Source: "mysql", Tx: change.Tx{ID: txID}, Pos: pos(1100, 0), CommitTime: commit, ReadTime: read},
		"insert": ins, "update": upd, "delete": del, "update-key": keyUpd,
		"commit": {Op: change.OpCommit, Source: "mysql", Tx: change.Tx{ID: txID, Index: 3}, Pos: pos(1500, 0), CommitTime: commit, ReadTime: read},
		"ddl": {Op: change.OpDDL, Source: "mysql", Namespace: change.Namespace{Database: "shop", Table: "orders"}, SQL: "ALTER TABLE orders ADD COLUMN note text",
			Pos: pos(2000, 0), CommitTime: commit, ReadTime: read},
		"statement": {Op: change.OpStatement, Source: "mariadb", Namespace: change.Namespace{Database: "shop"}, SQL: "UPDATE orders SET status = 'paid' WHERE id = 42",
			Tx: change.Tx{ID: "0-1-78", Last: true}, Pos: change.Position{Flavor: change.FlavorBinlog, File: "mariadb-bin.000003", Offset: 2300, Index: 1, GTIDSet: "0-1-77"},
			CommitTime: commit, ReadTime: read},
		"heartbeat": {Op: change.OpHeartbeat, Source: "mysql", Pos: change.Position{Flavor: change.FlavorBinlog, File: "mysql-bin.000004", Offset: 4, GTIDSet: gtid}, ReadTime: read},
		"truncate": {Op: change.OpTruncate, Source: "postgres", Namespace: change.Namespace{Database: "public", Table: "events"}, Tx: change.Tx{ID: "770", Last: true},
			Pos: lsn(0x16B3000), CommitTime: commit, ReadTime: read},
		"pg-update":    pgUpdate,
		"pg-delete":    pgDelete,
		"mongo-insert": mongoInsert,
		"mongo-update": mongoUpdate,
		"mongo-delete": mongoDelete,
		"mysql-kinds":  mysqlKinds(commit, read),
		"pg-kinds":     pgKinds(commit, read),
	}
}

// mysqlKinds is an insert of one row holding a value of every kind a
// MySQL or MariaDB source produces, edge values where they matter.
func mysqlKinds(commit, read time.Time) change.Change {
	point := binary.LittleEndian.AppendUint32([]byte{1}, 1)
	point = binary.LittleEndian.AppendUint64(point, math.Float64bits(1.5))
	point = binary.LittleEndian.AppendUint64(point, math.Float64bits(-2.25))
	vec := binary.LittleEndian.AppendUint32(nil, math.Float32bits(1))
	vec = binary.LittleEndian.AppendUint32(vec, math.Float32bits(2.5))
	type col struct {
		name, typ string
		v         change.Value
	}
	cs := []col{
		{"id", "int", change.Int(1, 32)},
		{"ti", "tinyint", change.Int(-128, 8)},
		{"tu", "tinyint unsigned", change.Uint(255, 8)},
		{"bu", "bigint unsigned", change.Uint(math.MaxUint64, 64)},
		{"d", "decimal(65,30)", change.Decimal([]byte("-12345678901234567890123456789012345.123456789012345678901234567890"))},
		{"fl", "float", change.Float32(1.5)},
		{"db", "double", change.Float64(0.1)},
		{"b1", "bit(1)", change.Bit(1, 1)},
		{"b64", "bit(64)", change.Bit(math.MaxUint64, 64)},
		{"dt", "date", change.Date(2024, 2, 29)},
		{"dz", "date", change.Date(0, 0, 0)},
		{"tm", "time(6)", change.Time(true, 838, 59, 59, 0, 6)},
		{"dtt", "datetime(3)", change.DateTime(2024, 2, 29, 23, 59, 59, 999000000, 3)},
		{"ts", "timestamp(6)", change.Timestamp(1709251199, 123456000, 6)},
		{"yr", "year", change.Year(2155)},
		{"vc", "varchar(300)", change.String([]byte("ünïcödé ✓ \"quoted\""))},
		{"bn", "varbinary(4)", change.Bytes([]byte{0x00, 0xff, 0x10, 0x00})},
		{"en", "enum('a','b','ç')", change.Enum([]byte("ç"), 3)},
		{"st", "set('x','y','z')", change.Set([]byte("x,z"), 5)},
		{"js", "json", change.JSON([]byte(`{"a": [1, 2.5, "three", null, true]}`))},
		{"geo", "geometry", change.Geometry(0, point)},
		{"pt", "point", change.Geometry(4326, point)},
		{"uu", "uuid", change.Value{Kind: change.KindUUID, B: []byte{0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00}}},
		{"vec", "vector(2)", change.Vector(vec)},
		{"nul", "int", change.Null()},
	}
	c := change.Change{Op: change.OpInsert, Source: "mariadb", Namespace: change.Namespace{Database: "shop", Table: "every"},
		Tx: change.Tx{ID: "0-1-79", Last: true}, Pos: change.Position{Flavor: change.FlavorBinlog, File: "mariadb-bin.000003", Offset: 2600, GTIDSet: "0-1-78"},
		CommitTime: commit, ReadTime: read}
	for i, x := range cs {
		c.Columns = append(c.Columns, change.Column{Name: x.name, Type: x.typ, Key: i == 0, Nullable: i > 0})
		c.After = append(c.After, x.v)
	}
	return c
}

// pgKinds is an insert of one row holding a value of every kind a
// PostgreSQL source produces, and the types it keeps as text.
func pgKinds(commit, read time.Time) change.Change {
	oth := func(typ, text string) change.Value {
		return change.Value{Kind: change.KindOther, B: []byte(text), Names: []string{typ}}
	}
	zoned := func(v change.Value, off int32) change.Value {
		v.Off, v.Zoned = off, true
		return v
	}
	type col struct {
		name, typ string
		v         change.Value
	}
	cs := []col{
		{"id", "integer", change.Int(1, 32)},
		{"sm", "smallint", change.Int(-32768, 16)},
		{"bg", "bigint", change.Int(math.MaxInt64, 64)},
		{"b", "boolean", change.Bool(true)},
		{"n", "numeric", change.Decimal([]byte("-123456789012345678901234567890.123456789012345"))},
		{"n2", "numeric(10,2)", change.Decimal([]byte("1.50"))},
		{"nan", "numeric", change.Decimal([]byte("NaN"))},
		{"r", "real", change.Float32(-0.1)},
		{"dp", "double precision", change.Float64(math.Inf(-1))},
		{"m", "money", oth("money", "$12.50")},
		{"t", "text", change.String([]byte("héllo\nworld"))},
		{"ba", "bytea", change.Bytes([]byte{0xde, 0xad, 0xbe, 0xef, 0x00})},
		{"j", "jsonb", change.JSON([]byte(`{"a": {"x": "é"}, "b": 1}`))},
		{"u", "uuid", change.Value{Kind: change.KindUUID, B: []byte{0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11}}},
		{"d", "date", change.Date(2024, 2, 29)},
		{"dinf", "date", oth("date", "infinity")},
		{"dbc", "date", oth("date", "0044-03-15 BC")},
		{"tm", "time(3) without time zone", change.Time(false, 12, 0, 0, 500000000, 3)},
		{"tz", "time with time zone", zoned(change.Time(false, 12, 34, 56, 0, 6), 19800)},
		{"ts", "timestamp without time zone", change.DateTime(2024, 1, 2, 3, 4, 5, 678000000, 6)},
		{"tsinf", "timestamp without time zone", oth("timestamp without time zone", "infinity")},
		{"tstz", "timestamp with time zone", zoned(change.Timestamp(1704157445, 678000000, 6), 7200)},
		{"iv", "interval", oth("interval", "1 year 2 mons 3 days 04:05:06.5")},
		{"ip", "inet", oth("inet", "192.168.0.1/24")},
		{"pt", "point", oth("point", "(1,2)")},
		{"bits", "bit(8)", change.Bit(0xaa, 8)},
		{"vb", "bit varying", change.Bit(5, 3)},
		{"ia", "integer[]", change.Value{Kind: change.KindArray, Elems: []change.Value{change.Int(1, 32), change.Null(), change.Int(3, 32)}}},
		{"mood", "mood", change.Enum([]byte("happy"), 3)},
		{"x", "xml", change.String([]byte("<a>1</a>"))},
		{"o", "oid", change.Uint(12345, 32)},
	}
	c := change.Change{Op: change.OpInsert, Source: "postgres", Namespace: change.Namespace{Database: "public", Table: "every"},
		Tx: change.Tx{ID: "773", Last: true}, Pos: change.Position{Flavor: change.FlavorLSN, Offset: 0x16B4000},
		CommitTime: commit, ReadTime: read}
	for i, x := range cs {
		c.Columns = append(c.Columns, change.Column{Name: x.name, Type: x.typ, Key: i == 0, Nullable: i > 0})
		c.After = append(c.After, x.v)
	}
	return c
}

// renderMessages writes messages as docs/formats.md shows them: one
// "topic:", "key:", "headers:" and "value:" line each, the ones set.
func renderMessages(ms []Message) string {
	if len(ms) == 0 {
		return "(no message)\n"
	}
	var b strings.Builder
	for i, m := range ms {
		if i > 0 {
			b.WriteString("\n")
		}
		if m.Topic != "" {
			fmt.Fprintf(&b, "topic: %s\n", m.Topic)
		}
		if m.Key != nil {
			fmt.Fprintf(&b, "key: %s\n", m.Key)
		}
		if len(m.Headers) > 0 {
			var hs []string
			for _, h := range m.Headers {
				hs = append(hs, h.Key+"="+string(h.Value))
			}
			fmt.Fprintf(&b, "headers: %s\n", strings.Join(hs, " "))
		}
		if m.Value == nil {
			b.WriteString("value: null (tombstone)\n")
		} else {
			fmt.Fprintf(&b, "value: %s\n", m.Value)
		}
	}
	return b.String()
}

// encodeExample encodes the named changes in order with one encoder of
// the format spec names and renders the messages; a change the format
// refuses renders as "error: " and the error.
func encodeExample(spec string, names []string, ex map[string]change.Change) (string, error) {
	enc, err := New(spec, Target{Headers: true})
	if err != nil {
		return "", err
	}
	var b Batch
	for _, n := range names {
		c, ok := ex[n]
		if !ok {
			return "", fmt.Errorf("no change named %q", n)
		}
		if err := enc.Encode(&b, &c); err != nil {
			prefix := ""
			if b.Len() > 0 {
				prefix = renderMessages(b.Messages)
			}
			return prefix + "error: " + err.Error() + "\n", nil
		}
	}
	return renderMessages(b.Messages), nil
}

// exampleMarker introduces an example in docs/formats.md:
//
//	<!-- example: FORMAT-TEXT CHANGE [CHANGE…] -->
//	```
//	…the messages of those changes, encoded in order by one encoder…
//	```
var exampleMarker = regexp.MustCompile("(?m)^<!-- example: (\\S+) ([^>]+?) -->\n```[a-z]*\n((?s:.*?))```\n")

// TestDocExamples keeps docs/formats.md true: every example is what the
// encoder writes for the named changes (go test -update rewrites them),
// and every format has an example of every operation.
func TestDocExamples(t *testing.T) {
	path := filepath.Join("..", "docs", "formats.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ex := examples()
	seen := map[string]map[string]bool{}
	var failed bool
	var out []byte
	last := 0
	for _, m := range exampleMarker.FindAllSubmatchIndex(doc, -1) {
		spec, names := string(doc[m[2]:m[3]]), strings.Fields(string(doc[m[4]:m[5]]))
		got := string(doc[m[6]:m[7]])
		name, _, _ := strings.Cut(spec, "?")
		if seen[name] == nil {
			seen[name] = map[string]bool{}
		}
		want, err := encodeExample(spec, names, ex)
		if err != nil {
			t.Errorf("example %s %s: %v", spec, names, err)
			failed = true
			continue
		}
		for _, n := range names {
			seen[name][n] = true
		}
		if got != want {
			if !*update {
				t.Errorf("docs/formats.md example %s %s is out of date (go test ./format -update rewrites it):\n got in doc:\n%s\n encoder writes:\n%s", spec, names, got, want)
			}
			failed = true
		}
		out = append(out, doc[last:m[6]]...)
		out = append(out, want...)
		last = m[7]
	}
	out = append(out, doc[last:]...)
	if *update && failed && !bytes.Equal(out, doc) {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote %s", path)
	}
	ops := []string{"insert", "update", "delete", "truncate", "ddl", "begin", "commit", "heartbeat", "statement"}
	for _, f := range Names() {
		var missing []string
		for _, op := range ops {
			if !seen[f][op] {
				missing = append(missing, op)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("docs/formats.md has no %s example of %s", f, strings.Join(missing, ", "))
		}
	}
}
