package canal

import (
	"testing"
	"time"

	canalclient "github.com/withlin/canal-go/client"
	pbe "github.com/withlin/canal-go/protocol/entry"
	"google.golang.org/protobuf/proto"

	"github.com/sluice-cdc/sluice/change"
)

// BenchmarkAppendEntry encodes the row of bench/canal.sh's table (id,
// bigint, varchar, decimal, datetime(6)) as a ROWDATA entry.
func BenchmarkAppendEntry(b *testing.B) {
	cols := []change.Column{{Name: "id", Type: "int(11)", Key: true}, {Name: "n", Type: "bigint(20)"},
		{Name: "name", Type: "varchar(64)"}, {Name: "price", Type: "decimal(12,2)"}, {Name: "at", Type: "datetime(6)"}}
	c := change.Change{Op: change.OpInsert, Source: "mariadb", Namespace: change.Namespace{Database: "b", Table: "t"},
		Columns: cols, After: []change.Value{change.Int(123456, 32), change.Int(864192, 64), change.String([]byte("name-123456")),
			change.Decimal([]byte("1234.56")), change.DateTime(2024, 1, 2, 3, 4, 5, 123456000, 6)},
		Tx:         change.Tx{ID: "0-1-77", Index: 123456},
		Pos:        change.Position{Flavor: change.FlavorBinlog, File: "mariadb-bin.000001", Offset: 329, Index: 123457, GTIDSet: "0-1-76"},
		CommitTime: time.Unix(1700000000, 0)}
	enc := newEntryEncoder(time.UTC)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf, _, _ = enc.appendEntry(buf[:0], []change.Change{c})
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkServeCanalGo drains 200,000 rows of the fixture source (one
// transaction per 1,000 rows) with canal-go's GetWithOutAck(1000) + Ack,
// parsing every RowChange, client and server in this process.
func BenchmarkServeCanalGo(b *testing.B) {
	for range b.N {
		b.StopTimer()
		ts := startTestServer(b, fixtureSource(b, 200, 1000), Config{})
		c := canalclient.NewSimpleCanalConnector("127.0.0.1", ts.port, "", "", "example", 60000, 60*60*1000)
		if err := c.Connect(); err != nil {
			b.Fatal(err)
		}
		if err := c.Subscribe(""); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		rows := 0
		rc := &pbe.RowChange{}
		for rows < 200_000 {
			wait, unit := int64(1000), int32(2)
			msg, err := c.GetWithOutAck(1000, &wait, &unit)
			if err != nil {
				b.Fatal(err)
			}
			for i := range msg.Entries {
				if msg.Entries[i].GetEntryType() != pbe.EntryType_ROWDATA {
					continue
				}
				if err := proto.Unmarshal(msg.Entries[i].GetStoreValue(), rc); err != nil {
					b.Fatal(err)
				}
				rows += len(rc.GetRowDatas())
			}
			if msg.Id > 0 {
				c.Ack(msg.Id)
			}
		}
		b.StopTimer()
		c.DisConnection()
		ts.stop()
	}
}

// BenchmarkAppendEntries encodes 1,000 rows of bench/canal.sh's table, one
// transaction, as entries (rows sharing entries); per op: 1,000 rows.
func BenchmarkAppendEntries(b *testing.B) {
	cols := []change.Column{{Name: "id", Type: "int(11)", Key: true}, {Name: "n", Type: "bigint(20)"},
		{Name: "name", Type: "varchar(64)"}, {Name: "price", Type: "decimal(12,2)"}, {Name: "at", Type: "datetime(6)"}}
	cs := make([]change.Change, 1000)
	for i := range cs {
		cs[i] = change.Change{Op: change.OpInsert, Source: "mariadb", Namespace: change.Namespace{Database: "b", Table: "t"},
			Columns: cols, After: []change.Value{change.Int(int64(i), 32), change.Int(int64(i)*7, 64), change.String([]byte("name-123456")),
				change.Decimal([]byte("1234.56")), change.DateTime(2024, 1, 2, 3, 4, 5, 123456000, 6)},
			Tx:         change.Tx{ID: "0-1-77", Index: uint64(i)},
			Pos:        change.Position{Flavor: change.FlavorBinlog, File: "mariadb-bin.000001", Offset: 329, Index: uint64(i + 1), GTIDSet: "0-1-76"},
			CommitTime: time.Unix(1700000000, 0)}
	}
	enc := newEntryEncoder(time.UTC)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for rest := cs; len(rest) > 0; {
			var n int
			buf, n, _ = enc.appendEntry(buf, rest)
			rest = rest[n:]
		}
	}
	b.SetBytes(int64(len(buf)))
}
