package mysql

import (
	"fmt"
	"strings"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver" // literal values in parsed DDL
	"github.com/pingcap/tidb/pkg/parser/types"
)

// colDef is one column of a table as the schema history holds it.
type colDef struct {
	Name     string `json:"name"`
	Type     string `json:"type"` // COLUMN_TYPE text, lower case: "int(11) unsigned", "varchar(20)"
	Nullable bool   `json:"nullable,omitempty"`
	Key      bool   `json:"key,omitempty"` // part of the primary key
}

// tableDef is the column list of one table.
type tableDef struct {
	Database string   `json:"db"`
	Table    string   `json:"table"`
	Columns  []colDef `json:"columns"`
}

// tableKey is the map key of a table: MySQL compares database and table
// names case-sensitively on Linux by default; we keep them as written.
func tableKey(db, table string) string { return db + "." + table }

// schemaSet is the set of tables known at one point of the binlog.
type schemaSet map[string]*tableDef

func (s schemaSet) get(db, table string) *tableDef { return s[tableKey(db, table)] }

func (s schemaSet) put(t *tableDef) { s[tableKey(t.Database, t.Table)] = t }

func (s schemaSet) del(db, table string) { delete(s, tableKey(db, table)) }

// ddlKind says how a DDL statement shows up as a change.
type ddlKind uint8

const (
	ddlNone     ddlKind = iota // not DDL: a statement-based DML, a SAVEPOINT, ...
	ddlSchema                  // CREATE/ALTER/DROP/RENAME of tables or databases
	ddlTruncate                // TRUNCATE TABLE
)

// ddlResult is what one QUERY statement did to the schema.
type ddlResult struct {
	kind ddlKind
	// tables names the table the change is about (the first one).
	db, table string
	// changed lists the tables whose definition changed, with their new
	// definitions (nil = dropped), keyed by tableKey.
	changed map[string]*tableDef
	// unparsed is set when the statement looks like DDL but the parser did
	// not understand it; the tables of db must then be re-read.
	unparsed error
}

// ddlParser applies DDL statements to a schemaSet.
type ddlParser struct {
	p *parser.Parser
}

func newDDLParser() *ddlParser {
	return &ddlParser{p: parser.New()}
}

// looksLikeDDL reports whether a statement starts with a DDL keyword, so
// that statements the parser cannot read are told apart from DML.
func looksLikeDDL(sql string) (ddlKind, bool) {
	s := strings.TrimLeft(stripLeadingComments(sql), " \t\r\n(")
	word := strings.ToUpper(firstWord(s))
	switch word {
	case "TRUNCATE":
		return ddlTruncate, true
	case "CREATE", "ALTER", "DROP", "RENAME":
		return ddlSchema, true
	}
	return ddlNone, false
}

// firstWord returns the leading identifier of s: letters, digits (as in
// INET4, INET6) and underscores.
func firstWord(s string) string {
	for i, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return s[:i]
		}
	}
	return s
}

// stripLeadingComments removes /* ... */ and -- / # comments at the start
// (the server keeps them in the logged statement).
func stripLeadingComments(s string) string {
	for {
		s = strings.TrimLeft(s, " \t\r\n")
		switch {
		case strings.HasPrefix(s, "/*!"), strings.HasPrefix(s, "/*M!"):
			// Executable comments hold the statement itself.
			return s
		case strings.HasPrefix(s, "/*"):
			end := strings.Index(s, "*/")
			if end < 0 {
				return ""
			}
			s = s[end+2:]
		case strings.HasPrefix(s, "--"), strings.HasPrefix(s, "#"):
			end := strings.IndexByte(s, '\n')
			if end < 0 {
				return ""
			}
			s = s[end+1:]
		default:
			return s
		}
	}
}

// apply parses sql (run with default database db) and applies it to set.
// Statements that are not DDL return kind ddlNone and change nothing.
func (d *ddlParser) apply(set schemaSet, db, sql string) ddlResult {
	kind, ddl := looksLikeDDL(sql)
	if !ddl {
		return ddlResult{}
	}
	res := ddlResult{kind: kind, db: db, changed: map[string]*tableDef{}}
	stmts, _, err := d.p.ParseSQL(sql)
	if err != nil {
		res.unparsed = fmt.Errorf("parse DDL: %w", err)
		return res
	}
	for _, st := range stmts {
		if err := d.applyStmt(set, db, st, &res); err != nil {
			res.unparsed = err
			return res
		}
	}
	return res
}

func nameOf(db string, t *ast.TableName) (string, string) {
	if t.Schema.O != "" {
		db = t.Schema.O
	}
	return db, t.Name.O
}

func (r *ddlResult) touch(set schemaSet, db, table string, def *tableDef) {
	if r.table == "" {
		r.db, r.table = db, table
	}
	k := tableKey(db, table)
	if def == nil {
		set.del(db, table)
	} else {
		set.put(def)
	}
	r.changed[k] = def
}

