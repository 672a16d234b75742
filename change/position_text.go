package change

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// IsZero reports whether p is the zero Position (no position: start where the source decides).
func (p Position) IsZero() bool { return p == Position{} }

// Compare orders two positions: -1 if a is before b, 0 if they are equal, +1
// if a is after b. Positions of different flavors order by flavor. Binlog
// positions order by file (base name, then the numeric suffix as a number,
// so mysql-bin.999999 < mysql-bin.1000000), then Offset, then Index; LSN and
// MongoDB positions by Offset, then Index. A snapshot's rows (Row set) come
// after the position without Row at the same place and Index, in Row
// order. Fields that do not take part in a flavor's order (the GTID set,
// the token, the snapshot progress, and File outside binlog) break
// remaining ties as plain strings, so Compare is 0 only for identical
// positions and the order is total.
func Compare(a, b Position) int {
	if c := ComparePlace(a, b); c != 0 {
		return c
	}
	if c := strings.Compare(a.File, b.File); c != 0 {
		return c
	}
	if c := strings.Compare(a.GTIDSet, b.GTIDSet); c != 0 {
		return c
	}
	if c := strings.Compare(a.Token, b.Token); c != 0 {
		return c
	}
	return strings.Compare(a.Snapshot, b.Snapshot)
}

// ComparePlace orders two positions by where they are in the log only:
// flavor, then (binlog) file, Offset, Index and snapshot Row, as Compare
// does, but it returns 0 for positions at the same place that differ in
// the fields Compare uses to break ties (a GTID set, a token, the snapshot
// progress, a non-binlog File). A stop position typed as FILE:POS is at
// the same place as the commit that ends there, which carries its GTID
// set.
func ComparePlace(a, b Position) int {
	if c := cmp.Compare(a.Flavor, b.Flavor); c != 0 {
		return c
	}
	if a.Flavor == FlavorBinlog {
		if c := compareBinlogFile(a.File, b.File); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(a.Offset, b.Offset); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Index, b.Index); c != 0 {
		return c
	}
	return cmp.Compare(a.Row, b.Row)
}

// splitBinlogName splits "mysql-bin.000003" into "mysql-bin" and "000003".
// digits is empty when the name has no all-digit suffix after its last dot.
func splitBinlogName(name string) (base, digits string) {
	dot := strings.LastIndexByte(name, '.')
	if dot < 0 || dot == len(name)-1 {
		return name, ""
	}
	for i := dot + 1; i < len(name); i++ {
		if name[i] < '0' || name[i] > '9' {
			return name, ""
		}
	}
	return name[:dot], name[dot+1:]
}

