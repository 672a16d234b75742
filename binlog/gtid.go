package binlog

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ErrBadGTID is wrapped by errors about GTID and GTID set text or encoding.
var ErrBadGTID = errors.New("bad GTID")

// UUID is a MySQL server UUID (source id of a GTID).
type UUID [16]byte

// String formats u as 8-4-4-4-12 lowercase hex.
func (u UUID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], u[10:16])
	return string(b[:])
}

// ParseUUID parses the 8-4-4-4-12 hex form (dashes optional).
func ParseUUID(s string) (UUID, error) {
	var u UUID
	h := strings.ReplaceAll(s, "-", "")
	if len(h) != 32 {
		return u, fmt.Errorf("%w: uuid %q", ErrBadGTID, s)
	}
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, fmt.Errorf("%w: uuid %q", ErrBadGTID, s)
	}
	return u, nil
}

// Interval is a range of transaction numbers [Start, End).
type Interval struct{ Start, End int64 }

// UUIDSet is the part of a MySQL GTID set for one source id and tag.
type UUIDSet struct {
	UUID      UUID
	Tag       string     // "" for untagged GTIDs
	Intervals []Interval // sorted, disjoint, non-adjacent
}

// MySQLGTIDSet is a MySQL GTID set: for each (uuid, tag) a list of
// transaction number intervals. The zero value is the empty set.
type MySQLGTIDSet struct {
	Sets []UUIDSet // sorted by UUID, then tag
}

// MySQLGTID is one MySQL GTID: uuid[:tag]:gno.
type MySQLGTID struct {
	UUID UUID
	Tag  string
	GNO  int64
}

// String formats g as uuid:gno or uuid:tag:gno.
func (g MySQLGTID) String() string {
	s := g.UUID.String() + ":"
	if g.Tag != "" {
		s += g.Tag + ":"
	}
	return s + strconv.FormatInt(g.GNO, 10)
}

func (s *MySQLGTIDSet) find(u UUID, tag string) (int, bool) {
	return slices.BinarySearchFunc(s.Sets, UUIDSet{UUID: u, Tag: tag}, func(a, b UUIDSet) int {
		if c := compareUUID(a.UUID, b.UUID); c != 0 {
			return c
		}
		return strings.Compare(a.Tag, b.Tag)
	})
}

func compareUUID(a, b UUID) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// AddInterval adds [start, end) for (u, tag) to the set.
func (s *MySQLGTIDSet) AddInterval(u UUID, tag string, start, end int64) {
	if end <= start {
		return
	}
	i, ok := s.find(u, tag)
	if !ok {
		s.Sets = slices.Insert(s.Sets, i, UUIDSet{UUID: u, Tag: tag})
	}
	s.Sets[i].Intervals = addInterval(s.Sets[i].Intervals, Interval{start, end})
}

// Add adds one GTID to the set.
func (s *MySQLGTIDSet) Add(g MySQLGTID) { s.AddInterval(g.UUID, g.Tag, g.GNO, g.GNO+1) }

// addInterval merges iv into a sorted list of disjoint intervals.
func addInterval(list []Interval, iv Interval) []Interval {
	i, _ := slices.BinarySearchFunc(list, iv.Start, func(a Interval, t int64) int {
		switch {
		case a.End < t:
			return -1
		case a.Start > t:
			return 1
		}
		return 0
	})
	// list[i] is the first interval whose End >= iv.Start.
	j := i
	for j < len(list) && list[j].Start <= iv.End {
		iv.Start = min(iv.Start, list[j].Start)
		iv.End = max(iv.End, list[j].End)
		j++
	}
	return slices.Replace(list, i, j, iv)
}

// Contains reports whether g is in the set.
func (s *MySQLGTIDSet) Contains(g MySQLGTID) bool {
	i, ok := s.find(g.UUID, g.Tag)
	if !ok {
		return false
	}
	for _, iv := range s.Sets[i].Intervals {
		if g.GNO >= iv.Start && g.GNO < iv.End {
			return true
		}
	}
	return false
}

