package binlog

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/change"
)

// MariaDB's own fractional-seconds format ("hires", MariaDB 5.3 to 10.0, and
// 10.1+ for tables created with mysql56_temporal_format=OFF) keeps the old
// type codes TIMESTAMP, DATETIME and TIME in TABLE_MAP, with no metadata:
// the binlog does not record the precision, and the value is longer than
// the classic one (sql/field.cc: Field_timestamp_hires, Field_datetime_hires,
// Field_time_hires, whose pack is a plain copy of the field):
//
//   - TIMESTAMP(n): the Unix seconds as 4 bytes big-endian, then the
//     fraction second_part/10^(6-n) big-endian in 1, 1, 2, 2, 3, 3 bytes for
//     n = 1…6 (sec_part_bytes);
//   - DATETIME(n): pack_time/10^(6-n) big-endian in 6, 6, 7, 7, 7, 8 bytes
//     for n = 1…6 (datetime_hires_bytes), where pack_time is
//     ((((((year·13+month)·32+day)·24+hour)·60+minute)·60+second)·10^6+µs);
//   - TIME(n): pack_time/10^(6-n) (negative for a negative time) plus
//     zero_point = (838:59:59 + 1 s)·10^6/10^(6-n), big-endian in 4, 4, 5,
//     5, 5, 6 bytes for n = 1…6 (time_hires_bytes); hours above 23 land
//     in the day and month digits and are added back.
//
// mariadb-binlog cannot print such rows (log_event_print_value reads 4, 8
// and 3 bytes for the old codes and loses its place), and no reader can
// size them from the binlog alone. So a column's precision must come from
// its schema (TableMap.SetPrecision). Without it, a rows event of a MariaDB
// table with old-code temporal columns is checked before decoding: when its
// rows do not fit the classic formats exactly (sizes and valid dates and
// times), it fails with ErrTemporalPrecision instead of misreading.

// ErrTemporalPrecision is wrapped by the error for a rows event whose old-code
// TIME, DATETIME or TIMESTAMP columns hold MariaDB's fractional-seconds
// format, whose precision only the table's schema gives (see SetPrecision).
// It wraps ErrUnsupported.
var ErrTemporalPrecision = fmt.Errorf("%w: MariaDB fractional-seconds TIME/DATETIME/TIMESTAMP (old type code) of unknown precision", ErrUnsupported)

// MariaDB's hires value sizes by precision 0-6 (0 is the classic format).
var (
	hiresTimestampBytes = [7]int{4, 5, 5, 6, 6, 7, 7}
	hiresDateTimeBytes  = [7]int{8, 6, 6, 7, 7, 7, 8}
	hiresTimeBytes      = [7]int{3, 4, 4, 5, 5, 5, 6}
	pow10               = [7]int64{1, 10, 100, 1000, 10000, 100000, 1000000}
)

// timeMaxSeconds is 838:59:59 in seconds, MariaDB's TIME_MAX_VALUE_SECONDS.
const timeMaxSeconds = 838*3600 + 59*60 + 59

// isOldTemporal reports whether t is an old type code that MariaDB may
// write in its fractional-seconds format.
func isOldTemporal(t ColumnType) bool {
	return t == TypeTimestamp || t == TypeDateTime || t == TypeTime
}

// SetPrecision gives the fractional-seconds precision fsp (0-6) of column i
// when it is a TIMESTAMP, DATETIME or TIME logged by MariaDB under its old
// type code, as the table's schema says (information_schema.COLUMNS
// DATETIME_PRECISION): with fsp > 0 the column's values are read in
// MariaDB's own fractional-seconds format, with 0 in the classic one, and
// either way its rows events are no longer checked for a precision they
// might hide. It updates the column's type text and reports whether column
// i is such a column; other columns (and MySQL table maps, whose old-code
// temporal columns never have a fraction) are left alone. Call it before
// the TableMap is shared.
func (t *TableMap) SetPrecision(i, fsp int) bool {
	if !t.mariaDB || i < 0 || i >= len(t.cols) || fsp < 0 || fsp > 6 {
		return false
	}
	c := &t.cols[i]
	if !isOldTemporal(c.typ) || c.nometa {
		return false
	}
	c.scale, c.hires, c.fspKnown = fsp, fsp > 0, true
	c.fixed, c.prefix = c.sizes()
	c.text = c.typeText()
	t.Columns[i].Type = c.text
	t.unsureFsp = false
	for j := range t.cols {
		if isOldTemporal(t.cols[j].typ) && !t.cols[j].fspKnown && !t.cols[j].nometa {
			t.unsureFsp = true
		}
	}
	return true
}

// hiresSize returns the value size of an old-code temporal column in
// MariaDB's fractional-seconds format of precision c.scale.
func (c *colInfo) hiresSize() int {
	switch c.typ {
	case TypeTimestamp:
		return hiresTimestampBytes[c.scale]
	case TypeDateTime:
		return hiresDateTimeBytes[c.scale]
	}
	return hiresTimeBytes[c.scale]
}

