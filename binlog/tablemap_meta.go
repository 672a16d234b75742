package binlog

import (
	"fmt"
)

// decodeOptional decodes the optional metadata TLVs that follow the null
// bitmap. Unknown field types are skipped by their length.
func (t *TableMap) decodeOptional(b []byte) error {
	var (
		enumVals, setVals        [][][]byte
		defColl, colColl         []uint64
		enumDefColl, enumColColl []uint64
	)
	for len(b) > 0 {
		typ := b[0]
		l, n, ok := ReadLenenc(b[1:])
		if !ok || l > uint64(len(b)-1-n) {
			return fmt.Errorf("%w: optional metadata field %d", ErrTruncated, typ)
		}
		v := b[1+n : 1+n+int(l)]
		b = b[1+n+int(l):]
		t.HasFullMetadata = true
		var err error
		switch typ {
		case tmSignedness:
			t.applySignedness(v)
		case tmDefaultCharset:
			defColl, err = packedInts(v, "default charset")
			if err == nil && len(defColl)%2 != 1 {
				err = fmt.Errorf("%w: default charset has %d numbers", errTableMapMeta, len(defColl))
			}
		case tmColumnCharset:
			colColl, err = packedInts(v, "column charset")
		case tmColumnName:
			err = t.decodeNames(v)
		case tmSetStrValue:
			setVals, err = strValues(v)
		case tmEnumStrValue:
			enumVals, err = strValues(v)
		case tmGeometryType:
			var g []uint64
			g, err = packedInts(v, "geometry type")
			j := 0
			for i := range t.cols {
				if t.cols[i].real == TypeGeometry && j < len(g) {
					t.cols[i].geoType = int(min(g[j], 255))
					j++
				}
			}
		case tmSimplePrimaryKey:
			var k []uint64
			k, err = packedInts(v, "primary key")
			for _, c := range k {
				err = t.addKey(c, 0, err)
			}
		case tmPrimaryKeyWithPrefix:
			var k []uint64
			k, err = packedInts(v, "primary key with prefix")
			if err == nil && len(k)%2 != 0 {
				err = fmt.Errorf("%w: primary key with prefix has %d numbers", errTableMapMeta, len(k))
			}
			for i := 0; err == nil && i+1 < len(k); i += 2 {
				err = t.addKey(k[i], k[i+1], err)
			}
		case tmEnumAndSetDefaultChset:
			enumDefColl, err = packedInts(v, "enum/set default charset")
			if err == nil && len(enumDefColl)%2 != 1 {
				err = fmt.Errorf("%w: enum/set default charset has %d numbers", errTableMapMeta, len(enumDefColl))
			}
		case tmEnumAndSetColumnChset:
			enumColColl, err = packedInts(v, "enum/set column charset")
		case tmColumnVisibility:
			for i := range t.cols {
				if i/8 < len(v) {
					t.cols[i].visible = v[i/8]&(0x80>>(uint(i)%8)) != 0
				}
			}
		}
		if err != nil {
			return err
		}
	}
	isChar := func(c *colInfo) bool { return c.isCharacter(t.mariaDB) }
	isEnum := func(c *colInfo) bool { return c.isEnumOrSet() }
	if err := t.applyCollations(isChar, defColl, colColl); err != nil {
		return err
	}
	if err := t.applyCollations(isEnum, enumDefColl, enumColColl); err != nil {
		return err
	}
	if err := t.applyMembers(TypeEnum, enumVals); err != nil {
		return err
	}
	return t.applyMembers(TypeSet, setVals)
}

// applySignedness sets unsigned from a bitmap with one bit (MSB first) per numeric column.
func (t *TableMap) applySignedness(v []byte) {
	j := 0
	for i := range t.cols {
		c := &t.cols[i]
		if !c.isNumeric() {
			continue
		}
		if j/8 < len(v) {
			c.unsigned = v[j/8]&(0x80>>(uint(j)%8)) != 0
		}
		j++
	}
}

