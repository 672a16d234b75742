package mysql

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/binlog"
	"github.com/sluice-cdc/sluice/change"
)

// SchemaMismatchError reports a rows event whose columns do not fit the
// table's columns in the schema history: the history missed a DDL, or was
// started from information_schema at a later schema than the binlog
// position. It wraps ErrSchemaMismatch.
type SchemaMismatchError struct {
	Database, Table string
	Pos             string   // binlog file:offset of the TABLE_MAP
	Held            []string // column types the schema history holds
	Binlog          []string // column types the binlog event carries
}

// Error names the table, the position and both shapes.
func (e *SchemaMismatchError) Error() string {
	return fmt.Sprintf("mysql: %s: %s at %s: the binlog has %d columns (%s) but the schema history holds %d (%s); "+
		"replay the schema history from an earlier position or enable binlog_row_metadata=FULL",
		ErrSchemaMismatch, e.Database+"."+e.Table, e.Pos, len(e.Binlog), strings.Join(e.Binlog, ", "),
		len(e.Held), strings.Join(e.Held, ", "))
}

// Unwrap returns ErrSchemaMismatch.
func (e *SchemaMismatchError) Unwrap() error { return ErrSchemaMismatch }

// tableMap settles the columns the rows of tm, the TABLE_MAP ev decoded,
// carry. A repeated identical TABLE_MAP (the framer's TableMaps hand back
// the same *TableMap) keeps the previous columns.
func (s *session) tableMap(ev *binlog.Event, tm *binlog.TableMap) error {
	if st := s.tables[tm.TableID]; st != nil && st.tm == tm {
		return nil
	}
	setPrecisions(tm, s.src.schema.lookup(tm.Database, tm.Table))
	cols, err := s.columns(tm, s.stream.File()+":"+strconv.FormatInt(ev.Offset, 10))
	if err != nil {
		return err
	}
	fixes := columnFixes(s.src.schema.lookup(tm.Database, tm.Table), tm.ColumnCount(), namedColumns(tm))
	if len(fixes) > 0 && len(cols) == tm.ColumnCount() {
		for _, f := range fixes {
			cols[f.col].Type = f.typ
		}
	}
	s.tables[tm.TableID] = &tableState{tm: tm, cols: cols,
		ns: change.Namespace{Database: tm.Database, Table: tm.Table}, fixes: fixes}
	return nil
}

// setPrecisions gives the table map the fractional-seconds precision of
// its TIME, DATETIME and TIMESTAMP columns from the schema held: MariaDB
// logs such columns of tables created in its own format (MariaDB 5.3-10.0,
// or mysql56_temporal_format=OFF) under the old type codes without the
// precision, which the values cannot be read without (see
// binlog.TableMap.SetPrecision). Nothing happens when the shapes differ.
func setPrecisions(tm *binlog.TableMap, def *tableDef) {
	if def == nil || len(def.Columns) != tm.ColumnCount() {
		return
	}
	for i, c := range def.Columns {
		switch tm.ColumnType(i) {
		case binlog.TypeTimestamp, binlog.TypeDateTime, binlog.TypeTime:
			if fsp, ok := temporalPrecision(c.Type); ok {
				tm.SetPrecision(i, fsp)
			}
		}
	}
}

// temporalPrecision returns n of a "time(n)", "datetime(n)" or
// "timestamp(n)" column type (0 without a precision).
func temporalPrecision(sqlType string) (int, bool) {
	t := strings.ToLower(strings.TrimSpace(sqlType))
	base := firstWord(t)
	if base != "time" && base != "datetime" && base != "timestamp" {
		return 0, false
	}
	rest := strings.TrimSpace(t[len(base):])
	if !strings.HasPrefix(rest, "(") {
		return 0, true
	}
	end := strings.IndexByte(rest, ')')
	if end < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(rest[1:end]))
	if err != nil || n < 0 || n > 6 {
		return 0, false
	}
	return n, true
}

// columns returns the columns of a table map: its own when it carries
// names (binlog_row_metadata=FULL), else the schema history's after checking
// that the shapes agree, else unnamed ones.
func (s *session) columns(tm *binlog.TableMap, at string) ([]change.Column, error) {
	if namedColumns(tm) {
		return append([]change.Column(nil), tm.Columns...), nil
	}
	def := s.src.schema.lookup(tm.Database, tm.Table)
	if def == nil {
		return append([]change.Column(nil), tm.Columns...), nil
	}
	ok := len(def.Columns) == tm.ColumnCount()
	for i := 0; ok && i < len(def.Columns); i++ {
		ok = typeFits(def.Columns[i].Type, tm.RealType(i))
	}
	if !ok {
		e := &SchemaMismatchError{Database: tm.Database, Table: tm.Table, Pos: at}
		for _, c := range def.Columns {
			e.Held = append(e.Held, c.Name+" "+c.Type)
		}
		for _, c := range tm.Columns {
			e.Binlog = append(e.Binlog, strings.ToLower(c.Type))
		}
		return nil, e
	}
	cols := make([]change.Column, len(def.Columns))
	for i, c := range def.Columns {
		cols[i] = change.Column{Name: c.Name, Type: c.Type, Nullable: tm.Columns[i].Nullable, Key: c.Key || tm.Columns[i].Key}
	}
	return cols, nil
}

// namedColumns reports whether a table map names all its columns
// (binlog_row_metadata=FULL).
func namedColumns(tm *binlog.TableMap) bool {
	for _, c := range tm.Columns {
		if c.Name == "" {
			return false
		}
	}
	return len(tm.Columns) > 0
}

