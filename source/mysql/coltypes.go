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
	setLen  int      // the longest SET text: every member and the commas
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
			for _, m := range f.members {
				f.setLen += len(m) + 1
			}
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

// apply rewrites v in place; the new bytes are appended to the row byte
// store of buf, so a fix allocates nothing per row.
func (f *colFix) apply(v *change.Value, buf *rowBuffers) {
	switch v.Kind {
	case change.KindNull, change.KindAbsent, change.KindUnchanged:
		return
	}
	var a [16]byte
	copy(a[:], v.B)
	switch f.kind {
	case fixEnum:
		if v.Kind == change.KindEnum && len(v.B) == 0 && v.U >= 1 && v.U <= uint64(len(f.members)) {
			v.B = f.members[v.U-1]
		}
	case fixSet:
		if v.Kind == change.KindSet && len(v.B) == 0 && v.U != 0 {
			start := buf.reserve(f.setLen)
			for i, m := range f.members {
				if i < 64 && v.U&(1<<uint(i)) != 0 {
					if len(buf.bytes) > start {
						buf.bytes = append(buf.bytes, ',')
					}
					buf.bytes = append(buf.bytes, m...)
				}
			}
			*v = change.Set(buf.since(start), v.U)
		}
	case fixInet4:
		start := buf.reserve(len("255.255.255.255"))
		buf.bytes = netip.AddrFrom4([4]byte(a[:4])).AppendTo(buf.bytes)
		*v = change.String(buf.since(start))
	case fixInet6:
		start := buf.reserve(len("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))
		buf.bytes = appendInet6(buf.bytes, a)
		*v = change.String(buf.since(start))
	case fixUUID:
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

// reserve makes room for n more bytes in the row byte store without
// moving what it holds (earlier values point into it) and returns where
// the next bytes go.
func (b *rowBuffers) reserve(n int) int {
	if cap(b.bytes)-len(b.bytes) < n {
		b.bytes = make([]byte, 0, max(64<<10, 2*n, 2*cap(b.bytes)))
	}
	return len(b.bytes)
}

// since returns the bytes appended to the store since start.
func (b *rowBuffers) since(start int) []byte {
	return b.bytes[start:len(b.bytes):len(b.bytes)]
}

// store copies p into the row byte store and returns the copy.
func (b *rowBuffers) store(p []byte) []byte {
	start := b.reserve(len(p))
	b.bytes = append(b.bytes, p...)
	return b.since(start)
}
