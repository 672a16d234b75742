package mysql

import (
	"net/netip"
	"strings"

	"github.com/sluice-cdc/sluice/change"
)

// fixKind names what colFix does to a decoded value.
type fixKind uint8

const (
	fixEnum  fixKind = iota + 1 // ENUM index -> member text (MINIMAL metadata has no names)
	fixSet                      // SET bitmap -> member list
	fixInet4                    // MariaDB INET4: 4 bytes -> dotted quad
	fixInet6                    // MariaDB INET6: 16 bytes -> RFC 5952 text
	fixUUID                     // MariaDB UUID: 16 bytes -> change.KindUUID
)

// colFix turns the value of one column, as the binlog carries it, into what
// the column holds: MariaDB's INET4, INET6 and UUID types are logged as
// BINARY(4)/BINARY(16), and without binlog_row_metadata=FULL the TABLE_MAP
// carries no ENUM/SET member names. The column types come from the schema
// the source holds (information_schema and the DDL history).
type colFix struct {
	col     int
	kind    fixKind
	typ     string   // the SQL type to report, e.g. "inet6"
	members [][]byte // ENUM/SET members
}

// columnFixes returns the fixes the columns of def need, or nil. n is the
// column count of the TABLE_MAP; a def of another shape gives no fixes
// (the caller reports shape mismatches).
func columnFixes(def *tableDef, n int, named bool) []colFix {
	if def == nil || len(def.Columns) != n {
		return nil
	}
	var fixes []colFix
	for i, c := range def.Columns {
		t := strings.ToLower(strings.TrimSpace(c.Type))
		f := colFix{col: i, typ: t}
		switch base := firstWord(t); base {
		case "inet4":
			f.kind = fixInet4
		case "inet6":
			f.kind = fixInet6
		case "uuid":
			f.kind = fixUUID
		case "enum", "set":
			if named {
				continue // FULL metadata carries the members
			}
			f.kind = fixEnum
			if base == "set" {
				f.kind = fixSet
			}
			f.members = enumMembers(c.Type[len(base):])
		default:
			continue
		}
		fixes = append(fixes, f)
	}
	return fixes
}

// enumMembers parses the member list of an ENUM or SET type text:
// ('a','b”s','c').
func enumMembers(s string) [][]byte {
	s = strings.TrimSpace(s)
	var out [][]byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\'' {
			continue
		}
		var m []byte
		for i++; i < len(s); i++ {
			if s[i] == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					m = append(m, '\'')
					i++
					continue
				}
				break
			}
			if s[i] == '\\' && i+1 < len(s) {
				i++
			}
			m = append(m, s[i])
		}
		out = append(out, m)
	}
	return out
}

// apply rewrites v in place; new bytes are taken from buf.
func (f *colFix) apply(v *change.Value, buf *rowBuffers) {
	switch v.Kind {
	case change.KindNull, change.KindAbsent, change.KindUnchanged:
		return
	}
	switch f.kind {
	case fixEnum:
		if v.Kind == change.KindEnum && len(v.B) == 0 && v.U >= 1 && v.U <= uint64(len(f.members)) {
			v.B = f.members[v.U-1]
		}
	case fixSet:
		if v.Kind == change.KindSet && len(v.B) == 0 && v.U != 0 {
			var b []byte
			for i, m := range f.members {
				if i < 64 && v.U&(1<<uint(i)) != 0 {
					if len(b) > 0 {
						b = append(b, ',')
					}
					b = append(b, m...)
				}
			}
			*v = change.Set(buf.store(b), v.U)
		}
	case fixInet4:
		var a [4]byte
		copy(a[:], v.B)
		*v = change.String(buf.store(netip.AddrFrom4(a).AppendTo(nil)))
	case fixInet6:
		var a [16]byte
		copy(a[:], v.B)
		*v = change.String(buf.store(appendInet6(nil, a)))
	case fixUUID:
		var a [16]byte
		copy(a[:], v.B)
		*v = change.Value{Kind: change.KindUUID, B: buf.store(a[:])}
	}
}

// appendInet6 renders an IPv6 address as MariaDB's INET6 does (the
// inet_ntop rules): RFC 5952 compression, and an embedded IPv4 address in
// dotted form for IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible
// (::a.b.c.d) addresses.
func appendInet6(dst []byte, a [16]byte) []byte {
	zero12 := true
	for _, b := range a[:10] {
		zero12 = zero12 && b == 0
	}
	if zero12 {
		switch {
		case a[10] == 0xff && a[11] == 0xff:
			dst = append(dst, "::ffff:"...)
			return netip.AddrFrom4([4]byte(a[12:])).AppendTo(dst)
		case a[10] == 0 && a[11] == 0 && (a[12] != 0 || a[13] != 0):
			dst = append(dst, "::"...)
			return netip.AddrFrom4([4]byte(a[12:])).AppendTo(dst)
		}
	}
	return netip.AddrFrom16(a).AppendTo(dst)
}

// store copies b into the row byte store and returns the copy.
func (b *rowBuffers) store(p []byte) []byte {
	if cap(b.bytes)-len(b.bytes) < len(p) {
		b.bytes = make([]byte, 0, max(64<<10, 2*len(p), 2*cap(b.bytes)))
	}
	start := len(b.bytes)
	b.bytes = append(b.bytes, p...)
	return b.bytes[start:len(b.bytes):len(b.bytes)]
}
