package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// The secret every case below gives, one way or another; no line sluice
// prints may contain it, in any encoding.
const wrongSecret = "Wr0ng/p@ss w0rd"

var secretForms = []string{wrongSecret, "Wr0ng%2Fp%40ss%20w0rd", "Wr0ng%2Fp%40ss+w0rd", "Wr0ng/p@ss+w0rd", "Wr0ng"}

// TestStreamNeverPrintsSecrets runs "sluice stream" as a user types it,
// against real servers, with a wrong password given each way a URL can
// carry one (userinfo, a password or sslpassword query parameter, a
// MongoDB option), and checks every line it prints, logs included. The
// wrong-credential error lines are also compared with golden files
// (testdata/errors/*.golden, addresses normalized; -update rewrites them).
func TestStreamNeverPrintsSecrets(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MariaDB, PostgreSQL and FerretDB")
	}
	my := testenv.NewMariaDB(t, testenv.MariaDBOptions{})
	pg := testenv.NewPostgres(t, testenv.PostgresOptions{})
	fdb := testenv.NewFerretDB(t)
	esc := strings.NewReplacer("/", "%2F", "@", "%40", " ", "%20").Replace(wrongSecret)
	pgBase := strings.SplitN(strings.TrimPrefix(pg.DSN("postgres"), "postgres://"), "@", 2)[1] // host:port/postgres?…
	pgHostDB := strings.SplitN(pgBase, "?", 2)[0]
	mongoHost := strings.SplitN(strings.TrimPrefix(fdb.URI(), "mongodb://"), "/", 2)[0]
	tests := []struct {
		name   string
		url    string
		golden string        // compare the error line with testdata/errors/<golden>.golden
		run    time.Duration // when not 0, stop the stream after this long
	}{
		{"mysql userinfo", "mysql://" + testenv.MariaDBReplUser + ":" + esc + "@" + my.Addr() + "/?server-id=4711", "mysql-wrong-password", 0},
		{"mariadb userinfo, retries off", "mariadb://" + testenv.MariaDBReplUser + ":" + esc + "@" + my.Addr() + "/?server-id=4712&max-retries=-1", "", 0},
		{"postgres userinfo", "postgres://" + testenv.PostgresUser + ":" + esc + "@" + pgHostDB + "?slot=sec&sslmode=disable", "postgres-wrong-password", 0},
		{"postgres password parameter", "postgres://" + testenv.PostgresUser + "@" + pgHostDB + "?password=" + esc + "&slot=sec&sslmode=disable", "", 0},
		{"postgres sslpassword parameter", "postgres://" + testenv.PostgresUser + "@" + pgHostDB + "?sslpassword=" + esc + "&password=" + esc + "&slot=sec&sslmode=disable", "", 0},
		{"postgres bad parameter", "postgres://" + testenv.PostgresUser + ":" + esc + "@" + pgHostDB + "?slot=Bad&password=" + esc, "", 0},
		// FerretDB refuses the credentials (it offers no SCRAM-SHA-1):
		// the error quotes the server, never the URL.
		{"mongodb userinfo", "mongodb://u:" + esc + "@" + mongoHost + "/?mode=oplog", "", 0},
		{"mongodb option", "mongodb://" + mongoHost + "/?mode=oplog&authMechanismProperties=AWS_SESSION_TOKEN:" + esc, "", 0},
	}
	hostPort := regexp.MustCompile(`127\.0\.0\.1:[0-9]+|localhost:[0-9]+|\[::1\]:[0-9]+`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if tt.run > 0 {
				var stop context.CancelFunc
				ctx, stop = context.WithTimeout(ctx, tt.run)
				defer stop()
			}
			var stdout, stderr bytes.Buffer
			e := &env{Stdout: &stdout, Stderr: &stderr}
			args := []string{"stream", tt.url, "--state", filepath.Join(t.TempDir(), "s.db"), "--log-level", "debug"}
			code := run(ctx, e, args)
			out := stdout.String() + stderr.String()
			t.Logf("exit %d:\n%s", code, out)
			for _, line := range strings.Split(out, "\n") {
				for _, f := range secretForms {
					if strings.Contains(line, f) {
						t.Errorf("a line shows the secret (as %q):\n%s", f, line)
					}
				}
			}
			if !strings.Contains(out, "***") {
				t.Errorf("no redacted address in the output:\n%s", out)
			}
			if tt.run == 0 && code == 0 {
				t.Fatalf("exit 0 with a wrong password:\n%s", out)
			}
			if tt.golden == "" {
				return
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			got := hostPort.ReplaceAllString(lines[len(lines)-1], "HOST:PORT") + "\nexit " + strconv.Itoa(code) + "\n"
			path := filepath.Join("testdata", "errors", tt.golden+".golden")
			if *update {
				os.MkdirAll(filepath.Dir(path), 0o755)
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("error line differs from %s:\n--- got\n%s--- want\n%s", path, got, want)
			}
		})
	}
}