func compareBinlogFile(a, b string) int {
	if a == b {
		return 0
	}
	ab, ad := splitBinlogName(a)
	bb, bd := splitBinlogName(b)
	if c := strings.Compare(ab, bb); c != 0 {
		return c
	}
	if (ad == "") != (bd == "") {
		if ad == "" {
			return -1
		}
		return 1
	}
	an := strings.TrimLeft(ad, "0")
	bn := strings.TrimLeft(bd, "0")
	if c := cmp.Compare(len(an), len(bn)); c != 0 {
		return c
	}
	if c := strings.Compare(an, bn); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

var flavorNames = [...]string{
	FlavorNone:   "none",
	FlavorBinlog: "binlog",
	FlavorLSN:    "lsn",
	FlavorMongo:  "mongo",
}

// String returns the position's text form, which ParsePosition reads back exactly:
//
//	binlog:mysql-bin.000003:1234#5;gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5
//	lsn:0/16B3748#2
//	mongo:1700000000.5#1;token=%7B%22_data%22:%228265...%22%7D
//	lsn:0/16B3748;row=17;snap=i1,t=public.orders,k=42
//
// The zero Position is "". The main part is the binlog file and offset, the
// LSN as PostgreSQL prints it, or the oplog timestamp as seconds.increment;
// "#N" adds a nonzero Index; ";file=", ";gtid=", ";token=", ";row=" and
// ";snap=" add the other nonzero fields (File outside binlog positions,
// GTIDSet, Token, Row, Snapshot), in that order. In the text fields (and
// the binlog file name) '%', ';', '#', spaces, control bytes, bytes >=
// 0x7F, and ':' in a file name are written as %XX, so a GTID set with
// newlines stays on one line.
func (p Position) String() string {
	if p.IsZero() {
		return ""
	}
	return string(appendPosition(nil, p))
}

// Append appends p's String form to dst, allocating nothing when dst has
// room.
func (p Position) Append(dst []byte) []byte { return appendPosition(dst, p) }

func appendPosition(dst []byte, p Position) []byte { return appendPositionEsc(dst, p, false) }

// appendPositionJSON appends p's text as the inside of a JSON string: the
// text of appendPosition with '"' and '\\' backslash-escaped.
func appendPositionJSON(dst []byte, p Position) []byte { return appendPositionEsc(dst, p, true) }

// appendPositionEsc appends p's text; jsonQuoted also backslash-escapes
// '"' and '\\', the only printable bytes the text keeps that a JSON
// string cannot hold as they are (the rest of the text is printable ASCII
// or %XX escapes, and flavor names and numbers hold neither).
func appendPositionEsc(dst []byte, p Position, jsonQuoted bool) []byte {
	if p.IsZero() {
		return dst
	}
	if int(p.Flavor) < len(flavorNames) {
		dst = append(dst, flavorNames[p.Flavor]...)
	} else {
		dst = append(dst, "flavor("...)
		dst = strconv.AppendUint(dst, uint64(p.Flavor), 10)
		dst = append(dst, ')')
	}
	dst = append(dst, ':')
	fileDone := false
	switch p.Flavor {
	case FlavorBinlog:
		dst = appendPosEscaped(dst, p.File, posEscTable(true, jsonQuoted))
		dst = append(dst, ':')
		dst = strconv.AppendUint(dst, p.Offset, 10)
		fileDone = true
	case FlavorLSN:
		dst = strconv.AppendUint(dst, p.Offset>>32, 16)
		dst = append(dst, '/')
		dst = strconv.AppendUint(dst, p.Offset&0xffffffff, 16)
		upperTail(dst, len(dst)-1)
	case FlavorMongo:
		dst = strconv.AppendUint(dst, p.Offset>>32, 10)
		dst = append(dst, '.')
		dst = strconv.AppendUint(dst, p.Offset&0xffffffff, 10)
	default:
		dst = strconv.AppendUint(dst, p.Offset, 10)
	}
	if p.Index != 0 {
		dst = append(dst, '#')
		dst = strconv.AppendUint(dst, p.Index, 10)
	}
	if p.File != "" && !fileDone {
		dst = append(dst, ";file="...)
		dst = appendPosEscaped(dst, p.File, posEscTable(false, jsonQuoted))
	}
	if p.GTIDSet != "" {
		dst = append(dst, ";gtid="...)
		dst = appendPosEscaped(dst, p.GTIDSet, posEscTable(false, jsonQuoted))
	}
	if p.Token != "" {
		dst = append(dst, ";token="...)
		dst = appendPosEscaped(dst, p.Token, posEscTable(false, jsonQuoted))
	}
	return appendPosTail(dst, p, jsonQuoted)
}

// appendPosTail appends the last parts of p's text, its row and snapshot
// progress (see appendPositionEsc).
func appendPosTail(dst []byte, p Position, jsonQuoted bool) []byte {
	if p.Row != 0 {
		dst = append(dst, ";row="...)
		dst = strconv.AppendUint(dst, p.Row, 10)
	}
	if p.Snapshot != "" {
		dst = append(dst, ";snap="...)
		dst = appendPosEscaped(dst, p.Snapshot, posEscTable(false, jsonQuoted))
	}
	return dst
}

// upperTail upper-cases the hex letters of the LSN just written (from the
// last "lsn:" on); hex digits are the only letters there.
func upperTail(dst []byte, end int) {
	for i := end; i >= 0 && dst[i] != ':'; i-- {
		if c := dst[i]; c >= 'a' && c <= 'f' {
			dst[i] = c - 'a' + 'A'
		}
	}
}

// Escape tables of position text: for each byte, posPlain (written as
// it is), posPercent (written as %XX) or posBackslash (written after a
// backslash, inside a JSON string).
const (
	posPlain = iota
	posPercent
	posBackslash
)

// posEsc holds the four tables posEscTable chooses from, indexed by
// file<<1 | jsonQuoted.
var posEsc = func() (t [4][256]uint8) {
	for k := range t {
		file, jsonQuoted := k&2 != 0, k&1 != 0
		for c := range 256 {
			switch {
			case c <= ' ' || c >= 0x7f || c == '%' || c == ';' || c == '#' || (file && c == ':'):
				t[k][c] = posPercent
			case jsonQuoted && (c == '"' || c == '\\'):
				t[k][c] = posBackslash
			}
		}
	}
	return t
}()

// posEscTable returns the escape table of a binlog file name (file) or
// another text field, written plain or inside a JSON string (jsonQuoted).
func posEscTable(file, jsonQuoted bool) *[256]uint8 {
	k := 0
	if file {
		k = 2
	}
	if jsonQuoted {
		k |= 1
	}
	return &posEsc[k]
}

// appendPosEscaped appends s with the bytes esc marks escaped, copying
// the runs between them whole.
func appendPosEscaped(dst []byte, s string, esc *[256]uint8) []byte {
	for len(s) > 0 {
		i := 0
		for i < len(s) && esc[s[i]] == posPlain {
			i++
		}
		dst = append(dst, s[:i]...)
		if i == len(s) {
			break
		}
		c := s[i]
		if esc[c] == posPercent {
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
		} else {
			dst = append(dst, '\\', c)
		}
		s = s[i+1:]
	}
	return dst
}

func unescapePos(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", errors.New("truncated %XX escape")
		}
		h, ok1 := unhex(s[i+1])
		l, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", fmt.Errorf("bad escape %q", s[i:i+3])
		}
		b = append(b, h<<4|l)
		i += 2
	}
	return string(b), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// ParsePosition reads a Position from the text form written by Position.String.