// ContainsSet reports whether every GTID of o is in s.
func (s *MySQLGTIDSet) ContainsSet(o *MySQLGTIDSet) bool {
	for _, us := range o.Sets {
		i, ok := s.find(us.UUID, us.Tag)
		if !ok {
			if len(us.Intervals) > 0 {
				return false
			}
			continue
		}
		mine := s.Sets[i].Intervals
		for _, iv := range us.Intervals {
			k, _ := slices.BinarySearchFunc(mine, iv.Start, func(a Interval, t int64) int {
				if a.End <= t {
					return -1
				}
				if a.Start > t {
					return 1
				}
				return 0
			})
			if k >= len(mine) || mine[k].Start > iv.Start || mine[k].End < iv.End {
				return false
			}
		}
	}
	return true
}

// Union adds every GTID of o to s.
func (s *MySQLGTIDSet) Union(o *MySQLGTIDSet) {
	for _, us := range o.Sets {
		for _, iv := range us.Intervals {
			s.AddInterval(us.UUID, us.Tag, iv.Start, iv.End)
		}
	}
}

// Clone returns a deep copy of s.
func (s *MySQLGTIDSet) Clone() *MySQLGTIDSet {
	c := &MySQLGTIDSet{Sets: make([]UUIDSet, len(s.Sets))}
	for i, us := range s.Sets {
		c.Sets[i] = UUIDSet{UUID: us.UUID, Tag: us.Tag, Intervals: slices.Clone(us.Intervals)}
	}
	return c
}

// String formats the set as MySQL does: uuid:1-5:7,uuid2:tag:1-3, with
// untagged intervals of a uuid before its tagged ones.
func (s *MySQLGTIDSet) String() string {
	var b strings.Builder
	var last UUID
	for i, us := range s.Sets {
		if len(us.Intervals) == 0 {
			continue
		}
		if i == 0 || us.UUID != last || b.Len() == 0 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(us.UUID.String())
			last = us.UUID
		}
		if us.Tag != "" {
			b.WriteByte(':')
			b.WriteString(us.Tag)
		}
		for _, iv := range us.Intervals {
			b.WriteByte(':')
			b.WriteString(strconv.FormatInt(iv.Start, 10))
			if iv.End-1 != iv.Start {
				b.WriteByte('-')
				b.WriteString(strconv.FormatInt(iv.End-1, 10))
			}
		}
	}
	return b.String()
}

// ParseMySQLGTIDSet parses MySQL GTID set text: comma-separated
// uuid(:tag|:n|:n-m)* groups; whitespace and newlines are ignored.
func ParseMySQLGTIDSet(text string) (*MySQLGTIDSet, error) {
	s := &MySQLGTIDSet{}
	text = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\t' || r == '\r' {
			return -1
		}
		return r
	}, text)
	if text == "" {
		return s, nil
	}
	for _, group := range strings.Split(text, ",") {
		parts := strings.Split(group, ":")
		u, err := ParseUUID(parts[0])
		if err != nil {
			return nil, err
		}
		tag := ""
		for _, p := range parts[1:] {
			if p == "" {
				return nil, fmt.Errorf("%w: empty element in %q", ErrBadGTID, group)
			}
			if c := p[0]; c < '0' || c > '9' {
				if err := checkTag(p); err != nil {
					return nil, err
				}
				tag = strings.ToLower(p)
				continue
			}
			lo, hi, ok := strings.Cut(p, "-")
			a, err1 := strconv.ParseInt(lo, 10, 64)
			b := a
			var err2 error
			if ok {
				b, err2 = strconv.ParseInt(hi, 10, 64)
			}
			if err1 != nil || err2 != nil || a < 1 || b < a || b == 1<<63-1 {
				return nil, fmt.Errorf("%w: interval %q", ErrBadGTID, p)
			}
			s.AddInterval(u, tag, a, b+1)
		}
	}
	return s, nil
}

