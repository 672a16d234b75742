package change

import (
	"math"
)

// Kind says what a Value holds and how its fields are read.
type Kind uint8

// Value kinds. The zero Kind is KindAbsent, so a zero Value means "this
// column is not present in this image" (MySQL MINIMAL/NOBLOB row images).
const (
	// KindAbsent: the column is not part of this image at all.
	KindAbsent Kind = iota
	// KindUnchanged: the column exists and kept its value, but the source
	// did not send it (PostgreSQL unchanged TOAST). Never the same as NULL.
	KindUnchanged
	// KindNull: SQL NULL.
	KindNull
	// KindBool: I is 0 or 1.
	KindBool
	// KindInt: signed integer in I; Size is the source width in bits (8, 16, 24, 32, 64).
	KindInt
	// KindUint: unsigned integer in U; Size is the source width in bits.
	KindUint
	// KindFloat: F; Size is 32 for single precision, 64 for double.
	KindFloat
	// KindDecimal: exact decimal text in B ("-12.50", "0.001", "NaN", "Infinity", "-Infinity").
	KindDecimal
	// KindString: text in B, already decoded to UTF-8 from the column charset.
	KindString
	// KindBytes: raw bytes in B (BLOB, BINARY, bytea, invalid text kept as bytes).
	KindBytes
	// KindJSON: a JSON document as text in B.
	KindJSON
	// KindDate: a calendar date, I = YYYYMMDD (zero and invalid dates kept, e.g. 0).
	KindDate
	// KindTime: a time of day or a MySQL TIME duration. I = hhhmmss (hours may
	// exceed 24), U = nanoseconds, Neg marks a negative duration, Size = fsp (0-9).
	// With Off != 0 or Zoned it is a time with zone (PostgreSQL timetz), Off in seconds east of UTC.
	KindTime
	// KindDateTime: a wall-clock date and time without zone. I = YYYYMMDDhhmmss,
	// U = nanoseconds, Size = fsp (0-9). Zero dates are kept (I = 0).
	KindDateTime
	// KindTimestamp: an instant. I = Unix seconds, U = nanoseconds, Size = fsp,
	// Off = the zone offset (seconds east of UTC) the source used to display it.
	// I = math.MaxInt64 / math.MinInt64 are +infinity / -infinity.
	KindTimestamp
	// KindYear: a YEAR value in I (0 for the zero year).
	KindYear
	// KindEnum: the member text in B, the 1-based member index in U (0 = the empty error value).
	KindEnum
	// KindSet: the members joined by commas in B, the member bitmap in U.
	KindSet
	// KindBit: a BIT(n) value in U, Size = n (1-64).
	KindBit
	// KindGeometry: WKB in B, SRID in U.
	KindGeometry
	// KindVector: little-endian float32 values in B.
	KindVector
	// KindUUID: 16 bytes in B.
	KindUUID
	// KindArray: elements in Elems.
	KindArray
	// KindDocument: ordered fields, names in Names and values in Elems.
	KindDocument
	// KindObjectID: a 12-byte MongoDB ObjectId in B.
	KindObjectID
	// KindBSONTimestamp: a MongoDB timestamp, U = seconds<<32 | increment.
	KindBSONTimestamp
	// KindRegex: a regular expression, pattern in B, options in Names[0].
	KindRegex
	// KindOther: a value of a source type Sluice has no kind for, as the
	// source's own text in B; Names[0] names the source type.
	KindOther
	kindCount
)

// Value is one typed column value. It is a plain struct so that sources can
// fill it without a heap allocation: B may point into the source's read
// buffer and is valid only until the next call that reuses that buffer; call
// Clone to keep it.
type Value struct {
	Kind Kind
	// Size is the width in bits for integers, floats and BIT, and the
	// fractional-seconds precision (0-9) for temporal kinds.
	Size uint8
	// Neg marks a negative TIME duration (needed for "-00:00:01").
	Neg bool
	// Off is a zone offset in seconds east of UTC for KindTimestamp and zoned KindTime.
	Off int32
	// Zoned is set when Off is meaningful (timetz, timestamptz).
	Zoned bool
	I     int64
	U     uint64
	F     float64
	B     []byte
	Elems []Value
	Names []string
}

// Absent returns the value of a column that is not part of an image.
func Absent() Value { return Value{} }

// Unchanged returns the value of a column the source did not send because it did not change.
func Unchanged() Value { return Value{Kind: KindUnchanged} }

// Null returns SQL NULL.
func Null() Value { return Value{Kind: KindNull} }

