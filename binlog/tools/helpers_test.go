package tools

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// One MariaDB server serves every test of the package; each test uses its
// own database.
var shared struct {
	once sync.Once
	srv  *testenv.MariaDB
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		shared.srv.Close()
	}
	os.Exit(code)
}

func server(t *testing.T) *testenv.MariaDB {
	t.Helper()
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		shared.srv, shared.err = testenv.StartMariaDB(ctx, testenv.MariaDBOptions{})
	})
	if shared.err != nil {
		t.Fatalf("starting MariaDB: %v", shared.err)
	}
	return shared.srv
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func exec1(t *testing.T, srv *testenv.MariaDB, stmts ...string) {
	t.Helper()
	if err := srv.Exec(testCtx(t), stmts...); err != nil {
		t.Fatal(err)
	}
}

// record runs the workload between two FLUSH BINARY LOGS and returns the
// binlog files that hold exactly it.
func record(t *testing.T, srv *testenv.MariaDB, workload func()) []string {
	t.Helper()
	ctx := testCtx(t)
	before, err := srv.FlushBinaryLogs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	workload()
	after, err := srv.FlushBinaryLogs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, l := range after[len(before)-1 : len(after)-1] {
		files = append(files, l.Path)
	}
	return files
}

// checksums returns CHECKSUM TABLE of the tables of db.
func checksums(t *testing.T, srv *testenv.MariaDB, db string, tables ...string) map[string]string {
	t.Helper()
	sdb, err := srv.DB()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, tb := range tables {
		var name, sum string
		if err := sdb.QueryRowContext(testCtx(t), "CHECKSUM TABLE `"+db+"`.`"+tb+"`").Scan(&name, &sum); err != nil {
			t.Fatal(err)
		}
		out[tb] = sum
	}
	return out
}

// applySQL runs the SQL file with the mariadb client.
func applySQL(t *testing.T, srv *testenv.MariaDB, path string) {
	t.Helper()
	cmd, err := srv.ClientCmd(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stdin = f
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("mariadb < %s: %v: %s", filepath.Base(path), err, stderr.String())
	}
}

// applyBinlog runs mariadb-binlog FILE | mariadb.
func applyBinlog(t *testing.T, srv *testenv.MariaDB, path string) {
	t.Helper()
	ctx := testCtx(t)
	bl, err := srv.BinlogCmd(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var text, errs bytes.Buffer
	bl.Stdout, bl.Stderr = &text, &errs
	if err := bl.Run(); err != nil {
		t.Fatalf("mariadb-binlog %s: %v: %s", filepath.Base(path), err, errs.String())
	}
	cl, err := srv.ClientCmd(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cl.Stdin = &text
	errs.Reset()
	cl.Stderr = &errs
	if err := cl.Run(); err != nil {
		t.Fatalf("mariadb-binlog %s | mariadb: %v: %s", filepath.Base(path), err, errs.String())
	}
}

var _ = exec.Command
var _ = strings.Contains