func ParsePosition(s string) (Position, error) {
	p, err := parsePosition(s)
	if err != nil {
		return Position{}, fmt.Errorf("change: parse position %q: %w", s, err)
	}
	return p, nil
}

func parsePosition(s string) (Position, error) {
	var p Position
	if s == "" {
		return p, nil
	}
	name, body, ok := strings.Cut(s, ":")
	if !ok {
		return p, errors.New("missing flavor")
	}
	found := false
	for i, n := range flavorNames {
		if n == name {
			p.Flavor, found = Flavor(i), true
		}
	}
	if !found {
		n, ok := parseNumbered(name, "flavor(")
		if !ok {
			return p, fmt.Errorf("unknown flavor %q", name)
		}
		p.Flavor = Flavor(n)
	}
	main, params, _ := strings.Cut(body, ";")
	main, index, hasIndex := strings.Cut(main, "#")
	var err error
	if hasIndex {
		if p.Index, err = parseDecimal(index); err != nil {
			return p, fmt.Errorf("index: %w", err)
		}
	}
	switch p.Flavor {
	case FlavorBinlog:
		file, off, ok := strings.Cut(main, ":")
		if !ok {
			return p, errors.New("binlog position needs file:offset")
		}
		if p.File, err = unescapePos(file); err != nil {
			return p, fmt.Errorf("file: %w", err)
		}
		if p.Offset, err = parseDecimal(off); err != nil {
			return p, fmt.Errorf("offset: %w", err)
		}
	case FlavorLSN:
		hi, lo, ok := strings.Cut(main, "/")
		if !ok {
			return p, errors.New("LSN needs hi/lo")
		}
		h, err1 := strconv.ParseUint(hi, 16, 32)
		l, err2 := strconv.ParseUint(lo, 16, 32)
		if err := errors.Join(err1, err2); err != nil {
			return p, fmt.Errorf("LSN: %w", err)
		}
		p.Offset = h<<32 | l
	case FlavorMongo:
		sec, inc, ok := strings.Cut(main, ".")
		if !ok {
			return p, errors.New("oplog timestamp needs seconds.increment")
		}
		t, err1 := strconv.ParseUint(sec, 10, 32)
		i, err2 := strconv.ParseUint(inc, 10, 32)
		if err := errors.Join(err1, err2); err != nil {
			return p, fmt.Errorf("oplog timestamp: %w", err)
		}
		p.Offset = t<<32 | i
	default:
		if p.Offset, err = parseDecimal(main); err != nil {
			return p, fmt.Errorf("offset: %w", err)
		}
	}
	seen := map[string]bool{}
	for params != "" {
		var kv string
		kv, params, _ = strings.Cut(params, ";")
		k, v, ok := strings.Cut(kv, "=")
		if !ok || seen[k] {
			return p, fmt.Errorf("bad or repeated field %q", kv)
		}
		seen[k] = true
		if k == "row" {
			if p.Row, err = parseDecimal(v); err != nil {
				return p, fmt.Errorf("row: %w", err)
			}
			continue
		}
		u, err := unescapePos(v)
		if err != nil {
			return p, fmt.Errorf("%s: %w", k, err)
		}
		switch {
		case k == "file" && p.Flavor != FlavorBinlog:
			p.File = u
		case k == "gtid":
			p.GTIDSet = u
		case k == "token":
			p.Token = u
		case k == "snap":
			p.Snapshot = u
		default:
			return p, fmt.Errorf("unknown field %q", k)
		}
	}
	return p, nil
}

// parseDecimal parses an unsigned decimal number (digits only).
func parseDecimal(s string) (uint64, error) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, fmt.Errorf("bad number %q", s)
	}
	return strconv.ParseUint(s, 10, 64)
}