// beUint reads a big-endian unsigned integer of up to 8 bytes.
func beUint(b []byte) uint64 {
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v
}

// decodeHires decodes an old-code temporal value in MariaDB's
// fractional-seconds format of precision c.scale.
func decodeHires(c *colInfo, v []byte) change.Value {
	fsp := c.scale
	unit := pow10[6-fsp]
	switch c.typ {
	case TypeTimestamp:
		sec := int64(beUint(v[:4]))
		frac := int64(beUint(v[4:]))
		return change.Timestamp(sec, uint32(frac*unit*1000), uint8(fsp))
	case TypeDateTime:
		y, mo, d, h, mi, s, us := unpackMariaTime(int64(beUint(v)) * unit)
		return change.DateTime(y, mo, d, h, mi, s, us*1000, uint8(fsp))
	}
	zero := (timeMaxSeconds + 1) * pow10[fsp]
	packed := (int64(beUint(v)) - zero) * unit
	neg := packed < 0
	if neg {
		packed = -packed
	}
	_, mo, d, h, mi, s, us := unpackMariaTime(packed)
	return change.Time(neg, h+(mo*32+d)*24, mi, s, us*1000, uint8(fsp))
}

// unpackMariaTime splits MariaDB's pack_time number (non-negative) into
// its fields (sql/field.cc unpack_time).
func unpackMariaTime(p int64) (year, month, day, hour, minute, second int, micros uint32) {
	micros = uint32(p % 1000000)
	p /= 1000000
	second = int(p % 60)
	p /= 60
	minute = int(p % 60)
	p /= 60
	hour = int(p % 24)
	p /= 24
	day = int(p % 32)
	p /= 32
	month = int(p % 13)
	year = int(p / 13)
	return
}

// checkClassicTemporal checks a rows event of a MariaDB table whose
// old-code temporal columns have no known precision: every row must fit
// the classic formats exactly, with valid DATETIME and TIME values. When
// it does not, the columns hold MariaDB's fractional-seconds format and the
// event fails with ErrTemporalPrecision.
func (r *RowsReader) checkClassicTemporal() error {
	p := 0
	for p < len(r.data) {
		start := p
		for img := 0; img < r.images; img++ {
			bitmap := img
			if r.Kind == RowsInsert {
				bitmap = 1
			}
			end, ok := r.classicImage(p, bitmap)
			if !ok {
				return r.temporalPrecisionError()
			}
			p = end
		}
		if p == start {
			return nil // no column present: Next reports it
		}
	}
	return nil
}

// classicImage walks the image at p like skipImage, checking the old-code
// temporal values; it reports where the image ends, or false when the
// image does not fit the classic formats.
func (r *RowsReader) classicImage(p, img int) (int, bool) {
	if r.partial && img == 1 {
		return 0, false
	}
	_, nulls, p, err := r.imageHeader(p, img)
	if err != nil {
		return 0, false
	}
	present := r.present[img]
	k := 0
	for i := range r.Table.cols {
		c := &r.Table.cols[i]
		if !bitSet(present, i) {
			continue
		}
		null := bitSet(nulls, k)
		k++
		if null {
			continue
		}
		n, err := valueSize(c, r.data[p:])
		if err != nil {
			return 0, false
		}
		if !c.fspKnown && !validClassicTemporal(c.typ, r.data[p:p+n]) {
			return 0, false
		}
		p += n
	}
	return p, true
}

// validClassicTemporal reports whether v is a valid classic (no fraction)
// value of an old-code DATETIME or TIME column; other values pass.
func validClassicTemporal(t ColumnType, v []byte) bool {
	switch t {
	case TypeDateTime:
		x := le64(v)
		d, tm := x/1000000, x%1000000
		return d/10000 <= 9999 && d/100%100 <= 12 && d%100 <= 31 && tm/10000 <= 23 && tm/100%100 <= 59 && tm%100 <= 59
	case TypeTime:
		x := int32(uint32(v[0])<<8|uint32(v[1])<<16|uint32(v[2])<<24) >> 8
		if x < 0 {
			x = -x
		}
		return x/10000 <= 838 && x/100%100 <= 59 && x%100 <= 59
	}
	return true
}

// temporalPrecisionError names the columns whose precision is missing.
func (r *RowsReader) temporalPrecisionError() error {
	var names []string
	for i := range r.Table.cols {
		c := &r.Table.cols[i]
		if isOldTemporal(c.typ) && !c.fspKnown && !c.nometa {
			names = append(names, strconv.Itoa(i+1)+" "+c.text)
		}
	}
	return r.fail(fmt.Errorf("%w: the rows of %s.%s do not fit the classic format of their columns %s: MariaDB 5.3-10.0 "+
		"(and 10.1+ for tables created with mysql56_temporal_format=OFF) writes TIME, DATETIME and TIMESTAMP with "+
		"fractional seconds under these type codes without their precision, which must come from the table's schema",
		ErrTemporalPrecision, r.Table.Database, r.Table.Table, strings.Join(names, ", ")))
}
