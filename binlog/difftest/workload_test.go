package difftest

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// snapshot holds, per db.table and id, the server's own view of each row
// after the insert phase ([0]) and after the update phase ([1]), in
// canonical form (cells the server cannot render canonically are "").
type snapshot map[string]map[int][2][]string

// workload is what a run left behind: the tables, the server's snapshots and
// the closed binlog files holding the run.
type workload struct {
	src   rowSource
	snaps snapshot
	files []string
}

// imageDBs are the runs of the workload: binlog_row_image, the database
// the run uses, and whether MariaDB compresses the events
// (log_bin_compress: QUERY_COMPRESSED and *_ROWS_COMPRESSED events).
var imageDBs = []struct {
	image, db string
	compress  bool
}{{"FULL", "dt_full", false}, {"MINIMAL", "dt_min", false}, {"FULL", "dt_zip", true}}

// runWorkload creates the tables under each row image, inserts every row,
// updates half of them, deletes a third, and flushes the binlog.
func runWorkload(ctx context.Context, t *testing.T, srv *testenv.MariaDB) workload {
	t.Helper()
	before, err := srv.BinaryLogs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first := before[len(before)-1].Name
	db, err := srv.DB()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	exec := func(q string) {
		t.Helper()
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", abbrev(q), err)
		}
	}
	exec("SET NAMES utf8mb4")
	exec("SET time_zone = '+00:00'")
	exec("SET sql_mode = ''") // zero dates and zero-in-date values allowed

	w := workload{src: rowSource{tables: map[string]table{}}, snaps: snapshot{}}
	for _, im := range imageDBs {
		exec("SET SESSION binlog_row_image = " + im.image)
		if im.compress {
			exec("SET GLOBAL log_bin_compress_min_len = 10")
			exec("SET GLOBAL log_bin_compress = ON")
		} else {
			exec("SET GLOBAL log_bin_compress = OFF")
		}
		exec("CREATE DATABASE " + im.db)
		exec("USE " + im.db)
		tables := []table{allTypes(), bigValues()}
		for _, tb := range tables {
			exec(tb.createSQL())
			w.src.tables[im.db+"."+tb.name] = tb
			for i := 0; i < tb.rowCount(); i++ {
				exec(tb.insertSQL(i))
			}
		}
		for _, tb := range tables {
			snapTable(ctx, t, conn, w.snaps, im.db, tb, 0)
		}
		for _, tb := range tables {
			// Updates in one multi-statement transaction.
			exec("BEGIN")
			for i := 0; i < tb.rowCount(); i += 2 {
				exec(tb.updateSQL(i, 1))
			}
			exec("COMMIT")
		}
		for _, tb := range tables {
			snapTable(ctx, t, conn, w.snaps, im.db, tb, 1)
			exec(fmt.Sprintf("DELETE FROM `%s` WHERE id %% 3 = 0", tb.name))
		}
	}
	exec("SET GLOBAL log_bin_compress = OFF")
	exec("USE mysql")
	after, err := srv.FlushBinaryLogs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	started := false
	for _, l := range after[:len(after)-1] {
		if l.Name == first {
			started = true
		}
		if started {
			w.files = append(w.files, l.Path)
		}
	}
	if len(w.files) == 0 {
		t.Fatalf("no closed binlog file from %s in %v", first, after)
	}
	return w
}

// selectExpr is the SQL giving column c's canonical text, or "" when the
// server has no expression for it.
func selectExpr(c column) string {
	n := "`" + c.name + "`"
	switch c.cls {
	case clsInt, clsDecimal, clsTime, clsDateTime, clsDate:
		return "CAST(" + n + " AS CHAR)"
	case clsTimestamp:
		return "CAST(UNIX_TIMESTAMP(" + n + ") AS CHAR)"
	case clsYear, clsEnum, clsSet, clsBit:
		return "CAST(" + n + "+0 AS CHAR)"
	case clsText:
		return "HEX(CONVERT(" + n + " USING utf8mb4))"
	case clsBytes, clsGeometry:
		return "HEX(" + n + ")"
	case clsBinary:
		if strings.HasPrefix(c.def, "BINARY") {
			return "HEX(" + n + ")"
		}
	}
	return "" // FLOAT/DOUBLE print rounded; INET6/UUID print as text
}

// canonSelect turns a selectExpr result into the canonical form.
func canonSelect(c column, s string) (string, error) {
	switch c.cls {
	case clsInt, clsYear, clsEnum:
		return canonUintText(s)
	case clsSet, clsBit:
		// col+0 is signed 64-bit: a bitmap with bit 63 set comes back negative.
		if strings.HasPrefix(s, "-") {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return "", err
			}
			return strconv.FormatUint(uint64(n), 10), nil
		}
		return canonUintText(s)
	case clsDecimal:
		return canonDecimal(s)
	case clsTime, clsDateTime, clsDate:
		return s, nil
	case clsTimestamp:
		sec, frac, _ := strings.Cut(s, ".")
		return sec + fixFrac(frac, c.fsp), nil
	case clsText:
		b, err := hex.DecodeString(s)
		if err != nil {
			return "", err
		}
		return quoteText(string(b)), nil
	case clsBytes, clsGeometry:
		return strings.ToLower(s), nil
	case clsBinary:
		b, err := hex.DecodeString(s)
		if err != nil {
			return "", err
		}
		return canonBinary(b, c.size), nil
	}
	return "", nil
}

// snapTable records the server's view of every row of tb in phase.
func snapTable(ctx context.Context, t *testing.T, conn *sql.Conn, snaps snapshot, dbName string, tb table, phase int) {
	t.Helper()
	exprs := []string{"CAST(id AS CHAR)"}
	for _, c := range tb.cols {
		if e := selectExpr(c); e != "" {
			exprs = append(exprs, e)
		} else {
			exprs = append(exprs, "NULL")
		}
	}
	q := fmt.Sprintf("SELECT %s, %s FROM `%s`.`%s` ORDER BY id", strings.Join(exprs, ", "),
		nullFlags(tb), dbName, tb.name)
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		t.Fatalf("snapshot %s.%s: %v", dbName, tb.name, err)
	}
	defer rows.Close()
	key := dbName + "." + tb.name
	if snaps[key] == nil {
		snaps[key] = map[int][2][]string{}
	}
	n := len(tb.cols) + 1
	for rows.Next() {
		raw := make([]sql.NullString, n+len(tb.cols))
		ptrs := make([]any, len(raw))
		for i := range raw {
			ptrs[i] = &raw[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		id, _ := strconv.Atoi(raw[0].String)
		vals := make([]string, n)
		vals[0] = raw[0].String
		for k, c := range tb.cols {
			isNull := raw[n+k].String == "1"
			switch {
			case isNull:
				vals[k+1] = cellNull
			case selectExpr(c) == "":
				vals[k+1] = ""
			default:
				v, err := canonSelect(c, raw[k+1].String)
				if err != nil {
					t.Fatalf("snapshot %s id %d column %s: %v", key, id, c.name, err)
				}
				vals[k+1] = v
			}
		}
		e := snaps[key][id]
		e[phase] = vals
		if phase == 0 {
			e[1] = vals
		}
		snaps[key][id] = e
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

func nullFlags(tb table) string {
	fl := make([]string, len(tb.cols))
	for i, c := range tb.cols {
		fl[i] = "`" + c.name + "` IS NULL"
	}
	return strings.Join(fl, ", ")
}
