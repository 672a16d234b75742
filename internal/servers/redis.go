package servers

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
)

// RedisPassword is the requirepass of every Redis server.
const RedisPassword = "sluice-redis"

// Redis is a private redis-server listening on 127.0.0.1 with a password and
// an append-only file in its directory, so data survives Stop and Start.
type Redis struct {
	Server
	opts    RedisOptions
	tlsPort int
}

// RedisOptions configures a Redis server.
type RedisOptions struct {
	// TLS, when not nil, makes the server listen for TLS connections too,
	// on TLSAddr, with this certificate and key; VerifyClients makes it
	// require a client certificate signed by TLS.CA there. Addr stays
	// plain TCP.
	TLS           *TLSFiles
	VerifyClients bool
	// User and UserPassword, when set, add an ACL user allowed every
	// command and key.
	User, UserPassword string
}

// StartRedis starts a Redis server. Close stops it and removes its directory.
func StartRedis(ctx context.Context) (*Redis, error) {
	return StartRedisWith(ctx, RedisOptions{})
}

// StartRedisWith is StartRedis with options.
func StartRedisWith(ctx context.Context, opts RedisOptions) (*Redis, error) {
	bin, err := lookBinary("redis-server", "redis-server")
	if err != nil {
		return nil, err
	}
	dir, err := newServerDir("redis")
	if err != nil {
		return nil, err
	}
	s := &Redis{opts: opts}
	s.Server = Server{name: "redis-server", dir: dir, ready: s.ping}
	s.spec = func() procSpec {
		return procSpec{path: bin, args: []string{s.dir.join("redis.conf")}}
	}
	err = s.launch(ctx, func(port int) error {
		lines := []string{
			fmt.Sprintf("port %d", port),
			"bind 127.0.0.1",
			"protected-mode yes",
			"requirepass " + RedisPassword,
			"dir " + s.dir.path,
			"daemonize no",
			"save \"\"",
			"appendonly yes",
			"appendfsync everysec",
			"unixsocket " + s.dir.join("redis.sock"),
			"unixsocketperm 700",
			"loglevel warning",
			"logfile \"\"",
		}
		if t := opts.TLS; t != nil {
			var err error
			if s.tlsPort, err = freePort(); err != nil {
				return err
			}
			auth := "no"
			if opts.VerifyClients {
				auth = "yes"
			}
			lines = append(lines, fmt.Sprintf("tls-port %d", s.tlsPort), "tls-cert-file "+t.Cert, "tls-key-file "+t.Key,
				"tls-ca-cert-file "+t.CA, "tls-auth-clients "+auth)
		}
		if opts.User != "" {
			lines = append(lines, fmt.Sprintf("user %s on >%s ~* &* +@all", opts.User, opts.UserPassword))
		}
		conf := strings.Join(lines, "\n") + "\n"
		if err := os.WriteFile(s.dir.join("redis.conf"), []byte(conf), 0o644); err != nil {
			return fmt.Errorf("servers: redis: write redis.conf: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// URL is redis://:password@127.0.0.1:port/db, as accepted by
// redis.ParseURL of github.com/redis/go-redis/v9.
func (s *Redis) URL(db int) string {
	return fmt.Sprintf("redis://:%s@%s/%d", RedisPassword, s.Addr(), db)
}

// TLSAddr is the host:port of the TLS listener ("" without
// RedisOptions.TLS).
func (s *Redis) TLSAddr() string {
	if s.opts.TLS == nil {
		return ""
	}
	return hostPort(s.tlsPort)
}

// Password is the server's requirepass.
func (s *Redis) Password() string { return RedisPassword }

// ping speaks RESP directly so readiness does not depend on a client
// library: AUTH then PING must answer +OK and +PONG.
func (s *Redis) ping(ctx context.Context) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Addr())
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if _, err := fmt.Fprintf(conn, "AUTH %s\r\nPING\r\n", RedisPassword); err != nil {
		return err
	}
	want := "+OK\r\n+PONG\r\n"
	buf := make([]byte, 0, len(want))
	tmp := make([]byte, len(want))
	for len(buf) < len(want) {
		n, err := conn.Read(tmp[:len(want)-len(buf)])
		buf = append(buf, tmp[:n]...)
		if err != nil {
			return fmt.Errorf("redis answered %q: %w", buf, err)
		}
	}
	if string(buf) != want {
		return fmt.Errorf("redis answered %q to AUTH, PING", buf)
	}
	return nil
}
