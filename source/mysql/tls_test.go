package mysql

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/snapshot"
)

// caPool reads a PEM CA file into a pool.
func caPool(t *testing.T, path string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("%s: no certificate", path)
	}
	return pool
}

// tlsURL is a source URL for the replication user at addr with params.
func tlsURL(addr, params string) string {
	u := url.URL{Scheme: "mariadb", User: url.UserPassword(testenv.MariaDBReplUser, testenv.MariaDBReplPassword), Host: addr, Path: "/",
		RawQuery: "server-id=7001&heartbeat=500ms&retry-min=50ms&retry-max=1s"}
	if params != "" {
		u.RawQuery += "&" + params
	}
	return u.String()
}

// urlSource opens rawURL with a logger into logs.
func urlSource(t *testing.T, rawURL string, logs *testenv.Logs) *Source {
	t.Helper()
	cfg, err := ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = logs.Logger()
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// TestTLS streams over a verified TLS connection from a user that the
// server only admits with TLS, checks the line each tls mode logs, and
// refuses a server whose certificate or name does not verify.
func TestTLS(t *testing.T) {
	files := testenv.NewTLSFiles(t, "127.0.0.1")
	other := testenv.NewTLSFiles(t, "127.0.0.1")
	srv := testenv.NewMariaDB(t, testenv.MariaDBOptions{TLS: &files})
	exec(t, srv, "ALTER USER '"+testenv.MariaDBReplUser+"'@'127.0.0.1' REQUIRE SSL", "ALTER USER '"+testenv.MariaDBReplUser+"'@'localhost' REQUIRE SSL",
		"CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY)")
	ca, otherCA := url.QueryEscape(files.CA), url.QueryEscape(other.CA)

	t.Run("plain refused", func(t *testing.T) {
		src, _ := New(testConfig(srv.Addr()))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err := src.Stream(ctx, change.Position{}, func([]change.Change) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "Access denied") {
			t.Fatalf("plain connection: %v", err)
		}
	})
	t.Run("verified", func(t *testing.T) {
		cfg := testConfig(srv.Addr())
		cfg.TLS = &tls.Config{RootCAs: caPool(t, files.CA), ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		r, err := dial(context.Background(), &cfg)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := r.queryRows("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
		r.Close()
		if err != nil || len(rows) != 1 || rows[0][1] == "" {
			t.Fatalf("Ssl_cipher: %v %v", rows, err)
		}
		from := currentPosition(t, srv)
		src, _ := New(cfg)
		col := startCollector(t, src, from)
		exec(t, srv, "INSERT INTO app.t VALUES (1)")
		col.waitFor(t, 20*time.Second, "insert over TLS", countData("t", 1))
		t.Logf("cipher %s", rows[0][1])

		// A snapshot's workers read their rows over TLS too (the user
		// must use it).
		exec(t, srv, "INSERT INTO app.t SELECT seq FROM app.seq_100_to_199")
		cfg.ServerID = 7404
		cfg.Snapshot = snapshot.Options{Mode: snapshot.ModeOnly, Workers: 2, ChunkRows: 7,
			Tables: func(ns change.Namespace) bool { return ns.Database == "app" && ns.Table == "t" }}
		src, _ = New(cfg)
		var ids []int64
		err = src.Stream(context.Background(), change.Position{}, func(cs []change.Change) error {
			for _, c := range cs {
				if c.Op == change.OpRead {
					ids = append(ids, c.After[0].I)
				}
			}
			return nil
		})
		if err != nil || len(ids) != 101 || ids[0] != 1 || ids[100] != 199 {
			t.Fatalf("snapshot over TLS: %d rows (%v), %v; want 101, 1 to 199", len(ids), ids, err)
		}
	})

	connects := []struct {
		name, url, want string // want: the log line's start
	}{
		{"default is prefer", tlsURL(srv.Addr(), ""),
			`level=WARN msg="mariadb connection is encrypted but the server is not verified" address=` + srv.Addr() + ` tls="TLS 1.3" hint="tls=on and tls-ca=FILE`},
		{"prefer on a server without TLS", tlsURL(shared.Addr(), "tls=prefer"),
			`level=WARN msg="mariadb connection is not encrypted" address=` + shared.Addr() + ` hint="tls=on and tls-ca=FILE`},
		{"off", tlsURL(shared.Addr(), "tls=off"),
			`level=WARN msg="mariadb connection is not encrypted" address=` + shared.Addr()},
		{"skip-verify", tlsURL(srv.Addr(), "tls=skip-verify"),
			`level=WARN msg="mariadb connection is encrypted but the server is not verified" address=` + srv.Addr()},
		{"on with tls-ca", tlsURL(srv.Addr(), "tls=on&tls-ca="+ca),
			`level=INFO msg="mariadb connection is encrypted and verified" address=` + srv.Addr() + ` tls="TLS 1.3" verified="certificate chain and host name 127.0.0.1"`},
		{"tls-ca alone means on", tlsURL(srv.Addr(), "tls-ca="+ca),
			`level=INFO msg="mariadb connection is encrypted and verified" address=` + srv.Addr()},
	}
	for _, tt := range connects {
		t.Run(tt.name, func(t *testing.T) {
			var logs testenv.Logs
			col := startCollector(t, urlSource(t, tt.url, &logs), change.Position{})
			line := logs.WaitFor(t, 20*time.Second, col.done, func() error { return col.err }, "connection is")
			if err := col.stop(); err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("stream: %v", err)
			}
			if !strings.HasPrefix(line, tt.want) {
				t.Errorf("log line\n%s\nwant prefix\n%s", line, tt.want)
			}
			if n := len(logs.Lines("connection is")); n != 1 {
				t.Errorf("%d security lines, want 1:\n%s", n, logs.String())
			}
		})
	}

	t.Run("prefer on a unix socket", func(t *testing.T) {
		cfg, err := ParseURL(tlsURL(shared.Addr(), ""))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Addr = shared.Socket()
		var logs testenv.Logs
		cfg.Logger = logs.Logger()
		src, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		col := startCollector(t, src, change.Position{})
		line := logs.WaitFor(t, 20*time.Second, col.done, func() error { return col.err }, "connection is")
		if err := col.stop(); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("stream: %v", err)
		}
		if want := `level=INFO msg="mariadb connection is local (Unix socket, not encrypted)" address=` + shared.Socket(); line != want {
			t.Errorf("log line\n%s\nwant\n%s", line, want)
		}
	})

	fails := []struct {
		name, addr, params, text string
	}{
		{"another CA", srv.Addr(), "tls=on&tls-ca=" + otherCA, "certificate signed by unknown authority"},
		{"another host name", srv.Addr(), "tls=on&tls-ca=" + ca + "&tls-server-name=localhost", "wanted to match localhost"},
		{"system roots", srv.Addr(), "tls=on", "certificate signed by unknown authority"},
		{"on with a server without TLS", shared.Addr(), "tls=on", "the server does not offer TLS"},
		{"skip-verify with a server without TLS", shared.Addr(), "tls=skip-verify", "the server does not offer TLS"},
	}
	for _, tt := range fails {
		t.Run(tt.name, func(t *testing.T) {
			var logs testenv.Logs
			src := urlSource(t, tlsURL(tt.addr, tt.params), &logs)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := src.Stream(ctx, change.Position{}, func([]change.Change) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tt.text) || !strings.Contains(err.Error(), tt.addr) {
				t.Fatalf("error %v; want one naming %s and containing %q", err, tt.addr, tt.text)
			}
			if strings.Contains(err.Error(), testenv.MariaDBReplPassword) {
				t.Errorf("password in error: %v", err)
			}
			if lines := logs.Lines("connection is"); len(lines) != 0 {
				t.Errorf("security logged for a failed connection: %q", lines)
			}
		})
	}
}

// TestTLSLoggedOnce: reconnects after cut connections do not log the
// connection's security again.
func TestTLSLoggedOnce(t *testing.T) {
	files := testenv.NewTLSFiles(t, "127.0.0.1")
	srv := testenv.NewMariaDB(t, testenv.MariaDBOptions{TLS: &files})
	proxy := testenv.NewProxy(t, srv.Addr(), 0)
	var logs testenv.Logs
	src := urlSource(t, tlsURL(proxy.Addr(), "tls-server-name=127.0.0.1&tls-ca="+url.QueryEscape(files.CA)), &logs)
	col := startCollector(t, src, change.Position{})
	logs.WaitFor(t, 20*time.Second, col.done, func() error { return col.err }, "mariadb connection is encrypted and verified")
	exec(t, srv, "CREATE DATABASE once", "CREATE TABLE once.t (id INT PRIMARY KEY)")
	for i := 1; i <= 2; i++ {
		proxy.Cut()
		deadline := time.Now().Add(20 * time.Second)
		for len(logs.Lines("binlog connection lost")) < i {
			if time.Now().After(deadline) {
				t.Fatalf("no reconnect %d (stream: %v, cuts %d); log:\n%s", i, col.err, proxy.Cuts(), logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		// A change streamed after the reconnect shows that a session
		// connected (and would have logged) after it.
		exec(t, srv, fmt.Sprintf("INSERT INTO once.t VALUES (%d)", i))
		col.waitFor(t, 20*time.Second, "insert after a reconnect", func(cs []change.Change) bool {
			n := 0
			for _, c := range cs {
				if c.Op == change.OpInsert && c.Table == "t" {
					n++
				}
			}
			return n >= i
		})
	}
	if lines := logs.Lines("connection is"); len(lines) != 1 {
		t.Fatalf("security logged %d times over 2 reconnects, want once:\n%s", len(lines), logs.String())
	}
}

// TestParseTLS: the tls parameters give the TLS configuration of each mode.
func TestParseTLS(t *testing.T) {
	files := testenv.NewTLSFiles(t, "127.0.0.1")
	ca := url.QueryEscape(files.CA)
	type want struct {
		tls, verify, optional bool
		serverName            string
		rootCAs               bool
	}
	tests := []struct {
		params string
		want   want
		err    string
	}{
		{"", want{tls: true, optional: true, serverName: "db.example"}, ""},
		{"tls=prefer", want{tls: true, optional: true, serverName: "db.example"}, ""},
		{"tls=preferred", want{tls: true, optional: true, serverName: "db.example"}, ""},
		{"tls=off", want{}, ""},
		{"tls=disabled", want{}, ""},
		{"tls=on", want{tls: true, verify: true, serverName: "db.example"}, ""},
		{"tls=true", want{tls: true, verify: true, serverName: "db.example"}, ""},
		{"tls=skip-verify", want{tls: true, serverName: "db.example"}, ""},
		{"tls-ca=" + ca, want{tls: true, verify: true, serverName: "db.example", rootCAs: true}, ""},
		{"tls-server-name=other.example", want{tls: true, verify: true, serverName: "other.example"}, ""},
		{"tls=skip-verify&tls-ca=" + ca, want{tls: true, serverName: "db.example", rootCAs: true}, ""},
		{"tls=prefer&tls-ca=" + ca, want{}, "need tls=on or skip-verify, not tls=prefer"},
		{"tls=off&tls-ca=" + ca, want{}, "need tls=on or skip-verify, not tls=off"},
		{"tls=sometimes", want{}, `tls="sometimes": want prefer, on, skip-verify or off`},
		{"tls-cert=" + url.QueryEscape(files.Cert), want{}, "tls-cert and tls-key go together"},
		{"tls-ca=" + url.QueryEscape(files.Key), want{}, "no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.params, func(t *testing.T) {
			c, err := ParseURL("mysql://u:pw@db.example/?" + tt.params)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got want
			if c.TLS != nil {
				got = want{tls: true, verify: !c.TLS.InsecureSkipVerify, optional: c.TLSOptional, serverName: c.TLS.ServerName, rootCAs: c.TLS.RootCAs != nil}
			} else if c.TLSOptional {
				t.Fatal("TLSOptional without TLS")
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
