package mysql

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"github.com/sluice-cdc/sluice/binlog"
	"github.com/sluice-cdc/sluice/change"
)

// decodeBinaryRow decodes a binary-protocol row p (a prepared statement's;
// wire are its columns' types) into out, one value per column of cols.
// Bytes values point into p. It allocates nothing.
func decodeBinaryRow(cols []snapColumn, wire []wireCol, p []byte, out []change.Value) error {
	if len(wire) != len(cols) || len(out) != len(cols) {
		return fmt.Errorf("mysql: a row of %d columns, want %d", len(wire), len(cols))
	}
	// A 0x00, then the NULL bitmap, whose first two bits are unused.
	nb := (len(cols) + 9) / 8
	if len(p) < 1+nb || p[0] != 0 {
		return fmt.Errorf("mysql: a bad binary row (%d bytes)", len(p))
	}
	nulls, pos := p[1:1+nb], 1+nb
	for i := range cols {
		if nulls[(i+2)/8]&(1<<((i+2)%8)) != 0 {
			out[i] = change.Null()
			continue
		}
		n, err := cols[i].decodeBin(wire[i], p[pos:], &out[i])
		if err != nil {
			return err
		}
		pos += n
	}
	if pos != len(p) {
		return fmt.Errorf("mysql: a binary row of %d bytes has %d left after its %d columns", len(p), len(p)-pos, len(cols))
	}
	return nil
}

// decodeBin decodes the binary-protocol value of c at the start of p,
// sent as type w, into out, and returns its length. Integers, floats,
// dates and times come as numbers; every other type as the text protocol
// sends it, which decode reads.
func (c *snapColumn) decodeBin(w wireCol, p []byte, out *change.Value) (int, error) {
	var size int
	switch w.typ {
	case wireTiny:
		size = 1
	case wireShort, wireYear:
		size = 2
	case wireLong, wireInt24, wireFloat:
		size = 4
	case wireLongLong, wireDouble:
		size = 8
	case wireNull:
		*out = change.Null()
		return 0, nil
	case wireDate, wireDateTime, wireTimestamp, wireTime:
		if len(p) == 0 || int(p[0]) >= len(p) {
			return 0, c.binErr(w, p, "cut short")
		}
		n := 1 + int(p[0])
		return n, c.decodeBinTemporal(w, p[1:n], out)
	default:
		n, size, ok := binlog.ReadLenenc(p)
		if !ok || n > uint64(len(p)-size) {
			return 0, c.binErr(w, p, "cut short")
		}
		end := size + int(n)
		return end, c.decode(p[size:end:end], out)
	}
	if len(p) < size {
		return 0, c.binErr(w, p, "cut short")
	}
	if w.typ == wireFloat || w.typ == wireDouble {
		var f float64
		if w.typ == wireFloat {
			f = float64(math.Float32frombits(binary.LittleEndian.Uint32(p)))
		} else {
			f = math.Float64frombits(binary.LittleEndian.Uint64(p))
		}
		switch c.kind {
		case tkFloat:
			*out = change.Float32(float32(f))
		case tkDouble:
			*out = change.Float64(f)
		default:
			return size, c.decode(strconv.AppendFloat(nil, f, 'g', -1, 64), out)
		}
		return size, nil
	}
	var u uint64
	switch size {
	case 1:
		u = uint64(p[0])
	case 2:
		u = uint64(binary.LittleEndian.Uint16(p))
	case 4:
		u = uint64(binary.LittleEndian.Uint32(p))
	default:
		u = binary.LittleEndian.Uint64(p)
	}
	i := int64(u)
	if !w.unsigned && size < 8 {
		// Sign-extend.
		shift := 64 - 8*size
		i = int64(u<<shift) >> shift
	}
	switch c.kind {
	case tkInt:
		*out = change.Int(i, c.size)
	case tkUint:
		*out = change.Uint(u, c.size)
	case tkYear:
		*out = change.Year(int(i))
	default:
		var num [24]byte
		if w.unsigned {
			return size, c.decode(strconv.AppendUint(num[:0], u, 10), out)
		}
		return size, c.decode(strconv.AppendInt(num[:0], i, 10), out)
	}
	return size, nil
}

// decodeBinTemporal decodes a DATE, DATETIME, TIMESTAMP (b: 0, 4, 7 or 11
// bytes) or TIME (0, 8 or 12) of the binary protocol.
func (c *snapColumn) decodeBinTemporal(w wireCol, b []byte, out *change.Value) error {
	if w.typ == wireTime {
		var neg bool
		var days, h, m, s int
		var us uint32
		switch len(b) {
		case 12:
			us = binary.LittleEndian.Uint32(b[8:])
			fallthrough
		case 8:
			neg = b[0] == 1
			days = int(binary.LittleEndian.Uint32(b[1:]))
			h, m, s = int(b[5]), int(b[6]), int(b[7])
		case 0:
		default:
			return c.binErr(w, b, "a TIME of a bad length")
		}
		if c.kind != tkTime {
			return c.binErr(w, b, "a TIME for a column of another type")
		}
		if us >= 1e6 {
			return c.binErr(w, b, "microseconds out of range")
		}
		*out = change.Time(neg, days*24+h, m, s, us*1000, c.size)
		return nil
	}
	var y, mo, d, h, mi, s int
	var us uint32
	switch len(b) {
	case 11:
		us = binary.LittleEndian.Uint32(b[7:])
		fallthrough
	case 7:
		h, mi, s = int(b[4]), int(b[5]), int(b[6])
		fallthrough
	case 4:
		y, mo, d = int(binary.LittleEndian.Uint16(b)), int(b[2]), int(b[3])
	case 0:
	default:
		return c.binErr(w, b, "a date of a bad length")
	}
	if us >= 1e6 {
		return c.binErr(w, b, "microseconds out of range")
	}
	switch c.kind {
	case tkDate:
		*out = change.Date(y, mo, d)
	case tkDateTime:
		*out = change.DateTime(y, mo, d, h, mi, s, us*1000, c.size)
	case tkTimestamp:
		// The session's time_zone is +00:00: the fields are UTC. MySQL's
		// zero TIMESTAMP is 0 in the binlog.
		var unix int64
		if y != 0 || mo != 0 || d != 0 {
			unix = daysFromCivil(int64(y), int64(mo), int64(d))*86400 + int64(h*3600+mi*60+s)
		}
		*out = change.Timestamp(unix, us*1000, c.size)
	default:
		return c.binErr(w, b, "a date for a column of another type")
	}
	return nil
}

// binErr is an error about c's binary value b, sent as type w.
func (c *snapColumn) binErr(w wireCol, b []byte, what string) error {
	if len(b) > 32 {
		b = b[:32]
	}
	return fmt.Errorf("column %s (%s): binary value of type %d (% x): %s", c.name, c.colType, w.typ, b, what)
}
