package format

import (
	"encoding/base64"
	"math"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/change"
)

// appendExtJSON appends v as MongoDB extended JSON the way Debezium's
// MongoDB connector writes documents (the Java driver's JsonWriter in its
// strict mode, ", " and ": " between members): int32 as a number, int64 as
// {"$numberLong": "n"}, doubles as numbers with a point or exponent
// (non-finite ones as {"$numberDouble": "NaN"}), Decimal128 as
// {"$numberDecimal": "…"}, dates as {"$date": millis}, ObjectId as
// {"$oid": "…"}, binary as {"$binary": "base64", "$type": "00"}, BSON
// timestamps as {"$timestamp": {"t": s, "i": i}}, regexes as
// {"$regex": "…", "$options": "…"}. Every BSON value reads back exactly.
func appendExtJSON(dst []byte, v *change.Value) []byte {
	switch v.Kind {
	case change.KindNull, change.KindAbsent, change.KindUnchanged:
		return append(dst, "null"...)
	case change.KindBool:
		if v.I != 0 {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case change.KindInt:
		if v.Size == 64 {
			dst = append(dst, `{"$numberLong": "`...)
			dst = strconv.AppendInt(dst, v.I, 10)
			return append(dst, `"}`...)
		}
		return strconv.AppendInt(dst, v.I, 10)
	case change.KindUint:
		return strconv.AppendUint(dst, v.U, 10)
	case change.KindFloat:
		if math.IsNaN(v.F) || math.IsInf(v.F, 0) {
			dst = append(dst, `{"$numberDouble": `...)
			dst = appendFloatJSON(dst, v.F, 64) // "NaN", "Infinity", "-Infinity"
			return append(dst, '}')
		}
		start := len(dst)
		dst = strconv.AppendFloat(dst, v.F, 'g', -1, floatBits(v.Size))
		if !strings.ContainsAny(string(dst[start:]), ".eE") {
			dst = append(dst, ".0"...)
		}
		return dst
	case change.KindDecimal:
		dst = append(dst, `{"$numberDecimal": `...)
		dst = appendString(dst, v.B)
		return append(dst, '}')
	case change.KindString, change.KindEnum, change.KindSet, change.KindJSON:
		return appendString(dst, v.B)
	case change.KindBytes, change.KindUUID:
		sub := v.U
		if v.Kind == change.KindUUID {
			sub = 4
		}
		dst = append(dst, `{"$binary": `...)
		dst = appendBase64(dst, v.B, base64.StdEncoding)
		dst = append(dst, `, "$type": "`...)
		dst = append(dst, hexDigits[sub>>4&0xf], hexDigits[sub&0xf])
		return append(dst, `"}`...)
	case change.KindTimestamp:
		ms := v.I*1000 + int64(v.U/1e6)
		dst = append(dst, `{"$date": `...)
		dst = strconv.AppendInt(dst, ms, 10)
		return append(dst, '}')
	case change.KindObjectID:
		dst = append(dst, `{"$oid": "`...)
		dst = appendHexBytes(dst, v.B)
		return append(dst, `"}`...)
	case change.KindBSONTimestamp:
		dst = append(dst, `{"$timestamp": {"t": `...)
		dst = strconv.AppendUint(dst, v.U>>32, 10)
		dst = append(dst, `, "i": `...)
		dst = strconv.AppendUint(dst, v.U&0xffffffff, 10)
		return append(dst, `}}`...)
	case change.KindRegex:
		dst = append(dst, `{"$regex": `...)
		dst = appendString(dst, v.B)
		dst = append(dst, `, "$options": `...)
		return appendString(dst, names0(v))
	case change.KindArray:
		dst = append(dst, '[')
		for i := range v.Elems {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = appendExtJSON(dst, &v.Elems[i])
		}
		return append(dst, ']')
	case change.KindDocument:
		dst = append(dst, '{')
		for i := range v.Elems {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			name := ""
			if i < len(v.Names) {
				name = v.Names[i]
			}
			dst = appendString(dst, name)
			dst = append(dst, ": "...)
			dst = appendExtJSON(dst, &v.Elems[i])
		}
		return append(dst, '}')
	case change.KindOther:
		switch names0(v) {
		case "minKey":
			return append(dst, `{"$minKey": 1}`...)
		case "maxKey":
			return append(dst, `{"$maxKey": 1}`...)
		case "undefined":
			return append(dst, `{"$undefined": true}`...)
		case "javascript":
			dst = append(dst, `{"$code": `...)
			dst = appendString(dst, v.B)
			return append(dst, '}')
		case "symbol":
			dst = append(dst, `{"$symbol": `...)
			dst = appendString(dst, v.B)
			return append(dst, '}')
		}
		if jsonObject(v.B) {
			return appendCompact(dst, v.B)
		}
		return appendString(dst, v.B)
	}
	return appendString(dst, change.AppendText(nil, *v))
}

// jsonObject reports whether b is a valid JSON object.
func jsonObject(b []byte) bool {
	return len(b) > 1 && b[0] == '{' && jsonValid(b)
}