// Bool returns a boolean value.
func Bool(b bool) Value {
	v := Value{Kind: KindBool}
	if b {
		v.I = 1
	}
	return v
}

// Int returns a signed integer of the given bit width.
func Int(i int64, bits uint8) Value { return Value{Kind: KindInt, I: i, Size: bits} }

// Uint returns an unsigned integer of the given bit width.
func Uint(u uint64, bits uint8) Value { return Value{Kind: KindUint, U: u, Size: bits} }

// Float64 returns a double-precision float.
func Float64(f float64) Value { return Value{Kind: KindFloat, F: f, Size: 64} }

// Float32 returns a single-precision float.
func Float32(f float32) Value { return Value{Kind: KindFloat, F: float64(f), Size: 32} }

// Decimal returns an exact decimal from its canonical text; text is not copied.
func Decimal(text []byte) Value { return Value{Kind: KindDecimal, B: text} }

// String returns UTF-8 text; b is not copied.
func String(b []byte) Value { return Value{Kind: KindString, B: b} }

// Bytes returns raw bytes; b is not copied.
func Bytes(b []byte) Value { return Value{Kind: KindBytes, B: b} }

// JSON returns a JSON document given as text; b is not copied.
func JSON(b []byte) Value { return Value{Kind: KindJSON, B: b} }

// Date returns a calendar date. Zero and invalid dates (0000-00-00, 2024-02-00) are kept as given.
func Date(year, month, day int) Value {
	return Value{Kind: KindDate, I: int64(year)*10000 + int64(month)*100 + int64(day)}
}

// Time returns a time of day or duration: neg marks a negative duration,
// hours may exceed 24, nanos is the fraction, fsp the declared precision.
func Time(neg bool, hours, minutes, seconds int, nanos uint32, fsp uint8) Value {
	return Value{Kind: KindTime, Neg: neg, I: int64(hours)*10000 + int64(minutes)*100 + int64(seconds), U: uint64(nanos), Size: fsp}
}

// DateTime returns a wall-clock date and time without zone.
func DateTime(year, month, day, hour, minute, second int, nanos uint32, fsp uint8) Value {
	i := (int64(year)*10000+int64(month)*100+int64(day))*1000000 + int64(hour)*10000 + int64(minute)*100 + int64(second)
	return Value{Kind: KindDateTime, I: i, U: uint64(nanos), Size: fsp}
}

// Timestamp returns an instant as Unix seconds and nanoseconds.
func Timestamp(unix int64, nanos uint32, fsp uint8) Value {
	return Value{Kind: KindTimestamp, I: unix, U: uint64(nanos), Size: fsp}
}

// TimestampInfinity returns +infinity (pos) or -infinity.
func TimestampInfinity(pos bool) Value {
	if pos {
		return Value{Kind: KindTimestamp, I: math.MaxInt64}
	}
	return Value{Kind: KindTimestamp, I: math.MinInt64}
}

// Year returns a YEAR value.
func Year(y int) Value { return Value{Kind: KindYear, I: int64(y)} }

// Enum returns an ENUM member by text and 1-based index.
func Enum(text []byte, index uint64) Value { return Value{Kind: KindEnum, B: text, U: index} }

// Set returns a SET value: the members joined by commas and their bitmap.
func Set(text []byte, bits uint64) Value { return Value{Kind: KindSet, B: text, U: bits} }

// Bit returns a BIT(width) value.
func Bit(bits uint64, width uint8) Value { return Value{Kind: KindBit, U: bits, Size: width} }

// Geometry returns a spatial value as SRID and WKB.
func Geometry(srid uint32, wkb []byte) Value {
	return Value{Kind: KindGeometry, U: uint64(srid), B: wkb}
}

// Vector returns a VECTOR value given as little-endian float32s.
func Vector(le []byte) Value { return Value{Kind: KindVector, B: le} }

// IsNull reports whether v is SQL NULL.
func (v Value) IsNull() bool { return v.Kind == KindNull }

// Present reports whether v is part of the image (not absent).
func (v Value) Present() bool { return v.Kind != KindAbsent }

// Clone returns a copy of v that shares no memory with the source's buffers.
func (v Value) Clone() Value {
	if v.B != nil {
		v.B = append([]byte(nil), v.B...)
	}
	if v.Elems != nil {
		e := make([]Value, len(v.Elems))
		for i := range v.Elems {
			e[i] = v.Elems[i].Clone()
		}
		v.Elems = e
	}
	if v.Names != nil {
		v.Names = append([]string(nil), v.Names...)
	}
	return v
}
