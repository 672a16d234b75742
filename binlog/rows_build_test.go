package binlog

import (
	"encoding/binary"
	"math"
	"sort"
	"strings"
)

// Test builders for rows event bodies and packed values, written from the
// format descriptions (not from a server), so tests can state edge values.

// buildRowsBody builds a rows event body with a 6-byte table id: post-header
// (v2 adds the extra-data length), column count, the column bitmaps and data.
func buildRowsBody(typ EventType, tableID uint64, ncols int, bitmaps [][]byte, extra []byte, data []byte) []byte {
	b := []byte{byte(tableID), byte(tableID >> 8), byte(tableID >> 16), byte(tableID >> 24), byte(tableID >> 32), byte(tableID >> 40), 1, 0}
	if _, version, _, _ := rowsEventInfo(typ); version == 2 {
		b = binary.LittleEndian.AppendUint16(b, uint16(2+len(extra)))
		b = append(b, extra...)
	}
	b = testPacked(b, uint64(ncols))
	for _, bm := range bitmaps {
		b = append(b, bm...)
	}
	return append(b, data...)
}

// allPresent returns a column bitmap with the first n bits set.
func allPresent(n int) []byte {
	b := make([]byte, (n+7)/8)
	for i := 0; i < n; i++ {
		b[i/8] |= 1 << (uint(i) % 8)
	}
	return b
}

// image builds one row image: the null bitmap over the given values (nil
// means NULL) followed by the non-NULL values.
func image(values ...[]byte) []byte {
	nulls := make([]byte, (len(values)+7)/8)
	var data []byte
	for i, v := range values {
		if v == nil {
			nulls[i/8] |= 1 << (uint(i) % 8)
			continue
		}
		data = append(data, v...)
	}
	return append(nulls, data...)
}

func lenPrefixed(prefix int, s []byte) []byte {
	b := make([]byte, prefix, prefix+len(s))
	for i := 0; i < prefix; i++ {
		b[i] = byte(len(s) >> (8 * uint(i)))
	}
	return append(b, s...)
}

func leBytes(v uint64, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(v >> (8 * uint(i)))
	}
	return b
}

func beBytes(v uint64, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[n-1-i] = byte(v >> (8 * uint(i)))
	}
	return b
}

// encodeDecimal packs a decimal text like MySQL's decimal2bin.
func encodeDecimal(s string, prec, scale int) []byte {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	ip, fp, _ := strings.Cut(s, ".")
	ip = strings.TrimLeft(ip, "0")
	intg := prec - scale
	ip = strings.Repeat("0", intg-len(ip)) + ip
	fp += strings.Repeat("0", scale-len(fp))
	var out []byte
	group := func(digits string) {
		v := uint64(0)
		for _, c := range digits {
			v = v*10 + uint64(c-'0')
		}
		out = append(out, beBytes(v, decimalDigitBytes[len(digits)])...)
	}
	lead := intg % 9
	if lead > 0 {
		group(ip[:lead])
	}
	for i := lead; i < intg; i += 9 {
		group(ip[i : i+9])
	}
	for i := 0; i+9 <= scale; i += 9 {
		group(fp[i : i+9])
	}
	if scale%9 > 0 {
		group(fp[scale/9*9:])
	}
	if neg {
		for i := range out {
			out[i] = ^out[i]
		}
	}
	out[0] ^= 0x80
	return out
}

// encodeTime2 packs a TIME(fsp) like my_time_packed_to_binary.
func encodeTime2(neg bool, h, m, s int, micros int64, fsp int) []byte {
	packed := int64(h<<12|m<<6|s)<<24 + micros
	if neg {
		packed = -packed
	}
	intPart, frac := packed>>24, packed%(1<<24)
	switch fsp {
	case 1, 2:
		return append(beBytes(uint64(intPart+timefIntOfs), 3), byte(int8(frac/10000)))
	case 3, 4:
		return append(beBytes(uint64(intPart+timefIntOfs), 3), beBytes(uint64(uint16(int16(frac/100))), 2)...)
	case 5, 6:
		return beBytes(uint64(packed+timefOfs), 6)
	}
	return beBytes(uint64(intPart+timefIntOfs), 3)
}

