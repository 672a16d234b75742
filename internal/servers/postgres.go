package servers

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
)

// PostgresBinDir is where Debian's postgresql-15 installs initdb and postgres.
const PostgresBinDir = "/usr/lib/postgresql/15/bin"

// Credentials of the superuser every PostgreSQL server is created with.
const (
	PostgresUser     = "postgres"
	PostgresPassword = "sluice-pg"
)

// PostgresOptions configures a PostgreSQL server. The zero value gives
// wal_level=logical with 16 replication slots and WAL senders, and the
// pgoutput, test_decoding and wal2json output plugins usable.
type PostgresOptions struct {
	// ExtraConfig lines are appended to postgresql.conf after the defaults,
	// so they override them (e.g. "max_slot_wal_keep_size = 16MB").
	ExtraConfig []string
	// TLS, when not nil, turns ssl on with this certificate and key (copied
	// into the data directory, owned by the server's user). The server
	// still accepts connections without TLS: the client's sslmode decides.
	TLS *TLSFiles
}

// Postgres is a private PostgreSQL 15 server listening on 127.0.0.1.
//
// PostgreSQL refuses to run as root. When the tests run as root the server
// runs as the system user "postgres", which Debian's postgresql-15 package
// creates (scripts/deps.sh creates it if it is missing); otherwise it runs
// as the current user.
type Postgres struct {
	Server
	opts     PostgresOptions
	postgres string              // the server program
	cred     *syscall.Credential // nil when not root
}

// StartPostgres initialises a cluster with initdb and starts a PostgreSQL
// server on it. Close stops the server and removes its directory.
func StartPostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	initdb, err := lookBinary("initdb", "postgresql-15", PostgresBinDir)
	if err != nil {
		return nil, err
	}
	postgres, err := lookBinary("postgres", "postgresql-15", PostgresBinDir)
	if err != nil {
		return nil, err
	}
	cred, err := postgresCredential()
	if err != nil {
		return nil, err
	}
	dir, err := newServerDir("postgres")
	if err != nil {
		return nil, err
	}
	s := &Postgres{opts: opts, postgres: postgres, cred: cred}
	s.Server = Server{name: "postgres", dir: dir, ready: s.ping}
	s.spec = func() procSpec {
		return procSpec{
			path: s.postgres,
			args: []string{"-D", s.DataDir(), "-p", strconv.Itoa(s.port)},
			cred: s.cred,
		}
	}
	if err := s.initdb(ctx, initdb); err != nil {
		dir.release()
		return nil, err
	}
	if err := s.launch(ctx, nil); err != nil {
		return nil, err
	}
	return s, nil
}

