// Package tlsparam reads the TLS parameters that the NATS, Redis and HTTP
// sinks share from a sink URL and builds their client configuration:
//
//	tls              on: connect with TLS (implied by the other tls_* parameters)
//	tls_ca           PEM file of certificate authorities to trust besides the system's
//	tls_cert         PEM file of a client certificate (with tls_key)
//	tls_key          PEM file of the client certificate's key
//	tls_server_name  the name to check in the server's certificate
//	tls_insecure     on: do not check the server's certificate
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
	On            bool
	CA, Cert, Key string
	ServerName    string
	Insecure      bool
	onSet         bool // tls was given (tls=off counts)
}

// Names are the parameters Read reads.
var Names = []string{"tls", "tls_ca", "tls_cert", "tls_key", "tls_server_name", "tls_insecure"}

// Read reads the TLS parameters from p (marking them known).
func Read(p *address.Params) Params {
	var t Params
	t.onSet = p.Has("tls")
	p.Bool("tls", &t.On)
	p.String("tls_ca", &t.CA)
	p.String("tls_cert", &t.Cert)
	p.String("tls_key", &t.Key)
	p.String("tls_server_name", &t.ServerName)
	p.Bool("tls_insecure", &t.Insecure)
	return t
}

// Wanted reports whether the parameters ask for TLS: tls=on, or any of
// the other tls_* parameters without tls=off.
func (t Params) Wanted() bool {
	if t.onSet {
		return t.On
	}
	return t.CA != "" || t.Cert != "" || t.Key != "" || t.ServerName != "" || t.Insecure
}

// Config builds the client TLS configuration the parameters describe (nil
// when they do not ask for TLS and force is false; force is set for a
// scheme that means TLS, such as rediss:// or https://). serverName is the
// host to verify when tls_server_name is not given.
func (t Params) Config(force bool, serverName string) (*tls.Config, error) {
	if !force && !t.Wanted() {
		return nil, nil
	}
	if force && t.onSet && !t.On {
		return nil, errors.New("tls=off contradicts the URL's scheme, which means TLS")
	}
	name := t.ServerName
	if name == "" {
		name = serverName
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: name, InsecureSkipVerify: t.Insecure}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("tls_ca: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls_ca %s: no PEM certificate", t.CA)
		}
		tc.RootCAs = pool
	}
	if (t.Cert == "") != (t.Key == "") {
		return nil, errors.New("tls_cert and tls_key go together")
	}
	if t.Cert != "" {
		cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("tls_cert/tls_key: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
