package main

import (
	"os"

	"github.com/go-mysql-org/go-mysql/replication"
)

// decodeGoMySQL parses the whole file with go-mysql's BinlogParser and a
// handler that only counts: go-mysql decodes every row of every rows event
// before calling it. Parser settings are go-mysql's defaults.
func decodeGoMySQL(path string) (result, error) {
	st, err := os.Stat(path)
	if err != nil {
		return result{}, err
	}
	var rows, events int64
	return measure(func() (int64, int64, int64, error) {
		p := replication.NewBinlogParser()
		err := p.ParseFile(path, 0, func(ev *replication.BinlogEvent) error {
			events++
			if re, ok := ev.Event.(*replication.RowsEvent); ok {
				n := int64(len(re.Rows))
				switch ev.Header.EventType {
				case replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2:
					n /= 2 // before and after image of one row change
				}
				rows += n
			}
			return nil
		})
		return rows, events, st.Size(), err
	})
}
