package difftest

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/binlog/changes"
	"github.com/sluice-cdc/sluice/change"
)

// decodeOurs decodes files with package binlog (through binlog/changes,
// the layer every Sluice reader uses) into row changes of the tables in src.
func decodeOurs(src rowSource, files []string) ([]rowChange, error) {
	var out []rowChange
	d := changes.NewDecoder(changes.Filter{})
	err := changes.DecodeFiles(context.Background(), files, d, func(c *change.Change) error {
		var op string
		switch c.Op {
		case change.OpInsert, change.OpUpdate, change.OpDelete:
			op = c.Op.String()
		default:
			return nil
		}
		tbl := c.Database + "." + c.Table
		if _, ok := src.tables[tbl]; !ok {
			return nil
		}
		r := rowChange{Op: op, Table: tbl, Where: fmt.Sprintf("sluice change at %s:%d#%d", c.Pos.File, c.Pos.Offset, c.Pos.Index)}
		var err error
		if c.Before != nil {
			if r.Before, err = canonImage(src, tbl, c.Before); err != nil {
				return fmt.Errorf("%s before image: %w", r.Where, err)
			}
		}
		if c.After != nil {
			if r.After, err = canonImage(src, tbl, c.After); err != nil {
				return fmt.Errorf("%s after image: %w", r.Where, err)
			}
		}
		out = append(out, r)
		return nil
	}, nil)
	return out, err
}

func canonImage(src rowSource, tbl string, img []change.Value) ([]string, error) {
	n := src.ncols(tbl)
	if len(img) != n {
		return nil, fmt.Errorf("%d columns, the table has %d", len(img), n)
	}
	out := make([]string, n)
	for k, v := range img {
		col, _ := src.columnOf(tbl, k)
		out[k] = canonOurs(col, v)
	}
	return out, nil
}

// canonOurs turns one of our values into the canonical form. A value of a
// kind the column class does not expect renders as a text that matches no
// peer, so the comparison fails and names it.
func canonOurs(col column, v change.Value) string {
	switch v.Kind {
	case change.KindAbsent:
		return cellAbsent
	case change.KindNull:
		return cellNull
	}
	bad := func() string { return fmt.Sprintf("<unexpected %s value %+v>", v.Kind, v) }
	switch col.cls {
	case clsInt:
		switch v.Kind {
		case change.KindInt:
			return strconv.FormatInt(v.I, 10)
		case change.KindUint:
			return strconv.FormatUint(v.U, 10)
		}
	case clsDecimal:
		if v.Kind == change.KindDecimal {
			s, err := canonDecimal(string(v.B))
			if err != nil {
				return fmt.Sprintf("<%v>", err)
			}
			return s
		}
	case clsFloat:
		if v.Kind == change.KindFloat && v.Size == 32 {
			return canonFloat32(float32(v.F))
		}
	case clsDouble:
		if v.Kind == change.KindFloat && v.Size == 64 {
			return canonFloat64(v.F)
		}
	case clsTime:
		if v.Kind == change.KindTime {
			return canonTime(v.Neg, int(v.I/10000), int(v.I/100%100), int(v.I%100), v.U, col.fsp)
		}
	case clsDateTime:
		if v.Kind == change.KindDateTime {
			d, t := v.I/1000000, v.I%1000000
			return canonDateTime(int(d/10000), int(d/100%100), int(d%100), int(t/10000), int(t/100%100), int(t%100), v.U, col.fsp)
		}
	case clsTimestamp:
		if v.Kind == change.KindTimestamp {
			return canonTimestamp(v.I, v.U, col.fsp)
		}
	case clsDate:
		if v.Kind == change.KindDate {
			return fmt.Sprintf("%04d-%02d-%02d", v.I/10000, v.I/100%100, v.I%100)
		}
	case clsYear:
		if v.Kind == change.KindYear {
			return strconv.FormatInt(v.I, 10)
		}
	case clsText:
		if v.Kind == change.KindString || v.Kind == change.KindJSON {
			return quoteText(string(v.B))
		}
	case clsBinary:
		if v.Kind == change.KindBytes || v.Kind == change.KindUUID {
			return canonBinary(v.B, col.size)
		}
	case clsBytes:
		if v.Kind == change.KindBytes {
			return hex.EncodeToString(v.B)
		}
	case clsGeometry:
		if v.Kind == change.KindGeometry {
			b := binary.LittleEndian.AppendUint32(nil, uint32(v.U))
			return hex.EncodeToString(append(b, v.B...))
		}
	case clsEnum:
		if v.Kind == change.KindEnum {
			// The member text must be the one the index names.
			want := ""
			if m := members(col); v.U >= 1 && v.U <= uint64(len(m)) {
				want = m[v.U-1]
			}
			if string(v.B) != want {
				return fmt.Sprintf("<ENUM index %d with text %q, the member is %q>", v.U, v.B, want)
			}
			return strconv.FormatUint(v.U, 10)
		}
	case clsSet:
		if v.Kind == change.KindSet {
			// The text must list the members of the bitmap, in order.
			var want []string
			for i, m := range members(col) {
				if v.U&(1<<i) != 0 {
					want = append(want, m)
				}
			}
			if string(v.B) != strings.Join(want, ",") {
				return fmt.Sprintf("<SET bitmap %#x with text %q, the members are %q>", v.U, v.B, strings.Join(want, ","))
			}
			return strconv.FormatUint(v.U, 10)
		}
	case clsBit:
		if v.Kind == change.KindBit {
			return strconv.FormatUint(v.U, 10)
		}
	}
	return bad()
}

// members lists the members of an ENUM or SET column from its definition
// (the test's members hold no quotes or commas).
func members(col column) []string {
	open, end := strings.IndexByte(col.def, '('), strings.LastIndexByte(col.def, ')')
	if open < 0 || end < open {
		return nil
	}
	var out []string
	for _, m := range strings.Split(col.def[open+1:end], ",") {
		out = append(out, strings.Trim(m, "'"))
	}
	return out
}
