package tools

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/change"
)

// ErrNotFullImage is wrapped when a row change lacks columns that the SQL
// or the undo needs (binlog_row_image is not FULL).
var ErrNotFullImage = errors.New("row image is not FULL (set binlog_row_image=FULL)")

// ErrNoColumnNames is wrapped when a table's column names are unknown
// (binlog_row_metadata is not FULL).
var ErrNoColumnNames = errors.New("column names unknown (set binlog_row_metadata=FULL)")

// SQLPreamble is written before generated SQL: values of TIMESTAMP
// columns are printed in UTC.
const SQLPreamble = "SET time_zone = '+00:00';\n"

// appendIdent appends name quoted with backticks.
func appendIdent(dst []byte, name string) []byte {
	dst = append(dst, '`')
	for {
		i := strings.IndexByte(name, '`')
		if i < 0 {
			break
		}
		dst = append(dst, name[:i+1]...)
		dst = append(dst, '`')
		name = name[i+1:]
	}
	dst = append(dst, name...)
	return append(dst, '`')
}

// appendTable appends `db`.`table`.
func appendTable(dst []byte, c *change.Change) []byte {
	if c.Database != "" {
		dst = appendIdent(dst, c.Database)
		dst = append(dst, '.')
	}
	return appendIdent(dst, c.Table)
}

// sqlEscape holds the second byte of the escape of each byte that a SQL
// string literal escapes, 0 for the others.
var sqlEscape = [256]byte{0: '0', '\n': 'n', '\r': 'r', 0x1a: 'Z', '\\': '\\', '\'': '\''}

// appendString appends b as a quoted SQL string literal with MySQL escapes.
func appendString(dst, b []byte) []byte {
	dst = append(dst, '\'')
	start := 0
	for i, ch := range b {
		if e := sqlEscape[ch]; e != 0 {
			dst = append(dst, b[start:i]...)
			dst = append(dst, '\\', e)
			start = i + 1
		}
	}
	dst = append(dst, b[start:]...)
	return append(dst, '\'')
}

// appendHexLit appends b as X'...'.
func appendHexLit(dst, b []byte) []byte {
	const digits = "0123456789ABCDEF"
	dst = append(dst, "X'"...)
	for _, ch := range b {
		dst = append(dst, digits[ch>>4], digits[ch&15])
	}
	return append(dst, '\'')
}

// AppendLiteral appends v as an exact SQL literal for MySQL and MariaDB.
// Temporal values are quoted text; TIMESTAMPs are in UTC, so the SQL must
// run with time_zone '+00:00' (SQLPreamble).
func AppendLiteral(dst []byte, v change.Value) ([]byte, error) {
	switch v.Kind {
	case change.KindNull:
		return append(dst, "NULL"...), nil
	case change.KindBool:
		return strconv.AppendInt(dst, v.I, 10), nil
	case change.KindInt, change.KindUint, change.KindBit, change.KindDecimal, change.KindYear:
		return change.AppendText(dst, v), nil
	case change.KindFloat:
		if v.F != v.F || v.F > 1.7976931348623157e308 || v.F < -1.7976931348623157e308 {
			return dst, fmt.Errorf("float value %v has no SQL literal", v.F)
		}
		return change.AppendText(dst, v), nil
	case change.KindString, change.KindEnum, change.KindSet:
		dst = append(dst, "_utf8mb4"...)
		return appendString(dst, v.B), nil
	case change.KindBytes, change.KindVector:
		return appendHexLit(dst, v.B), nil
	case change.KindJSON:
		dst = append(dst, "CAST("...)
		dst = appendString(dst, v.B)
		return append(dst, " AS JSON)"...), nil
	case change.KindGeometry:
		// The server's own geometry format: SRID (little-endian) then WKB.
		b := binary.LittleEndian.AppendUint32(nil, uint32(v.U))
		return appendHexLit(dst, append(b, v.B...)), nil
	case change.KindDate, change.KindDateTime, change.KindTime:
		dst = append(dst, '\'')
		dst = change.AppendText(dst, v)
		return append(dst, '\''), nil
	case change.KindTimestamp:
		u := v
		u.Off, u.Zoned = 0, false
		dst = append(dst, '\'')
		dst = change.AppendText(dst, u)
		return append(dst, '\''), nil
	}
	return dst, fmt.Errorf("no SQL literal for a value of kind %d", v.Kind)
}

