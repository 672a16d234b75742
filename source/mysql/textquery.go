package mysql

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"

	"github.com/sluice-cdc/sluice/binlog"
)

// comQuery is COM_QUERY: run a statement, text protocol.
const comQuery = 0x03

// textReader reads result sets straight from a replica connection's
// socket, for the snapshot's row reads: of the text protocol (query), and
// of prepared statements (prepare, execute: binquery.go). Each row's
// values are slices of a reused buffer, so a value costs no allocation
// (go-sql-driver boxes every one into an interface, go-mysql copies every
// packet three times). It is used only between a command it sent and the
// end of that command's response, when go-mysql has nothing buffered.
type textReader struct {
	r    *replica
	br   *bufio.Reader
	seq  uint8
	big  []byte   // a packet larger than br's buffer, or split in several
	vals [][]byte // the current row's values
	out  []byte   // the command packet
	body []byte   // a command's body (COM_QUERY, COM_STMT_EXECUTE)
	cols []wireCol
}

// newTextReader returns a textReader on r's connection.
func newTextReader(r *replica) *textReader {
	return &textReader{r: r, br: bufio.NewReaderSize(r.c.Conn.Conn, textBuffer)}
}

// textBuffer is the size of a textReader's buffer. Larger than the usual
// 64 KiB: fewer reads, and fewer packets straddling its end. On a 2 M-row
// table of ~100-byte rows, 512 KiB took 3-6 % less wall time and CPU than
// 64 KiB (two sets of 6 and 8 interleaved runs).
const textBuffer = 512 << 10

// maxPayload is the largest payload of one packet; a payload of exactly
// this length continues in the next packet.
const maxPayload = 1<<24 - 1

// packet returns the next packet's payload. It is valid until the next
// call.
func (t *textReader) packet() ([]byte, error) {
	t.big = t.big[:0]
	for {
		hdr, err := t.br.Peek(4)
		if err != nil {
			return nil, t.readErr(err)
		}
		n := int(hdr[0]) | int(hdr[1])<<8 | int(hdr[2])<<16
		if hdr[3] != t.seq {
			return nil, fmt.Errorf("mysql: packet out of order: sequence %d, want %d", hdr[3], t.seq)
		}
		t.br.Discard(4)
		t.seq++
		if n < maxPayload && len(t.big) == 0 && n <= t.br.Size() {
			p, err := t.br.Peek(n)
			if err != nil {
				return nil, t.readErr(err)
			}
			t.br.Discard(n)
			return p, nil
		}
		start := len(t.big)
		t.big = slices.Grow(t.big, n)[:start+n]
		if _, err := io.ReadFull(t.br, t.big[start:]); err != nil {
			return nil, t.readErr(err)
		}
		if n < maxPayload {
			return t.big, nil
		}
	}
}

// readErr is the error of a failed read: the connection is unusable.
func (t *textReader) readErr(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("mysql: read a result: %w", cleanConnErr(err))
}

// isEOF reports whether p is an EOF packet: 0xfe and shorter than the 9
// bytes a row starting with an 8-byte length has at least. go-mysql never
// asks for CLIENT_DEPRECATE_EOF, so a result set's column definitions and
// its rows each end with one.
func isEOF(p []byte) bool { return len(p) > 0 && p[0] == 0xfe && len(p) < 9 }

// query runs q and calls row with each row's values (nil for NULL),
// slices valid until row returns. The result must have ncols columns. A
// statement that returns no result set is an error. After an error of
// row, the rest of the result set is read and dropped, so the connection
// stays usable. It returns how many rows row was called with.
func (t *textReader) query(q []byte, ncols int, row func([][]byte) error) (int, error) {
	t.body = appendQuery(t.body[:0], q, t.r.queryAttrs)
	if err := t.send(comQuery, t.body, "a query"); err != nil {
		return 0, err
	}
	if cap(t.vals) < ncols {
		t.vals = make([][]byte, ncols)
	}
	vals := t.vals[:ncols]
	n := 0
	err := t.result(ncols, nil, func(p []byte) error {
		if err := splitRow(p, vals); err != nil {
			return err
		}
		n++
		return row(vals)
	})
	return n, err
}