// checkTag validates a GTID tag: a letter or underscore, then letters,
// digits and underscores, at most 32 characters.
func checkTag(t string) error {
	if len(t) > 32 {
		return fmt.Errorf("%w: tag %q longer than 32", ErrBadGTID, t)
	}
	for i, c := range t {
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && c >= '0' && c <= '9':
		default:
			return fmt.Errorf("%w: tag %q", ErrBadGTID, t)
		}
	}
	return nil
}

// DecodeMySQLGTIDSet decodes the binary GTID set encoding of
// PREVIOUS_GTIDS_LOG_EVENT and COM_BINLOG_DUMP_GTID, untagged or tagged
// (MySQL 8.3+), and returns it with the number of bytes used.
func DecodeMySQLGTIDSet(b []byte) (*MySQLGTIDSet, int, error) {
	c := cursor{b: b}
	word := c.u64("number of sids")
	if c.err != nil {
		return nil, 0, c.err
	}
	tagged := false
	var n uint64
	switch format := word >> 56; format {
	case 0:
		n = word
	case 1:
		tagged = true
		n = (word & 0x00ffffffffffff00) >> 8
	default:
		return nil, 0, fmt.Errorf("%w: unknown GTID set encoding format %d", ErrBadGTID, format)
	}
	// Each sid needs at least 16+8 bytes: bound n before looping.
	if n > uint64(c.left())/24 {
		return nil, 0, fmt.Errorf("%w: %d sids cannot fit in %d bytes", ErrTruncated, n, c.left())
	}
	s := &MySQLGTIDSet{}
	for i := uint64(0); i < n; i++ {
		var u UUID
		copy(u[:], c.take(16, "sid"))
		tag := ""
		if tagged {
			tl := c.varUint("tag length")
			if tl > 32 {
				return nil, 0, fmt.Errorf("%w: tag length %d", ErrBadGTID, tl)
			}
			tag = string(c.take(int(tl), "tag"))
		}
		k := c.u64("number of intervals")
		if c.err != nil {
			return nil, 0, c.err
		}
		if k > uint64(c.left())/16 {
			return nil, 0, fmt.Errorf("%w: %d intervals cannot fit in %d bytes", ErrTruncated, k, c.left())
		}
		var last int64
		for j := uint64(0); j < k; j++ {
			a := int64(c.u64("interval start"))
			e := int64(c.u64("interval end"))
			if a <= last || e <= a {
				return nil, 0, fmt.Errorf("%w: interval [%d, %d) after %d", ErrBadGTID, a, e, last)
			}
			last = e
			s.AddInterval(u, tag, a, e)
		}
	}
	if c.err != nil {
		return nil, 0, c.err
	}
	return s, c.off, nil
}

// AppendEncoding appends the binary encoding of s (tagged format when any
// tag is present) to dst.
func (s *MySQLGTIDSet) AppendEncoding(dst []byte) []byte {
	tagged := false
	n := uint64(0)
	for _, us := range s.Sets {
		if len(us.Intervals) > 0 {
			n++
			tagged = tagged || us.Tag != ""
		}
	}
	if tagged {
		dst = binary.LittleEndian.AppendUint64(dst, 1<<56|n<<8|1)
	} else {
		dst = binary.LittleEndian.AppendUint64(dst, n)
	}
	for _, us := range s.Sets {
		if len(us.Intervals) == 0 {
			continue
		}
		dst = append(dst, us.UUID[:]...)
		if tagged {
			dst = appendVarUint(dst, uint64(len(us.Tag)))
			dst = append(dst, us.Tag...)
		}
		dst = binary.LittleEndian.AppendUint64(dst, uint64(len(us.Intervals)))
		for _, iv := range us.Intervals {
			dst = binary.LittleEndian.AppendUint64(dst, uint64(iv.Start))
			dst = binary.LittleEndian.AppendUint64(dst, uint64(iv.End))
		}
	}
	return dst
}

