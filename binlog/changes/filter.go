package changes

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/binlog"
)

// Filter selects what a Decoder emits, with mysqlbinlog's meanings. The
// zero Filter selects everything.
type Filter struct {
	// StartPosition skips events before this offset of the first file.
	StartPosition int64
	// StopPosition stops at the first event at or after this offset of the
	// last file (0: no limit).
	StopPosition int64
	// StartTime skips events whose header timestamp is before it.
	StartTime time.Time
	// StopTime stops at the first event whose timestamp is at or after it.
	StopTime time.Time
	// Databases keeps only changes of these databases (none: all).
	Databases []string
	// Tables keeps only changes of these tables, as "table" (any database)
	// or "db.table" (none: all).
	Tables []string
	// IncludeGTIDs keeps only transactions whose GTID is in the set.
	IncludeGTIDs *GTIDSet
	// ExcludeGTIDs drops transactions whose GTID is in the set.
	ExcludeGTIDs *GTIDSet
}

// keepTable reports whether changes of db.tbl pass the database and table filters.
func (f *Filter) keepTable(db, tbl string) bool {
	if len(f.Databases) > 0 {
		ok := false
		for _, d := range f.Databases {
			if d == db {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(f.Tables) == 0 {
		return true
	}
	for _, t := range f.Tables {
		if d, name, qualified := strings.Cut(t, "."); qualified {
			if d == db && name == tbl {
				return true
			}
		} else if t == tbl {
			return true
		}
	}
	return false
}

// GTIDSet is a set of GTIDs to filter transactions by: a MySQL GTID set
// ("uuid:1-5:7,uuid2:3") or a MariaDB list of "domain-server-seq" GTIDs
// and "domain-server-first-last" ranges ("0-1-5,0-1-10-20").
type GTIDSet struct {
	mysql *binlog.MySQLGTIDSet
	maria []mariaRange
	text  string
}

type mariaRange struct {
	domain, server uint32
	first, last    uint64
}

// ParseGTIDSet parses a MySQL GTID set or a MariaDB GTID list.
func ParseGTIDSet(text string) (*GTIDSet, error) {
	s := &GTIDSet{text: text}
	if strings.Contains(text, ":") {
		m, err := binlog.ParseMySQLGTIDSet(text)
		if err != nil {
			return nil, fmt.Errorf("changes: GTID set %q: %w", text, err)
		}
		s.mysql = m
		return s, nil
	}
	for _, part := range strings.Split(text, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		f := strings.Split(part, "-")
		if len(f) != 3 && len(f) != 4 {
			return nil, fmt.Errorf("changes: GTID %q is neither uuid:n nor domain-server-seq", part)
		}
		var n [4]uint64
		for i, x := range f {
			bits := 64
			if i < 2 {
				bits = 32
			}
			v, err := strconv.ParseUint(x, 10, bits)
			if err != nil {
				return nil, fmt.Errorf("changes: GTID %q: %w", part, err)
			}
			n[i] = v
		}
		r := mariaRange{domain: uint32(n[0]), server: uint32(n[1]), first: n[2], last: n[2]}
		if len(f) == 4 {
			r.last = n[3]
			if r.last < r.first {
				return nil, fmt.Errorf("changes: GTID range %q ends before it starts", part)
			}
		}
		s.maria = append(s.maria, r)
	}
	return s, nil
}

// String returns the text the set was parsed from.
func (s *GTIDSet) String() string { return s.text }

// containsMySQL reports whether the MySQL GTID g is in the set.
func (s *GTIDSet) containsMySQL(g binlog.MySQLGTID) bool {
	return s.mysql != nil && s.mysql.Contains(g)
}

// containsMaria reports whether the MariaDB GTID g is in the set.
func (s *GTIDSet) containsMaria(g binlog.MariaGTID) bool {
	for _, r := range s.maria {
		if r.domain == g.Domain && r.server == g.Server && g.Seq >= r.first && g.Seq <= r.last {
			return true
		}
	}
	return false
}
