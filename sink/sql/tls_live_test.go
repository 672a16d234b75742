package sql

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/verify"
)

// TestMySQLTLS: against a MariaDB that admits its user only over TLS, the
// sink and sluice verify connect with the TLS parameters every MySQL URL
// of Sluice takes (tls-ca verifies, the default prefers TLS), and refuse
// plain text and a server whose certificate another CA signed.
func TestMySQLTLS(t *testing.T) {
	files := testenv.NewTLSFiles(t, "127.0.0.1")
	other := testenv.NewTLSFiles(t, "127.0.0.1")
	srv := testenv.NewMariaDB(t, testenv.MariaDBOptions{TLS: &files})
	ctx := context.Background()
	if err := srv.Exec(ctx, "CREATE USER 'tlsonly'@'%' IDENTIFIED BY 'tls-pw' REQUIRE SSL", "GRANT ALL ON *.* TO 'tlsonly'@'%'",
		"CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, s VARCHAR(10))", "INSERT INTO app.t VALUES (1, 'a')"); err != nil {
		t.Fatal(err)
	}
	base := url.URL{Scheme: "mysql", User: url.UserPassword("tlsonly", "tls-pw"), Host: srv.Addr(), Path: "/sluice"}
	withQuery := func(q string) string { u := base; u.RawQuery = q; return u.String() }
	open := func(raw string) error {
		u, _ := url.Parse(raw)
		cfg, err := FromURL(u)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		cfg.RetryFor = -1
		s, err := New(ctx, cfg)
		if err == nil {
			s.Close()
		}
		return err
	}
	ca, otherCA := url.QueryEscape(files.CA), url.QueryEscape(other.CA)
	for _, tc := range []struct {
		name, query string
		ok          bool
	}{
		{"verified", "tls-ca=" + ca, true},
		{"preferred by default", "", true},
		{"skip-verify", "tls=skip-verify", true},
		{"plain text", "tls=off", false},
		{"another CA", "tls-ca=" + otherCA, false},
		{"another name", "tls-ca=" + ca + "&tls-server-name=db.example", false},
	} {
		err := open(withQuery(tc.query))
		if (err == nil) != tc.ok {
			t.Errorf("sink, %s: %v, want success %v", tc.name, err, tc.ok)
		}
		if err != nil && strings.Contains(err.Error(), "tls-pw") {
			t.Errorf("sink, %s: the password in the error: %v", tc.name, err)
		}
	}
	// sluice verify with the same parameters on both sides.
	src := base
	src.Path, src.RawQuery = "/app", "tls-ca="+ca+"&server-id=7"
	sum, err := verify.Run(ctx, verify.Config{Source: src.String(), Target: src.String()}, func(*verify.TableResult) {})
	if err != nil || sum.Equal != 1 || sum.Different != 0 {
		t.Errorf("verify over verified TLS: %+v, %v", sum, err)
	}
	src.RawQuery = "tls=off"
	if _, err := verify.Run(ctx, verify.Config{Source: src.String(), Target: src.String()}, func(*verify.TableResult) {}); err == nil {
		t.Error("verify in plain text: no error from a server that requires TLS")
	}
}
