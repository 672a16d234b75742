package mysql

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/sluice-cdc/sluice/binlog"
)

// The prepared statements' commands.
const (
	comStmtPrepare = 0x16
	comStmtExecute = 0x17
	comStmtClose   = 0x19
)

// The column types of the binary protocol whose values are not
// length-encoded strings (MYSQL_TYPE_*).
const (
	wireTiny      = 1
	wireShort     = 2
	wireLong      = 3
	wireFloat     = 4
	wireDouble    = 5
	wireNull      = 6
	wireTimestamp = 7
	wireLongLong  = 8
	wireInt24     = 9
	wireDate      = 10
	wireTime      = 11
	wireDateTime  = 12
	wireYear      = 13
	wireBlob      = 0xfc
	wireString    = 0xfe
)

// wireUnsigned is the UNSIGNED flag of a column definition.
const wireUnsigned = 0x20

// wireCol is a result column's type as the server sends it.
type wireCol struct {
	typ      byte
	unsigned bool
}

// stmt is a statement prepared on a textReader's connection: its
// server-side id and how many parameters it takes.
type stmt struct {
	id     uint32
	params int
}

// send sends one command packet (cmd and body) and expects the
// response's first packet next.
func (t *textReader) send(cmd byte, body []byte, what string) error {
	nc := t.r.c.Conn.Conn
	// go-mysql sets a read deadline before each of its reads: clear it.
	if err := nc.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("mysql: %w", cleanConnErr(err))
	}
	t.r.c.ResetSequence()
	t.out = append(append(t.out[:0], 0, 0, 0, 0, cmd), body...)
	if err := t.r.c.WritePacket(t.out); err != nil {
		return fmt.Errorf("mysql: send %s: %w", what, cleanConnErr(err))
	}
	t.seq = 1
	return nil
}

// prepare prepares q (COM_STMT_PREPARE). The statement lives as long as
// the connection.
func (t *textReader) prepare(q string) (stmt, error) {
	if err := t.send(comStmtPrepare, []byte(q), "a statement to prepare"); err != nil {
		return stmt{}, err
	}
	p, err := t.packet()
	if err != nil {
		return stmt{}, err
	}
	if p[0] == 0xff {
		return stmt{}, t.r.c.HandleErrorPacket(append([]byte(nil), p...))
	}
	if p[0] != 0 || len(p) < 12 {
		return stmt{}, fmt.Errorf("mysql: a bad answer to COM_STMT_PREPARE (%d bytes, first 0x%02x)", len(p), p[0])
	}
	s := stmt{id: binary.LittleEndian.Uint32(p[1:]), params: int(binary.LittleEndian.Uint16(p[7:]))}
	cols := int(binary.LittleEndian.Uint16(p[5:]))
	// The parameters' definitions, then the columns', each list ending
	// with an EOF packet (go-mysql never asks for CLIENT_DEPRECATE_EOF).
	for _, n := range []int{s.params, cols} {
		if n == 0 {
			continue
		}
		for range n {
			if _, err := t.packet(); err != nil {
				return stmt{}, err
			}
		}
		if p, err := t.packet(); err != nil {
			return stmt{}, err
		} else if !isEOF(p) {
			return stmt{}, errors.New("mysql: COM_STMT_PREPARE: no EOF after the definitions")
		}
	}
	return s, nil
}

// closeStmt deallocates s on the server (COM_STMT_CLOSE, which has no
// answer).
func (t *textReader) closeStmt(s stmt) error {
	return t.send(comStmtClose, binary.LittleEndian.AppendUint32(t.body[:0], s.id), "a statement to close")
}

