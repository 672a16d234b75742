package servers

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Credentials of the account every NATS server is created with.
const (
	NATSUser     = "sluice"
	NATSPassword = "sluice-nats"
)

// NATS is a private nats-server with JetStream (file storage in its
// directory) listening on 127.0.0.1, requiring a user and password (or the
// token of NATSOptions).
type NATS struct {
	Server
	opts NATSOptions
}

// NATSOptions configures a NATS server.
type NATSOptions struct {
	// Token, when set, is what clients authenticate with instead of
	// NATSUser and NATSPassword.
	Token string
	// TLS, when not nil, makes the server require TLS with this
	// certificate and key; VerifyClients makes it require a client
	// certificate signed by TLS.CA too.
	TLS           *TLSFiles
	VerifyClients bool
	// MaxPayload, when > 0, is the server's max_payload in bytes.
	MaxPayload int
}

// StartNATS starts a NATS server with JetStream. Close stops it and removes
// its directory.
func StartNATS(ctx context.Context) (*NATS, error) {
	return StartNATSWith(ctx, NATSOptions{})
}

// StartNATSWith is StartNATS with options.
func StartNATSWith(ctx context.Context, opts NATSOptions) (*NATS, error) {
	bin, err := lookBinary("nats-server", "nats-server")
	if err != nil {
		return nil, err
	}
	dir, err := newServerDir("nats")
	if err != nil {
		return nil, err
	}
	s := &NATS{opts: opts}
	s.Server = Server{name: "nats-server", dir: dir, ready: s.ping}
	s.spec = func() procSpec {
		return procSpec{path: bin, args: []string{"-c", s.dir.join("nats.conf")}}
	}
	err = s.launch(ctx, func(port int) error {
		lines := []string{
			fmt.Sprintf("listen: \"127.0.0.1:%d\"", port),
			fmt.Sprintf("server_name: \"sluice-test-%d\"", port),
			"jetstream {",
			fmt.Sprintf("  store_dir: %q", s.dir.join("jetstream")),
			"  max_memory_store: 256MB",
			"  max_file_store: 2GB",
			"}",
			"authorization {",
		}
		if opts.Token != "" {
			lines = append(lines, fmt.Sprintf("  token: %q", opts.Token))
		} else {
			lines = append(lines, fmt.Sprintf("  user: %q", NATSUser), fmt.Sprintf("  password: %q", NATSPassword))
		}
		lines = append(lines, "}")
		if t := opts.TLS; t != nil {
			lines = append(lines, "tls {", fmt.Sprintf("  cert_file: %q", t.Cert), fmt.Sprintf("  key_file: %q", t.Key),
				fmt.Sprintf("  ca_file: %q", t.CA), fmt.Sprintf("  verify: %t", opts.VerifyClients), "}")
		}
		if opts.MaxPayload > 0 {
			lines = append(lines, fmt.Sprintf("max_payload: %d", opts.MaxPayload))
		}
		conf := strings.Join(lines, "\n") + "\n"
		if err := os.WriteFile(s.dir.join("nats.conf"), []byte(conf), 0o644); err != nil {
			return fmt.Errorf("servers: nats: write nats.conf: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// URL is nats://user:password@127.0.0.1:port (nats://token@… with
// NATSOptions.Token), as accepted by nats.Connect.
func (s *NATS) URL() string {
	u := url.URL{Scheme: "nats", User: url.UserPassword(NATSUser, NATSPassword), Host: s.Addr()}
	if s.opts.Token != "" {
		u.User = url.User(s.opts.Token)
	}
	return u.String()
}

// clientOptions are what a client needs besides the URL: the server's CA
// and the client certificate with NATSOptions.TLS.
func (s *NATS) clientOptions() []nats.Option {
	t := s.opts.TLS
	if t == nil {
		return nil
	}
	opts := []nats.Option{nats.RootCAs(t.CA)}
	if s.opts.VerifyClients {
		opts = append(opts, nats.ClientCert(t.ClientCert, t.ClientKey))
	}
	return opts
}

// Connect opens a client connection with the server's credentials (and,
// with NATSOptions.TLS, its CA and the client certificate).
func (s *NATS) Connect(opts ...nats.Option) (*nats.Conn, error) {
	nc, err := nats.Connect(s.URL(), append(s.clientOptions(), opts...)...)
	if err != nil {
		return nil, fmt.Errorf("servers: nats at %s: %w", s.Addr(), err)
	}
	return nc, nil
}

// ping connects and checks that JetStream answers.
func (s *NATS) ping(ctx context.Context) error {
	nc, err := nats.Connect(s.URL(), append(s.clientOptions(), nats.Timeout(time.Second), nats.NoReconnect())...)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := nc.JetStream(nats.Context(ctx))
	if err != nil {
		return err
	}
	_, err = js.AccountInfo(nats.Context(ctx))
	return err
}