// typeFits reports whether a column declared as sqlType (COLUMN_TYPE
// text) is written in the binlog with type code t.
func typeFits(sqlType string, t binlog.ColumnType) bool {
	base := strings.ToLower(firstWord(strings.TrimSpace(sqlType)))
	switch base {
	case "tinyint", "bool", "boolean":
		return t == binlog.TypeTiny
	case "smallint":
		return t == binlog.TypeShort
	case "mediumint":
		return t == binlog.TypeInt24
	case "int", "integer":
		return t == binlog.TypeLong
	case "bigint", "serial":
		return t == binlog.TypeLongLong
	case "float":
		return t == binlog.TypeFloat || t == binlog.TypeDouble
	case "double", "real":
		return t == binlog.TypeDouble
	case "decimal", "numeric", "dec", "fixed":
		return t == binlog.TypeNewDecimal || t == binlog.TypeDecimal
	case "date":
		return t == binlog.TypeDate || t == binlog.TypeNewDate
	case "time":
		return t == binlog.TypeTime || t == binlog.TypeTime2
	case "datetime":
		return t == binlog.TypeDateTime || t == binlog.TypeDateTime2
	case "timestamp":
		return t == binlog.TypeTimestamp || t == binlog.TypeTimestamp2
	case "year":
		return t == binlog.TypeYear
	case "bit":
		return t == binlog.TypeBit
	case "char", "binary", "nchar":
		return t == binlog.TypeString || t == binlog.TypeVarchar || t == binlog.TypeVarString
	case "varchar", "varbinary", "nvarchar":
		return t == binlog.TypeVarchar || t == binlog.TypeVarString || t == binlog.TypeString
	case "enum":
		return t == binlog.TypeEnum || t == binlog.TypeString
	case "set":
		return t == binlog.TypeSet || t == binlog.TypeString
	case "tinyblob", "blob", "mediumblob", "longblob", "tinytext", "text", "mediumtext", "longtext", "long":
		return t == binlog.TypeBlob
	case "json":
		// MySQL writes JSON; MariaDB's JSON is LONGTEXT.
		return t == binlog.TypeJSON || t == binlog.TypeBlob
	case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection", "geomcollection":
		return t == binlog.TypeGeometry
	case "vector":
		return t == binlog.TypeVector || t == binlog.TypeBlob || t == binlog.TypeVarchar
	case "inet4", "inet6", "uuid":
		// MariaDB data-type plugins are logged as fixed strings.
		return t == binlog.TypeString || t == binlog.TypeVarchar || t == binlog.TypeVarString
	}
	return false
}

// rowBuffers is the per-session scratch for decoding rows.
type rowBuffers struct {
	r     *binlog.RowsReader
	vals  []change.Value // backing store of the images queued in session.out
	bytes []byte         // copies of value bytes queued in session.out
}

// rowsEvent decodes every row of a rows event into changes.
func (s *session) rowsEvent(ev *binlog.Event) error {
	lookup := func(id uint64) *binlog.TableMap {
		if st := s.tables[id]; st != nil {
			return st.tm
		}
		return nil
	}
	if s.rows.r == nil {
		s.rows.r = &binlog.RowsReader{}
	}
	r := s.rows.r
	if err := r.ResetEvent(ev, lookup); err != nil {
		return fmt.Errorf("mysql: %s: %w", s.where(), ev.Wrap(err))
	}
	if r.Table == nil {
		return nil // the dummy event that only frees table maps
	}
	st := s.tables[r.TableID]
	var op change.Op
	switch r.Kind {
	case binlog.RowsInsert:
		op = change.OpInsert
	case binlog.RowsUpdate:
		op = change.OpUpdate
	default:
		op = change.OpDelete
	}
	n := r.ColumnCount()
	for r.Next() {
		c := s.newChange()
		c.Op, c.Namespace, c.Columns = op, st.ns, st.cols
		if op != change.OpInsert {
			img, err := r.Before(s.rows.image(n))
			if err != nil {
				return fmt.Errorf("mysql: %w", err)
			}
			c.Before = s.rows.keep(img)
			for i := range st.fixes {
				st.fixes[i].apply(&c.Before[st.fixes[i].col], &s.rows)
			}
		}
		if op != change.OpDelete {
			img, err := r.After(s.rows.image(n))
			if err != nil {
				return fmt.Errorf("mysql: %w", err)
			}
			c.After = s.rows.keep(img)
			for i := range st.fixes {
				st.fixes[i].apply(&c.After[st.fixes[i].col], &s.rows)
			}
		}
		s.tx.data++
		s.add(c)
	}
	if err := r.Err(); err != nil {
		return fmt.Errorf("mysql: %w", err)
	}
	if err := s.flush(); err != nil {
		return err
	}
	s.rows.vals = s.rows.vals[:0]
	s.rows.bytes = s.rows.bytes[:0]
	return nil
}

// image returns an empty slice with room for n values from the backing store.
func (b *rowBuffers) image(n int) []change.Value {
	if cap(b.vals)-len(b.vals) < n {
		// Earlier images keep the old array alive; start a new one.
		b.vals = make([]change.Value, 0, max(4096, 2*n, 2*cap(b.vals)))
	}
	start := len(b.vals)
	b.vals = b.vals[:start+n]
	return b.vals[start : start : start+n]
}

// keep copies the bytes values point to (valid only until the reader's next
// row) into the byte store, so the image stays valid until the flush.
func (b *rowBuffers) keep(img []change.Value) []change.Value {
	for i := range img {
		v := &img[i]
		if v.B != nil {
			v.B = b.store(v.B)
		}
		if v.Elems != nil || v.Names != nil {
			*v = v.Clone()
		}
	}
	return img
}
