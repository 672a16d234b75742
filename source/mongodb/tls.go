package mongodb

import (
	"errors"
	"strings"

	"github.com/sluice-cdc/sluice/source"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

// clientSecurity is what every connection of a client made with opts has
// of TLS. The driver has no fallback: with tls=true (the default of
// mongodb+srv://) every connection is TLS, verifying the chain (against
// tlsCAFile, else the system's roots) and each host's name unless
// tlsInsecure is set; without it every connection is plain. So the
// configuration says it all, except the TLS version, which the driver
// does not expose.
func clientSecurity(opts *options.ClientOptions) source.Security {
	const hint = "tls=true and tlsCAFile=FILE (the CA that signed the server's certificate), without tlsInsecure, to encrypt and verify"
	t := opts.TLSConfig
	switch {
	case t == nil && allSockets(opts.Hosts):
		return source.Security{Local: true}
	case t == nil:
		return source.Security{Hint: hint}
	case t.InsecureSkipVerify:
		return source.Security{Encrypted: true, Hint: hint}
	case t.RootCAs != nil:
		return source.Security{Encrypted: true, Verified: "certificate chain (tlsCAFile) and host name of each host"}
	}
	return source.Security{Encrypted: true, Verified: "certificate chain (system roots) and host name of each host"}
}

// allSockets reports whether every host is a Unix socket (the driver takes
// a host ending in ".sock" for one).
func allSockets(hosts []string) bool {
	for _, h := range hosts {
		if !strings.HasSuffix(h, ".sock") {
			return false
		}
	}
	return len(hosts) > 0
}

// noteSecurity returns a function that logs the security of a client made
// with opts once per Source (see source.SecurityNote); Stream calls it
// once the server first answered.
func (s *Source) noteSecurity(opts *options.ClientOptions) func() {
	sec, addr := clientSecurity(opts), strings.Join(opts.Hosts, ",")
	return func() { s.security.Log(s.cfg.Logger, "mongodb", addr, sec) }
}

// unreachableError is a server selection that timed out, restated as what
// each server's last connection attempt ended with.
type unreachableError struct {
	servers string // "host:port: last error; …"
	err     error  // the driver's error
}

func (e *unreachableError) Error() string {
	return "mongodb: cannot connect to " + e.servers
}

func (e *unreachableError) Unwrap() error { return e.err }

// unreachable returns err as an *unreachableError when it is a server
// selection failure whose servers report why they could not be reached
// (a refused connection, a certificate that does not verify); otherwise
// err unchanged. The driver's text names the servers deep inside a
// topology description.
func unreachable(err error) error {
	var sse topology.ServerSelectionError
	if !errors.As(err, &sse) {
		return err
	}
	var parts []string
	for _, srv := range sse.Desc.Servers {
		if srv.LastError != nil {
			parts = append(parts, srv.Addr.String()+": "+srv.LastError.Error())
		}
	}
	if len(parts) == 0 {
		return err
	}
	return &unreachableError{servers: strings.Join(parts, "; "), err: err}
}