// applyStmt applies one parsed statement.
func (d *ddlParser) applyStmt(set schemaSet, db string, st ast.StmtNode, res *ddlResult) error {
	switch s := st.(type) {
	case *ast.CreateTableStmt:
		if s.TemporaryKeyword != ast.TemporaryNone {
			return nil
		}
		tdb, tname := nameOf(db, s.Table)
		if s.IfNotExists && set.get(tdb, tname) != nil {
			res.db, res.table = tdb, tname
			return nil
		}
		if s.ReferTable != nil {
			rdb, rname := nameOf(db, s.ReferTable)
			src := set.get(rdb, rname)
			if src == nil {
				return fmt.Errorf("CREATE TABLE %s.%s LIKE %s.%s: source table unknown", tdb, tname, rdb, rname)
			}
			def := &tableDef{Database: tdb, Table: tname, Columns: append([]colDef(nil), src.Columns...)}
			res.touch(set, tdb, tname, def)
			return nil
		}
		if s.Select != nil {
			return fmt.Errorf("CREATE TABLE %s.%s ... SELECT: columns depend on the query", tdb, tname)
		}
		def := &tableDef{Database: tdb, Table: tname}
		for _, c := range s.Cols {
			def.Columns = append(def.Columns, columnFromDef(c))
		}
		for _, c := range s.Constraints {
			markPrimary(def, c)
		}
		res.touch(set, tdb, tname, def)
	case *ast.AlterTableStmt:
		tdb, tname := nameOf(db, s.Table)
		old := set.get(tdb, tname)
		if old == nil {
			return fmt.Errorf("ALTER TABLE %s.%s: table unknown to the schema history", tdb, tname)
		}
		def := &tableDef{Database: tdb, Table: tname, Columns: append([]colDef(nil), old.Columns...)}
		for _, spec := range s.Specs {
			if err := alterSpec(def, spec); err != nil {
				return fmt.Errorf("ALTER TABLE %s.%s: %w", tdb, tname, err)
			}
			if spec.Tp == ast.AlterTableRenameTable {
				ndb, nname := nameOf(tdb, spec.NewTable)
				res.touch(set, tdb, tname, nil)
				tdb, tname = ndb, nname
				def.Database, def.Table = ndb, nname
			}
		}
		res.touch(set, tdb, tname, def)
	case *ast.RenameTableStmt:
		for _, tt := range s.TableToTables {
			odb, oname := nameOf(db, tt.OldTable)
			ndb, nname := nameOf(db, tt.NewTable)
			old := set.get(odb, oname)
			if old == nil {
				return fmt.Errorf("RENAME TABLE %s.%s: table unknown to the schema history", odb, oname)
			}
			def := &tableDef{Database: ndb, Table: nname, Columns: old.Columns}
			res.touch(set, odb, oname, nil)
			res.touch(set, ndb, nname, def)
		}
	case *ast.DropTableStmt:
		if s.IsView || s.TemporaryKeyword != ast.TemporaryNone {
			return nil
		}
		for _, t := range s.Tables {
			tdb, tname := nameOf(db, t)
			res.touch(set, tdb, tname, nil)
		}
	case *ast.TruncateTableStmt:
		tdb, tname := nameOf(db, s.Table)
		res.db, res.table = tdb, tname
	case *ast.DropDatabaseStmt:
		res.db = s.Name.O
		for k, t := range set {
			if t.Database == s.Name.O {
				delete(set, k)
				res.changed[k] = nil
			}
		}
	case *ast.CreateDatabaseStmt:
		res.db = s.Name.O
	case *ast.CreateIndexStmt:
		res.db, res.table = nameOf(db, s.Table)
	case *ast.DropIndexStmt:
		res.db, res.table = nameOf(db, s.Table)
	}
	// Other DDL (indexes, views, users, procedures...) leaves columns alone.
	return nil
}

