package main

import (
	"bytes"
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestVerifyCommand runs "sluice verify" as a user types it, MariaDB
// against PostgreSQL: equal tables exit 0; a missing, an extra and a
// changed row exit 1 and are printed with the changed column; a table
// without a primary key exits 2, as does a server it cannot reach; no
// password is printed.
func TestVerifyCommand(t *testing.T) {
	ctx := context.Background()
	m := testenv.NewMariaDB(t, testenv.MariaDBOptions{})
	p := testenv.NewPostgres(t, testenv.PostgresOptions{})
	if err := m.Exec(ctx, "CREATE DATABASE shop",
		"CREATE TABLE shop.orders (id int PRIMARY KEY, total decimal(10,2), note varchar(20))",
		"INSERT INTO shop.orders VALUES (1, 19.90, 'a'), (2, 5.00, NULL), (3, 7.25, 'c')",
		"CREATE TABLE shop.items (sku varchar(10) PRIMARY KEY, qty int)",
		"INSERT INTO shop.items VALUES ('A-1', 3), ('b-2', 4), ('Z', 0)"); err != nil {
		t.Fatal(err)
	}
	if err := p.Exec(ctx, "postgres", "CREATE SCHEMA shop",
		"CREATE TABLE shop.orders (id int PRIMARY KEY, total numeric(10,2), note varchar(20))",
		"INSERT INTO shop.orders VALUES (1, 19.90, 'a'), (2, 5.00, NULL), (3, 7.25, 'c')",
		"CREATE TABLE shop.items (sku varchar(10) PRIMARY KEY, qty int)",
		"INSERT INTO shop.items VALUES ('A-1', 3), ('b-2', 4), ('Z', 0)"); err != nil {
		t.Fatal(err)
	}
	src := (&url.URL{Scheme: "mysql", User: url.UserPassword(testenv.MariaDBRootUser, testenv.MariaDBRootPassword), Host: m.Addr(), Path: "/shop"}).String()
	dst := (&url.URL{Scheme: "postgres", User: url.UserPassword(testenv.PostgresUser, testenv.PostgresPassword), Host: p.Addr(), Path: "/postgres", RawQuery: "sslmode=disable"}).String()
	verifyRun := func(args ...string) (int, string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		code := run(ctx, &env{Stdout: &out, Stderr: &errb}, append([]string{"verify"}, args...))
		if s := out.String() + errb.String(); strings.Contains(s, testenv.MariaDBRootPassword) || strings.Contains(s, testenv.PostgresPassword) {
			t.Errorf("a password is printed:\n%s", s)
		}
		return code, out.String(), errb.String()
	}

	code, out, errs := verifyRun(src, dst)
	t.Logf("equal:\n%s%s", out, errs)
	if code != 0 || !strings.Contains(out, "shop.orders: equal, 3 rows") || !strings.Contains(out, "shop.items: equal, 3 rows") {
		t.Errorf("equal tables: exit %d\n%s%s", code, out, errs)
	}

	if err := p.Exec(ctx, "postgres", "DELETE FROM shop.orders WHERE id = 2", "INSERT INTO shop.orders VALUES (4, 1, 'x')",
		"UPDATE shop.orders SET total = 19.91 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	code, out, errs = verifyRun(src, dst, "--tables", "shop.orders", "--recheck", "0")
	t.Logf("different:\n%s%s", out, errs)
	for _, want := range []string{"shop.orders: different: 1 missing, 1 extra, 1 changed", "missing  id=2", "extra    id=4",
		`changed  id=1: total "19.9" → "19.91"`, "1 tables: 0 equal, 1 different"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if code != 1 {
		t.Errorf("different tables: exit %d, want 1", code)
	}

	if err := m.Exec(ctx, "CREATE TABLE shop.nokey (a int)"); err != nil {
		t.Fatal(err)
	}
	code, out, errs = verifyRun(src, dst, "--tables", "shop.nokey")
	if code != 2 || !strings.Contains(out, "no primary key") {
		t.Errorf("a table without a primary key: exit %d\n%s%s", code, out, errs)
	}
	bad := strings.Replace(dst, p.Addr(), "127.0.0.1:1", 1)
	code, out, errs = verifyRun(src, bad)
	if code != 2 || !strings.Contains(errs, "target") {
		t.Errorf("an unreachable target: exit %d\n%s%s", code, out, errs)
	}
	code, _, errs = verifyRun(src)
	if code != 2 {
		t.Errorf("one URL: exit %d %s", code, errs)
	}
}