func fracEncode(micros int64, fsp int) []byte {
	switch fsp {
	case 1, 2:
		return []byte{byte(micros / 10000)}
	case 3, 4:
		return beBytes(uint64(micros/100), 2)
	case 5, 6:
		return beBytes(uint64(micros), 3)
	}
	return nil
}

// encodeDateTime2 packs a DATETIME(fsp).
func encodeDateTime2(y, mo, d, h, mi, s int, micros int64, fsp int) []byte {
	ymd := uint64((y*13+mo)<<5 | d)
	intPart := ymd<<17 | uint64(h<<12|mi<<6|s)
	return append(beBytes(intPart+datetimefIntOfs, 5), fracEncode(micros, fsp)...)
}

// jsonb encodes a Go value (nil, bool, int64, uint64, float64, string,
// []any, map[string]any, or jsonOpaque) in MySQL's binary JSON format,
// returning the type byte and the value bytes.
func jsonb(v any) (byte, []byte) {
	switch x := v.(type) {
	case nil:
		return jsonbLiteral, []byte{0}
	case bool:
		if x {
			return jsonbLiteral, []byte{1}
		}
		return jsonbLiteral, []byte{2}
	case int:
		return jsonb(int64(x))
	case int64:
		if x >= math.MinInt16 && x <= math.MaxInt16 {
			return jsonbInt16, leBytes(uint64(x), 2)
		}
		if x >= math.MinInt32 && x <= math.MaxInt32 {
			return jsonbInt32, leBytes(uint64(x), 4)
		}
		return jsonbInt64, leBytes(uint64(x), 8)
	case uint64:
		return jsonbUint64, leBytes(x, 8)
	case float64:
		return jsonbDouble, leBytes(math.Float64bits(x), 8)
	case string:
		return jsonbString, append(jsonVarLenBytes(len(x)), x...)
	case jsonOpaque:
		return jsonbOpaque, append(append([]byte{byte(x.typ)}, jsonVarLenBytes(len(x.data))...), x.data...)
	case []any:
		return jsonbContainer(nil, x, false)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if len(keys[i]) != len(keys[j]) {
				return len(keys[i]) < len(keys[j])
			}
			return keys[i] < keys[j]
		})
		vals := make([]any, len(keys))
		for i, k := range keys {
			vals[i] = x[k]
		}
		return jsonbContainer(keys, vals, true)
	}
	panic("jsonb: unsupported value")
}

type jsonOpaque struct {
	typ  ColumnType
	data []byte
}

func jsonVarLenBytes(n int) []byte {
	var b []byte
	for {
		c := byte(n & 0x7f)
		n >>= 7
		if n == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// jsonbContainer encodes an object (keys != nil or object) or array in the
// small format, or the large one when the small cannot address it.
func jsonbContainer(keys []string, vals []any, object bool) (byte, []byte) {
	for _, large := range []bool{false, true} {
		osz := 2
		if large {
			osz = 4
		}
		keyEntry := 0
		if object {
			keyEntry = osz + 2
		}
		hdr := 2*osz + len(vals)*(keyEntry+1+osz)
		var heap []byte
		entries := make([]byte, 0, hdr)
		put := func(b []byte, v int) []byte { return append(b, leBytes(uint64(v), osz)...) }
		entries = put(entries, len(vals))
		entries = put(entries, 0) // size, patched below
		for _, k := range keys {
			entries = put(entries, hdr+len(heap))
			entries = append(entries, leBytes(uint64(len(k)), 2)...)
			heap = append(heap, k...)
		}
		for _, v := range vals {
			t, data := jsonb(v)
			entries = append(entries, t)
			if jsonInline(t, large) {
				inline := make([]byte, osz)
				copy(inline, data)
				entries = append(entries, inline...)
				continue
			}
			entries = put(entries, hdr+len(heap))
			heap = append(heap, data...)
		}
		total := hdr + len(heap)
		if !large && total > math.MaxUint16 {
			continue
		}
		out := append(entries, heap...)
		copy(out[osz:], leBytes(uint64(total), osz))
		typ := byte(jsonbSmallArray)
		if object {
			typ = jsonbSmallObject
		}
		if large {
			typ++
		}
		return typ, out
	}
	panic("unreachable")
}

// jsonDoc encodes a whole binary JSON document.
func jsonDoc(v any) []byte {
	t, b := jsonb(v)
	return append([]byte{t}, b...)
}