// alterSpec applies one ALTER TABLE clause to def.
func alterSpec(def *tableDef, spec *ast.AlterTableSpec) error {
	switch spec.Tp {
	case ast.AlterTableAddColumns:
		for i, c := range spec.NewColumns {
			col := columnFromDef(c)
			if spec.IfNotExists && def.index(col.Name) >= 0 {
				continue
			}
			pos := spec.Position
			if i > 0 && pos != nil && pos.Tp != ast.ColumnPositionNone {
				// Several columns with one position: keep them in order after the first.
				pos = &ast.ColumnPosition{Tp: ast.ColumnPositionAfter, RelativeColumn: &ast.ColumnName{Name: ast.NewCIStr(def.Columns[def.index(columnFromDef(spec.NewColumns[i-1]).Name)].Name)}}
			}
			if err := def.insert(col, pos); err != nil {
				return err
			}
		}
		for _, c := range spec.NewConstraints {
			markPrimary(def, c)
		}
	case ast.AlterTableDropColumn:
		i := def.index(spec.OldColumnName.Name.O)
		if i < 0 {
			if spec.IfExists {
				return nil
			}
			return fmt.Errorf("DROP COLUMN %s: no such column", spec.OldColumnName.Name.O)
		}
		def.Columns = append(def.Columns[:i], def.Columns[i+1:]...)
	case ast.AlterTableModifyColumn, ast.AlterTableChangeColumn:
		oldName := ""
		if spec.Tp == ast.AlterTableChangeColumn {
			oldName = spec.OldColumnName.Name.O
		} else {
			oldName = spec.NewColumns[0].Name.Name.O
		}
		i := def.index(oldName)
		if i < 0 {
			if spec.IfExists {
				return nil
			}
			return fmt.Errorf("column %s: no such column", oldName)
		}
		col := columnFromDef(spec.NewColumns[0])
		col.Key = col.Key || def.Columns[i].Key
		def.Columns = append(def.Columns[:i], def.Columns[i+1:]...)
		if spec.Position == nil || spec.Position.Tp == ast.ColumnPositionNone {
			def.Columns = append(def.Columns[:i], append([]colDef{col}, def.Columns[i:]...)...)
			return nil
		}
		return def.insert(col, spec.Position)
	case ast.AlterTableRenameColumn:
		i := def.index(spec.OldColumnName.Name.O)
		if i < 0 {
			return fmt.Errorf("RENAME COLUMN %s: no such column", spec.OldColumnName.Name.O)
		}
		def.Columns[i].Name = spec.NewColumnName.Name.O
	case ast.AlterTableAddConstraint:
		markPrimary(def, spec.Constraint)
	case ast.AlterTableDropPrimaryKey:
		for i := range def.Columns {
			def.Columns[i].Key = false
		}
	case ast.AlterTableAlterColumn:
		// SET/DROP DEFAULT: no change of shape.
	}
	return nil
}

// index returns the position of the column named name (case-insensitive,
// as MySQL compares column names), or -1.
func (t *tableDef) index(name string) int {
	for i, c := range t.Columns {
		if strings.EqualFold(c.Name, name) {
			return i
		}
	}
	return -1
}

// insert places col at pos (nil or none = last).
func (t *tableDef) insert(col colDef, pos *ast.ColumnPosition) error {
	at := len(t.Columns)
	if pos != nil {
		switch pos.Tp {
		case ast.ColumnPositionFirst:
			at = 0
		case ast.ColumnPositionAfter:
			i := t.index(pos.RelativeColumn.Name.O)
			if i < 0 {
				return fmt.Errorf("AFTER %s: no such column", pos.RelativeColumn.Name.O)
			}
			at = i + 1
		}
	}
	t.Columns = append(t.Columns[:at], append([]colDef{col}, t.Columns[at:]...)...)
	return nil
}

// markPrimary sets Key on the columns of a PRIMARY KEY constraint.
func markPrimary(def *tableDef, c *ast.Constraint) {
	if c == nil || c.Tp != ast.ConstraintPrimaryKey {
		return
	}
	for _, k := range c.Keys {
		if k.Column == nil {
			continue
		}
		if i := def.index(k.Column.Name.O); i >= 0 {
			def.Columns[i].Key = true
			def.Columns[i].Nullable = false
		}
	}
}

// columnFromDef turns a parsed column definition into a colDef.
func columnFromDef(c *ast.ColumnDef) colDef {
	col := colDef{Name: c.Name.Name.O, Nullable: true}
	if c.Tp != nil {
		col.Type = columnTypeText(c.Tp)
	}
	for _, o := range c.Options {
		switch o.Tp {
		case ast.ColumnOptionNotNull:
			col.Nullable = false
		case ast.ColumnOptionNull:
			col.Nullable = true
		case ast.ColumnOptionPrimaryKey:
			col.Key = true
			col.Nullable = false
		}
	}
	return col
}

// columnTypeText renders a parsed type the way information_schema's
// COLUMN_TYPE does, in lower case ("int(11) unsigned", "varchar(20)").
func columnTypeText(ft *types.FieldType) string {
	s := strings.ToLower(ft.InfoSchemaStr())
	// The parser gives unsigned integers the signed default width; the
	// server shows one digit less (no sign).
	for _, w := range [...]struct{ signed, unsigned string }{
		{"tinyint(4) unsigned", "tinyint(3) unsigned"},
		{"smallint(6) unsigned", "smallint(5) unsigned"},
		{"mediumint(9) unsigned", "mediumint(8) unsigned"},
		{"int(11) unsigned", "int(10) unsigned"},
	} {
		if strings.HasPrefix(s, w.signed) {
			return w.unsigned + s[len(w.signed):]
		}
	}
	return s
}
