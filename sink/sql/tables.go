package sql

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/sqldb"
)

// table is what the sink knows of one target table.
type table struct {
	schema, name string
	quoted       string
	meta         *sqldb.Table
	// pk is set when the target has a primary key: inserts are upserts.
	pk bool
	// maps caches the column mapping of each source column list seen.
	maps map[colsKey]*colMap
	// noted records the notes logged once per table.
	noted map[string]bool
}

// colsKey identifies a source column list (sources share one slice
// between the changes of a table until its schema changes).
type colsKey struct {
	first *change.Column
	n     int
}

// colMap maps one source column list onto the target table.
type colMap struct {
	// tgt is the target column of each source column, -1 when it is not
	// written (a generated column).
	tgt []int
	// src is the source column of each target column, -1 when the source
	// has none.
	src []int
	// key holds the source indexes of the change's key columns.
	key []int
	// keyTgt holds their target indexes, as a column list.
	keyTgt string
}

// colList encodes target column indexes as a string, two bytes each: the
// shape part of a statement's cache key.
func colList(dst []byte, idx int) []byte { return append(dst, byte(idx>>8), byte(idx)) }

// cols decodes a column list.
func cols(list string) []int {
	out := make([]int, len(list)/2)
	for i := range out {
		out[i] = int(list[2*i])<<8 | int(list[2*i+1])
	}
	return out
}

// tableFor returns the target table of namespace ns, reading (or, with
// CreateTables, creating) it on first use.
func (s *Sink) tableFor(ctx context.Context, ns change.Namespace, c *change.Change) (*table, error) {
	if t, ok := s.tables[ns]; ok {
		return t, nil
	}
	schema := ns.Database
	if s.cfg.Schema != "" {
		schema = s.cfg.Schema
	}
	if schema == "" {
		return nil, fmt.Errorf("change of table %q has no database or schema: set the sink's schema parameter", ns.Table)
	}
	meta, err := s.cat.Table(ctx, schema, ns.Table)
	if errors.Is(err, sqldb.ErrNoTable) && s.cfg.CreateTables {
		if err = s.createTable(ctx, schema, ns.Table, c); err == nil {
			meta, err = s.cat.Table(ctx, schema, ns.Table)
		}
	}
	if err != nil {
		if errors.Is(err, sqldb.ErrNoTable) {
			return nil, fmt.Errorf("target table %s.%s does not exist (create it, or set create-tables=on)", schema, ns.Table)
		}
		return nil, err
	}
	t := &table{schema: schema, name: ns.Table, quoted: s.eng.QuoteTable(schema, ns.Table), meta: meta,
		pk: len(meta.Key) > 0, maps: map[colsKey]*colMap{}, noted: map[string]bool{}}
	s.tables[ns] = t
	return t, nil
}

// note logs msg once per table.
func (s *Sink) note(t *table, msg string, args ...any) {
	if t.noted[msg] {
		return
	}
	t.noted[msg] = true
	s.cfg.Logger.Warn(msg, append([]any{"table", t.schema + "." + t.name}, args...)...)
}

