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
	cfg, err := readMode(p, mode, host, modes)
	if err != nil || cfg == nil {
		return nil, false, err
	}
	return cfg.Config, cfg.prefer, nil
}

// config is a TLS configuration and whether it is only preferred.
type config struct {
	*tls.Config
	prefer bool
}

func readMode(p *address.Params, mode, host string, modes []string) (*config, error) {
	var ca, cert, key, serverName string
	given := p.Has("tls")
	p.Enum("tls", &mode, modes...)
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
	if mode == "off" || mode == "prefer" {
		if verifying || key != "" {
			return nil, fmt.Errorf("tls-ca, tls-cert, tls-key and tls-server-name need tls=on or skip-verify, not tls=%s", mode)
		}
		if mode == "prefer" {
			return &config{Config: &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}, prefer: true}, nil
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
	return &config{Config: cfg}, nil
}
