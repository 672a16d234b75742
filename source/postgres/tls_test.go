package postgres

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// tlsSource opens rawURL with a logger into logs; a slot other than ""
// replaces the URL's (a temporary slot outlives its connection for a
// moment, so consecutive cases use their own).
func tlsSource(t *testing.T, rawURL, slot string, logs *testenv.Logs) *Source {
	t.Helper()
	cfg, err := ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	if slot != "" {
		cfg.Slot = slot
	}
	cfg.Logger = logs.Logger()
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// tlsURL is srv's URL as host with extra parameters; host "" keeps
// 127.0.0.1.
func tlsURL(srv *testenv.Postgres, host, params string) string {
	u, _ := url.Parse(srv.DSN("postgres"))
	if host != "" {
		u.Host = host + ":" + u.Port()
	}
	u.RawQuery = params
	return u.String()
}

// TestTLS connects with each sslmode to a server with ssl=on and checks the
// log line that says what the connection is, and that a wrong CA or host
// name fails, naming the address and not the password.
func TestTLS(t *testing.T) {
	files := testenv.NewTLSFiles(t, "127.0.0.1")
	other := testenv.NewTLSFiles(t, "127.0.0.1")
	srv := testenv.NewPostgres(t, testenv.PostgresOptions{TLS: &files})
	plainSrv := server(t)
	ca, otherCA := url.QueryEscape(files.CA), url.QueryEscape(other.CA)
	const temp = "&temporary=true&slot=tls"

	connects := []struct {
		name string
		url  string
		want string // the log line's start
	}{
		{"default is prefer", tlsURL(srv, "", "temporary=true&slot=tls"),
			`level=WARN msg="postgres connection is encrypted but the server is not verified" address=` + srv.Addr() + ` tls="TLS 1.3" hint="sslmode=verify-full and sslrootcert=FILE`},
		{"prefer on a server without ssl", tlsURL(plainSrv, "", "temporary=true&slot=tls"),
			`level=WARN msg="postgres connection is not encrypted" address=` + plainSrv.Addr() + ` hint="sslmode=verify-full and sslrootcert=FILE`},
		{"disable", tlsURL(srv, "", "sslmode=disable"+temp),
			`level=WARN msg="postgres connection is not encrypted" address=` + srv.Addr()},
		{"require", tlsURL(srv, "", "sslmode=require"+temp),
			`level=WARN msg="postgres connection is encrypted but the server is not verified"`},
		{"require with sslrootcert is verify-ca", tlsURL(srv, "", "sslmode=require&sslrootcert="+ca+temp),
			`level=INFO msg="postgres connection is encrypted and verified" address=` + srv.Addr() + ` tls="TLS 1.3" verified="certificate chain (not the host name)"`},
		{"verify-ca", tlsURL(srv, "", "sslmode=verify-ca&sslrootcert="+ca+temp),
			`level=INFO msg="postgres connection is encrypted and verified" address=` + srv.Addr() + ` tls="TLS 1.3" verified="certificate chain (not the host name)"`},
		{"verify-ca ignores the host name", tlsURL(srv, "localhost", "sslmode=verify-ca&sslrootcert="+ca+temp),
			`level=INFO msg="postgres connection is encrypted and verified" address=localhost:`},
		{"verify-full", tlsURL(srv, "", "sslmode=verify-full&sslrootcert="+ca+temp),
			`level=INFO msg="postgres connection is encrypted and verified" address=` + srv.Addr() + ` tls="TLS 1.3" verified="certificate chain and host name 127.0.0.1"`},
		{"unix socket", "postgres://" + testenv.PostgresUser + "@/postgres?temporary=true&slot=tls&port=" + strconv.Itoa(srv.Port()) + "&host=" + url.QueryEscape(srv.SocketDir()),
			`level=INFO msg="postgres connection is local (Unix socket, not encrypted)" address=` + srv.SocketDir() + `/.s.PGSQL.` + strconv.Itoa(srv.Port())},
	}
	for i, tt := range connects {
		t.Run(tt.name, func(t *testing.T) {
			var logs testenv.Logs
			src := tlsSource(t, tt.url, "tls_"+strconv.Itoa(i), &logs)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			var err error
			go func() {
				defer close(done)
				err = src.Stream(ctx, change.Position{}, func([]change.Change) error { return nil })
			}()
			line := logs.WaitFor(t, 30*time.Second, done, func() error { return err }, "postgres connection is")
			cancel()
			<-done
			if !strings.HasPrefix(line, tt.want) {
				t.Errorf("log line\n%s\nwant prefix\n%s", line, tt.want)
			}
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("stream: %v", err)
			}
			if n := len(logs.Lines("postgres connection is")); n != 1 {
				t.Errorf("%d security lines, want 1:\n%s", n, logs.String())
			}
		})
	}

	fails := []struct {
		name, url, text string
	}{
		{"verify-full with another CA", tlsURL(srv, "", "sslmode=verify-full&sslrootcert="+otherCA+temp), "certificate signed by unknown authority"},
		{"verify-ca with another CA", tlsURL(srv, "", "sslmode=verify-ca&sslrootcert="+otherCA+temp), "certificate signed by unknown authority"},
		{"require with sslrootcert of another CA", tlsURL(srv, "", "sslmode=require&sslrootcert="+otherCA+temp), "certificate signed by unknown authority"},
		{"verify-full with another host name", tlsURL(srv, "localhost", "sslmode=verify-full&sslrootcert="+ca+temp), "wanted to match localhost"},
		{"require on a server without ssl", tlsURL(plainSrv, "", "sslmode=require"+temp), "server refused TLS connection"},
	}
	for i, tt := range fails {
		t.Run(tt.name, func(t *testing.T) {
			var logs testenv.Logs
			src := tlsSource(t, tt.url, "tls_fail_"+strconv.Itoa(i), &logs)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := src.Stream(ctx, change.Position{}, func([]change.Change) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("error %v; want one containing %q", err, tt.text)
			}
			u, _ := url.Parse(tt.url)
			if !strings.Contains(err.Error(), u.Host) {
				t.Errorf("error does not name %s: %v", u.Host, err)
			}
			if strings.Contains(err.Error(), testenv.PostgresPassword) {
				t.Errorf("password in error: %v", err)
			}
			if lines := logs.Lines("postgres connection is"); len(lines) != 0 {
				t.Errorf("security logged for a failed connection: %q", lines)
			}
		})
	}
}

