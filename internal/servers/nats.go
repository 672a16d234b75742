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
// directory) listening on 127.0.0.1, requiring a user and password.
type NATS struct {
	Server
}

// StartNATS starts a NATS server with JetStream. Close stops it and removes
// its directory.
func StartNATS(ctx context.Context) (*NATS, error) {
	bin, err := lookBinary("nats-server", "nats-server")
	if err != nil {
		return nil, err
	}
	dir, err := newServerDir("nats")
	if err != nil {
		return nil, err
	}
	s := &NATS{}
	s.Server = Server{name: "nats-server", dir: dir, ready: s.ping}
	s.spec = func() procSpec {
		return procSpec{path: bin, args: []string{"-c", s.dir.join("nats.conf")}}
	}
	err = s.launch(ctx, func(port int) error {
		conf := strings.Join([]string{
			fmt.Sprintf("listen: \"127.0.0.1:%d\"", port),
			fmt.Sprintf("server_name: \"sluice-test-%d\"", port),
			"jetstream {",
			fmt.Sprintf("  store_dir: %q", s.dir.join("jetstream")),
			"  max_memory_store: 256MB",
			"  max_file_store: 2GB",
			"}",
			"authorization {",
			fmt.Sprintf("  user: %q", NATSUser),
			fmt.Sprintf("  password: %q", NATSPassword),
			"}",
		}, "\n") + "\n"
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

// URL is nats://user:password@127.0.0.1:port, as accepted by nats.Connect.
func (s *NATS) URL() string {
	u := url.URL{Scheme: "nats", User: url.UserPassword(NATSUser, NATSPassword), Host: s.Addr()}
	return u.String()
}

// Connect opens a client connection with the server's credentials.
func (s *NATS) Connect(opts ...nats.Option) (*nats.Conn, error) {
	nc, err := nats.Connect(s.URL(), opts...)
	if err != nil {
		return nil, fmt.Errorf("servers: nats at %s: %w", s.Addr(), err)
	}
	return nc, nil
}

// ping connects and checks that JetStream answers.
func (s *NATS) ping(ctx context.Context) error {
	nc, err := nats.Connect(s.URL(), nats.Timeout(time.Second), nats.NoReconnect())
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
