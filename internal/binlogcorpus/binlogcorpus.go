// Package binlogcorpus locates the corpus of real binlogs that the
// repository ships in testdata/binlog-corpus (provenance and licence in its
// README), for the tests of every package that reads it. A missing corpus
// or corpus file fails the test: it is part of the repository, so its
// absence is a broken checkout, never a reason to skip.
package binlogcorpus

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// module is the import path of the repository's root module.
const module = "github.com/sluice-cdc/sluice"

// rel is the MySQL and MariaDB corpus directory, relative to the root.
const rel = "testdata/binlog-corpus/mysql"

// Dir returns the absolute path of testdata/binlog-corpus/mysql, which
// holds binlog and relay-log files written by MySQL 5.1 to 9.x and MariaDB.
// It fails tb when the directory is missing.
func Dir(tb testing.TB) string {
	tb.Helper()
	dir, err := find()
	if err != nil {
		tb.Fatalf("binlog corpus: %v", err)
	}
	return dir
}

// Path returns the absolute path of the corpus file name. It fails tb when
// the file is missing.
func Path(tb testing.TB, name string) string {
	tb.Helper()
	p := filepath.Join(Dir(tb), name)
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("binlog corpus: %v", err)
	}
	return p
}

// find walks up from the working directory (go test runs a test in its
// package's directory) to the root of the module and returns the corpus
// directory there.
func find() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; {
		if isRoot(dir) {
			corpus := filepath.Join(dir, filepath.FromSlash(rel))
			if st, err := os.Stat(corpus); err != nil || !st.IsDir() {
				return "", fmt.Errorf("%s is missing from the checkout at %s", rel, dir)
			}
			return corpus, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of %s above %s", module, wd)
		}
		dir = parent
	}
}

// isRoot reports whether dir holds the go.mod of the repository's module
// (not that of a nested module such as tools/ferretdb).
func isRoot(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "module ") {
			return strings.Trim(strings.TrimSpace(strings.TrimPrefix(line, "module ")), `"`) == module
		}
	}
	return false
}