// result reads the response to a command that returns a result set: the
// column count, the column definitions (each handed to def, unless nil),
// then the rows (each handed to row, valid until it returns). The result
// must have ncols columns. After an error of row, or a column count that
// is not ncols, the rest is read and dropped, so the connection stays
// usable, and that error is returned.
func (t *textReader) result(ncols int, def func([]byte) error, row func([]byte) error) error {
	p, err := t.packet()
	if err != nil {
		return err
	}
	switch p[0] {
	case 0xff:
		return t.r.c.HandleErrorPacket(append([]byte(nil), p...))
	case 0x00:
		return errors.New("mysql: the query returned no result set")
	case 0xfb:
		return errors.New("mysql: the server asked for a local file (LOAD DATA LOCAL), which a snapshot never sends")
	}
	cols, _, _ := binlog.ReadLenenc(p)
	for range cols {
		p, err := t.packet()
		if err != nil {
			return err
		}
		if def != nil {
			if err := def(p); err != nil {
				return err
			}
		}
	}
	if p, err := t.packet(); err != nil {
		return err
	} else if !isEOF(p) {
		return errors.New("mysql: result set: no EOF after the column definitions")
	}
	var failed error
	if int(cols) != ncols {
		failed = fmt.Errorf("the query returned %d columns, want %d", cols, ncols)
	}
	for {
		p, err := t.packet()
		if err != nil {
			return err
		}
		if isEOF(p) {
			return failed
		}
		if p[0] == 0xff {
			return t.r.c.HandleErrorPacket(append([]byte(nil), p...))
		}
		if failed != nil {
			continue
		}
		failed = row(p)
	}
}

// appendQuery appends COM_QUERY's body for q: with query attributes
// (attrs), first a count of none and a parameter set count of one.
func appendQuery(dst, q []byte, attrs bool) []byte {
	if attrs {
		dst = append(dst, 0, 1)
	}
	return append(dst, q...)
}

// splitRow fills vals with the length-encoded strings of a text-protocol
// row (nil for NULL, 0xfb).
func splitRow(p []byte, vals [][]byte) error {
	pos := 0
	for i := range vals {
		if pos >= len(p) {
			return fmt.Errorf("mysql: a row of %d bytes ends before its column %d", len(p), i+1)
		}
		c := p[pos]
		if c == 0xfb {
			vals[i] = nil
			pos++
			continue
		}
		n, size, ok := binlog.ReadLenenc(p[pos:])
		if !ok {
			return fmt.Errorf("mysql: a row has a bad length byte 0x%02x at column %d", c, i+1)
		}
		pos += size
		if n > uint64(len(p)-pos) {
			return fmt.Errorf("mysql: a row of %d bytes ends inside its column %d", len(p), i+1)
		}
		// Never nil, even when empty: nil is NULL.
		vals[i] = p[pos : pos+int(n) : pos+int(n)]
		pos += int(n)
	}
	return nil
}

// appendLiteral appends the SQL literal of a query argument (the types
// keyArg returns, and int), as go-sql-driver interpolates them: strings
// quoted with backslash escapes (the snapshot session's sql_mode is empty),
// bytes as _binary strings.
func appendLiteral(dst []byte, a any) ([]byte, error) {
	switch v := a.(type) {
	case int:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(dst, v, 10), nil
	case uint64:
		return strconv.AppendUint(dst, v, 10), nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("mysql: no SQL literal for %v", v)
		}
		return strconv.AppendFloat(dst, v, 'g', -1, 64), nil
	case string:
		return appendQuoted(append(dst, '\''), v), nil
	case []byte:
		return appendQuoted(append(dst, "_binary'"...), string(v)), nil
	}
	return nil, fmt.Errorf("mysql: no SQL literal for a %T", a)
}

// appendQuoted appends s escaped as MySQL reads a quoted string with
// backslash escapes, and the closing quote.
func appendQuoted(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
			dst = append(dst, '\\', '0')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case 0x1a:
			dst = append(dst, '\\', 'Z')
		case '\'', '"', '\\':
			dst = append(dst, '\\', c)
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '\'')
}

// interpolate replaces each ? of q outside backquoted names with the
// literal of the next argument (the snapshot's queries hold no other
// quoted text; a doubled backquote inside a name toggles twice).
func interpolate(dst []byte, q string, args []any) ([]byte, error) {
	k, quoted := 0, false
	for i := 0; i < len(q); i++ {
		switch c := q[i]; {
		case c == '`':
			quoted = !quoted
		case c == '?' && !quoted:
			if k == len(args) {
				return nil, fmt.Errorf("mysql: query has more placeholders than its %d arguments", len(args))
			}
			var err error
			if dst, err = appendLiteral(dst, args[k]); err != nil {
				return nil, err
			}
			k++
			continue
		}
		dst = append(dst, q[i])
	}
	if k != len(args) {
		return nil, fmt.Errorf("mysql: query has %d placeholders for %d arguments", k, len(args))
	}
	return dst, nil
}
