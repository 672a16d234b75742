package source

import (
	"crypto/tls"
	"log/slog"
	"net"
	"sync"
)

// Security is what a source knows about the transport security of its
// connection to the database, for the line every source logs when it
// connects (see SecurityNote).
type Security struct {
	// Local is set for a Unix socket: the traffic never leaves the host.
	Local bool
	// Encrypted reports TLS; Version names its version ("TLS 1.3"), or
	// is "" when the source cannot tell.
	Encrypted bool
	Version   string
	// Verified says what was verified of the server's certificate:
	// "" when nothing was, else for example "certificate chain and host
	// name db.example.com".
	Verified string
	// Hint names the URL parameters that would encrypt and verify the
	// connection; it is logged when the connection is not verified.
	Hint string
}

// rank orders Security from weakest: plain text, encrypted but not
// verified, then verified or local.
func (s Security) rank() int {
	switch {
	case s.Local || s.Encrypted && s.Verified != "":
		return 2
	case s.Encrypted:
		return 1
	}
	return 0
}

// Weaker reports whether s protects the traffic less than o: plain text
// is weaker than encryption without verification, which is weaker than a
// verified or local connection.
func (s Security) Weaker(o Security) bool { return s.rank() < o.rank() }

// ConnSecurity describes conn after its handshake, made with the TLS
// configuration cfg (nil: none). It is encrypted when it is a *tls.Conn;
// its certificate chain and host name (cfg.ServerName) count as verified
// when crypto/tls verified them (the connection state has verified
// chains), and its chain alone when cfg skipped crypto/tls's verification
// for a VerifyPeerCertificate callback, as libpq's sslmode=verify-ca does
// in pgconn. A Unix socket is Local.
func ConnSecurity(conn net.Conn, cfg *tls.Config) Security {
	tc, ok := conn.(*tls.Conn)
	if !ok {
		return Security{Local: conn != nil && conn.RemoteAddr() != nil && conn.RemoteAddr().Network() == "unix"}
	}
	cs := tc.ConnectionState()
	s := Security{Encrypted: true, Version: tls.VersionName(cs.Version)}
	switch {
	case len(cs.VerifiedChains) > 0:
		s.Verified = "certificate chain and host name"
		if cfg != nil && cfg.ServerName != "" {
			s.Verified += " " + cfg.ServerName
		}
	case cfg != nil && cfg.InsecureSkipVerify && cfg.VerifyPeerCertificate != nil:
		s.Verified = "certificate chain (not the host name)"
	}
	return s
}

// SecurityNote logs a source's connection security once, when it first
// connects, and again only when a later connection's differs (a reconnect
// that fell back to plain text, say). The zero value is ready; it is safe
// for concurrent use.
type SecurityNote struct {
	mu     sync.Mutex
	logged bool
	last   Security
}

// Log logs s for a source of the given kind ("postgres") connected to
// address (host:port, never a URL with a password), with attrs added:
//
//	WARN "postgres connection is not encrypted" address=db:5432 hint="…"
//	WARN "postgres connection is encrypted but the server is not verified" address=db:5432 tls="TLS 1.3" hint="…"
//	INFO "postgres connection is encrypted and verified" address=db:5432 tls="TLS 1.3" verified="certificate chain and host name db"
//	INFO "postgres connection is local (Unix socket, not encrypted)" address=/run/postgresql/.s.PGSQL.5432
//
// It reports whether it logged.
func (n *SecurityNote) Log(logger *slog.Logger, kind, address string, s Security, attrs ...any) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.logged && n.last == s {
		return false
	}
	n.logged, n.last = true, s
	a := append([]any{"address", address}, attrs...)
	if s.Encrypted && s.Version != "" {
		a = append(a, "tls", s.Version)
	}
	switch {
	case s.Local:
		logger.Info(kind+" connection is local (Unix socket, not encrypted)", a...)
	case !s.Encrypted:
		logger.Warn(kind+" connection is not encrypted", append(a, "hint", s.Hint)...)
	case s.Verified == "":
		logger.Warn(kind+" connection is encrypted but the server is not verified", append(a, "hint", s.Hint)...)
	default:
		logger.Info(kind+" connection is encrypted and verified", append(a, "verified", s.Verified)...)
	}
	return true
}
