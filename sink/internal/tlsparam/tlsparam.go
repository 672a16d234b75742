// Package tlsparam reads the TLS parameters that the NATS, Redis and HTTP
// sinks share from a sink URL, as every source and sink of the project
// names them, and builds their client configuration:
//
//	tls              off (default), on, or skip-verify (encrypt without checking the server's
//	                 certificate); true and false stand for on and off. The other tls-*
//	                 parameters imply on.
//	tls-ca           PEM file of certificate authorities to trust besides the system's
//	tls-cert         PEM file of a client certificate (with tls-key)
//	tls-key          PEM file of the client certificate's key
//	tls-server-name  the name to check in the server's certificate
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
	// Mode is "" (not given), "off", "on" or "skip-verify".
	Mode          string
	CA, Cert, Key string
	ServerName    string
}

// Read reads the TLS parameters from p (marking them known).
func Read(p *address.Params) Params {
	var t Params
	p.Enum("tls", &t.Mode, "off", "on", "skip-verify", "false", "true")
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

// Wanted reports whether the parameters ask for TLS: tls=on or
// skip-verify, or any of the other tls-* parameters without tls=off.
func (t Params) Wanted() bool {
	if t.Mode != "" {
		return t.Mode != "off"
	}
	return t.CA != "" || t.Cert != "" || t.Key != "" || t.ServerName != ""
}

// Config builds the client TLS configuration the parameters describe (nil
// when they do not ask for TLS and force is false; force is set for a
// scheme that means TLS, such as rediss:// or https://). serverName is the
// host to verify when tls-server-name is not given. tls=off with another
// tls-* parameter is an error, as on every URL of Sluice.
func (t Params) Config(force bool, serverName string) (*tls.Config, error) {
	if force && t.Mode == "off" {
		return nil, errors.New("tls=off contradicts the URL's scheme, which means TLS")
	}
	if t.Mode == "off" && (t.CA != "" || t.Cert != "" || t.Key != "" || t.ServerName != "") {
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
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls-ca %s: no PEM certificate", t.CA)
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
