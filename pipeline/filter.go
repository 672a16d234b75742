package pipeline

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/change"
)

// FilterSpec is the text form of a Filter, as users write it on the command
// line or in a config file. Every list is Canal-style: comma-separated
// regular expressions (RE2 syntax), each matched against the whole
// "database.table" name (MongoDB: "database.collection"), for example
// `shop\.orders,shop\.order_.*,audit\..*`. Commas inside (), [] or {} do
// not split, so `db\.t_[0-9]{1,3}` is one pattern. Matching is
// case-sensitive; prefix a pattern with (?i) to ignore case.
type FilterSpec struct {
	// Include keeps only changes of matching tables ("" keeps every table).
	Include string
	// Exclude drops changes of matching tables; it wins over Include.
	Exclude string
	// IncludeColumns keeps only the named columns of matching tables, plus
	// their key columns: `shop\.users:id/email/name,shop\.orders:id/total`.
	// Column names compare case-insensitively, as MySQL does; a column
	// whose name the source does not know is named "@1", "@2", ….
	IncludeColumns string
	// ExcludeColumns drops the named columns of matching tables, key
	// columns included when named: `shop\.users:password_hash/ssn`.
	ExcludeColumns string
}

// Filter decides which changes a pipeline delivers and which columns they
// keep. It is immutable once built and safe for concurrent use.
//
// Begin, commit and heartbeat events are never dropped by a Filter (the
// pipeline decides whether to show them). A DDL change without a table name
// (CREATE DATABASE …) is kept; with one it is filtered like a row change.
type Filter struct {
	include, exclude []*regexp.Regexp
	includeCols      []columnRule
	excludeCols      []columnRule
}

// columnRule is one `table-regex:col/col` item.
type columnRule struct {
	table *regexp.Regexp
	cols  []string
}

// NewFilter compiles spec. An empty spec gives a Filter that keeps everything.
func NewFilter(spec FilterSpec) (*Filter, error) {
	f := &Filter{}
	var err error
	if f.include, err = ParseTableList(spec.Include); err != nil {
		return nil, fmt.Errorf("pipeline: include filter: %w", err)
	}
	if f.exclude, err = ParseTableList(spec.Exclude); err != nil {
		return nil, fmt.Errorf("pipeline: exclude filter: %w", err)
	}
	if f.includeCols, err = parseColumnRules(spec.IncludeColumns); err != nil {
		return nil, fmt.Errorf("pipeline: include-columns filter: %w", err)
	}
	if f.excludeCols, err = parseColumnRules(spec.ExcludeColumns); err != nil {
		return nil, fmt.Errorf("pipeline: exclude-columns filter: %w", err)
	}
	return f, nil
}

// ParseTableList compiles a Canal-style comma-separated list of table
// regular expressions; each is anchored to match the whole "db.table".
func ParseTableList(spec string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, item := range splitList(spec, ',') {
		re, err := regexp.Compile(`^(?:` + item + `)$`)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", item, err)
		}
		out = append(out, re)
	}
	return out, nil
}

// parseColumnRules parses `table-regex:col1/col2,table-regex2:col3`.
func parseColumnRules(spec string) ([]columnRule, error) {
	var out []columnRule
	for _, item := range splitList(spec, ',') {
		i := strings.LastIndexByte(item, ':')
		if i <= 0 || i == len(item)-1 {
			return nil, fmt.Errorf("item %q: want table-regex:column/column", item)
		}
		re, err := regexp.Compile(`^(?:` + item[:i] + `)$`)
		if err != nil {
			return nil, fmt.Errorf("item %q: %w", item, err)
		}
		var cols []string
		for _, c := range strings.Split(item[i+1:], "/") {
			if c = strings.TrimSpace(c); c != "" {
				cols = append(cols, c)
			}
		}
		if len(cols) == 0 {
			return nil, fmt.Errorf("item %q: no column names", item)
		}
		out = append(out, columnRule{table: re, cols: cols})
	}
	return out, nil
}

// splitList splits s at sep outside (), [] and {} and outside backslash
// escapes, trimming spaces and dropping empty items.
func splitList(s string, sep byte) []string {
	var out []string
	depth, start := 0, 0
	add := func(end int) {
		if item := strings.TrimSpace(s[start:end]); item != "" {
			out = append(out, item)
		}
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case c == '(' || c == '[' || c == '{':
			depth++
		case (c == ')' || c == ']' || c == '}') && depth > 0:
			depth--
		case c == sep && depth == 0:
			add(i)
			start = i + 1
		}
	}
	add(len(s))
	return out
}

// qualified returns "db.table".
func qualified(ns change.Namespace) string {
	return ns.Database + "." + ns.Table
}

// Keep reports whether changes of op in namespace ns pass the table filter.
func (f *Filter) Keep(op change.Op, ns change.Namespace) bool {
	switch op {
	case change.OpBegin, change.OpCommit, change.OpHeartbeat:
		return true
	case change.OpDDL, change.OpStatement:
		// A database-level DDL, or a DML logged as SQL text whose
		// tables are not known: the filter cannot tell, so it keeps it.
		if ns.Table == "" {
			return true
		}
	}
	if f == nil || (len(f.include) == 0 && len(f.exclude) == 0) {
		return true
	}
	name := qualified(ns)
	if len(f.include) > 0 && !matchAny(f.include, name) {
		return false
	}
	return !matchAny(f.exclude, name)
}

func matchAny(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// HasColumnRules reports whether the Filter removes columns from any table.
func (f *Filter) HasColumnRules() bool {
	return f != nil && (len(f.includeCols) > 0 || len(f.excludeCols) > 0)
}

// SelectColumns returns the indexes of cols that a change of table ns
// keeps, in order, or nil when it keeps them all.
func (f *Filter) SelectColumns(ns change.Namespace, cols []change.Column) []int {
	if !f.HasColumnRules() || len(cols) == 0 {
		return nil
	}
	name := qualified(ns)
	var include, exclude []string
	matchedInclude := false
	for _, r := range f.includeCols {
		if r.table.MatchString(name) {
			matchedInclude = true
			include = append(include, r.cols...)
		}
	}
	for _, r := range f.excludeCols {
		if r.table.MatchString(name) {
			exclude = append(exclude, r.cols...)
		}
	}
	if !matchedInclude && len(exclude) == 0 {
		return nil
	}
	keep := make([]int, 0, len(cols))
	for i, c := range cols {
		name := c.Name
		if name == "" {
			name = "@" + strconv.Itoa(i+1)
		}
		if matchedInclude && !c.Key && !containsFold(include, name) {
			continue
		}
		if containsFold(exclude, name) {
			continue
		}
		keep = append(keep, i)
	}
	if len(keep) == len(cols) {
		return nil
	}
	return keep
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