func (t *TableMap) addKey(col, prefix uint64, err error) error {
	if err != nil {
		return err
	}
	if col >= uint64(len(t.cols)) {
		return fmt.Errorf("%w: primary key column %d of %d", errTableMapMeta, col, len(t.cols))
	}
	t.PrimaryKey = append(t.PrimaryKey, int(col))
	t.PrimaryKeyPrefix = append(t.PrimaryKeyPrefix, int(min(prefix, 1<<31)))
	return nil
}

// applyCollations assigns collation ids to the columns selected by include,
// from either the default-charset form (default, then index/collation
// pairs over the selected columns) or the per-column form.
func (t *TableMap) applyCollations(include func(*colInfo) bool, def, per []uint64) error {
	if len(def) > 0 {
		k := 1
		j := uint64(0)
		for i := range t.cols {
			c := &t.cols[i]
			if !include(c) {
				continue
			}
			coll := def[0]
			if k+1 < len(def) && def[k] == j {
				coll = def[k+1]
				k += 2
			}
			c.coll = uint32(min(coll, 1<<31))
			j++
		}
		return nil
	}
	if len(per) > 0 {
		j := 0
		for i := range t.cols {
			c := &t.cols[i]
			if !include(c) {
				continue
			}
			if j >= len(per) {
				return fmt.Errorf("%w: %d column charsets for more columns", errTableMapMeta, len(per))
			}
			c.coll = uint32(min(per[j], 1<<31))
			j++
		}
	}
	return nil
}

// applyMembers gives each ENUM (or SET) column its member list, decoded
// from the column's charset to UTF-8.
func (t *TableMap) applyMembers(real ColumnType, vals [][][]byte) error {
	if vals == nil {
		return nil
	}
	j := 0
	for i := range t.cols {
		c := &t.cols[i]
		if c.real != real {
			continue
		}
		if j >= len(vals) {
			return fmt.Errorf("%w: %d member lists for more columns", errTableMapMeta, len(vals))
		}
		cs := collationCharset(c.coll)
		members := vals[j]
		if enc := cs.encoding(); enc != nil && c.coll != 0 {
			dec := enc.NewDecoder()
			for k := range members {
				if u, err := dec.Bytes(members[k]); err == nil {
					members[k] = u
				}
			}
		}
		c.members = members
		j++
	}
	return nil
}

func (t *TableMap) decodeNames(v []byte) error {
	names := make([]string, 0, len(t.cols))
	for len(v) > 0 {
		l, n, ok := ReadLenenc(v)
		if !ok || l > uint64(len(v)-n) {
			return fmt.Errorf("%w: column name", ErrTruncated)
		}
		names = append(names, string(v[n:n+int(l)]))
		v = v[n+int(l):]
	}
	if len(names) != len(t.cols) {
		return fmt.Errorf("%w: %d column names for %d columns", errTableMapMeta, len(names), len(t.cols))
	}
	t.names = names
	return nil
}

// packedInts decodes a sequence of packed integers.
func packedInts(v []byte, what string) ([]uint64, error) {
	var out []uint64
	for len(v) > 0 {
		x, n, ok := ReadLenenc(v)
		if !ok {
			return nil, fmt.Errorf("%w: %s", ErrTruncated, what)
		}
		out = append(out, x)
		v = v[n:]
	}
	return out, nil
}

// strValues decodes ENUM/SET member lists: per column a packed count, then
// that many packed-length strings.
func strValues(v []byte) ([][][]byte, error) {
	var out [][][]byte
	for len(v) > 0 {
		cnt, n, ok := ReadLenenc(v)
		if !ok || cnt > uint64(len(v)) {
			return nil, fmt.Errorf("%w: member count", ErrTruncated)
		}
		v = v[n:]
		vals := make([][]byte, 0, int(cnt))
		for i := uint64(0); i < cnt; i++ {
			l, n, ok := ReadLenenc(v)
			if !ok || l > uint64(len(v)-n) {
				return nil, fmt.Errorf("%w: member name", ErrTruncated)
			}
			vals = append(vals, append([]byte(nil), v[n:n+int(l)]...))
			v = v[n+int(l):]
		}
		out = append(out, vals)
	}
	return out, nil
}
