package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestPgCommands runs "sluice pg slots" and "sluice pg drop-slot" as a
// user types them against a real server.
func TestPgCommands(t *testing.T) {
	pg := testenv.NewPostgres(t, testenv.PostgresOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := pg.Exec(ctx, "postgres", `SELECT pg_create_logical_replication_slot('cli_slot', 'pgoutput')`); err != nil {
		t.Fatal(err)
	}
	url := pg.DSN("postgres")
	sluice := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(ctx, &env{Stdout: &out, Stderr: &errb}, args)
		return code, out.String(), errb.String()
	}
	tests := []struct {
		name     string
		args     []string
		code     int
		out, err string
	}{
		{"list", []string{"pg", "slots", url}, 0, "cli_slot  pgoutput  postgres", ""},
		{"drop by flag", []string{"pg", "drop-slot", "--slot", "cli_slot", url}, 0, "dropped slot cli_slot", ""},
		{"gone from list", []string{"pg", "slots", url}, 0, "SLOT", ""},
		{"drop again", []string{"pg", "drop-slot", url + "&slot=cli_slot"}, 1, "", `drop slot "cli_slot": no such slot`},
		{"no URL", []string{"pg", "drop-slot"}, 2, "", "want one postgres:// URL"},
		{"wrong password", []string{"pg", "slots", strings.Replace(url, testenv.PostgresPassword, "nope", 1)}, 1, "", "authentication failed"},
	}
	for _, tc := range tests {
		code, out, errs := sluice(tc.args...)
		if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(errs, tc.err) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
				tc.name, code, out, errs, tc.code, tc.out, tc.err)
		}
		if tc.name == "gone from list" && strings.Contains(out, "cli_slot") {
			t.Errorf("slot still listed after drop-slot: %q", out)
		}
		if strings.Contains(errs, testenv.PostgresPassword) || strings.Contains(errs, "nope") {
			t.Errorf("%s: password in error output: %q", tc.name, errs)
		}
	}
}