// colMapFor maps the columns of c onto t.
func (s *Sink) colMapFor(ctx context.Context, t *table, c *change.Change) (*colMap, error) {
	if len(c.Columns) == 0 {
		return nil, fmt.Errorf("%s change of %s.%s carries no columns", c.Op, c.Database, c.Table)
	}
	k := colsKey{&c.Columns[0], len(c.Columns)}
	if m, ok := t.maps[k]; ok {
		return m, nil
	}
	var missing []int
	for i, col := range c.Columns {
		if col.Name == "" {
			return nil, fmt.Errorf("table %s.%s: the source does not name column %d (MySQL: set binlog_row_metadata=FULL)", c.Database, c.Table, i+1)
		}
		if t.meta.Column(col.Name) < 0 {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		if !s.cfg.CreateTables {
			return nil, fmt.Errorf("target table %s.%s has no column %q (add it, or set create-tables=on)", t.schema, t.name, c.Columns[missing[0]].Name)
		}
		if err := s.addColumns(ctx, t, c, missing); err != nil {
			return nil, err
		}
	}
	m := &colMap{tgt: make([]int, len(c.Columns)), src: make([]int, len(t.meta.Columns))}
	for j := range m.src {
		m.src[j] = -1
	}
	var kl []byte
	for i, col := range c.Columns {
		j := t.meta.Column(col.Name)
		if t.meta.Columns[j].Generated {
			j = -1
		} else {
			m.src[j] = i
		}
		m.tgt[i] = j
		if col.Key {
			if j < 0 {
				return nil, fmt.Errorf("target table %s.%s: key column %q is generated", t.schema, t.name, col.Name)
			}
			m.key = append(m.key, i)
			kl = colList(kl, j)
		}
	}
	m.keyTgt = string(kl)
	if len(t.maps) > 64 {
		clear(t.maps)
	}
	t.maps[k] = m
	return m, nil
}

// columnType returns the type a source column becomes in a table the sink
// creates: the type map (sqldb.Type.In), or, for a source type the map
// does not know (a PostgreSQL domain or enum), the type of the kind of
// value it holds.
func (s *Sink) columnType(c *change.Change, i int) (text, loss string) {
	srcEngine, ok := sqldb.EngineOfSource(c.Source)
	if !ok {
		srcEngine = s.eng
	}
	ty := sqldb.ParseType(srcEngine, c.Columns[i].Type)
	if ty.Family == sqldb.FamOther && srcEngine != s.eng {
		if k := valueKind(c, i); k != change.KindAbsent {
			ty = kindType(k, c, i)
		}
	}
	if srcEngine == s.eng && ty.Text == "" {
		return "text", "no source type"
	}
	return ty.In(srcEngine, s.cat.Target())
}

// valueKind returns the kind of column i's value in c, KindAbsent when it
// has none (NULL, absent, unchanged).
func valueKind(c *change.Change, i int) change.Kind {
	for _, img := range [][]change.Value{c.After, c.Before} {
		if i < len(img) {
			switch k := img[i].Kind; k {
			case change.KindNull, change.KindAbsent, change.KindUnchanged:
			default:
				return k
			}
		}
	}
	return change.KindAbsent
}

// kindType is the type family of a value kind, for source types the type
// map does not know.
func kindType(k change.Kind, c *change.Change, i int) sqldb.Type {
	t := sqldb.Type{Precision: -1, Scale: -1, Text: c.Columns[i].Type}
	v := c.After
	if i >= len(v) || v[i].Kind != k {
		v = c.Before
	}
	switch k {
	case change.KindBool:
		t.Family = sqldb.FamBool
	case change.KindInt:
		t.Family, t.Bits = sqldb.FamInt, int(v[i].Size)
	case change.KindUint:
		t.Family, t.Bits = sqldb.FamUint, int(v[i].Size)
	case change.KindFloat:
		t.Family, t.Bits = sqldb.FamFloat, int(v[i].Size)
	case change.KindDecimal:
		t.Family = sqldb.FamDecimal
	case change.KindString, change.KindEnum, change.KindSet:
		t.Family = sqldb.FamText
		if k == change.KindEnum {
			t.Family = sqldb.FamEnum
		}
	case change.KindBytes:
		t.Family = sqldb.FamBytes
	case change.KindJSON:
		t.Family = sqldb.FamJSON
	case change.KindDate:
		t.Family = sqldb.FamDate
	case change.KindTime:
		t.Family, t.Fsp = sqldb.FamTime, int(v[i].Size)
		if v[i].Zoned {
			t.Family = sqldb.FamTimeTZ
		}
	case change.KindDateTime:
		t.Family, t.Fsp = sqldb.FamDateTime, int(v[i].Size)
	case change.KindTimestamp:
		t.Family, t.Fsp = sqldb.FamTimestamp, int(v[i].Size)
	case change.KindUUID:
		t.Family = sqldb.FamUUID
	case change.KindArray:
		t.Family = sqldb.FamArray
	case change.KindBit:
		t.Family, t.Bits = sqldb.FamBit, int(v[i].Size)
	}
	return t
}

// createTable creates schema.name from the columns of c (and the schema
// or database when missing), on the catalog connection.
func (s *Sink) createTable(ctx context.Context, schema, name string, c *change.Change) error {
	if len(c.Columns) == 0 {
		return fmt.Errorf("cannot create %s.%s: the %s change carries no columns", schema, name, c.Op)
	}
	var defs, keys []string
	var losses []string
	for i, col := range c.Columns {
		if col.Name == "" {
			return fmt.Errorf("cannot create %s.%s: the source does not name column %d (MySQL: set binlog_row_metadata=FULL)", schema, name, i+1)
		}
		typ, loss := s.columnType(c, i)
		def := s.eng.Quote(col.Name) + " " + typ
		if !col.Nullable || col.Key {
			def += " NOT NULL"
		}
		defs = append(defs, def)
		if col.Key {
			keys = append(keys, s.eng.Quote(col.Name))
		}
		if loss != "" {
			losses = append(losses, col.Name+" "+typ+": "+loss)
		}
	}
	if len(keys) > 0 {
		defs = append(defs, "PRIMARY KEY ("+strings.Join(keys, ", ")+")")
	}
	create := "CREATE TABLE IF NOT EXISTS " + s.eng.QuoteTable(schema, name) + " (\n  " + strings.Join(defs, ",\n  ") + "\n)"
	ensure := "CREATE SCHEMA IF NOT EXISTS " + s.eng.Quote(schema)
	if s.eng == sqldb.MySQL {
		// Values arrive as UTF-8 whatever the source column's charset.
		create += " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
		if src, _ := sqldb.EngineOfSource(c.Source); src != sqldb.MySQL {
			// PostgreSQL compares text byte by byte: so must the copy's keys.
			create += " COLLATE=utf8mb4_bin"
		}
		ensure = "CREATE DATABASE IF NOT EXISTS " + s.eng.Quote(schema)
	}
	if err := s.cat.Exec(ctx, ensure, create); err != nil {
		return fmt.Errorf("create table %s.%s: %w\n%s", schema, name, err, create)
	}
	s.cfg.Logger.Info("created table", "table", schema+"."+name, "sql", create)
	if len(losses) > 0 {
		s.cfg.Logger.Warn("created table: some values of these columns cannot cross exactly", "table", schema+"."+name, "columns", strings.Join(losses, "; "))
	}
	return nil
}

// addColumns adds the source columns missing reports to t (CreateTables).
func (s *Sink) addColumns(ctx context.Context, t *table, c *change.Change, missing []int) error {
	var adds []string
	for _, i := range missing {
		typ, _ := s.columnType(c, i)
		adds = append(adds, "ADD COLUMN "+s.eng.Quote(c.Columns[i].Name)+" "+typ)
	}
	alter := "ALTER TABLE " + t.quoted + " " + strings.Join(adds, ", ")
	if err := s.alter(ctx, alter); err != nil {
		return fmt.Errorf("add columns to %s.%s: %w\n%s", t.schema, t.name, err, alter)
	}
	s.cfg.Logger.Info("added columns", "table", t.schema+"."+t.name, "sql", alter)
	meta, err := s.cat.Table(ctx, t.schema, t.name)
	if err != nil {
		return err
	}
	t.meta = meta
	clear(t.maps)
	return nil
}

// Statement kinds.
const (
	opUpsert      uint8 = iota + 1 // INSERT … ON DUPLICATE KEY UPDATE / ON CONFLICT … DO UPDATE
	opInsert                       // plain INSERT (no primary key in the target)
	opUpdate                       // UPDATE … WHERE key
	opDelete                       // DELETE … WHERE key IN (…)
	opMatchUpdate                  // UPDATE one row equal to the full before image
	opMatchDelete                  // DELETE one row equal to the full before image
	opTruncate                     // every row
	opCheckpoint                   // the position row, conditionally on the previous position
)

// stmtKey identifies a statement text: its table, kind, written columns,
// matched columns and row count.
type stmtKey struct {
	t     *table
	op    uint8
	cols  string
	where string
	rows  int
}

// buildSQL returns the text of the statement k names, for engine e.
func buildSQL(e sqldb.Engine, k stmtKey, cp *checkpointTable) string {
	var b strings.Builder
	n := 0
	param := func() {
		n++
		if e == sqldb.Postgres {
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		} else {
			b.WriteByte('?')
		}
	}
	if k.op == opCheckpoint {
		fmt.Fprintf(&b, "UPDATE %s SET position = ", cp.quoted)
		param()
		b.WriteString(", ddl = NULL, updated_at = CURRENT_TIMESTAMP(6) WHERE pipeline = ")
		param()
		b.WriteString(" AND position = ")
		param()
		return b.String()
	}
	t := k.t
	name := func(j int) string { return e.Quote(t.meta.Columns[j].Name) }
	cs, ws := cols(k.cols), cols(k.where)
	switch k.op {
	case opUpsert, opInsert:
		b.WriteString("INSERT INTO " + t.quoted + " (")
		for i, j := range cs {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(name(j))
		}
		b.WriteString(") VALUES ")
		for r := 0; r < k.rows; r++ {
			if r > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			for i := range cs {
				if i > 0 {
					b.WriteByte(',')
				}
				param()
			}
			b.WriteByte(')')
		}
		if k.op == opInsert {
			break
		}
		var set []string
		for _, j := range cs {
			if !isKey(t.meta, j) {
				if e == sqldb.Postgres {
					set = append(set, name(j)+" = EXCLUDED."+name(j))
				} else {
					set = append(set, name(j)+" = VALUES("+name(j)+")")
				}
			}
		}
		if e == sqldb.Postgres {
			var pk []string
			for _, j := range t.meta.Key {
				pk = append(pk, name(j))
			}
			b.WriteString(" ON CONFLICT (" + strings.Join(pk, ", ") + ") DO ")
			if len(set) == 0 {
				b.WriteString("NOTHING")
			} else {
				b.WriteString("UPDATE SET " + strings.Join(set, ", "))
			}
		} else {
			if len(set) == 0 {
				set = append(set, name(cs[0])+" = "+name(cs[0]))
			}
			if t.meta.OtherUnique {
				// ON DUPLICATE KEY UPDATE fires on any unique key: a row
				// that collides with another row on a unique key besides
				// the primary key must be an error, not an update of that
				// other row. The guard sets the key to NULL then, which
				// strict mode refuses (Error 1048).
				var same []string
				for _, j := range t.meta.Key {
					same = append(same, name(j)+" <=> VALUES("+name(j)+")")
				}
				k := name(t.meta.Key[0])
				set = append([]string{k + " = IF(" + strings.Join(same, " AND ") + ", " + k + ", NULL)"}, set...)
			}
			b.WriteString(" ON DUPLICATE KEY UPDATE " + strings.Join(set, ", "))
		}
	case opUpdate, opMatchUpdate:
		b.WriteString("UPDATE " + t.quoted + " SET ")
		for i, j := range cs {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(name(j) + " = ")
			param()
		}
		if k.op == opUpdate {
			b.WriteString(" WHERE ")
			writeKeyMatch(&b, e, t, ws, param)
		} else {
			writeRowMatch(&b, e, t, ws, param)
		}
	case opDelete:
		b.WriteString("DELETE FROM " + t.quoted + " WHERE ")
		if len(ws) == 1 {
			b.WriteString(name(ws[0]) + " IN (")
			for r := 0; r < k.rows; r++ {
				if r > 0 {
					b.WriteString(", ")
				}
				param()
			}
			b.WriteByte(')')
			break
		}
		for r := 0; r < k.rows; r++ {
			if r > 0 {
				b.WriteString(" OR ")
			}
			b.WriteByte('(')
			writeKeyMatch(&b, e, t, ws, param)
			b.WriteByte(')')
		}
	case opMatchDelete:
		b.WriteString("DELETE FROM " + t.quoted)
		writeRowMatch(&b, e, t, ws, param)
	case opTruncate:
		if e == sqldb.Postgres {
			return "TRUNCATE " + t.quoted
		}
		return "DELETE FROM " + t.quoted
	}
	return b.String()
}

// isKey reports whether target column j is part of the primary key.
func isKey(t *sqldb.Table, j int) bool {
	for _, k := range t.Key {
		if k == j {
			return true
		}
	}
	return false
}

// writeKeyMatch writes k1 = ? AND k2 = ?.
func writeKeyMatch(b *strings.Builder, e sqldb.Engine, t *table, ws []int, param func()) {
	for i, j := range ws {
		if i > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString(e.Quote(t.meta.Columns[j].Name) + " = ")
		param()
	}
}

// writeRowMatch writes the condition that picks one row equal to a full
// before image, NULL equal to NULL: " WHERE c1 <=> ? … LIMIT 1" (MySQL),
// " WHERE ctid = (SELECT ctid … LIMIT 1)" (PostgreSQL).
func writeRowMatch(b *strings.Builder, e sqldb.Engine, t *table, ws []int, param func()) {
	if e == sqldb.Postgres {
		b.WriteString(" WHERE ctid = (SELECT ctid FROM " + t.quoted + " WHERE ")
	} else {
		b.WriteString(" WHERE ")
	}
	for i, j := range ws {
		if i > 0 {
			b.WriteString(" AND ")
		}
		c := &t.meta.Columns[j]
		if e == sqldb.Postgres {
			col := e.Quote(c.Name)
			switch c.Type.Family {
			case sqldb.FamJSON, sqldb.FamOther, sqldb.FamGeometry:
				// Types without an equality operator (json, point, xml)
				// compare as text.
				if !c.Type.JSONB {
					b.WriteString(col + "::text IS NOT DISTINCT FROM ")
					param()
					b.WriteString("::text")
					continue
				}
			}
			b.WriteString(col + " IS NOT DISTINCT FROM ")
			param()
			continue
		}
		b.WriteString(e.Quote(c.Name) + " <=> ")
		param()
	}
	if e == sqldb.Postgres {
		b.WriteString(" LIMIT 1)")
	} else {
		b.WriteString(" LIMIT 1")
	}
}
