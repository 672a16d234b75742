package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sluice-cdc/sluice/change"
)

// catalog answers what pgoutput does not say: the kind of a non-built-in
// type (enum, domain, array, range, composite), enum labels, column
// nullability, declared types and primary keys. It uses an ordinary (not
// replication) connection, so it can be asked while the replication
// connection streams. Answers are cached per OID.
type catalog struct {
	conn  *pgconn.PgConn
	types map[uint32]*pgType
}

func newCatalog(conn *pgconn.PgConn) *catalog {
	return &catalog{conn: conn, types: builtinTypes()}
}

// query runs one parameterised statement and returns its text rows.
func (c *catalog) query(ctx context.Context, sql string, args ...string) ([][][]byte, error) {
	params := make([][]byte, len(args))
	for i, a := range args {
		params[i] = []byte(a)
	}
	res := c.conn.ExecParams(ctx, sql, params, nil, nil, nil).Read()
	if res.Err != nil {
		return nil, res.Err
	}
	return res.Rows, nil
}

// typ returns the type with the given OID, asking the catalog once.
func (c *catalog) typ(ctx context.Context, oid uint32) (*pgType, error) {
	if t, ok := c.types[oid]; ok {
		return t, nil
	}
	t, err := c.loadType(ctx, oid, 0)
	if err != nil {
		return nil, err
	}
	c.types[oid] = t
	return t, nil
}

func (c *catalog) loadType(ctx context.Context, oid uint32, depth int) (*pgType, error) {
	if depth > 8 {
		return nil, fmt.Errorf("postgres: type %d: nesting too deep", oid)
	}
	rows, err := c.query(ctx, `SELECT format_type(t.oid, NULL), t.typtype, t.typcategory, t.typelem, t.typbasetype, t.typdelim
		FROM pg_catalog.pg_type t WHERE t.oid = $1`, strconv.FormatUint(uint64(oid), 10))
	if err != nil {
		return nil, fmt.Errorf("postgres: look up type %d: %w", oid, err)
	}
	if len(rows) == 0 {
		// Dropped since the change was written: keep values as text.
		return &pgType{OID: oid, Name: "oid " + strconv.FormatUint(uint64(oid), 10), Class: classOther, Delim: ','}, nil
	}
	r := rows[0]
	t := &pgType{OID: oid, Name: string(r[0]), Class: classOther, Delim: ','}
	if len(r[5]) == 1 {
		t.Delim = r[5][0]
	}
	elem, _ := strconv.ParseUint(string(r[3]), 10, 32)
	base, _ := strconv.ParseUint(string(r[4]), 10, 32)
	switch {
	case string(r[1]) == "d" && base != 0:
		b, err := c.typ(ctx, uint32(base))
		if err != nil {
			return nil, err
		}
		// A domain decodes as its base type; the column keeps the domain's name.
		t.Base, t.Class, t.Delim = b, b.Class, b.Delim
	case string(r[1]) == "e":
		if err := c.loadLabels(ctx, t); err != nil {
			return nil, err
		}
		t.Class = classEnum
	case string(r[2]) == "A" && elem != 0:
		e, err := c.typ(ctx, uint32(elem))
		if err != nil {
			return nil, err
		}
		t.Class, t.Elem, t.Delim = classArray, e, e.Delim
	}
	return t, nil
}

// loadLabels (re)reads an enum's labels in sort order.
func (c *catalog) loadLabels(ctx context.Context, t *pgType) error {
	rows, err := c.query(ctx, `SELECT enumlabel FROM pg_catalog.pg_enum WHERE enumtypid = $1 ORDER BY enumsortorder`,
		strconv.FormatUint(uint64(t.OID), 10))
	if err != nil {
		return fmt.Errorf("postgres: read labels of enum %s: %w", t.Name, err)
	}
	labels := make(map[string]uint64, len(rows))
	for i, r := range rows {
		labels[string(r[0])] = uint64(i + 1)
	}
	t.Labels = labels
	return nil
}

// columnInfo is what the catalog says about one column now.
type columnInfo struct {
	NotNull bool
	Type    string
	PK      bool
}

