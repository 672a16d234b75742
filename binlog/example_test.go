package binlog_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sluice-cdc/sluice/binlog"
)

// Example reads a MySQL 8 binlog with a compressed transaction and prints
// its events; the inner events of the TRANSACTION_PAYLOAD_EVENT follow it.
func Example() {
	f, err := os.Open(filepath.Join("..", "testdata", "binlog-corpus", "mysql", "transaction_compression.000001"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	r := binlog.NewReader(f, "transaction_compression.000001")
	defer r.Close()
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		v, err := binlog.DecodeBody(ev)
		if err != nil {
			fmt.Println(err)
			return
		}
		switch v := v.(type) {
		case *binlog.Query:
			fmt.Printf("%d %v nested=%v %q\n", ev.Offset, ev.Header.Type, ev.Nested, v.SQL)
		case *binlog.Rotate:
			fmt.Printf("%d %v next=%s\n", ev.Offset, ev.Header.Type, v.NextFile)
		default:
			fmt.Printf("%d %v nested=%v\n", ev.Offset, ev.Header.Type, ev.Nested)
		}
	}
	// Output:
	// 4 FORMAT_DESCRIPTION_EVENT nested=false
	// 126 PREVIOUS_GTIDS_LOG_EVENT nested=false
	// 197 ANONYMOUS_GTID_LOG_EVENT nested=false
	// 274 TRANSACTION_PAYLOAD_EVENT nested=false
	// 274 QUERY_EVENT nested=true "BEGIN"
	// 274 TABLE_MAP_EVENT nested=true
	// 274 WRITE_ROWS_EVENT nested=true
	// 274 XID_EVENT nested=true
	// 431 ROTATE_EVENT next=binlog.000043
}
