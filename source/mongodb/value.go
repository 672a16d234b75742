package mongodb

import (
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/sluice-cdc/sluice/change"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// typeName is the MongoDB alias of a BSON type ($type names), used as the
// Column.Type of top-level fields.
func typeName(t bsoncore.Type) string {
	switch t {
	case bsoncore.TypeDouble:
		return "double"
	case bsoncore.TypeString:
		return "string"
	case bsoncore.TypeEmbeddedDocument:
		return "object"
	case bsoncore.TypeArray:
		return "array"
	case bsoncore.TypeBinary:
		return "binData"
	case bsoncore.TypeUndefined:
		return "undefined"
	case bsoncore.TypeObjectID:
		return "objectId"
	case bsoncore.TypeBoolean:
		return "bool"
	case bsoncore.TypeDateTime:
		return "date"
	case bsoncore.TypeNull:
		return "null"
	case bsoncore.TypeRegex:
		return "regex"
	case bsoncore.TypeDBPointer:
		return "dbPointer"
	case bsoncore.TypeJavaScript:
		return "javascript"
	case bsoncore.TypeSymbol:
		return "symbol"
	case bsoncore.TypeCodeWithScope:
		return "javascriptWithScope"
	case bsoncore.TypeInt32:
		return "int"
	case bsoncore.TypeTimestamp:
		return "timestamp"
	case bsoncore.TypeInt64:
		return "long"
	case bsoncore.TypeDecimal128:
		return "decimal"
	case bsoncore.TypeMinKey:
		return "minKey"
	case bsoncore.TypeMaxKey:
		return "maxKey"
	}
	return fmt.Sprintf("bsontype(0x%02x)", byte(t))
}

// maxDepth bounds document nesting; BSON from a server is limited to 100
// levels, so deeper input is corrupt.
const maxDepth = 200

// convertValue turns one BSON value into a change.Value. Byte slices in
// the result (strings, binary, ObjectIds) point into v.Data; names are
// copied. It never panics on malformed input: it returns an error.
func convertValue(v bsoncore.Value, depth int) (change.Value, error) {
	d := v.Data
	switch v.Type {
	case bsoncore.TypeDouble:
		f, ok := v.DoubleOK()
		if !ok {
			return change.Value{}, errShort(v.Type)
		}
		return change.Float64(f), nil
	case bsoncore.TypeString:
		b, err := rawString(d)
		if err != nil {
			return change.Value{}, err
		}
		return change.String(b), nil
	case bsoncore.TypeSymbol:
		b, err := rawString(d)
		if err != nil {
			return change.Value{}, err
		}
		return other("symbol", b), nil
	case bsoncore.TypeJavaScript:
		b, err := rawString(d)
		if err != nil {
			return change.Value{}, err
		}
		return other("javascript", b), nil
	case bsoncore.TypeEmbeddedDocument, bsoncore.TypeArray:
		if depth >= maxDepth {
			return change.Value{}, fmt.Errorf("mongodb: bson: nesting deeper than %d", maxDepth)
		}
		names, elems, err := convertDocument(d, depth+1, v.Type == bsoncore.TypeArray)
		if err != nil {
			return change.Value{}, err
		}
		if v.Type == bsoncore.TypeArray {
			if elems == nil {
				elems = []change.Value{}
			}
			return change.Value{Kind: change.KindArray, Elems: elems}, nil
		}
		if names == nil {
			names, elems = []string{}, []change.Value{}
		}
		return change.Value{Kind: change.KindDocument, Names: names, Elems: elems}, nil
	case bsoncore.TypeBinary:
		sub, data, ok := v.BinaryOK()
		if !ok {
			return change.Value{}, errShort(v.Type)
		}
		return change.Value{Kind: change.KindBytes, B: data, U: uint64(sub)}, nil
	case bsoncore.TypeUndefined:
		return other("undefined", []byte("undefined")), nil
	case bsoncore.TypeObjectID:
		if len(d) < 12 {
			return change.Value{}, errShort(v.Type)
		}
		return change.Value{Kind: change.KindObjectID, B: d[:12:12]}, nil
	case bsoncore.TypeBoolean:
		b, ok := v.BooleanOK()
		if !ok {
			return change.Value{}, errShort(v.Type)
		}
		return change.Bool(b), nil
	case bsoncore.TypeDateTime:
		ms, ok := v.DateTimeOK()
		if !ok {
			return change.Value{}, errShort(v.Type)
		}
		return dateValue(ms), nil
	case bsoncore.TypeNull:
		return change.Null(), nil
	case bsoncore.TypeRegex:
		p, o, ok := v.RegexOK()
		if !ok {
			return change.Value{}, errShort(v.Type)
		}
		return change.Value{Kind: change.KindRegex, B: []byte(p), Names: []string{o}}, nil
	case bsoncore.TypeCodeWithScope:
		code, scope, ok := v.CodeWithScopeOK()
		if !ok || checkDocument(scope) != nil {
			return change.Value{}, errShort(v.Type)
		}
		text := `{"$code":` + jsonString(code) + `,"$scope":` + bson.Raw(scope).String() + `}`
		return other("javascriptWithScope", []byte(text)), nil
	case bsoncore.TypeDBPointer:
		if err := v.Validate(); err != nil {
			return change.Value{}, fmt.Errorf("mongodb: bson %s: %w", typeName(v.Type), err)
		}
		return other(typeName(v.Type), []byte(v.String())), nil
	case bsoncore.TypeInt32:
		i, ok := v.Int32OK()
		if !ok {
			return change.Value{}, errShort(v.Type)
		}
		return change.Int(int64(i), 32), nil
	case bsoncore.TypeTimestamp:
		t, i, ok := v.TimestampOK()
		if !ok {
			return change.Value{}, errShort(v.Type)
		}
		return change.Value{Kind: change.KindBSONTimestamp, U: uint64(t)<<32 | uint64(i)}, nil
	case bsoncore.TypeInt64:
		i, ok := v.Int64OK()
		if !ok {
			return change.Value{}, errShort(v.Type)
		}
		return change.Int(i, 64), nil
	case bsoncore.TypeDecimal128:
		h, l, ok := v.Decimal128OK()
		if !ok {
			return change.Value{}, errShort(v.Type)
		}
		return change.Decimal([]byte(decimalText(bson.NewDecimal128(h, l)))), nil
	case bsoncore.TypeMinKey:
		return other("minKey", []byte("MinKey")), nil
	case bsoncore.TypeMaxKey:
		return other("maxKey", []byte("MaxKey")), nil
	}
	return change.Value{}, fmt.Errorf("mongodb: bson: unknown type 0x%02x", byte(v.Type))
}

// dateValue is a BSON date (milliseconds since the epoch, UTC) as an
// instant with millisecond precision, zoned at UTC.
func dateValue(ms int64) change.Value {
	sec, rem := ms/1000, ms%1000
	if rem < 0 {
		sec--
		rem += 1000
	}
	return change.Value{Kind: change.KindTimestamp, I: sec, U: uint64(rem) * 1e6, Size: 3, Zoned: true}
}

func other(typ string, text []byte) change.Value {
	return change.Value{Kind: change.KindOther, B: text, Names: []string{typ}}
}

func errShort(t bsoncore.Type) error {
	return fmt.Errorf("mongodb: bson %s value: truncated", typeName(t))
}

// rawString reads a BSON string (int32 length including the NUL, bytes,
// NUL) without copying.
func rawString(d []byte) ([]byte, error) {
	if len(d) < 5 {
		return nil, fmt.Errorf("mongodb: bson string: truncated")
	}
	n := int(int32(binary.LittleEndian.Uint32(d)))
	if n < 1 || n > len(d)-4 || d[3+n] != 0 {
		return nil, fmt.Errorf("mongodb: bson string: bad length %d", n)
	}
	return d[4 : 3+n : 3+n], nil
}

// convertDocument converts the fields of a BSON document (or array) to
// names and values. Array element names are not kept.
func convertDocument(doc []byte, depth int, array bool) ([]string, []change.Value, error) {
	if err := checkDocument(doc); err != nil {
		return nil, nil, err
	}
	n := countElements(doc)
	var names []string
	if !array && n > 0 {
		names = make([]string, 0, n)
	}
	var elems []change.Value
	if n > 0 {
		elems = make([]change.Value, 0, n)
	}
	rest := doc[4 : len(doc)-1]
	for len(rest) > 0 {
		el, r, ok := bsoncore.ReadElement(rest)
		if !ok {
			return nil, nil, fmt.Errorf("mongodb: bson document: malformed element")
		}
		rest = r
		key, err := el.KeyErr()
		if err != nil {
			return nil, nil, fmt.Errorf("mongodb: bson document: %w", err)
		}
		val, err := convertValue(el.Value(), depth)
		if err != nil {
			return nil, nil, fmt.Errorf("field %q: %w", key, err)
		}
		if !array {
			names = append(names, key)
		}
		elems = append(elems, val)
	}
	return names, elems, nil
}

// checkDocument checks the framing of a BSON document: its length prefix
// and terminating NUL.
func checkDocument(doc []byte) error {
	if len(doc) < 5 {
		return fmt.Errorf("mongodb: bson document: truncated (%d bytes)", len(doc))
	}
	if n := int(int32(binary.LittleEndian.Uint32(doc))); n != len(doc) || doc[n-1] != 0 {
		return fmt.Errorf("mongodb: bson document: length %d, have %d bytes", n, len(doc))
	}
	return nil
}

// countElements counts a framed document's elements, for sizing slices; it
// stops at the first malformed element.
func countElements(doc []byte) int {
	n := 0
	rest := doc[4 : len(doc)-1]
	for len(rest) > 0 {
		_, r, ok := bsoncore.ReadElement(rest)
		if !ok {
			break
		}
		rest = r
		n++
	}
	return n
}

// rowImage turns a document into a row: one column per top-level field
// (Type the BSON type alias, Key set on _id) and the values.
func rowImage(doc []byte) ([]change.Column, []change.Value, error) {
	if err := checkDocument(doc); err != nil {
		return nil, nil, err
	}
	n := countElements(doc)
	cols := make([]change.Column, 0, n)
	vals := make([]change.Value, 0, n)
	rest := doc[4 : len(doc)-1]
	for len(rest) > 0 {
		el, r, ok := bsoncore.ReadElement(rest)
		if !ok {
			return nil, nil, fmt.Errorf("mongodb: bson document: malformed element")
		}
		rest = r
		key, err := el.KeyErr()
		if err != nil {
			return nil, nil, fmt.Errorf("mongodb: bson document: %w", err)
		}
		v := el.Value()
		val, err := convertValue(v, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("field %q: %w", key, err)
		}
		cols = append(cols, change.Column{Name: key, Type: typeName(v.Type), Nullable: true, Key: key == "_id"})
		vals = append(vals, val)
	}
	return cols, vals, nil
}

// maxPlainDigits bounds the plain-notation text of a Decimal128; values
// whose plain text would be longer keep the E notation (still exact).
const maxPlainDigits = 80

// decimalText is the exact text of a Decimal128 in plain notation
// ("-12.50", "0.001", "NaN", "Infinity", "-Infinity"), or in the
// scientific notation of the BSON spec when plain text would exceed
// maxPlainDigits characters.
func decimalText(d bson.Decimal128) string {
	if d.IsNaN() {
		return "NaN"
	}
	switch d.IsInf() {
	case 1:
		return "Infinity"
	case -1:
		return "-Infinity"
	}
	bi, exp, err := d.BigInt()
	if err != nil {
		return d.String()
	}
	h, _ := d.GetBytes()
	neg := h>>63 == 1
	digits := new(big.Int).Abs(bi).String()
	if exp > maxPlainDigits || exp < -maxPlainDigits {
		return d.String()
	}
	var s string
	switch {
	case exp >= 0:
		s = digits
		if digits != "0" {
			for range exp {
				s += "0"
			}
		}
	case len(digits) > -exp:
		p := len(digits) + exp
		s = digits[:p] + "." + digits[p:]
	default:
		s = "0."
		for range -exp - len(digits) {
			s += "0"
		}
		s += digits
	}
	if neg {
		s = "-" + s
	}
	return s
}
