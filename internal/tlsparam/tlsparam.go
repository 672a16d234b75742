// Package tlsparam reads the TLS parameters that every URL of Sluice with
// TLS of its own names the same way, and builds the client configuration
// they describe:
//
//	tls              off, on, or skip-verify (encrypt without checking the server's
//	                 certificate); prefer where the client can fall back to plain text.
//	                 The other tls-* parameters without tls mean on.
//	tls-ca           PEM file of the certificate authorities that verify the server
//	tls-cert         PEM file of a client certificate (with tls-key)
//	tls-key          PEM file of the client certificate's key
//	tls-server-name  the name to check in the server's certificate
//
// Two kinds of URL read them, and differ where their documentation does:
//
//   - Database and coordinator URLs (MySQL connections of the checkpoint
//     and lease stores, the SQL sink and verify; etcd) use Read, or
//     ReadPrefer for tls=prefer: tls takes off, on and skip-verify (and
//     prefer); tls-ca replaces the system's certificate authorities, as
//     the mysql client's --ssl-ca ("verifies the chain against tls-ca,
//     else the system's roots").
//   - The NATS, Redis and HTTP sinks use ReadSink and Params.Config: tls
//     also takes true and false for on and off; tls-ca is trusted besides
//     the system's certificate authorities (AddRoots).
package tlsparam

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/address"
)

// Params are the TLS parameters of a URL.
type Params struct {
	// Mode is "" (not given), "off", "prefer", "on" or "skip-verify".
	Mode          string
	CA, Cert, Key string
	ServerName    string
	// AddRoots trusts tls-ca besides the system's certificate
	// authorities; without it tls-ca replaces them.
	AddRoots bool
}

// ReadSink reads the TLS parameters of a sink URL (NATS, Redis, HTTP)
// from p, marking them known: tls is off (when absent and no other tls-*
// parameter is given), on or skip-verify, and true and false stand for on
// and off; tls-ca adds to the system's certificate authorities. The
// caller checks p and builds the configuration with Config.
func ReadSink(p *address.Params) Params {
	t := readParams(p, "off", "on", "skip-verify", "false", "true")
	t.AddRoots = true
	return t
}

// Read reads the TLS parameters of a database or coordinator URL from p.
// mode is the default when tls is absent ("off" or "on"); tls-ca,
// tls-cert or tls-server-name alone mean tls=on. host is the name checked
// in the server's certificate unless tls-server-name overrides it. tls-ca
// replaces the system's certificate authorities. A nil config means plain
// text.
func Read(p *address.Params, mode, host string) (*tls.Config, error) {
	cfg, _, err := read(p, mode, host, "off", "on", "skip-verify")
	return cfg, err
}

// ReadPrefer is Read for a client that can fall back to plain text:
// tls=prefer (which may be the default mode) returns a configuration that
// skips verification and prefer true — TLS when the server offers it,
// as the mysql client's default.
func ReadPrefer(p *address.Params, mode, host string) (cfg *tls.Config, prefer bool, err error) {
	return read(p, mode, host, "off", "prefer", "on", "skip-verify")
}

func read(p *address.Params, mode, host string, modes ...string) (*tls.Config, bool, error) {
	t := readParams(p, modes...)
	if err := p.Err(); err != nil {
		return nil, false, err
	}
	if t.Mode == "" && !t.Wanted() {
		t.Mode = mode
	}
	if t.Mode == "prefer" {
		if t.given() {
			return nil, false, errors.New("tls-ca, tls-cert, tls-key and tls-server-name need tls=on or skip-verify, not tls=prefer")
		}
		return &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}, true, nil
	}
	cfg, err := t.Config(false, host)
	return cfg, false, err
}

// readParams reads the parameters, tls among modes (true and false, when
// among them, become on and off).
func readParams(p *address.Params, modes ...string) Params {
	var t Params
	p.Enum("tls", &t.Mode, modes...)
	switch t.Mode {
	case "false":
		t.Mode = "off"
	case "true":
		t.Mode = "on"
	}
	p.String("tls-ca", &t.CA)
	p.String("tls-cert", &t.Cert)
	p.String("tls-key", &t.Key)
	p.String("tls-server-name", &t.ServerName)
	return t
}

// given reports whether any of tls-ca, tls-cert, tls-key or
// tls-server-name is given.
func (t Params) given() bool {
	return t.CA != "" || t.Cert != "" || t.Key != "" || t.ServerName != ""
}

// Wanted reports whether the parameters ask for TLS: tls=on or
// skip-verify, or any of the other tls-* parameters without tls.
func (t Params) Wanted() bool {
	if t.Mode != "" {
		return t.Mode != "off"
	}
	return t.given()
}

// Config builds the client TLS configuration the parameters describe (nil
// when they do not ask for TLS and force is false; force is set for a
// scheme that means TLS, such as rediss:// or https://). serverName is the
// host to verify when tls-server-name is not given. tls=off with another
// tls-* parameter is an error.
func (t Params) Config(force bool, serverName string) (*tls.Config, error) {
	if force && t.Mode == "off" {
		return nil, errors.New("tls=off contradicts the URL's scheme, which means TLS")
	}
	if t.Mode == "off" && t.given() {
		return nil, errors.New("tls-ca, tls-cert, tls-key and tls-server-name need tls=on or skip-verify, not tls=off")
	}
	if !force && !t.Wanted() {
		return nil, nil
	}
	name := t.ServerName
	if name == "" {
		name = serverName
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: name, InsecureSkipVerify: t.Mode == "skip-verify"}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("tls-ca: %w", err)
		}
		var pool *x509.CertPool
		if t.AddRoots {
			pool, err = x509.SystemCertPool()
		}
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls-ca %s: no PEM certificate in it", t.CA)
		}
		tc.RootCAs = pool
	}
	if (t.Cert == "") != (t.Key == "") {
		return nil, errors.New("tls-cert and tls-key go together")
	}
	if t.Cert != "" {
		cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("tls-cert/tls-key: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Refusal tells a server's refusal of the client's certificate from a
// lost connection. In TLS 1.3 a server checks the client's certificate
// after the client considers the handshake done and answers a refusal
// with an alert and a close, so a client that writes at once can see only
// a reset connection, which looks like a network failure worth retrying.
// Refusal dials addr with cfg, completes the handshake and, without
// writing, waits up to wait for the server's alert. It returns the TLS
// error of the handshake or of the alert, or nil when there was none (the
// server accepted the certificate, or the network failed).
func Refusal(ctx context.Context, addr string, cfg *tls.Config, wait time.Duration) error {
	dctx, cancel := context.WithTimeout(ctx, wait+5*time.Second)
	defer cancel()
	d := tls.Dialer{Config: cfg}
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		if IsFailure(err) {
			return err
		}
		return nil
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(wait))
	if _, err := conn.Read(make([]byte, 1)); err != nil && IsFailure(err) {
		return err
	}
	return nil
}

// IsFailure reports whether err is a TLS failure that no retry mends: a
// certificate not trusted or not valid for the host, or an alert of the
// server (a refused client certificate, no common protocol version).
func IsFailure(err error) bool {
	var certErr *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	// A remote alert is a net.OpError around crypto/tls's unexported
	// alert type: "remote error: tls: certificate required".
	return errors.As(err, &certErr) || errors.As(err, &unknown) || errors.As(err, &hostErr) || strings.Contains(err.Error(), "tls: ")
}
