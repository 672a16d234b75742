// Command killverify checks the output of TestStreamMariaDBSIGKILL
// (cmd/sluice/stream_mysql_kill_test.go) and rebuilds the tables it
// describes. The test builds it without the race detector: decoding a
// hundred megabytes of JSON lines under -race takes minutes.
//
// Usage:
//
//	killverify [-sort] [-upsert] OUT.jsonl
//
// With -sort the lines are first put in position order (a stable sort, so
// repeats stay in the order read): for outputs that are ordered only per
// key, such as the records of several Kafka partitions.
//
// It reads the changes in order and deduplicates them by position: a line
// whose position is not past the last new one must repeat a change already
// seen, with the same content, or the output is out of order (exit 1). The
// distinct row changes are applied to in-memory tables (key: the first
// column). It writes, one per line, tab-separated and with every field
// quoted (strconv.Quote):
//
//	error MESSAGE            an inconsistency (an update or delete of a row never inserted, an insert of a key already present)
//
// The first row of a snapshot (marked "first") empties every table: a
// snapshot killed before any of it was saved begins again from its start.
// A snapshot's row ("read") of a key already present replaces it (a
// snapshot resumed after a restart reads again the rows delivered after
// the last saved position): counted as "reread" in the stats. With -upsert
// every change applies idempotently, as after a resumed snapshot: an
// insert of a key present replaces it ("reinsert"), an update of a missing
// row inserts it ("update-missing"), a delete of one is counted
// ("delete-missing"); none is an error.
//
//	row TABLE KEY ROW        a row of the rebuilt tables, ROW being its values joined by "|"
//	stats UNIQUE DUPS OP=N…  distinct changes, changes delivered again, distinct changes by op
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/change"
)

func main() {
	args := os.Args[1:]
	sorted, upsert := false, false
	for len(args) > 1 && (args[0] == "-sort" || args[0] == "-upsert") {
		sorted = sorted || args[0] == "-sort"
		upsert = upsert || args[0] == "-upsert"
		args = args[1:]
	}
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: killverify [-sort] [-upsert] OUT.jsonl")
		os.Exit(2)
	}
	path := args[0]
	if sorted {
		var err error
		if path, err = sortLines(path); err != nil {
			fmt.Fprintln(os.Stderr, "killverify:", err)
			os.Exit(1)
		}
		defer os.Remove(path)
	}
	if err := run(path, os.Stdout, upsert); err != nil {
		fmt.Fprintln(os.Stderr, "killverify:", err)
		os.Exit(1)
	}
}

