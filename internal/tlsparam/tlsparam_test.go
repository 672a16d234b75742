package tlsparam

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestRead reads every kind of URL's TLS parameters: Read and ReadPrefer
// (database and coordinator URLs: tls-ca replaces the system's roots, no
// true/false) and ReadSink with Config (the sinks: tls-ca added to the
// system's roots, true/false, a scheme that forces TLS). want describes
// the configuration: plain, prefer, skip or verify NAME, then "ca" or
// "system+ca" for the roots and "cert" for a client certificate; or
// "error TEXT".
func TestRead(t *testing.T) {
	files := testenv.NewTLSFiles(t, "127.0.0.1")
	caPEM, err := os.ReadFile(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	onlyCA := x509.NewCertPool()
	onlyCA.AppendCertsFromPEM(caPEM)
	systemCA, err := x509.SystemCertPool()
	if err != nil {
		t.Fatal(err)
	}
	systemCA.AppendCertsFromPEM(caPEM)
	expand := strings.NewReplacer("{ca}", url.QueryEscape(files.CA), "{cert}", url.QueryEscape(files.ClientCert),
		"{key}", url.QueryEscape(files.ClientKey), "{server-key}", url.QueryEscape(files.Key))
	const (
		read       = "Read"       // Read(p, def, "host")
		prefer     = "ReadPrefer" // ReadPrefer(p, def, "host")
		sink       = "ReadSink"   // ReadSink(p).Config(false, "host")
		sinkForced = "forced"     // ReadSink(p).Config(true, "host"): rediss://, https://
	)
	cases := []struct {
		reader, query, def string
		want               string
	}{
		{read, "", "off", "plain"},
		{read, "", "on", "verify host"},
		{read, "tls=on", "off", "verify host"},
		{read, "tls=skip-verify", "off", "skip"},
		{read, "tls=skip-verify&tls-server-name=other", "off", "skip"},
		{read, "tls-server-name=other", "off", "verify other"},
		{read, "tls-ca={ca}", "off", "verify host ca"},
		{read, "tls-ca={ca}&tls-cert={cert}&tls-key={key}", "off", "verify host ca cert"},
		{read, "tls=off&tls-server-name=x", "off", "error need tls=on"},
		{read, "tls=off&tls-key=x", "on", "error need tls=on"},
		{read, "tls=prefer", "off", "error one of off, on, skip-verify"},
		{read, "tls=true", "off", "error one of off, on, skip-verify"},
		{read, "tls-ca=/nonexistent", "off", "error tls-ca"},
		{read, "tls-ca={server-key}", "off", "error no PEM certificate"},
		{read, "tls-cert=/x", "off", "error go together"},
		{read, "tls-key=/x", "off", "error go together"},
		{read, "tls-cert={cert}&tls-key={ca}", "off", "error tls-cert/tls-key"},
		{prefer, "tls=prefer", "off", "prefer"},
		{prefer, "", "prefer", "prefer"},
		{prefer, "tls=PREFER", "on", "prefer"},
		{prefer, "tls=off", "prefer", "plain"},
		{prefer, "tls-ca={ca}", "prefer", "verify host ca"},
		{prefer, "tls=prefer&tls-ca={ca}", "off", "error need tls=on or skip-verify, not tls=prefer"},
		{prefer, "tls=maybe", "prefer", "error one of off, prefer, on, skip-verify"},
		{sink, "", "", "plain"},
		{sink, "tls=off", "", "plain"},
		{sink, "tls=false", "", "plain"},
		{sink, "tls=on", "", "verify host"},
		{sink, "tls=true", "", "verify host"},
		{sink, "tls=skip-verify", "", "skip"},
		{sink, "tls-server-name=other", "", "verify other"},
		{sink, "tls-ca={ca}", "", "verify host system+ca"},
		{sink, "tls-cert={cert}&tls-key={key}", "", "verify host cert"},
		{sink, "tls=off&tls-ca={ca}", "", "error need tls=on or skip-verify, not tls=off"},
		{sink, "tls=false&tls-key=x", "", "error need tls=on"},
		{sink, "tls=prefer", "", "error one of off, on, skip-verify, false, true"},
		{sink, "tls-key=/x", "", "error go together"},
		{sink, "tls-ca=/nonexistent", "", "error tls-ca"},
		{sinkForced, "", "", "verify host"},
		{sinkForced, "tls=skip-verify", "", "skip"},
		{sinkForced, "tls-ca={ca}", "", "verify host system+ca"},
		{sinkForced, "tls=off", "", "error contradicts the URL's scheme"},
	}
	for _, c := range cases {
		query := expand.Replace(c.query)
		p := address.NewParams(&url.URL{RawQuery: query})
		var cfg *tls.Config
		var preferred bool
		var err error
		switch c.reader {
		case read:
			cfg, err = Read(p, c.def, "host")
		case prefer:
			cfg, preferred, err = ReadPrefer(p, c.def, "host")
		case sink, sinkForced:
			tp := ReadSink(p)
			if err = p.Check(); err == nil {
				cfg, err = tp.Config(c.reader == sinkForced, "host")
			}
		}
		var got string
		switch {
		case err != nil:
			got = "error " + err.Error()
		case cfg == nil:
			got = "plain"
		case preferred:
			got = "prefer"
			if !cfg.InsecureSkipVerify || cfg.MinVersion != tls.VersionTLS12 {
				t.Errorf("%s %q (default %q): prefer without skipping verification or TLS 1.2: %+v", c.reader, c.query, c.def, cfg)
			}
		case cfg.InsecureSkipVerify:
			got = "skip"
		default:
			got = "verify " + cfg.ServerName
		}
		if cfg != nil && !preferred {
			switch {
			case cfg.RootCAs == nil:
			case cfg.RootCAs.Equal(onlyCA):
				got += " ca"
			case cfg.RootCAs.Equal(systemCA):
				got += " system+ca"
			default:
				got += " other roots"
			}
			if len(cfg.Certificates) > 0 {
				got += " cert"
			}
			if cfg.MinVersion != tls.VersionTLS12 {
				t.Errorf("%s %q (default %q): MinVersion %x", c.reader, c.query, c.def, cfg.MinVersion)
			}
		}
		ok := got == c.want
		if strings.HasPrefix(c.want, "error ") {
			ok = strings.HasPrefix(got, "error ") && strings.Contains(got, strings.TrimPrefix(c.want, "error "))
		}
		if !ok {
			t.Errorf("%s %q (default %q) = %s, want %s", c.reader, c.query, c.def, got, c.want)
		}
	}
}

// TestRefusal: a server that requires a client certificate refuses a
// client without one, which Refusal reports as a TLS failure, and accepts
// one with it, where Refusal reports nothing (as for a closed port).
func TestRefusal(t *testing.T) {
	files := testenv.NewTLSFiles(t, "127.0.0.1")
	cert, err := tls.LoadX509KeyPair(files.Cert, files.Key)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	testenv.Serve(ln, func(c net.Conn) {
		// The handshake; a refused client gets its alert here.
		c.(*tls.Conn).Handshake()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		c.Read(make([]byte, 1))
	})
	ctx := context.Background()
	client := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	err = Refusal(ctx, ln.Addr().String(), client, 5*time.Second)
	if err == nil || !IsFailure(err) {
		t.Errorf("no client certificate: Refusal = %v, want the server's alert", err)
	}
	pair, err := tls.LoadX509KeyPair(files.ClientCert, files.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	withCert := client.Clone()
	withCert.Certificates = []tls.Certificate{pair}
	if err := Refusal(ctx, ln.Addr().String(), withCert, 300*time.Millisecond); err != nil {
		t.Errorf("with a client certificate: Refusal = %v", err)
	}
	// Another CA: the handshake fails at the client.
	other := testenv.NewTLSFiles(t, "127.0.0.1")
	otherPEM, _ := os.ReadFile(other.CA)
	otherPool := x509.NewCertPool()
	otherPool.AppendCertsFromPEM(otherPEM)
	if err := Refusal(ctx, ln.Addr().String(), &tls.Config{RootCAs: otherPool, ServerName: "127.0.0.1"}, time.Second); err == nil || !IsFailure(err) {
		t.Errorf("untrusted server: Refusal = %v", err)
	}
	// Nothing listening: not a TLS failure.
	free, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := free.Addr().String()
	free.Close()
	if err := Refusal(ctx, addr, client, time.Second); err != nil {
		t.Errorf("closed port: Refusal = %v", err)
	}
}