// columns reads the current catalog entry of a relation, by column name.
// A relation dropped since the change was written gives an empty map.
func (c *catalog) columns(ctx context.Context, relid uint32) (map[string]columnInfo, error) {
	rows, err := c.query(ctx, `SELECT a.attname, a.attnotnull, format_type(a.atttypid, a.atttypmod),
			coalesce(a.attnum = ANY (i.indkey), false)
		FROM pg_catalog.pg_attribute a
		LEFT JOIN pg_catalog.pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
		WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped`, strconv.FormatUint(uint64(relid), 10))
	if err != nil {
		return nil, fmt.Errorf("postgres: read columns of relation %d: %w", relid, err)
	}
	m := make(map[string]columnInfo, len(rows))
	for _, r := range rows {
		m[string(r[0])] = columnInfo{NotNull: string(r[1]) == "t", Type: string(r[2]), PK: string(r[3]) == "t"}
	}
	return m, nil
}

// relation is a table as the last Relation message described it, with the
// decoding of each column resolved.
type relation struct {
	ns       change.Namespace
	identity byte
	cols     []change.Column
	identKey []bool // column is part of the replica identity ('K' tuples)
	types    []*pgType
	mods     []int32
}

// buildRelation resolves a Relation message into a relation.
func (c *catalog) buildRelation(ctx context.Context, m *message) (*relation, error) {
	info, err := c.columns(ctx, m.RelID)
	if err != nil {
		return nil, err
	}
	rel := &relation{
		ns:       change.Namespace{Database: m.Namespace, Table: m.Name},
		identity: m.Identity,
		cols:     make([]change.Column, len(m.Columns)),
		identKey: make([]bool, len(m.Columns)),
		types:    make([]*pgType, len(m.Columns)),
		mods:     make([]int32, len(m.Columns)),
	}
	for i, col := range m.Columns {
		t, err := c.typ(ctx, col.OID)
		if err != nil {
			return nil, fmt.Errorf("postgres: relation %s.%s column %q: %w", m.Namespace, m.Name, col.Name, err)
		}
		rel.types[i], rel.mods[i], rel.identKey[i] = t, col.TypMod, col.Key
		cc := change.Column{Name: col.Name, Type: t.Name, Nullable: true, Key: col.Key}
		if ci, ok := info[col.Name]; ok {
			cc.Type, cc.Nullable = ci.Type, !ci.NotNull
			if m.Identity == identityFull {
				// FULL marks every column as identity; the key is the primary key.
				cc.Key = ci.PK
			}
		}
		rel.cols[i] = cc
	}
	return rel, nil
}

// decodeValue decodes column i of a tuple, reloading enum labels once when
// the server sends a label added after they were read.
func (c *catalog) decodeValue(ctx context.Context, rel *relation, i int, col tupleCol) (change.Value, error) {
	switch col.Kind {
	case tupleNull:
		return change.Null(), nil
	case tupleUnchanged:
		return change.Unchanged(), nil
	case tupleText, tupleBinary:
	default:
		return change.Value{}, fmt.Errorf("unknown column value kind %q", col.Kind)
	}
	t := rel.types[i]
	decode := decodeText
	if col.Kind == tupleBinary {
		decode = decodeBinary
	}
	v, err := decode(t, rel.mods[i], col.Data)
	if errors.Is(err, errUnknownLabel) {
		enum := enumOf(t)
		if enum == nil {
			return change.Value{}, err
		}
		if err := c.loadLabels(ctx, enum); err != nil {
			return change.Value{}, err
		}
		v, err = decode(t, rel.mods[i], col.Data)
	}
	if errors.Is(err, errBinaryFallback) {
		return change.Value{}, fmt.Errorf("%w: column %s of %s.%s, type %s", errBinaryFallback, rel.cols[i].Name, rel.ns.Database, rel.ns.Table, t.Name)
	}
	return v, err
}

// enumOf returns the enum type whose labels t decodes with (t itself, the
// base of a domain, or the element of an array).
func enumOf(t *pgType) *pgType {
	for d := 0; t != nil && d < 8; d++ {
		switch {
		case t.Base != nil:
			t = t.Base
		case t.Class == classEnum:
			return t
		case t.Class == classArray:
			t = t.Elem
		default:
			return nil
		}
	}
	return nil
}