// sortLines writes the lines of path, stably sorted by position, to a
// temporary file and returns its name.
func sortLines(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	type line struct {
		pos  change.Position
		text []byte
	}
	var lines []line
	for n, text := range bytes.SplitAfter(data, []byte("\n")) {
		if len(text) == 0 {
			continue
		}
		if text[len(text)-1] != '\n' {
			return "", fmt.Errorf("%s: line %d has no newline", path, n+1)
		}
		c, err := change.DecodeJSON(text[:len(text)-1])
		if err != nil {
			return "", fmt.Errorf("%s: line %d: %w", path, n+1, err)
		}
		lines = append(lines, line{c.Pos, text})
	}
	sort.SliceStable(lines, func(i, j int) bool { return change.Compare(lines[i].pos, lines[j].pos) < 0 })
	f, err := os.CreateTemp("", "killverify-sorted-*.jsonl")
	if err != nil {
		return "", err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for _, l := range lines {
		w.Write(l.text)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return "", err
	}
	return f.Name(), f.Close()
}

func run(path string, stdout io.Writer, upsert bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(stdout, 1<<20)
	defer w.Flush()
	line := func(fields ...string) {
		for i, s := range fields {
			if i > 0 {
				w.WriteByte('\t')
			}
			w.WriteString(strconv.Quote(s))
		}
		w.WriteByte('\n')
	}
	errors := 0
	report := func(format string, args ...any) {
		if errors++; errors <= 50 {
			line("error", fmt.Sprintf(format, args...))
		}
	}

	tables := map[string]map[string]string{}
	seen := map[change.Position]string{}
	ops := map[string]int{}
	var last change.Position
	unique, dups := 0, 0
	br := bufio.NewReaderSize(f, 1<<20)
	for n := 1; ; n++ {
		text, err := br.ReadBytes('\n')
		if err == io.EOF && len(text) == 0 {
			break
		}
		if err != nil && err != io.EOF {
			return err
		}
		if err == io.EOF {
			return fmt.Errorf("%s: line %d has no newline (a torn write left in the file)", path, n)
		}
		c, err := change.DecodeJSON(bytes.TrimSuffix(text, []byte("\n")))
		if err != nil {
			return fmt.Errorf("%s: line %d: %w", path, n, err)
		}
		digest := c.Op.String() + " " + c.Table + " " + rowText(c.Before) + " " + rowText(c.After)
		if unique > 0 && change.Compare(c.Pos, last) <= 0 {
			prev, ok := seen[c.Pos]
			if !ok {
				return fmt.Errorf("%s: line %d: position %s after %s, never delivered before: out of order", path, n, c.Pos, last)
			}
			if prev != digest {
				return fmt.Errorf("%s: line %d: position %s delivered again with other content:\n first %s\n again %s", path, n, c.Pos, prev, digest)
			}
			dups++
			continue
		}
		seen[c.Pos], last = digest, c.Pos
		unique++
		ops[c.Op.String()]++
		rows := tables[c.Table]
		if rows == nil {
			rows = map[string]string{}
			tables[c.Table] = rows
		}
		switch c.Op {
		case change.OpRead:
			if c.Snapshot == change.SnapshotFirst {
				// A snapshot begins (again, if one was killed before any
				// of it was saved): it replaces every table.
				for t := range tables {
					clear(tables[t])
				}
				ops["snapshot-start"]++
			}
			// A snapshot's row may come again after a restart, read anew
			// (a later version): it replaces what the output holds.
			if _, ok := rows[keyText(c.After)]; ok {
				ops["reread"]++
			}
			rows[keyText(c.After)] = rowText(c.After)
		case change.OpInsert:
			if _, ok := rows[keyText(c.After)]; ok && upsert {
				ops["reinsert"]++
			} else if ok {
				report("line %d: insert of row %s.%s, which the stream already holds", n, c.Table, keyText(c.After))
			}
			rows[keyText(c.After)] = rowText(c.After)
		case change.OpUpdate:
			if _, ok := rows[keyText(c.Before)]; !ok && upsert {
				ops["update-missing"]++
			} else if !ok {
				report("line %d: update of row %s.%s never inserted", n, c.Table, keyText(c.Before))
			}
			delete(rows, keyText(c.Before))
			rows[keyText(c.After)] = rowText(c.After)
		case change.OpDelete:
			if _, ok := rows[keyText(c.Before)]; !ok && upsert {
				ops["delete-missing"]++
			} else if !ok {
				report("line %d: delete of row %s.%s never inserted", n, c.Table, keyText(c.Before))
			}
			delete(rows, keyText(c.Before))
		}
	}
	if errors > 50 {
		line("error", fmt.Sprintf("%d more errors", errors-50))
	}
	for table, rows := range tables {
		for k, r := range rows {
			line("row", table, k, r)
		}
	}
	stats := []string{"stats", strconv.Itoa(unique), strconv.Itoa(dups)}
	var names []string
	for op := range ops {
		names = append(names, op)
	}
	sort.Strings(names)
	for _, op := range names {
		stats = append(stats, op+"="+strconv.Itoa(ops[op]))
	}
	line(stats...)
	return nil
}

// keyText is the text of a row's first column, its key in these tables.
func keyText(row []change.Value) string {
	if len(row) == 0 {
		return ""
	}
	return string(change.AppendText(nil, row[0]))
}

// rowText is a row's values as text joined by "|".
func rowText(row []change.Value) string {
	parts := make([]string, len(row))
	for i, v := range row {
		parts[i] = string(change.AppendText(nil, v))
	}
	return strings.Join(parts, "|")
}