// checkImage fails when img lacks a column or a name.
func checkImage(c *change.Change, img []change.Value) error {
	for i := range c.Columns {
		if c.Columns[i].Name == "" {
			return fmt.Errorf("%s.%s: %w", c.Database, c.Table, ErrNoColumnNames)
		}
		if i >= len(img) || img[i].Kind == change.KindAbsent || img[i].Kind == change.KindUnchanged {
			return fmt.Errorf("%s.%s column %s: %w", c.Database, c.Table, c.Columns[i].Name, ErrNotFullImage)
		}
	}
	return nil
}

// appendInsert appends INSERT INTO t (cols) VALUES (img).
func appendInsert(dst []byte, c *change.Change, img []change.Value) ([]byte, error) {
	if err := checkImage(c, img); err != nil {
		return dst, err
	}
	dst = append(dst, "INSERT INTO "...)
	dst = appendTable(dst, c)
	dst = append(dst, " ("...)
	for i := range c.Columns {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = appendIdent(dst, c.Columns[i].Name)
	}
	dst = append(dst, ") VALUES ("...)
	for i := range c.Columns {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		var err error
		if dst, err = AppendLiteral(dst, img[i]); err != nil {
			return dst, fmt.Errorf("%s.%s column %s: %w", c.Database, c.Table, c.Columns[i].Name, err)
		}
	}
	return append(dst, ");\n"...), nil
}

// appendWhere appends " WHERE ..." matching the row img: on the key
// columns when the table has a primary key, else on every column (floats
// left out when other columns remain, as they rarely compare equal).
func appendWhere(dst []byte, c *change.Change, img []change.Value) ([]byte, error) {
	keyed := false
	for i := range c.Columns {
		keyed = keyed || c.Columns[i].Key
	}
	useFloat := true
	if !keyed {
		for i := range c.Columns {
			if img[i].Kind != change.KindFloat {
				useFloat = false
				break
			}
		}
	}
	dst = append(dst, " WHERE "...)
	n := 0
	for i := range c.Columns {
		if keyed && !c.Columns[i].Key || !keyed && img[i].Kind == change.KindFloat && !useFloat {
			continue
		}
		if n > 0 {
			dst = append(dst, " AND "...)
		}
		n++
		dst = appendIdent(dst, c.Columns[i].Name)
		dst = append(dst, " <=> "...)
		var err error
		if dst, err = AppendLiteral(dst, img[i]); err != nil {
			return dst, fmt.Errorf("%s.%s column %s: %w", c.Database, c.Table, c.Columns[i].Name, err)
		}
	}
	return append(dst, " LIMIT 1;\n"...), nil
}

// appendDelete appends DELETE FROM t WHERE <row img> LIMIT 1.
func appendDelete(dst []byte, c *change.Change, img []change.Value) ([]byte, error) {
	if err := checkImage(c, img); err != nil {
		return dst, err
	}
	dst = append(dst, "DELETE FROM "...)
	dst = appendTable(dst, c)
	return appendWhere(dst, c, img)
}

// appendUpdate appends UPDATE t SET <to> WHERE <row from> LIMIT 1.
func appendUpdate(dst []byte, c *change.Change, from, to []change.Value) ([]byte, error) {
	if err := checkImage(c, from); err != nil {
		return dst, err
	}
	if err := checkImage(c, to); err != nil {
		return dst, err
	}
	dst = append(dst, "UPDATE "...)
	dst = appendTable(dst, c)
	dst = append(dst, " SET "...)
	for i := range c.Columns {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = appendIdent(dst, c.Columns[i].Name)
		dst = append(dst, " = "...)
		var err error
		if dst, err = AppendLiteral(dst, to[i]); err != nil {
			return dst, fmt.Errorf("%s.%s column %s: %w", c.Database, c.Table, c.Columns[i].Name, err)
		}
	}
	return appendWhere(dst, c, from)
}

// AppendRedo appends the statement that applies the row change c again.
func AppendRedo(dst []byte, c *change.Change) ([]byte, error) {
	switch c.Op {
	case change.OpInsert:
		return appendInsert(dst, c, c.After)
	case change.OpDelete:
		return appendDelete(dst, c, c.Before)
	case change.OpUpdate:
		return appendUpdate(dst, c, c.Before, c.After)
	}
	return dst, fmt.Errorf("tools: no row statement for op %d", c.Op)
}

// AppendUndo appends the statement that undoes the row change c.
func AppendUndo(dst []byte, c *change.Change) ([]byte, error) {
	switch c.Op {
	case change.OpInsert:
		return appendDelete(dst, c, c.After)
	case change.OpDelete:
		return appendInsert(dst, c, c.Before)
	case change.OpUpdate:
		return appendUpdate(dst, c, c.After, c.Before)
	}
	return dst, fmt.Errorf("tools: no row statement for op %d", c.Op)
}
