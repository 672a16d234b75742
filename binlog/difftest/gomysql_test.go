package difftest

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/shopspring/decimal"
)

// decodeGoMySQL decodes files with go-mysql's BinlogParser into row changes
// of the tables in src.
func decodeGoMySQL(src rowSource, files []string) ([]rowChange, error) {
	var out []rowChange
	for _, f := range files {
		p := replication.NewBinlogParser()
		p.SetUseDecimal(true)
		p.SetVerifyChecksum(true)
		p.SetTimestampStringLocation(time.UTC)
		p.SetFlavor("mariadb")
		err := p.ParseFile(f, 0, func(ev *replication.BinlogEvent) error {
			re, ok := ev.Event.(*replication.RowsEvent)
			if !ok {
				return nil
			}
			tbl := string(re.Table.Schema) + "." + string(re.Table.Table)
			if _, ok := src.tables[tbl]; !ok {
				return nil
			}
			where := fmt.Sprintf("go-mysql event at %s:%d", f, int64(ev.Header.LogPos)-int64(ev.Header.EventSize))
			changes, err := goMySQLRows(src, tbl, ev.Header.EventType, re, where)
			if err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			out = append(out, changes...)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("go-mysql %s: %w", f, err)
		}
	}
	return out, nil
}

func goMySQLRows(src rowSource, tbl string, et replication.EventType, re *replication.RowsEvent, where string) ([]rowChange, error) {
	var op string
	switch et {
	case replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2, replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1:
		op = "insert"
	case replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2, replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1:
		op = "update"
	case replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2, replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
		op = "delete"
	default:
		return nil, fmt.Errorf("unexpected rows event %s", et)
	}
	present := func(bitmap []byte, k int) bool {
		return bitmap == nil || bitmap[k/8]&(1<<(k%8)) != 0
	}
	image := func(row []any, bitmap []byte) ([]string, error) {
		vals := make([]string, src.ncols(tbl))
		for k := range vals {
			if k >= len(row) || !present(bitmap, k) {
				vals[k] = cellAbsent
				continue
			}
			col, _ := src.columnOf(tbl, k)
			v, err := canonGoMySQL(col, row[k])
			if err != nil {
				return nil, fmt.Errorf("column %d %s (%s): %w", k+1, col.name, col.def, err)
			}
			vals[k] = v
		}
		return vals, nil
	}
	var out []rowChange
	step := 1
	if op == "update" {
		step = 2
	}
	for i := 0; i+step <= len(re.Rows); i += step {
		c := rowChange{Op: op, Table: tbl, Where: where}
		var err error
		switch op {
		case "insert":
			c.After, err = image(re.Rows[i], re.ColumnBitmap1)
		case "delete":
			c.Before, err = image(re.Rows[i], re.ColumnBitmap1)
		case "update":
			if c.Before, err = image(re.Rows[i], re.ColumnBitmap1); err == nil {
				c.After, err = image(re.Rows[i+1], re.ColumnBitmap2)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", i/step+1, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// canonGoMySQL turns one go-mysql value into the canonical form.
func canonGoMySQL(col column, v any) (string, error) {
	if v == nil {
		return cellNull, nil
	}
	switch col.cls {
	case clsInt:
		var i int64
		switch x := v.(type) {
		case int8:
			i = int64(x)
		case int16:
			i = int64(x)
		case int32:
			i = int64(x)
		case int64:
			i = x
		default:
			return "", fmt.Errorf("int as %T", v)
		}
		if col.unsigned {
			u := uint64(i)
			if col.bits < 64 {
				u &= 1<<col.bits - 1
			}
			return strconv.FormatUint(u, 10), nil
		}
		return strconv.FormatInt(i, 10), nil
	case clsDecimal:
		d, ok := v.(decimal.Decimal)
		if !ok {
			return "", fmt.Errorf("decimal as %T", v)
		}
		return canonDecimal(d.String())
	case clsFloat:
		f, ok := v.(float32)
		if !ok {
			return "", fmt.Errorf("float as %T", v)
		}
		return canonFloat32(f), nil
	case clsDouble:
		f, ok := v.(float64)
		if !ok {
			return "", fmt.Errorf("double as %T", v)
		}
		return canonFloat64(f), nil
	case clsTime:
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("time as %T", v)
		}
		// go-mysql drops the fraction when it is zero; restore fsp digits.
		whole, frac, _ := strings.Cut(s, ".")
		return whole + fixFrac(frac, col.fsp), nil
	case clsDateTime:
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("datetime as %T", v)
		}
		whole, frac, _ := strings.Cut(s, ".")
		return whole + fixFrac(frac, col.fsp), nil
	case clsTimestamp:
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("timestamp as %T", v)
		}
		whole, frac, _ := strings.Cut(s, ".")
		if strings.HasPrefix(whole, "0000-00-00") {
			return "0" + fixFrac(frac, col.fsp), nil
		}
		t, err := time.ParseInLocation("2006-01-02 15:04:05", whole, time.UTC)
		if err != nil {
			return "", err
		}
		return strconv.FormatInt(t.Unix(), 10) + fixFrac(frac, col.fsp), nil
	case clsDate:
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("date as %T", v)
		}
		return s, nil
	case clsYear:
		y, ok := v.(int)
		if !ok {
			return "", fmt.Errorf("year as %T", v)
		}
		return strconv.Itoa(y), nil
	case clsText:
		b, err := goMySQLBytes(v)
		if err != nil {
			return "", err
		}
		return textFromCharset(col.charset, b)
	case clsBinary:
		b, err := goMySQLBytes(v)
		if err != nil {
			return "", err
		}
		return canonBinary(b, col.size), nil
	case clsBytes, clsGeometry:
		b, err := goMySQLBytes(v)
		if err != nil {
			return "", err
		}
		return hex.EncodeToString(b), nil
	case clsEnum, clsSet, clsBit:
		i, ok := v.(int64)
		if !ok {
			return "", fmt.Errorf("enum/set/bit as %T", v)
		}
		return strconv.FormatUint(uint64(i), 10), nil
	}
	return "", fmt.Errorf("class %d not handled", col.cls)
}

func goMySQLBytes(v any) ([]byte, error) {
	switch x := v.(type) {
	case string:
		return []byte(x), nil
	case []byte:
		return x, nil
	}
	return nil, fmt.Errorf("bytes as %T", v)
}
