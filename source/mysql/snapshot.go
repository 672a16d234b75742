package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"
	"github.com/sluice-cdc/sluice/binlog"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/snapshot"
)

// snapTable is the source's description of a table being snapshotted.
type snapTable struct {
	cols       []snapColumn
	query      string // SELECT … ORDER BY key LIMIT ? (no WHERE)
	after      string // SELECT … WHERE key > … ORDER BY key LIMIT ?
	all        string // SELECT … (a table without a key)
	keyCol     []int
	bounds     string // SELECT MIN(key), MAX(key) … (a key of one column)
	until      string // SELECT … WHERE key <= ? ORDER BY key LIMIT ?
	afterUntil string // SELECT … WHERE key > ? AND key <= ? ORDER BY key LIMIT ?
	between    string // SELECT … WHERE key BETWEEN ? AND ? ORDER BY key LIMIT ? (an integer key)
}

// quoteName quotes an identifier with backticks.
func quoteName(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// openSQL opens a database/sql pool on the source's server, with its TLS
// settings, for the snapshot's workers.
func (s *Source) openSQL() *sql.DB {
	mc := mysqldrv.NewConfig()
	mc.User, mc.Passwd = s.cfg.User, s.cfg.Password
	mc.Net, mc.Addr = "tcp", s.cfg.Addr
	if strings.Contains(s.cfg.Addr, "/") {
		mc.Net = "unix"
	}
	if s.cfg.TLS != nil && !(mc.Net == "unix" && s.cfg.TLSOptional) {
		mc.TLS = s.cfg.TLS.Clone()
		mc.AllowFallbackToPlaintext = s.cfg.TLSOptional
	}
	mc.Timeout = s.cfg.DialTimeout
	mc.Collation = "utf8mb4_general_ci"
	mc.InterpolateParams = true // text protocol throughout: values as the server prints them
	mc.Logger = quietLogger{}
	db := sql.OpenDB(mustConnector(mc))
	return db
}

func mustConnector(mc *mysqldrv.Config) driver.Connector {
	c, err := mysqldrv.NewConnector(mc)
	if err != nil {
		// NewConnector fails only on a malformed Config, which ours is not.
		panic(err)
	}
	return c
}

// quietLogger drops go-sql-driver's own log lines; errors come back as errors.
type quietLogger struct{}

func (quietLogger) Print(...any) {}

// snapWorker is one worker's connection inside the consistent snapshot:
// a go-mysql connection read through a textReader (an initial snapshot's
// workers), or a database/sql connection (an incremental snapshot's, and
// the metadata queries).
type snapWorker struct {
	conn  *sql.Conn
	tr    *textReader
	stop  func() bool // stops closing tr's connection when the context ends
	q     []byte      // tr's query with its arguments written in
	src   *Source
	raw   []sql.RawBytes
	dest  []any
	vals  []change.Value
	args  []any
	named []driver.NamedValue
	row   []driver.Value
	num   []byte // a number the driver parsed, as text again
	// stmts are tr's prepared statements by their query, those of one
	// table; noPrepare is set when the server would not prepare one
	// (queryBinary).
	stmts     map[string]stmt
	stmtsOf   *snapTable // the table whose statements stmts holds
	noPrepare bool
}

// snapSession are the statements that set up a snapshot connection:
// times as UTC text, the isolation the snapshot needs, no sql_mode (its
// NO_BACKSLASH_ESCAPES would change how arguments are quoted), and a day
// for net_write_timeout: a worker stops reading its result set while the
// sink is behind (memory is bounded), and at the default 60 s a sink that
// stalls for longer would make the server drop the query.
var snapSession = []string{"SET SESSION time_zone = '+00:00'", "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
	"SET SESSION sql_mode = ''", "SET SESSION net_write_timeout = 86400"}

// exec runs a statement on w's connection.
func (w *snapWorker) exec(ctx context.Context, q string) error {
	var err error
	if w.tr != nil {
		if _, err = w.tr.r.c.Execute(q); err != nil {
			if se := serverError(err); se != nil {
				err = se
			} else {
				err = cleanConnErr(err)
			}
		}
	} else {
		_, err = w.conn.ExecContext(ctx, q)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", q, err)
	}
	return nil
}

// close rolls back w's transaction, if one is open, and closes its
// connection.
func (w *snapWorker) close() {
	if w.tr != nil {
		w.stop()
		w.tr.r.c.Execute("ROLLBACK")
		w.tr.r.Close()
		return
	}
	w.conn.ExecContext(context.Background(), "ROLLBACK")
	w.conn.Close()
}

// grantError explains a privilege error of a snapshot query, and says
// what the query did (unless what is "": the caller says it, as the
// snapshot engine does for a table's read).
func grantError(err error, what string) error {
	prefix := "mysql: snapshot: " + what + ": "
	if what == "" {
		prefix = "mysql: "
	}
	var code uint16
	var me *mysqldrv.MySQLError
	if errors.As(err, &me) {
		code = me.Number
	} else if se := serverError(err); se != nil {
		code = se.Code
	}
	if code != 0 {
		switch code {
		case 1142, 1143, 1044: // table, column, database access denied
			return fmt.Errorf("%sthe user lacks the SELECT privilege it needs (GRANT SELECT ON db.* TO the replication user): %w", prefix, err)
		case 1227: // specific access denied
			return fmt.Errorf("%sthe user lacks a privilege it needs (the message names it): %w", prefix, err)
		}
	}
	return fmt.Errorf("%s%w", prefix, err)
}

// consistentPoint opens n connections whose transactions see one
// consistent snapshot and returns them with the binlog position of that
// snapshot, and gtidKnown if that position carries its GTID set: always
// on MySQL; on MariaDB when quietGTID can tell it (otherwise gtidAt finds
// it). On MariaDB no lock is taken: each connection runs
// START TRANSACTION WITH CONSISTENT SNAPSHOT and reads the binlog position
// its snapshot was taken at (binlog_snapshot_file/position); connections
// whose positions differ from the first's (a commit came between) start
// again. On MySQL, whose snapshots are not tied to the binlog, the
// transactions start under FLUSH TABLES WITH READ LOCK, released as soon
// as the last one started and the position was read.
func (s *Source) consistentPoint(ctx context.Context, db *sql.DB, n int, mariadb bool) (workers []*snapWorker, point change.Position, gtidKnown bool, done func(), err error) {
	var hold *sql.Conn // MySQL: the connection holding the backup lock
	cleanup := func() {
		for _, w := range workers {
			w.close()
		}
		if hold != nil {
			hold.Close()
		}
	}
	fail := func(err error) ([]*snapWorker, change.Position, bool, func(), error) {
		cleanup()
		return nil, change.Position{}, false, nil, err
	}
	open := func() (*snapWorker, error) {
		r, err := dial(ctx, &s.cfg)
		if err != nil {
			return nil, err
		}
		w := &snapWorker{tr: newTextReader(r), stop: r.watch(ctx), src: s}
		for _, q := range snapSession {
			if err := w.exec(ctx, q); err != nil {
				w.close()
				return nil, fmt.Errorf("mysql: snapshot: %w", err)
			}
		}
		return w, nil
	}
	for range n {
		w, err := open()
		if err != nil {
			return fail(err)
		}
		workers = append(workers, w)
	}
	start := func(w *snapWorker) error {
		if err := w.exec(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
			return fmt.Errorf("mysql: snapshot: %w", err)
		}
		return nil
	}
	if mariadb {
		// The position each transaction's snapshot was taken at.
		pos := func(w *snapWorker) (string, uint64, error) {
			const q = "SHOW STATUS LIKE 'binlog_snapshot_%'"
			var file string
			var off uint64
			_, err := w.tr.query([]byte(q), 2, func(row [][]byte) error {
				switch strings.ToLower(string(row[0])) {
				case "binlog_snapshot_file":
					file = string(row[1])
				case "binlog_snapshot_position":
					off, _ = strconv.ParseUint(string(row[1]), 10, 64)
				}
				return nil
			})
			if err != nil {
				return "", 0, grantError(err, q)
			}
			if file == "" {
				return "", 0, errors.New("mysql: snapshot: the server reports no binlog_snapshot_file: is log_bin on?")
			}
			return file, off, nil
		}
		var file string
		var off uint64
		for attempt := 0; ; attempt++ {
			if err := start(workers[0]); err != nil {
				return fail(err)
			}
			f, o, err := pos(workers[0])
			if err != nil {
				return fail(err)
			}
			file, off = f, o
			same := true
			for _, w := range workers[1:] {
				if err := start(w); err != nil {
					return fail(err)
				}
				f, o, err := pos(w)
				if err != nil {
					return fail(err)
				}
				if f != file || o != off {
					same = false
				}
			}
			if same {
				break
			}
			// A commit came between two starts: their views differ. Try
			// again; a server that never pauses is read with one worker.
			for _, w := range workers {
				w.exec(ctx, "ROLLBACK")
			}
			if attempt == 20 {
				s.cfg.Logger.Warn("snapshot: the workers' consistent snapshots never matched (a busy server): reading with one connection",
					"workers", len(workers))
				for _, w := range workers[1:] {
					w.close()
				}
				workers = workers[:1]
			}
			if err := ctx.Err(); err != nil {
				return fail(err)
			}
		}
		point = change.Position{Flavor: change.FlavorBinlog, File: file, Offset: off}
		if g, ok := quietGTID(workers[0], file, off); ok {
			point.GTIDSet, gtidKnown = g, true
		}
		// Otherwise without the GTID set: see gtidAt.
	} else {
		c, err := db.Conn(ctx)
		if err != nil {
			return fail(err)
		}
		hold = c
		// DDL stays out for the snapshot's length where the user may say so.
		if _, err := hold.ExecContext(ctx, "LOCK INSTANCE FOR BACKUP"); err != nil {
			s.cfg.Logger.Info("snapshot: LOCK INSTANCE FOR BACKUP not taken (it needs BACKUP_ADMIN): DDL during the snapshot is not kept out", "err", err.Error())
		}
		if _, err := hold.ExecContext(ctx, "FLUSH TABLES WITH READ LOCK"); err != nil {
			return fail(grantError(err, "FLUSH TABLES WITH READ LOCK (needs the RELOAD privilege)"))
		}
		began := time.Now()
		for _, w := range workers {
			if err := start(w); err != nil {
				hold.ExecContext(context.Background(), "UNLOCK TABLES")
				return fail(err)
			}
		}
		var file string
		var off uint64
		var gtid string
		err = scanStatus(ctx, hold, &file, &off, &gtid)
		if _, uerr := hold.ExecContext(context.Background(), "UNLOCK TABLES"); uerr != nil && err == nil {
			err = uerr
		}
		if err != nil {
			return fail(err)
		}
		s.cfg.Logger.Info("snapshot: global read lock held while the workers' transactions started", "held", time.Since(began).Round(time.Microsecond))
		point = change.Position{Flavor: change.FlavorBinlog, File: file, Offset: off, GTIDSet: gtid}
		gtidKnown = true
	}
	return workers, point, gtidKnown, cleanup, nil
}

// quietGTID returns MariaDB's GTID set at the binlog position file:off,
// that of w's consistent snapshot, when it can tell it without reading
// the binlog: it reads @@gtid_binlog_pos, then the binlog's end (SHOW
// MASTER STATUS). The server updates both under one lock (LOCK_log) as it
// writes a transaction, so if the end is still at the snapshot's
// position, nothing was written since the snapshot began and the set read
// before it is the set at that position. Otherwise, or on any error, ok
// is false and gtidAt asks BINLOG_GTID_POS, which reads the binlog file
// from its start (0.1 s of the server's CPU for a 1 GiB file).
func quietGTID(w *snapWorker, file string, off uint64) (set string, ok bool) {
	var g []byte
	if _, err := w.tr.query([]byte("SELECT @@GLOBAL.gtid_binlog_pos"), 1, func(row [][]byte) error {
		g = append(g[:0], row[0]...)
		return nil
	}); err != nil {
		return "", false
	}
	var endFile string
	var endOff uint64
	found := false
	if _, err := w.tr.query([]byte("SHOW MASTER STATUS"), 4, func(row [][]byte) error {
		endFile, found = string(row[0]), true
		endOff, _ = strconv.ParseUint(string(row[1]), 10, 64)
		return nil
	}); err != nil || !found || endFile != file || endOff != off {
		return "", false
	}
	return sortedGTIDs(string(g)), true
}

// sortedGTIDs writes a MariaDB GTID set in the order of the stream's
// positions (by domain, then server). The server's own texts differ:
// @@gtid_binlog_pos and BINLOG_GTID_POS list two domains in opposite
// orders. A text that does not parse is returned as it is.
func sortedGTIDs(set string) string {
	s, err := binlog.ParseMariaGTIDSet(set)
	if err != nil {
		return set
	}
	return s.String()
}

// scanStatus reads SHOW MASTER STATUS (SHOW BINARY LOG STATUS on MySQL 8.4).
func scanStatus(ctx context.Context, c *sql.Conn, file *string, off *uint64, gtid *string) error {
	for _, q := range []string{"SHOW BINARY LOG STATUS", "SHOW MASTER STATUS"} {
		rows, err := c.QueryContext(ctx, q)
		if err != nil {
			continue
		}
		cols, _ := rows.Columns()
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		found := rows.Next()
		if found {
			err = rows.Scan(ptrs...)
		}
		rows.Close()
		if err != nil {
			return err
		}
		if !found {
			return errors.New("mysql: snapshot: SHOW MASTER STATUS is empty: is log_bin on?")
		}
		*file = vals[0].String
		*off, _ = strconv.ParseUint(vals[1].String, 10, 64)
		for i, c := range cols {
			if strings.EqualFold(c, "Executed_Gtid_Set") {
				*gtid = strings.ReplaceAll(vals[i].String, "\n", "")
			}
		}
		return nil
	}
	return errors.New("mysql: snapshot: cannot read the binlog position (SHOW MASTER STATUS)")
}

// snapTables lists the tables to snapshot with their columns, keys and
// estimated sizes, as the transaction of w sees them.
func (s *Source) snapTables(ctx context.Context, w *snapWorker, fullMeta bool) ([]*snapshot.Table, error) {
	sys := "'" + strings.Join(systemSchemas, "','") + "'"
	rows, err := w.conn.QueryContext(ctx, `SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, LOWER(c.COLUMN_TYPE), LOWER(c.DATA_TYPE), c.IS_NULLABLE,
		c.COLUMN_KEY, COALESCE(c.CHARACTER_SET_NAME, ''), COALESCE(c.COLLATION_NAME, ''), COALESCE(c.DATETIME_PRECISION, 0),
		COALESCE(c.NUMERIC_PRECISION, 0), COALESCE(c.NUMERIC_SCALE, 0), COALESCE(c.CHARACTER_MAXIMUM_LENGTH, 0), COALESCE(t.TABLE_ROWS, -1)
		FROM information_schema.COLUMNS c JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
		WHERE t.TABLE_TYPE = 'BASE TABLE' AND c.TABLE_SCHEMA NOT IN (`+sys+`)
		ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION`)
	if err != nil {
		return nil, grantError(err, "list the tables")
	}
	defer rows.Close()
	byName := map[change.Namespace]*snapshot.Table{}
	var tables []*snapshot.Table
	for rows.Next() {
		var db, table, name, colType, dataType, nullable, key, charset, collation string
		var fsp, prec, scale, length, est int64
		if err := rows.Scan(&db, &table, &name, &colType, &dataType, &nullable, &key, &charset, &collation, &fsp, &prec, &scale, &length, &est); err != nil {
			return nil, fmt.Errorf("mysql: snapshot: list the tables: %w", err)
		}
		ns := change.Namespace{Database: db, Table: table}
		t := byName[ns]
		if t == nil {
			t = &snapshot.Table{Namespace: ns, Rows: est, Source: &snapTable{}}
			byName[ns] = t
			tables = append(tables, t)
		}
		st := t.Source.(*snapTable)
		c := snapColumn{name: name, dataType: dataType, colType: colType, charset: charset, collation: collation}
		if err := c.setKind(int(fsp), int(prec)); err != nil {
			return nil, fmt.Errorf("mysql: snapshot: table %s.%s: %w", db, table, err)
		}
		typ := colType
		if fullMeta {
			typ = c.binlogType(prec, scale, length)
		}
		st.cols = append(st.cols, c)
		t.Columns = append(t.Columns, change.Column{Name: name, Type: typ, Nullable: nullable == "YES", Key: key == "PRI"})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mysql: snapshot: list the tables: %w", err)
	}
	rows.Close()
	// The primary key's columns in the key's order.
	krows, err := w.conn.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME FROM information_schema.STATISTICS
		WHERE INDEX_NAME = 'PRIMARY' AND TABLE_SCHEMA NOT IN (`+sys+`) ORDER BY TABLE_SCHEMA, TABLE_NAME, SEQ_IN_INDEX`)
	if err != nil {
		return nil, grantError(err, "read the primary keys")
	}
	defer krows.Close()
	for krows.Next() {
		var db, table, col string
		if err := krows.Scan(&db, &table, &col); err != nil {
			return nil, err
		}
		t := byName[change.Namespace{Database: db, Table: table}]
		if t == nil {
			continue
		}
		for i := range t.Columns {
			if t.Columns[i].Name == col {
				t.Key = append(t.Key, i)
			}
		}
	}
	if err := krows.Err(); err != nil {
		return nil, err
	}
	for _, t := range tables {
		t.Source.(*snapTable).build(t)
	}
	return tables, nil
}

// build prepares the table's queries.
func (st *snapTable) build(t *snapshot.Table) {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = quoteName(c.Name)
	}
	from := " FROM " + quoteName(t.Database) + "." + quoteName(t.Table)
	sel := "SELECT " + strings.Join(names, ", ") + from
	st.all = sel
	if t.Key == nil {
		return
	}
	keys := make([]string, len(t.Key))
	for i, k := range t.Key {
		keys[i] = names[k]
	}
	order := " ORDER BY " + strings.Join(keys, ", ") + " LIMIT ?"
	st.query = sel + order
	// (k1 > ?) OR (k1 = ? AND k2 > ?) OR …: a range the key's index serves.
	var or []string
	for i := range keys {
		var and []string
		for j := 0; j < i; j++ {
			and = append(and, keys[j]+" = ?")
		}
		and = append(and, keys[i]+" > ?")
		or = append(or, "("+strings.Join(and, " AND ")+")")
	}
	st.after = sel + " WHERE " + strings.Join(or, " OR ") + order
	if len(keys) == 1 {
		st.bounds = "SELECT MIN(" + keys[0] + "), MAX(" + keys[0] + ")" + from
		st.until = sel + " WHERE " + keys[0] + " <= ?" + order
		st.afterUntil = sel + " WHERE " + keys[0] + " > ? AND " + keys[0] + " <= ?" + order
		// The server tests the WHERE on every row of a range it reads:
		// one BETWEEN costs it less than two comparisons and an AND (a
		// 2 M-row table read in 32 ranges: 1.31 s of its CPU, not 1.34-1.43;
		// 1.17 without a WHERE).
		st.between = sel + " WHERE " + keys[0] + " BETWEEN ? AND ?" + order
	}
}

// KeyRange returns the smallest and largest key of t (see
// snapshot.RangeReader).
func (w *snapWorker) KeyRange(ctx context.Context, t *snapshot.Table) (lo, hi change.Value, ok bool, err error) {
	st := t.Source.(*snapTable)
	if st.bounds == "" {
		return lo, hi, false, nil
	}
	c := &st.cols[t.Key[0]]
	if w.tr != nil {
		_, err := w.tr.query([]byte(st.bounds), 2, func(row [][]byte) error {
			if row[0] == nil || row[1] == nil {
				return nil // no rows
			}
			if err := c.decode(row[0], &lo); err != nil {
				return err
			}
			if err := c.decode(row[1], &hi); err != nil {
				return err
			}
			lo, hi, ok = lo.Clone(), hi.Clone(), true
			return nil
		})
		if serverError(err) != nil {
			return lo, hi, false, grantError(err, "")
		}
		return lo, hi, ok, err
	}
	var least, most sql.RawBytes
	rows, err := w.conn.QueryContext(ctx, st.bounds)
	if err != nil {
		return lo, hi, false, grantError(err, "")
	}
	defer rows.Close()
	if !rows.Next() {
		return lo, hi, false, rows.Err()
	}
	if err := rows.Scan(&least, &most); err != nil {
		return lo, hi, false, err
	}
	if least == nil || most == nil {
		return lo, hi, false, nil // no rows
	}
	if err := c.decode(least, &lo); err != nil {
		return lo, hi, false, err
	}
	if err := c.decode(most, &hi); err != nil {
		return lo, hi, false, err
	}
	lo, hi = lo.Clone(), hi.Clone()
	return lo, hi, true, rows.Err()
}

// ReadUntil reads rows of t up to the key until (see
// snapshot.RangeReader).
func (w *snapWorker) ReadUntil(ctx context.Context, t *snapshot.Table, after []change.Value, until change.Value, limit int, row func([]change.Column, []change.Value) error) (int, error) {
	st := t.Source.(*snapTable)
	if st.until == "" {
		return 0, errors.New("a range read of a table whose key is not one column")
	}
	w.args = w.args[:0]
	q := st.until
	if after != nil {
		q = st.afterUntil
		a := after[0]
		switch {
		case a.Kind == change.KindInt && a.Kind == until.Kind:
			if a.I >= until.I {
				return 0, nil // nothing after
			}
			q, a.I = st.between, a.I+1
		case a.Kind == change.KindUint && a.Kind == until.Kind:
			if a.U >= until.U {
				return 0, nil
			}
			q, a.U = st.between, a.U+1
		}
		w.args = append(w.args, keyArg(a))
	}
	w.args = append(w.args, keyArg(until), limit)
	return w.query(ctx, st, q, row)
}

// Read reads rows of t (see snapshot.Reader).
func (w *snapWorker) Read(ctx context.Context, t *snapshot.Table, after []change.Value, limit int, row func([]change.Column, []change.Value) error) (int, error) {
	st := t.Source.(*snapTable)
	q := st.all
	w.args = w.args[:0]
	switch {
	case t.Key == nil:
	case after == nil:
		q = st.query
		w.args = append(w.args, limit)
	default:
		q = st.after
		for i := range after {
			for j := 0; j < i; j++ {
				w.args = append(w.args, keyArg(after[j]))
			}
			w.args = append(w.args, keyArg(after[i]))
		}
		w.args = append(w.args, limit)
	}
	return w.query(ctx, st, q, row)
}

// query runs q with w.args and hands its rows to row.
func (w *snapWorker) query(ctx context.Context, st *snapTable, q string, row func([]change.Column, []change.Value) error) (int, error) {
	if len(w.vals) != len(st.cols) {
		w.vals = make([]change.Value, len(st.cols))
	}
	if w.tr != nil {
		if !w.noPrepare {
			return w.queryBinary(st, q, row)
		}
		return w.queryText(st, q, row)
	}
	if len(w.row) != len(st.cols) {
		w.row = make([]driver.Value, len(st.cols))
	}
	// The driver's rows straight, without database/sql's locking and
	// conversions per value (a tenth of the snapshot's CPU).
	count, skip := 0, false
	var qerr error
	err := w.conn.Raw(func(dc any) error {
		qc, ok := dc.(driver.QueryerContext)
		if !ok {
			skip = true
			return nil
		}
		w.named = w.named[:0]
		for i, a := range w.args {
			if n, ok := a.(int); ok {
				a = int64(n)
			}
			w.named = append(w.named, driver.NamedValue{Ordinal: i + 1, Value: a})
		}
		rows, err := qc.QueryContext(ctx, q, w.named)
		if errors.Is(err, driver.ErrSkip) {
			skip = true // the driver cannot interpolate these arguments
			return nil
		}
		if err != nil {
			qerr = err
			return nil
		}
		defer rows.Close()
		if cols := rows.Columns(); len(cols) != len(st.cols) {
			return fmt.Errorf("the query returned %d columns, want %d", len(cols), len(st.cols))
		}
		for {
			if err := rows.Next(w.row); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
			for i := range st.cols {
				if err := st.cols[i].decodeDriver(w.row[i], &w.vals[i], &w.num); err != nil {
					return err
				}
			}
			count++
			if err := row(nil, w.vals); err != nil {
				return err
			}
		}
	})
	if qerr != nil {
		return 0, grantError(qerr, "") // the engine names the table
	}
	if !skip {
		return count, err
	}
	return w.queryRows(ctx, st, q, row)
}

// queryBinary is query through w's textReader as a prepared statement:
// the server sends integers, floats, dates and times as numbers, which
// costs it less than printing them (a 2 M-row table of ~100-byte rows:
// 1.22 s of its CPU instead of 1.39-1.64 s), and each value is decoded
// from the bytes it sent, with nothing allocated per row. A statement
// the server refuses to prepare sends w to the text protocol for good.
func (w *snapWorker) queryBinary(st *snapTable, q string, row func([]change.Column, []change.Value) error) (int, error) {
	if st != w.stmtsOf {
		// A table's statements are dropped when the worker moves on: the
		// server counts every connection's prepared statements against
		// one global limit (max_prepared_stmt_count, 16382 by default),
		// which a snapshot of thousands of tables would otherwise use up
		// for every client of the server.
		for q, s := range w.stmts {
			if err := w.tr.closeStmt(s); err != nil {
				return 0, err
			}
			delete(w.stmts, q)
		}
		w.stmtsOf = st
	}
	s, ok := w.stmts[q]
	if !ok {
		var err error
		if s, err = w.tr.prepare(q); err != nil {
			if serverError(err) == nil {
				return 0, err
			}
			w.noPrepare = true
			w.src.cfg.Logger.Info("snapshot: reading with the text protocol: the server would not prepare a statement", "err", err.Error())
			return w.queryText(st, q, row)
		}
		if w.stmts == nil {
			w.stmts = make(map[string]stmt)
		}
		w.stmts[q] = s
	}
	n, err := w.tr.execute(s, w.args, len(st.cols), func(wire []wireCol, p []byte) error {
		if err := decodeBinaryRow(st.cols, wire, p, w.vals); err != nil {
			return err
		}
		return row(nil, w.vals)
	})
	if serverError(err) != nil {
		return n, grantError(err, "") // the engine names the table
	}
	return n, err
}

// queryText is query through w's textReader: each value decoded from the
// bytes the server sent, with nothing allocated per row.
func (w *snapWorker) queryText(st *snapTable, q string, row func([]change.Column, []change.Value) error) (int, error) {
	var err error
	if w.q, err = interpolate(w.q[:0], q, w.args); err != nil {
		return 0, err
	}
	n, err := w.tr.query(w.q, len(st.cols), func(vals [][]byte) error {
		for i := range st.cols {
			if err := st.cols[i].decode(vals[i], &w.vals[i]); err != nil {
				return err
			}
		}
		return row(nil, w.vals)
	})
	if serverError(err) != nil {
		return n, grantError(err, "") // the engine names the table
	}
	return n, err
}

// queryRows is query through database/sql.
func (w *snapWorker) queryRows(ctx context.Context, st *snapTable, q string, row func([]change.Column, []change.Value) error) (int, error) {
	rows, err := w.conn.QueryContext(ctx, q, w.args...)
	if err != nil {
		return 0, grantError(err, "") // the engine names the table
	}
	defer rows.Close()
	n := len(st.cols)
	if len(w.raw) != n {
		w.raw = make([]sql.RawBytes, n)
		w.dest = make([]any, n)
		for i := range w.raw {
			w.dest[i] = &w.raw[i]
		}
	}
	count := 0
	for rows.Next() {
		if err := rows.Scan(w.dest...); err != nil {
			return count, err
		}
		for i := range st.cols {
			if err := st.cols[i].decode(w.raw[i], &w.vals[i]); err != nil {
				return count, err
			}
		}
		count++
		if err := row(nil, w.vals); err != nil {
			return count, err
		}
	}
	if err := rows.Err(); err != nil {
		return count, err
	}
	return count, nil
}

// binlogRowMetadata reports whether the server writes
// binlog_row_metadata=FULL (the stream's columns then come from the
// binlog, spelled as the binlog spells them).
func binlogRowMetadata(ctx context.Context, c *sql.Conn) (bool, error) {
	var name, val string
	err := c.QueryRowContext(ctx, "SHOW GLOBAL VARIABLES LIKE 'binlog_row_metadata'").Scan(&name, &val)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return strings.EqualFold(val, "FULL"), err
}

// snapshotRun takes a consistent snapshot of the server and hands its rows
// to emit: the whole of it (resume zero), or what is left after the
// progress resume of an earlier run that delivered lastRow rows, whose
// consistent point is point. It returns the snapshot's result and its
// consistent point (point, or the new one of a first run).
func (s *Source) snapshotRun(ctx context.Context, resume snapshot.State, lastRow uint64, point change.Position,
	emit func([]change.Change) error) (snapshot.Result, change.Position, error) {
	opts := s.cfg.Snapshot
	r, err := dial(ctx, &s.cfg)
	if err != nil {
		return snapshot.Result{}, point, err
	}
	mariadb, flavor := r.mariadb, r.flavor()
	r.Close()
	db := s.openSQL()
	defer db.Close()
	workers, at, gtidKnown, cleanup, err := s.consistentPoint(ctx, db, max(opts.Workers, 1), mariadb)
	if err != nil {
		return snapshot.Result{}, point, err
	}
	defer cleanup()
	// The catalog's tables are not versioned: read inside the snapshot's
	// transactions or beside them, they say the same.
	meta, err := db.Conn(ctx)
	if err != nil {
		return snapshot.Result{}, point, fmt.Errorf("mysql: snapshot: connect to %s: %w", s.cfg.Addr, err)
	}
	defer meta.Close()
	fullMeta, err := binlogRowMetadata(ctx, meta)
	if err != nil {
		return snapshot.Result{}, point, fmt.Errorf("mysql: snapshot: %w", err)
	}
	tables, err := s.snapTables(ctx, &snapWorker{conn: meta, src: s}, fullMeta)
	if err != nil {
		return snapshot.Result{}, point, err
	}
	if !slices.ContainsFunc(tables, func(t *snapshot.Table) bool { return opts.Keep(t.Namespace) }) {
		// A user without SELECT sees no table at all: say so rather than
		// snapshot nothing.
		var n int
		err := meta.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE = 'SELECT')
			+ (SELECT COUNT(*) FROM information_schema.SCHEMA_PRIVILEGES WHERE PRIVILEGE_TYPE = 'SELECT')
			+ (SELECT COUNT(*) FROM information_schema.TABLE_PRIVILEGES WHERE PRIVILEGE_TYPE = 'SELECT')`).Scan(&n)
		if err == nil && n == 0 {
			return snapshot.Result{}, point, fmt.Errorf("mysql: snapshot: the user %q has no SELECT privilege, so it sees no table to read: GRANT SELECT ON db.* TO it (or use snapshot=never)", s.cfg.User)
		}
		s.cfg.Logger.Warn("snapshot: no table to read (none the filter keeps is visible to the user)", "user", s.cfg.User)
	}
	run := &snapshot.Run{Options: opts, Source: flavor, Point: point, Tables: tables, Resume: resume, LastRow: lastRow, Logger: s.cfg.Logger}
	if point.IsZero() {
		run.Point = at
		if !gtidKnown {
			// The workers read while the server finds the GTID set.
			gctx, stop := context.WithCancel(ctx)
			defer stop()
			gtid := gtidAt(gctx, db, at)
			run.PointLater = func(ctx context.Context) (change.Position, error) {
				select {
				case g := <-gtid:
					if g.err != nil {
						return at, g.err
					}
					at.GTIDSet = g.set
					s.cfg.Logger.Info("snapshot: consistent point", "position", at.String(), "workers", len(workers), "tables", len(tables))
					return at, nil
				case <-ctx.Done():
					return at, ctx.Err()
				}
			}
		} else {
			s.cfg.Logger.Info("snapshot: consistent point", "position", at.String(), "workers", len(workers), "tables", len(tables))
		}
	} else {
		s.cfg.Logger.Info("snapshot: resuming; this run reads at its own consistent point", "position", at.String(), "snapshot_point", point.String())
	}
	for _, w := range workers {
		run.Readers = append(run.Readers, w)
	}
	res, err := snapshot.Do(ctx, run, emit)
	for _, w := range workers {
		w.exec(context.Background(), "COMMIT")
	}
	return res, run.Point, err
}

// gtidResult is the answer of gtidAt.
type gtidResult struct {
	set string
	err error
}

// gtidAt finds MariaDB's GTID set at the binlog position p
// (BINLOG_GTID_POS) on a connection of its own and sends it on the channel
// it returns. The server reads the binlog file from its start up to p for
// it — a tenth of a second or more for a file near its full size (1 GiB by
// default) — so a snapshot asks at once and reads meanwhile.
func gtidAt(ctx context.Context, db *sql.DB, p change.Position) <-chan gtidResult {
	out := make(chan gtidResult, 1)
	go func() {
		var set sql.NullString
		err := db.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", p.File, p.Offset).Scan(&set)
		if err != nil {
			err = grantError(err, "BINLOG_GTID_POS")
		}
		out <- gtidResult{set: sortedGTIDs(set.String), err: err}
	}()
	return out
}

// snapshotStart is where the stream goes after a snapshot: the rows'
// consistent point without the row and progress.
func snapshotStart(p change.Position) change.Position {
	p.Row, p.Snapshot = 0, ""
	return p
}