// execute runs s with args (the types appendLiteral takes, and nil) and
// calls row with each binary-protocol row and the result's column types;
// the row is valid until row returns. The result must have ncols columns.
// As query does, it reads the rest of the result after an error of row,
// and returns how many rows row was called with.
func (t *textReader) execute(s stmt, args []any, ncols int, row func(cols []wireCol, p []byte) error) (int, error) {
	if len(args) != s.params {
		return 0, fmt.Errorf("mysql: the statement takes %d parameters, not %d", s.params, len(args))
	}
	body, err := appendExecute(t.body[:0], s, args, t.r.queryAttrs)
	t.body = body
	if err != nil {
		return 0, err
	}
	if err := t.send(comStmtExecute, body, "a statement to execute"); err != nil {
		return 0, err
	}
	t.cols = t.cols[:0]
	count := 0
	err = t.result(ncols, func(p []byte) error {
		c, err := parseColumnType(p)
		t.cols = append(t.cols, c)
		return err
	}, func(p []byte) error {
		count++
		return row(t.cols, p)
	})
	return count, err
}

// appendExecute appends COM_STMT_EXECUTE's body for s with args: no
// cursor, one iteration, the parameters' types sent every time. With
// query attributes (attrs) the parameters are counted first and each type
// is followed by a name, empty.
func appendExecute(dst []byte, s stmt, args []any, attrs bool) ([]byte, error) {
	dst = binary.LittleEndian.AppendUint32(dst, s.id)
	dst = append(dst, 0)                           // flags: CURSOR_TYPE_NO_CURSOR
	dst = binary.LittleEndian.AppendUint32(dst, 1) // iteration count
	if len(args) == 0 {
		return dst, nil
	}
	if attrs {
		dst = binlog.AppendLenenc(dst, uint64(len(args)))
	}
	nulls := len(dst)
	for range (len(args) + 7) / 8 {
		dst = append(dst, 0)
	}
	dst = append(dst, 1) // new_params_bound_flag: the types follow
	types, step := len(dst), 2
	if attrs {
		step = 3
	}
	for range args {
		dst = append(dst, 0, 0)
		if attrs {
			dst = append(dst, 0) // the name: none
		}
	}
	for i, a := range args {
		typ, flag := byte(wireLongLong), byte(0)
		switch v := a.(type) {
		case nil:
			dst[nulls+i/8] |= 1 << (i % 8)
			typ = wireNull
		case int:
			dst = binary.LittleEndian.AppendUint64(dst, uint64(v))
		case int64:
			dst = binary.LittleEndian.AppendUint64(dst, uint64(v))
		case uint64:
			dst = binary.LittleEndian.AppendUint64(dst, v)
			flag = 0x80
		case float64:
			typ = wireDouble
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
		case string:
			// A string in the connection's character set, as a quoted
			// literal is.
			typ = wireString
			dst = append(binlog.AppendLenenc(dst, uint64(len(v))), v...)
		case []byte:
			// A BLOB parameter is a binary string, as _binary'…' is.
			typ = wireBlob
			dst = append(binlog.AppendLenenc(dst, uint64(len(v))), v...)
		default:
			return dst, fmt.Errorf("mysql: no statement parameter for a %T", a)
		}
		dst[types+step*i], dst[types+step*i+1] = typ, flag
	}
	return dst, nil
}

// parseColumnType reads a column definition (Protocol::ColumnDefinition41)
// for its type and UNSIGNED flag.
func parseColumnType(p []byte) (wireCol, error) {
	pos := 0
	// catalog, schema, table, org_table, name, org_name
	for range 6 {
		n, size, ok := binlog.ReadLenenc(p[pos:])
		if !ok || n > uint64(len(p)-pos-size) {
			return wireCol{}, fmt.Errorf("mysql: a column definition of %d bytes is cut short", len(p))
		}
		pos += size + int(n)
	}
	// The fixed fields' length (0x0c), character set (2), length (4),
	// type (1), flags (2), decimals (1).
	if len(p)-pos < 11 {
		return wireCol{}, fmt.Errorf("mysql: a column definition of %d bytes is cut short", len(p))
	}
	return wireCol{typ: p[pos+7], unsigned: p[pos+8]&wireUnsigned != 0}, nil
}
