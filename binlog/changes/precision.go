package changes

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/binlog"
)

// ColumnPrecision gives the fractional-seconds precision of a TIME,
// DATETIME or TIMESTAMP column that MariaDB logged under its old type code
// without it (MariaDB 5.3-10.0, or 10.1+ for tables created with
// mysql56_temporal_format=OFF; see binlog.TableMap.SetPrecision). Without
// it, rows of such a column fail with binlog.ErrTemporalPrecision.
type ColumnPrecision struct {
	Database, Table string
	// Column is the column's name (known from binlog_row_metadata=FULL)
	// or its 1-based number.
	Column string
	FSP    int // 0-6, as in DATETIME(n)
}

// ParseColumnPrecision reads "DB.TABLE.COLUMN=N" (the first two dots split
// the name; COLUMN is a name or a 1-based number).
func ParseColumnPrecision(s string) (ColumnPrecision, error) {
	name, n, ok := strings.Cut(s, "=")
	db, rest, ok2 := strings.Cut(name, ".")
	table, column, ok3 := strings.Cut(rest, ".")
	fsp, err := strconv.Atoi(n)
	if !ok || !ok2 || !ok3 || db == "" || table == "" || column == "" || err != nil || fsp < 0 || fsp > 6 {
		return ColumnPrecision{}, fmt.Errorf("changes: column precision %q: want DB.TABLE.COLUMN=N with N 0-6", s)
	}
	return ColumnPrecision{Database: db, Table: table, Column: column, FSP: fsp}, nil
}

// applyPrecisions gives tm the precisions of its columns listed in ps.
func applyPrecisions(tm *binlog.TableMap, ps []ColumnPrecision) {
	for _, p := range ps {
		if p.Database != tm.Database || p.Table != tm.Table {
			continue
		}
		i := -1
		if n, err := strconv.Atoi(p.Column); err == nil {
			i = n - 1
		} else {
			for j, c := range tm.Columns {
				if c.Name == p.Column {
					i = j
				}
			}
		}
		if i >= 0 && i < tm.ColumnCount() {
			tm.SetPrecision(i, p.FSP)
		}
	}
}
