package postgres

import (
	"crypto/tls"
	"net"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sluice-cdc/sluice/source"
)

// securityHint names the URL parameters that encrypt and verify.
const securityHint = "sslmode=verify-full and sslrootcert=FILE (the CA that signed the server's certificate) to encrypt and verify"

// connSecurity is what conn, made from cfg, has of TLS. pgconn builds one
// TLS configuration per host from sslmode: verify-full verifies the chain
// and the host name; verify-ca, and require with sslrootcert, verify the
// chain in a VerifyPeerCertificate callback; prefer, allow and require
// without sslrootcert verify nothing.
func connSecurity(conn *pgconn.PgConn, cfg *pgconn.Config) source.Security {
	s := source.ConnSecurity(conn.Conn(), usedTLS(cfg))
	if !s.Local && s.Verified == "" {
		s.Hint = securityHint
	}
	return s
}

// usedTLS returns a TLS configuration of cfg that stands for the one the
// connection used: they differ only in the server name when cfg names
// several hosts, so the server name is kept only when all agree.
func usedTLS(cfg *pgconn.Config) *tls.Config {
	var first *tls.Config
	sameName := true
	consider := func(t *tls.Config) {
		switch {
		case t == nil:
		case first == nil:
			first = t
		case t.ServerName != first.ServerName:
			sameName = false
		}
	}
	consider(cfg.TLSConfig)
	for _, f := range cfg.Fallbacks {
		consider(f.TLSConfig)
	}
	if first == nil || sameName {
		return first
	}
	t := first.Clone()
	t.ServerName = ""
	return t
}

// connAddress is where conn goes, for the log: the host and port of cfg,
// or the address connected to when cfg names several hosts.
func connAddress(conn *pgconn.PgConn, cfg *pgconn.Config) string {
	for _, f := range cfg.Fallbacks {
		if f.Host != cfg.Host || f.Port != cfg.Port {
			if a := conn.Conn().RemoteAddr(); a != nil {
				return a.String()
			}
		}
	}
	if strings.HasPrefix(cfg.Host, "/") { // a Unix socket directory: name the socket
		if a := conn.Conn().RemoteAddr(); a != nil && a.String() != "" {
			return a.String()
		}
		return cfg.Host
	}
	return net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
}

// noteSecurity logs the security of the two connections of a session once
// per Source (again when it changes): the weaker of the two, naming it
// when they differ.
func (s *Source) noteSecurity(cat, repl *pgconn.PgConn) {
	cfg := s.cfg.Conn
	cs, rs := connSecurity(cat, cfg), connSecurity(repl, cfg)
	weak, which, conn := rs, "replication", repl
	if cs.Weaker(rs) {
		weak, which, conn = cs, "catalog", cat
	}
	var attrs []any
	if cs != rs {
		attrs = []any{"connection", which}
	}
	s.security.Log(s.cfg.Logger, "postgres", connAddress(conn, cfg), weak, attrs...)
}
