package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestStreamSQLWrongPassword runs "sluice stream" into a MariaDB and a
// PostgreSQL target with a wrong password in the --to URL, as a user types
// it: sluice exits 1 with the server's refusal, at once (a refused login
// is not retried), and no line it prints — debug log included — shows the
// password in any encoding.
func TestStreamSQLWrongPassword(t *testing.T) {
	my := testenv.NewMariaDB(t, testenv.MariaDBOptions{})
	pg := testenv.NewPostgres(t, testenv.PostgresOptions{})
	src := "mysql://" + testenv.MariaDBReplUser + ":" + testenv.MariaDBReplPassword + "@" + my.Addr() + "/?server-id=4801"
	esc := strings.NewReplacer("/", "%2F", "@", "%40", " ", "%20").Replace(wrongSecret)
	for _, tc := range []struct {
		name, to, refusal string
	}{
		{"mariadb", "mysql://" + testenv.MariaDBRootUser + ":" + esc + "@" + my.Addr() + "/sluice?create-tables=on", "Access denied"},
		{"postgres", "postgres://" + testenv.PostgresUser + ":" + esc + "@" + pg.Addr() + "/postgres?sslmode=disable&create-tables=on", "password authentication failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var stdout, stderr bytes.Buffer
			e := &env{Stdout: &stdout, Stderr: &stderr}
			began := time.Now()
			code := run(ctx, e, []string{"stream", src, "--to", tc.to, "--id", "bad",
				"--state", filepath.Join(t.TempDir(), "s.db"), "--log-level", "debug"})
			took := time.Since(began)
			out := stdout.String() + stderr.String()
			t.Logf("exit %d after %v:\n%s", code, took.Round(time.Millisecond), out)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if !strings.Contains(out, tc.refusal) {
				t.Errorf("the output does not quote the server's refusal %q", tc.refusal)
			}
			if took > 20*time.Second {
				t.Errorf("a refused login took %v: retried", took)
			}
			for _, line := range strings.Split(out, "\n") {
				for _, f := range secretForms {
					if strings.Contains(line, f) {
						t.Errorf("a line shows the password (as %q):\n%s", f, line)
					}
				}
			}
		})
	}
}
