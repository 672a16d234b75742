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
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

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
// host to verify when tls-server-name is not given.
func (t Params) Config(force bool, serverName string) (*tls.Config, error) {
	if !force && !t.Wanted() {
		return nil, nil
	}
	if force && t.Mode == "off" {
		return nil, errors.New("tls=off contradicts the URL's scheme, which means TLS")
	}
	if t.Mode == "off" && (t.CA != "" || t.Cert != "" || t.Key != "" || t.ServerName != "") {
		return nil, errors.New("tls-ca, tls-cert, tls-key and tls-server-name need tls=on or skip-verify, not tls=off")
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
