package snapshot

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/change"
)

// State is a snapshot's progress as a position carries it
// (change.Position.Snapshot): what a restart needs to go on where the
// snapshot stood. Its text (String, ParseState) is a comma-separated list
// of fields:
//
//	t=DB.TABLE     the table being read: every table before it (in the
//	               order of CompareTables) is done
//	k=KEY          the key of the last row delivered of that table
//	               (AppendKey); left out for a table without a key, which
//	               is read again whole after a restart
//	r=N            the runs of the snapshot before this one (restarts),
//	               left out for the first
//	inc=ID         an incremental snapshot is running: its request's id
//	q=DB.TABLE~…   the tables it has still to read after t
//
// Database and table names are written with every byte outside
// [A-Za-z0-9_-] as %XX, so '.', '~' and ',' separate unambiguously.
type State struct {
	// Table is the table being read.
	Table change.Namespace
	// Key is the key of the last row of Table delivered; nil when none
	// was, or when Table has no key.
	Key []change.Value
	// Runs counts the runs of the snapshot before the one that delivered
	// this row: each restart in the middle of a snapshot begins a run.
	Runs int
	// Incremental is the id of the incremental snapshot request being
	// served ("" for an initial snapshot), and Queue the tables it has
	// still to read after Table.
	Incremental string
	Queue       []change.Namespace
}

// IsZero reports whether s holds nothing.
func (s *State) IsZero() bool {
	return s.Table == (change.Namespace{}) && s.Key == nil && s.Runs == 0 && s.Incremental == "" && len(s.Queue) == 0
}

// String returns the text of s (a Position's Snapshot field).
func (s *State) String() string { return string(s.Append(nil)) }

// Append appends the text of s to dst.
func (s *State) Append(dst []byte) []byte {
	start := len(dst)
	sep := func() {
		if len(dst) > start {
			dst = append(dst, ',')
		}
	}
	if s.Incremental != "" {
		sep()
		dst = append(dst, "inc="...)
		dst = appendEscaped(dst, []byte(s.Incremental))
	}
	if s.Table != (change.Namespace{}) {
		sep()
		dst = append(dst, "t="...)
		dst = appendTable(dst, s.Table)
	}
	if s.Key != nil {
		sep()
		dst = append(dst, "k="...)
		dst = AppendKey(dst, s.Key)
	}
	if len(s.Queue) > 0 {
		sep()
		dst = append(dst, "q="...)
		for i, t := range s.Queue {
			if i > 0 {
				dst = append(dst, '~')
			}
			dst = appendTable(dst, t)
		}
	}
	if s.Runs != 0 {
		sep()
		dst = append(dst, "r="...)
		dst = strconv.AppendInt(dst, int64(s.Runs), 10)
	}
	return dst
}

func appendTable(dst []byte, ns change.Namespace) []byte {
	dst = appendEscaped(dst, []byte(ns.Database))
	dst = append(dst, '.')
	return appendEscaped(dst, []byte(ns.Table))
}

// ParseState reads the text of a State. An empty text is the zero State.
func ParseState(text string) (State, error) {
	var s State
	if text == "" {
		return s, nil
	}
	seen := map[string]bool{}
	for _, field := range strings.Split(text, ",") {
		name, val, ok := strings.Cut(field, "=")
		if !ok {
			return State{}, fmt.Errorf("snapshot: progress %q: field %q has no '='", text, field)
		}
		if seen[name] {
			return State{}, fmt.Errorf("snapshot: progress %q: field %s repeated", text, name)
		}
		seen[name] = true
		var err error
		switch name {
		case "t":
			s.Table, err = parseTable(val)
		case "k":
			s.Key, err = ParseKey(val)
		case "inc":
			var b []byte
			b, err = unescape(val)
			s.Incremental = string(b)
		case "q":
			for _, t := range strings.Split(val, "~") {
				var ns change.Namespace
				if ns, err = parseTable(t); err != nil {
					break
				}
				s.Queue = append(s.Queue, ns)
			}
		case "r":
			s.Runs, err = strconv.Atoi(val)
			if err == nil && s.Runs < 0 {
				err = errors.New("negative")
			}
		default:
			err = errors.New("unknown field")
		}
		if err != nil {
			return State{}, fmt.Errorf("snapshot: progress %q: field %s: %w", text, name, err)
		}
	}
	if s.Key != nil && s.Table == (change.Namespace{}) {
		return State{}, fmt.Errorf("snapshot: progress %q: a key without its table", text)
	}
	return s, nil
}

func parseTable(t string) (change.Namespace, error) {
	db, table, ok := strings.Cut(t, ".")
	if !ok || strings.Contains(table, ".") {
		return change.Namespace{}, fmt.Errorf("table %q is not DB.TABLE", t)
	}
	d, err := unescape(db)
	if err != nil {
		return change.Namespace{}, err
	}
	tb, err := unescape(table)
	if err != nil {
		return change.Namespace{}, err
	}
	return change.Namespace{Database: string(d), Table: string(tb)}, nil
}

// CompareTables is the order a snapshot reads tables in: by database, then
// table name, as bytes.
func CompareTables(a, b change.Namespace) int {
	if c := strings.Compare(a.Database, b.Database); c != 0 {
		return c
	}
	return strings.Compare(a.Table, b.Table)
}
