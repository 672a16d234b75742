package source

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/internal/servers"
)

func TestSecurityNote(t *testing.T) {
	plain := Security{Hint: "sslmode=verify-full"}
	unverified := Security{Encrypted: true, Version: "TLS 1.3", Hint: "sslmode=verify-full"}
	verified := Security{Encrypted: true, Version: "TLS 1.3", Verified: "certificate chain and host name db"}
	local := Security{Local: true}
	tests := []struct {
		name string
		seq  []Security
		want []string // one line per Log that logs
	}{
		{"plain once", []Security{plain, plain, plain}, []string{
			`level=WARN msg="pg connection is not encrypted" address=db:5432 hint="sslmode=verify-full"`}},
		{"unverified", []Security{unverified}, []string{
			`level=WARN msg="pg connection is encrypted but the server is not verified" address=db:5432 tls="TLS 1.3" hint="sslmode=verify-full"`}},
		{"verified", []Security{verified, verified}, []string{
			`level=INFO msg="pg connection is encrypted and verified" address=db:5432 tls="TLS 1.3" verified="certificate chain and host name db"`}},
		{"version unknown", []Security{{Encrypted: true, Verified: "chain"}}, []string{
			`level=INFO msg="pg connection is encrypted and verified" address=db:5432 verified=chain`}},
		{"local", []Security{local}, []string{
			`level=INFO msg="pg connection is local (Unix socket, not encrypted)" address=db:5432`}},
		{"changes are logged again", []Security{verified, plain, plain, verified}, []string{
			`level=INFO msg="pg connection is encrypted and verified"`,
			`level=WARN msg="pg connection is not encrypted"`,
			`level=INFO msg="pg connection is encrypted and verified"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: dropTime}))
			var n SecurityNote
			logged := 0
			for _, s := range tt.seq {
				if n.Log(logger, "pg", "db:5432", s) {
					logged++
				}
			}
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if logged != len(tt.want) || len(lines) != len(tt.want) {
				t.Fatalf("logged %d times:\n%s\nwant %d lines", logged, buf.String(), len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("line %d:\n%s\nwant prefix\n%s", i, lines[i], w)
				}
			}
		})
	}
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

func TestSecurityWeaker(t *testing.T) {
	plain, enc := Security{}, Security{Encrypted: true}
	ver, local := Security{Encrypted: true, Verified: "x"}, Security{Local: true}
	if !plain.Weaker(enc) || !enc.Weaker(ver) || !plain.Weaker(local) || ver.Weaker(local) || local.Weaker(ver) || enc.Weaker(plain) {
		t.Fatal("order: plain < encrypted < verified = local")
	}
}

// TestConnSecurity runs TLS handshakes over in-memory pipes and checks
// what ConnSecurity reads from the client's side.
func TestConnSecurity(t *testing.T) {
	dir := t.TempDir()
	files, err := servers.WriteTLSFiles(dir, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(files.Cert, files.Key)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	handshake := func(t *testing.T, cfg *tls.Config) net.Conn {
		c, s := net.Pipe()
		t.Cleanup(func() { c.Close(); s.Close() })
		srv := tls.Server(s, &tls.Config{Certificates: []tls.Certificate{pair}})
		go srv.Handshake()
		tc := tls.Client(c, cfg)
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		return tc
	}
	tests := []struct {
		name string
		cfg  *tls.Config
		want Security
	}{
		{"verified", &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"},
			Security{Encrypted: true, Version: "TLS 1.3", Verified: "certificate chain and host name 127.0.0.1"}},
		{"not verified", &tls.Config{InsecureSkipVerify: true}, Security{Encrypted: true, Version: "TLS 1.3"}},
		{"chain only", &tls.Config{InsecureSkipVerify: true, VerifyPeerCertificate: func([][]byte, [][]*x509.Certificate) error { return nil }},
			Security{Encrypted: true, Version: "TLS 1.3", Verified: "certificate chain (not the host name)"}},
		{"TLS 1.2", &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12}, Security{Encrypted: true, Version: "TLS 1.2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ConnSecurity(handshake(t, tt.cfg), tt.cfg); got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	t.Run("plain tcp", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := ConnSecurity(c, nil); got != (Security{}) {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("unix socket", func(t *testing.T) {
		path := filepath.Join(dir, "s.sock")
		l, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := ConnSecurity(c, nil); got != (Security{Local: true}) {
			t.Fatalf("got %+v", got)
		}
	})
}
