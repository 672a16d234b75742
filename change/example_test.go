package change_test

import (
	"fmt"
	"time"

	"github.com/sluice-cdc/sluice/change"
)

func ExampleAppendJSON() {
	c := change.Change{
		Op: change.OpInsert, Source: "mysql",
		Namespace: change.Namespace{Database: "shop", Table: "orders"},
		Columns: []change.Column{
			{Name: "id", Type: "bigint", Key: true},
			{Name: "total", Type: "decimal(12,2)"},
			{Name: "placed_at", Type: "datetime(3)"},
		},
		After: []change.Value{
			change.Int(42, 64), change.Decimal([]byte("19.90")),
			change.DateTime(2024, 5, 6, 7, 8, 9, 250000000, 3),
		},
		Pos:        change.Position{Flavor: change.FlavorBinlog, File: "mysql-bin.000003", Offset: 1234},
		CommitTime: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC),
	}
	line := change.AppendJSON(nil, &c)
	fmt.Println(string(line))

	back, err := change.DecodeJSON(line)
	fmt.Println(err, change.EqualChange(&c, &back))
	// Output:
	// {"op":"insert","source":"mysql","db":"shop","table":"orders","ts":"2024-05-06T07:08:09.000000000Z","pos":"binlog:mysql-bin.000003:1234","key":{"id":42},"after":{"id":42,"total":"19.90","placed_at":"2024-05-06 07:08:09.250"},"cols":[{"name":"id","type":"bigint","kind":"int","size":64,"key":true},{"name":"total","type":"decimal(12,2)","kind":"decimal"},{"name":"placed_at","type":"datetime(3)","kind":"datetime","size":3}]}
	// <nil> true
}

func ExampleCompare() {
	a, _ := change.ParsePosition("binlog:mysql-bin.999999:4")
	b, _ := change.ParsePosition("binlog:mysql-bin.1000000:4")
	fmt.Println(change.Compare(a, b), a.String() < b.String())
	// Output: -1 false
}

func ExampleAppendText() {
	for _, v := range []change.Value{
		change.Time(true, 838, 59, 59, 0, 6),
		change.DateTime(0, 0, 0, 0, 0, 0, 0, 0),
		change.Year(0),
		change.Bit(5, 3),
	} {
		fmt.Println(string(change.AppendText(nil, v)))
	}
	// Output:
	// -838:59:59.000000
	// 0000-00-00 00:00:00
	// 0000
	// 5
}