// TestTLSLoggedOnce: reconnecting after a cut connection does not log the
// connection's security again.
func TestTLSLoggedOnce(t *testing.T) {
	files := testenv.NewTLSFiles(t, "127.0.0.1")
	srv := testenv.NewPostgres(t, testenv.PostgresOptions{TLS: &files})
	proxy := testenv.NewProxy(t, srv.Addr(), 0)
	u, _ := url.Parse(srv.DSN("postgres"))
	u.Host = proxy.Addr()
	u.RawQuery = "sslmode=verify-ca&sslrootcert=" + url.QueryEscape(files.CA) + "&slot=once&retry-min=10ms&retry-max=100ms"
	var logs testenv.Logs
	src := tlsSource(t, u.String(), "", &logs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		err = src.Stream(ctx, change.Position{}, func([]change.Change) error { return nil })
	}()
	defer func() {
		cancel()
		<-done
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("stream: %v", err)
		}
	}()
	logs.WaitFor(t, 30*time.Second, done, func() error { return err }, "postgres connection is encrypted and verified")
	// In use and created (see startSource): a cut while the slot is still
	// being created ends the first attempt with an error, not a reconnect.
	active := func() {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			conn, err := srv.Connect(ctx, "postgres")
			if err != nil {
				t.Fatal(err)
			}
			var on bool
			err = conn.QueryRow(ctx, `SELECT coalesce((SELECT active AND confirmed_flush_lsn IS NOT NULL FROM pg_replication_slots WHERE slot_name = 'once'), false)`).Scan(&on)
			conn.Close(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if on {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("slot not active; log:\n%s", logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for i := 1; i <= 2; i++ {
		active()
		proxy.Cut()
		deadline := time.Now().Add(30 * time.Second)
		for src.Stats().Reconnects < uint64(i) {
			if time.Now().After(deadline) {
				t.Fatalf("no reconnect %d; log:\n%s", i, logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	active() // the security of the last connection is noted before its slot is active
	if lines := logs.Lines("postgres connection is"); len(lines) != 1 {
		t.Fatalf("security logged %d times over 2 reconnects, want once:\n%s", len(lines), logs.String())
	}
}
