// Package tlsparam reads the TLS parameters of the coordinator and store
// URLs (etcd, ZooKeeper, Redis, MySQL): tls=off|on|skip-verify, tls-ca,
// tls-cert, tls-key and tls-server-name, as every source and sink names
// them.
package tlsparam

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/sluice-cdc/sluice/address"
)

// Read reads the TLS parameters from p. mode is the default when tls is
// absent ("off" or "on"); tls-ca, tls-cert or tls-server-name alone mean
// tls=on. host is the name checked in the server's certificate unless
// tls-server-name overrides it. A nil config means plain text.
func Read(p *address.Params, mode, host string) (*tls.Config, error) {
	var ca, cert, key, serverName string
	given := p.Has("tls")
	p.Enum("tls", &mode, "off", "on", "skip-verify")
	p.String("tls-ca", &ca)
	p.String("tls-cert", &cert)
	p.String("tls-key", &key)
	p.String("tls-server-name", &serverName)
	if err := p.Err(); err != nil {
		return nil, err
	}
	verifying := ca != "" || cert != "" || serverName != ""
	if verifying && !given {
		mode = "on"
	}
	if mode == "off" {
		if verifying || key != "" {
			return nil, errors.New("tls-ca, tls-cert, tls-key and tls-server-name need tls=on or skip-verify, not tls=off")
		}
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName, InsecureSkipVerify: mode == "skip-verify"}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls-ca %s: no PEM certificate in it", ca)
		}
		cfg.RootCAs = pool
	}
	if (cert == "") != (key == "") {
		return nil, errors.New("tls-cert and tls-key go together")
	}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("tls-cert/tls-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}
