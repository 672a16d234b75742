package mongodb

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// loggedSource is a Source for raw logging to logs.
func loggedSource(t *testing.T, raw string, logs *testenv.Logs) *Source {
	t.Helper()
	cfg, err := ParseURL(raw)
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

// securityLine streams src until it logs its connection's security and
// returns that line.
func securityLine(t *testing.T, src *Source, logs *testenv.Logs) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		err = src.Stream(ctx, change.Position{}, func([]change.Change) error { return nil })
	}()
	line := logs.WaitFor(t, time.Minute, done, func() error { return err }, "mongodb connection is")
	cancel()
	<-done
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("stream: %v", err)
	}
	return line
}

// TestTLSFerretDB connects to FerretDB's plain and TLS listeners and checks
// the line each logs, and that a wrong CA, host name or listener fails
// naming the address.
func TestTLSFerretDB(t *testing.T) {
	files := testenv.NewTLSFiles(t, "127.0.0.1")
	other := testenv.NewTLSFiles(t, "127.0.0.1")
	db := testenv.NewFerretDBWith(t, testenv.FerretDBOptions{TLS: &files})
	tlsPort := db.TLSAddr()[strings.LastIndexByte(db.TLSAddr(), ':')+1:]
	withTLS := func(host, params string) string {
		return "mongodb://" + host + "/?directConnection=true&serverSelectionTimeoutMS=3000&tls=true&" + params
	}
	// The failing URLs carry a password, which no error may show (the
	// TLS handshake fails before authentication is tried).
	const password = "s3cret-mongo"
	withPassword := func(raw string) string {
		return strings.Replace(raw, "mongodb://", "mongodb://sluice:"+password+"@", 1)
	}
	connects := []struct {
		name, url, want string
	}{
		{"plain", db.URI(),
			`level=WARN msg="mongodb connection is not encrypted" address=` + db.Addr() + ` hint="tls=true and tlsCAFile=FILE`},
		{"tls with tlsCAFile", db.TLSURI(),
			`level=INFO msg="mongodb connection is encrypted and verified" address=` + db.TLSAddr() + ` verified="certificate chain (tlsCAFile) and host name of each host"`},
		{"tlsInsecure", withTLS(db.TLSAddr(), "tlsInsecure=true"),
			`level=WARN msg="mongodb connection is encrypted but the server is not verified" address=` + db.TLSAddr() + ` hint="tls=true and tlsCAFile=FILE`},
	}
	for _, tt := range connects {
		t.Run(tt.name, func(t *testing.T) {
			var logs testenv.Logs
			src := loggedSource(t, tt.url, &logs)
			if line := securityLine(t, src, &logs); !strings.HasPrefix(line, tt.want) {
				t.Errorf("log line\n%s\nwant prefix\n%s", line, tt.want)
			}
			// A second Stream of the same Source does not log it again.
			securityLineAgain(t, db, src, &logs)
		})
	}
	fails := []struct {
		name, url, addr, text string
	}{
		{"another CA", withTLS(db.TLSAddr(), "tlsCAFile="+url.QueryEscape(other.CA)), db.TLSAddr(), "certificate signed by unknown authority"},
		{"another host name", withTLS("localhost:"+tlsPort, "tlsCAFile="+url.QueryEscape(files.CA)), "localhost:" + tlsPort, "localhost"},
		{"system roots", withTLS(db.TLSAddr(), ""), db.TLSAddr(), "certificate signed by unknown authority"},
		{"tls to the plain listener", withTLS(db.Addr(), "tlsCAFile="+url.QueryEscape(files.CA)), db.Addr(), "EOF"},
	}
	for _, tt := range fails {
		t.Run(tt.name, func(t *testing.T) {
			var logs testenv.Logs
			src := loggedSource(t, withPassword(tt.url), &logs)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := streamErr(ctx, src)
			if err == nil || !strings.Contains(err.Error(), tt.text) || !strings.Contains(err.Error(), tt.addr) {
				t.Fatalf("error %v; want one naming %s and containing %q", err, tt.addr, tt.text)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("password in error: %v", err)
			}
			t.Logf("error: %v", err)
			if lines := logs.Lines("mongodb connection is"); len(lines) != 0 {
				t.Errorf("security logged for a failed connection: %q", lines)
			}
		})
	}
}

// securityLineAgain streams src once more until it reads a change and
// checks that the security line was not logged a second time.
func securityLineAgain(t *testing.T, db *testenv.FerretDB, src *Source, logs *testenv.Logs) {
	t.Helper()
	client, err := db.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	col := collect(t, src, change.Position{})
	whenTailing(context.Background(), t, col, client.Database("tls").Collection(strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())))
	col.stop(t)
	if n := len(logs.Lines("mongodb connection is")); n != 1 {
		t.Errorf("%d security lines after two Streams, want 1:\n%s", n, logs.String())
	}
}