// postgresCredential returns the user to run PostgreSQL as: "postgres" when
// running as root, nil (the current user) otherwise.
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("servers: PostgreSQL refuses to run as root and there is no user "+
			"\"postgres\" to run it as (install the Debian package postgresql-15, or run scripts/deps.sh): %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("servers: uid of postgres: %w", err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("servers: gid of postgres: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// mkdirOwned creates a directory owned by the server's user.
func (s *Postgres) mkdirOwned(path string, perm os.FileMode) error {
	if err := os.Mkdir(path, perm); err != nil {
		return fmt.Errorf("servers: postgres: %w", err)
	}
	if s.cred != nil {
		if err := os.Chown(path, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return fmt.Errorf("servers: postgres: %w", err)
		}
	}
	return nil
}

func (s *Postgres) initdb(ctx context.Context, initdb string) error {
	tmpl, err := postgresTemplate(ctx, initdb, s.postgres, s.cred)
	if err != nil {
		return err
	}
	if err := copyTree(tmpl, s.DataDir()); err != nil {
		return fmt.Errorf("servers: postgres: copy template cluster: %w", err)
	}
	if s.cred != nil {
		if err := chownTree(s.DataDir(), int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return fmt.Errorf("servers: postgres: %w", err)
		}
	}
	if err := s.mkdirOwned(s.SocketDir(), 0o755); err != nil {
		return err
	}
	lines := []string{
		"",
		"# sluice servers",
		"listen_addresses = '127.0.0.1'",
		"unix_socket_directories = '" + s.SocketDir() + "'",
		"wal_level = logical",
		"max_replication_slots = 16",
		"max_wal_senders = 16",
		"max_connections = 100",
		"shared_buffers = 32MB",
		"fsync = off",
		"full_page_writes = off",
		"logging_collector = off",
		"log_min_messages = warning",
		"timezone = 'UTC'",
	}
	// Recent Debian builds only let trusted output plugins be used; the
	// setting does not exist in older minor versions, where naming it would
	// stop the server from starting.
	if desc, err := exec.CommandContext(ctx, s.postgres, "--describe-config").Output(); err == nil &&
		strings.Contains(string(desc), "output_plugin_libraries\t") {
		lines = append(lines, "output_plugin_libraries = 'pgoutput, test_decoding, wal2json'")
	}
	if s.opts.TLS != nil {
		var chown func(string) error
		if s.cred != nil {
			chown = func(p string) error { return os.Chown(p, int(s.cred.Uid), int(s.cred.Gid)) }
		}
		cert, key, err := installTLS(*s.opts.TLS, s.DataDir(), chown)
		if err != nil {
			return err
		}
		lines = append(lines, "ssl = on", "ssl_cert_file = '"+cert+"'", "ssl_key_file = '"+key+"'")
	}
	lines = append(lines, s.opts.ExtraConfig...)
	f, err := os.OpenFile(filepath.Join(s.DataDir(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("servers: postgres: %w", err)
	}
	_, err = f.WriteString(strings.Join(lines, "\n") + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("servers: postgres: write postgresql.conf: %w", err)
	}
	return nil
}

// postgresTemplate returns a cluster made by initdb once per machine,
// PostgreSQL build and user under $TMPDIR/sluice-testenv-templates; each
// server copies it (milliseconds instead of seconds). Servers copied from
// one template share its system identifier. A file lock makes concurrent
// test processes wait for one initdb.
func postgresTemplate(ctx context.Context, initdb, postgres string, cred *syscall.Credential) (string, error) {
	st, err := os.Stat(postgres)
	if err != nil {
		return "", fmt.Errorf("servers: postgres: %w", err)
	}
	uid := "self"
	if cred != nil {
		uid = fmt.Sprint(cred.Uid, ":", cred.Gid)
	}
	key := hashKey(postgres, fmt.Sprint(st.Size(), st.ModTime().UnixNano()), uid, "initdb-1")
	root := templatesDir()
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("servers: postgres: %w", err)
	}
	dir := filepath.Join(root, "postgres-"+key)
	data, done := filepath.Join(dir, "data"), filepath.Join(dir, "complete")
	if _, err := os.Stat(done); err == nil {
		return data, nil
	}
	unlock, err := lockFile(ctx, dir+".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(done); err == nil {
		return data, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("servers: postgres: %w", err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", fmt.Errorf("servers: postgres: %w", err)
	}
	// initdb runs as the server's user: it must own the directory and read
	// the password file.
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(PostgresPassword+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("servers: postgres: %w", err)
	}
	defer os.Remove(pwfile)
	if cred != nil {
		if err := chownTree(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return "", fmt.Errorf("servers: postgres: %w", err)
		}
	}
	cmd := exec.CommandContext(ctx, initdb,
		"-D", data,
		"-U", PostgresUser,
		"--pwfile="+pwfile,
		"--auth-local=trust",
		"--auth-host=scram-sha-256",
		"--encoding=UTF8",
		"--locale=C",
		"--no-sync",
	)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("servers: initdb: %w\n%s", err, out)
	}
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		return "", fmt.Errorf("servers: postgres: %w", err)
	}
	return data, nil
}

func (s *Postgres) ping(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// DataDir is the cluster's data directory.
func (s *Postgres) DataDir() string { return s.dir.join("data") }

// SocketDir is the directory of the server's Unix socket.
func (s *Postgres) SocketDir() string { return s.dir.join("sock") }

// DSN is a URL for the superuser on database ("postgres" always exists), for
// pgx or any libpq-style client, over TCP with password authentication.
func (s *Postgres) DSN(database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(PostgresUser, PostgresPassword),
		Host:     s.Addr(),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// ReplicationDSN is DSN with replication=database, for a logical
// replication connection.
func (s *Postgres) ReplicationDSN(database string) string {
	return s.DSN(database) + "&replication=database"
}

// Connect opens a connection as the superuser to database.
func (s *Postgres) Connect(ctx context.Context, database string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, s.DSN(database))
	if err != nil {
		return nil, fmt.Errorf("servers: postgres at %s: connect: %w", s.Addr(), err)
	}
	return conn, nil
}

// Exec runs statements as the superuser on database, in order, on one
// connection. It stops at the first error.
func (s *Postgres) Exec(ctx context.Context, database string, stmts ...string) error {
	conn, err := s.Connect(ctx, database)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for _, q := range stmts {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("servers: postgres: %s: %w", q, err)
		}
	}
	return nil
}