// MariaGTID is one MariaDB GTID: domain-server-sequence.
type MariaGTID struct {
	Domain uint32
	Server uint32
	Seq    uint64
}

// String formats g as domain-server-seq.
func (g MariaGTID) String() string {
	return strconv.FormatUint(uint64(g.Domain), 10) + "-" + strconv.FormatUint(uint64(g.Server), 10) + "-" + strconv.FormatUint(g.Seq, 10)
}

// ParseMariaGTID parses domain-server-seq.
func ParseMariaGTID(s string) (MariaGTID, error) {
	p := strings.Split(strings.TrimSpace(s), "-")
	if len(p) != 3 {
		return MariaGTID{}, fmt.Errorf("%w: %q is not domain-server-seq", ErrBadGTID, s)
	}
	d, e1 := strconv.ParseUint(p[0], 10, 32)
	sv, e2 := strconv.ParseUint(p[1], 10, 32)
	q, e3 := strconv.ParseUint(p[2], 10, 64)
	if e1 != nil || e2 != nil || e3 != nil {
		return MariaGTID{}, fmt.Errorf("%w: %q is not domain-server-seq", ErrBadGTID, s)
	}
	return MariaGTID{Domain: uint32(d), Server: uint32(sv), Seq: q}, nil
}

// MariaGTIDSet is a MariaDB GTID position or binlog state: the last GTID
// per (domain, server), as in gtid_binlog_state and GTID_LIST_EVENT.
// Sequence numbers within a domain are ordered, so a GTID is contained
// when its domain has an entry with an equal or higher sequence number.
type MariaGTIDSet struct {
	GTIDs []MariaGTID // sorted by domain, then server
}

// ParseMariaGTIDSet parses comma-separated domain-server-seq GTIDs.
func ParseMariaGTIDSet(text string) (*MariaGTIDSet, error) {
	s := &MariaGTIDSet{}
	if strings.TrimSpace(text) == "" {
		return s, nil
	}
	for _, p := range strings.Split(text, ",") {
		g, err := ParseMariaGTID(p)
		if err != nil {
			return nil, err
		}
		s.Add(g)
	}
	return s, nil
}

// Add records g: it replaces the entry of the same domain and server when
// g is newer, or is inserted.
func (s *MariaGTIDSet) Add(g MariaGTID) {
	i, ok := slices.BinarySearchFunc(s.GTIDs, g, func(a, b MariaGTID) int {
		if a.Domain != b.Domain {
			return cmpU32(a.Domain, b.Domain)
		}
		return cmpU32(a.Server, b.Server)
	})
	if ok {
		if g.Seq > s.GTIDs[i].Seq {
			s.GTIDs[i].Seq = g.Seq
		}
		return
	}
	s.GTIDs = slices.Insert(s.GTIDs, i, g)
}

func cmpU32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Contains reports whether g is at or before the set's position in its
// domain.
func (s *MariaGTIDSet) Contains(g MariaGTID) bool {
	for _, e := range s.GTIDs {
		if e.Domain == g.Domain && e.Seq >= g.Seq {
			return true
		}
	}
	return false
}

// ContainsSet reports whether every GTID of o is contained in s.
func (s *MariaGTIDSet) ContainsSet(o *MariaGTIDSet) bool {
	for _, g := range o.GTIDs {
		if !s.Contains(g) {
			return false
		}
	}
	return true
}

// Clone returns a copy of s.
func (s *MariaGTIDSet) Clone() *MariaGTIDSet { return &MariaGTIDSet{GTIDs: slices.Clone(s.GTIDs)} }

// String formats the set as comma-separated domain-server-seq.
func (s *MariaGTIDSet) String() string {
	parts := make([]string, len(s.GTIDs))
	for i, g := range s.GTIDs {
		parts[i] = g.String()
	}
	return strings.Join(parts, ",")
}
