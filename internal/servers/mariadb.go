package servers

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Credentials of the accounts every MariaDB server is created with.
const (
	MariaDBRootUser     = "root"
	MariaDBRootPassword = "sluice-root"
	MariaDBReplUser     = "repl"
	MariaDBReplPassword = "sluice-repl"
)

// MariaDBReplGrants are the privileges of the replication user: enough to
// read the binary log over the replication protocol (REPLICATION SLAVE), to
// list binary logs and the current position (BINLOG MONITOR, which MariaDB
// 10.5+ also calls REPLICATION CLIENT) and to snapshot tables (SELECT).
const MariaDBReplGrants = "SELECT, REPLICATION SLAVE, BINLOG MONITOR"

// MariaDBOptions configures a MariaDB server. The zero value gives the
// configuration a CDC reader wants: row-based binary log with full row
// images and full metadata.
type MariaDBOptions struct {
	// RowImage is binlog_row_image: "FULL" (default), "MINIMAL" or "NOBLOB".
	RowImage string
	// RowMetadata is binlog_row_metadata: "FULL" (default), "MINIMAL" or
	// "NO_LOG".
	RowMetadata string
	// ServerID is server_id; 0 picks the server's port, unique among the
	// servers running on this machine.
	ServerID uint32
	// ExtraConfig lines are appended to the [mariadbd] section of my.cnf,
	// after the defaults, so they override them (e.g. "binlog_checksum=NONE").
	ExtraConfig []string
	// TLS, when not nil, makes the server offer TLS with this certificate
	// and key (ssl_cert, ssl_key, ssl_ca). Accounts may still connect
	// without TLS unless altered with REQUIRE SSL.
	TLS *TLSFiles
}

// MariaDB is a private MariaDB server listening on 127.0.0.1. Its methods are
// safe for concurrent use, except as noted on Server.
type MariaDB struct {
	Server
	opts     MariaDBOptions
	serverID uint32

	dbMu sync.Mutex
	db   *sql.DB // root pool, nil while stopped
}

// StartMariaDB initialises a data directory and starts a MariaDB server in
// it. Close stops the server and removes the directory.
func StartMariaDB(ctx context.Context, opts MariaDBOptions) (*MariaDB, error) {
	opts.RowImage = strings.ToUpper(defaultString(opts.RowImage, "FULL"))
	opts.RowMetadata = strings.ToUpper(defaultString(opts.RowMetadata, "FULL"))
	mariadbd, err := lookBinary("mariadbd", "mariadb-server")
	if err != nil {
		return nil, err
	}
	installDB, err := lookBinary("mariadb-install-db", "mariadb-server")
	if err != nil {
		return nil, err
	}
	dir, err := newServerDir("mariadb")
	if err != nil {
		return nil, err
	}
	s := &MariaDB{opts: opts}
	s.Server = Server{name: "mariadbd", dir: dir, ready: s.ping, afterStop: s.closeDB}
	s.spec = func() procSpec {
		return procSpec{path: mariadbd, args: []string{"--defaults-file=" + s.ConfigFile()}}
	}
	if err := s.installDB(ctx, installDB); err != nil {
		dir.release()
		return nil, err
	}
	err = s.launch(ctx, func(port int) error {
		s.serverID = opts.ServerID
		if s.serverID == 0 {
			s.serverID = uint32(port)
		}
		return s.writeConfig()
	})
	if err != nil {
		return nil, err
	}
	if err := s.createUsers(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func defaultString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (s *MariaDB) installDB(ctx context.Context, installDB string) error {
	tmpl, err := mariaDBTemplate(ctx, installDB)
	if err != nil {
		return err
	}
	if err := copyTree(tmpl, s.DataDir()); err != nil {
		return fmt.Errorf("servers: mariadb: copy template data directory: %w", err)
	}
	return nil
}

// mariaDBInstallArgs are the mariadb-install-db options for a data
// directory in dir.
func mariaDBInstallArgs(dir string) []string {
	return []string{
		"--no-defaults", // must come first
		"--datadir=" + filepath.Join(dir, "data"),
		// A private tmpdir: with the default /tmp, concurrent bootstraps
		// (and anything that cleans /tmp) remove each other's #sql
		// temporary tables.
		"--tmpdir=" + filepath.Join(dir, "tmp"),
		"--user=root",
		"--auth-root-authentication-method=normal",
		"--skip-test-db",
		"--skip-name-resolve",
		"--innodb-log-file-size=16M",
		"--innodb-buffer-pool-size=32M",
	}
}

// mariaDBTemplate returns a data directory initialised by mariadb-install-db,
// made once per machine and installed MariaDB version under
// $TMPDIR/sluice-testenv-templates and copied by each server (a copy takes
// milliseconds, a bootstrap seconds). A file lock makes concurrent test
// processes wait for one bootstrap.
func mariaDBTemplate(ctx context.Context, installDB string) (string, error) {
	mariadbd, err := lookBinary("mariadbd", "mariadb-server")
	if err != nil {
		return "", err
	}
	st, err := os.Stat(mariadbd)
	if err != nil {
		return "", fmt.Errorf("servers: mariadb: %w", err)
	}
	key := hashKey(mariadbd, fmt.Sprint(st.Size(), st.ModTime().UnixNano()), strings.Join(mariaDBInstallArgs(""), " "))
	root := templatesDir()
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("servers: mariadb: %w", err)
	}
	dir := filepath.Join(root, "mariadb-"+key)
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
		return "", fmt.Errorf("servers: mariadb: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return "", fmt.Errorf("servers: mariadb: %w", err)
	}
	out, err := exec.CommandContext(ctx, installDB, mariaDBInstallArgs(dir)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("servers: mariadb-install-db: %w\n%s", err, out)
	}
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		return "", fmt.Errorf("servers: mariadb: %w", err)
	}
	return data, nil
}

func (s *MariaDB) writeConfig() error {
	if err := os.MkdirAll(s.BinlogDir(), 0o755); err != nil {
		return fmt.Errorf("servers: mariadb: %w", err)
	}
	if err := os.MkdirAll(s.dir.join("tmp"), 0o755); err != nil {
		return fmt.Errorf("servers: mariadb: %w", err)
	}
	lines := []string{
		"[mariadbd]",
		"user=root",
		"datadir=" + s.DataDir(),
		"socket=" + s.Socket(),
		"pid-file=" + s.dir.join("mariadbd.pid"),
		"tmpdir=" + s.dir.join("tmp"),
		fmt.Sprintf("port=%d", s.port),
		"bind-address=127.0.0.1",
		"skip-name-resolve",
		"log-bin=" + filepath.Join(s.BinlogDir(), "mariadb-bin"),
		fmt.Sprintf("server-id=%d", s.serverID),
		"binlog_format=ROW",
		"binlog_row_image=" + s.opts.RowImage,
		"binlog_row_metadata=" + s.opts.RowMetadata,
		"gtid_strict_mode=ON",
		"log_slave_updates=ON",
		"character-set-server=utf8mb4",
		"collation-server=utf8mb4_general_ci",
		"innodb_buffer_pool_size=32M",
		"innodb_log_file_size=16M",
		"innodb_flush_log_at_trx_commit=2",
		"sync_binlog=0",
		"performance_schema=OFF",
		"max_connections=200",
	}
	if t := s.opts.TLS; t != nil {
		lines = append(lines, "ssl_ca="+t.CA, "ssl_cert="+t.Cert, "ssl_key="+t.Key)
	}
	lines = append(lines, s.opts.ExtraConfig...)
	cnf := strings.Join(lines, "\n") + "\n"
	if err := os.WriteFile(s.ConfigFile(), []byte(cnf), 0o644); err != nil {
		return fmt.Errorf("servers: mariadb: write my.cnf: %w", err)
	}
	return nil
}

// ping checks that the server serves over TCP as root. Before createUsers
// root has no password, so both are tried.
func (s *MariaDB) ping(ctx context.Context) error {
	var last error
	for _, pw := range []string{MariaDBRootPassword, ""} {
		db, err := sql.Open("mysql", s.dsn(MariaDBRootUser, pw, ""))
		if err != nil {
			return err
		}
		last = db.PingContext(ctx)
		db.Close()
		if last == nil {
			return nil
		}
	}
	return last
}

func (s *MariaDB) closeDB() {
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	if s.db != nil {
		s.db.Close()
		s.db = nil
	}
}

// createUsers sets the root password and creates the replication user,
// without writing to the binary log so tests start from an empty one.
func (s *MariaDB) createUsers(ctx context.Context) error {
	db, err := sql.Open("mysql", s.dsn(MariaDBRootUser, "", ""))
	if err != nil {
		return fmt.Errorf("servers: mariadb: %w", err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("servers: mariadb: connect as root: %w", err)
	}
	defer conn.Close()
	stmts := []string{
		"SET SESSION sql_log_bin=0",
		fmt.Sprintf("CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'", MariaDBReplUser, MariaDBReplPassword),
		fmt.Sprintf("CREATE USER '%s'@'localhost' IDENTIFIED BY '%s'", MariaDBReplUser, MariaDBReplPassword),
		fmt.Sprintf("GRANT %s ON *.* TO '%s'@'127.0.0.1'", MariaDBReplGrants, MariaDBReplUser),
		fmt.Sprintf("GRANT %s ON *.* TO '%s'@'localhost'", MariaDBReplGrants, MariaDBReplUser),
		fmt.Sprintf("ALTER USER 'root'@'localhost' IDENTIFIED BY '%s'", MariaDBRootPassword),
		fmt.Sprintf("ALTER USER 'root'@'::1' IDENTIFIED BY '%s'", MariaDBRootPassword),
		fmt.Sprintf("ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '%s'", MariaDBRootPassword),
	}
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("servers: mariadb: %s: %w", q, err)
		}
	}
	return nil
}

// dsn builds a go-sql-driver/mysql DSN over TCP.
func (s *MariaDB) dsn(user, password, database string) string {
	cfg := mysql.NewConfig()
	cfg.User = user
	cfg.Passwd = password
	cfg.Net = "tcp"
	cfg.Addr = s.Addr()
	cfg.DBName = database
	cfg.ParseTime = true
	cfg.MultiStatements = true
	cfg.Timeout = 5 * time.Second
	return cfg.FormatDSN()
}

// ServerID is the server's server_id.
func (s *MariaDB) ServerID() uint32 { return s.serverID }

// DSN is a go-sql-driver/mysql DSN for root on database (may be empty), with
// parseTime and multiStatements on.
func (s *MariaDB) DSN(database string) string {
	return s.dsn(MariaDBRootUser, MariaDBRootPassword, database)
}

// ReplDSN is a go-sql-driver/mysql DSN for the replication user (see
// MariaDBReplGrants).
func (s *MariaDB) ReplDSN() string {
	return s.dsn(MariaDBReplUser, MariaDBReplPassword, "")
}

// DataDir is the server's datadir.
func (s *MariaDB) DataDir() string { return s.dir.join("data") }

// BinlogDir is the directory holding the binary logs (mariadb-bin.NNNNNN)
// and their index.
func (s *MariaDB) BinlogDir() string { return s.dir.join("binlog") }

// Socket is the server's Unix socket.
func (s *MariaDB) Socket() string { return s.dir.join("mariadbd.sock") }

// ConfigFile is the server's my.cnf.
func (s *MariaDB) ConfigFile() string { return s.dir.join("my.cnf") }

// DB returns a pool connected as root with no default database. The pool
// belongs to the server: do not close it. It is reopened after a restart.
func (s *MariaDB) DB() (*sql.DB, error) {
	if !s.Running() {
		return nil, fmt.Errorf("servers: mariadb at %s is stopped", s.Addr())
	}
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	if s.db == nil {
		db, err := sql.Open("mysql", s.DSN(""))
		if err != nil {
			return nil, fmt.Errorf("servers: mariadb: %w", err)
		}
		s.db = db
	}
	return s.db, nil
}

// Exec runs statements as root, in order, on one connection (so session
// settings such as USE carry over). It stops at the first error.
func (s *MariaDB) Exec(ctx context.Context, stmts ...string) error {
	db, err := s.DB()
	if err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("servers: mariadb: connect: %w", err)
	}
	defer conn.Close()
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("servers: mariadb: %s: %w", q, err)
		}
	}
	// Session state set by the statements must not leak into the pool.
	// Returning ErrBadConn from Raw makes database/sql discard it.
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	return nil
}

// BinaryLog is one entry of SHOW BINARY LOGS.
type BinaryLog struct {
	Name string // e.g. mariadb-bin.000001
	Path string // absolute path of the file
	Size int64
}

// BinaryLogs lists the server's binary logs, oldest first.
func (s *MariaDB) BinaryLogs(ctx context.Context) ([]BinaryLog, error) {
	db, err := s.DB()
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return nil, fmt.Errorf("servers: mariadb: SHOW BINARY LOGS: %w", err)
	}
	defer rows.Close()
	var logs []BinaryLog
	for rows.Next() {
		var l BinaryLog
		if err := rows.Scan(&l.Name, &l.Size); err != nil {
			return nil, fmt.Errorf("servers: mariadb: SHOW BINARY LOGS: %w", err)
		}
		l.Path = filepath.Join(s.BinlogDir(), l.Name)
		logs = append(logs, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("servers: mariadb: SHOW BINARY LOGS: %w", err)
	}
	return logs, nil
}

// FlushBinaryLogs closes the current binary log and opens the next one, so
// the closed file is complete on disk. It returns the logs after the flush.
func (s *MariaDB) FlushBinaryLogs(ctx context.Context) ([]BinaryLog, error) {
	if err := s.Exec(ctx, "FLUSH BINARY LOGS"); err != nil {
		return nil, err
	}
	return s.BinaryLogs(ctx)
}

// ConnArgs are the command-line options that connect the mariadb and
// mariadb-binlog clients to this server as root over TCP.
func (s *MariaDB) ConnArgs() []string {
	return []string{
		"--protocol=TCP",
		"--host=127.0.0.1",
		fmt.Sprintf("--port=%d", s.port),
		"--user=" + MariaDBRootUser,
		"--password=" + MariaDBRootPassword,
	}
}

// ClientCmd returns the mariadb command-line client connected to this server
// as root, followed by args (e.g. "-e", "SELECT 1", or a database name).
func (s *MariaDB) ClientCmd(ctx context.Context, args ...string) (*exec.Cmd, error) {
	path, err := lookBinary("mariadb", "mariadb-client")
	if err != nil {
		return nil, err
	}
	all := append([]string{"--no-defaults"}, s.ConnArgs()...)
	return exec.CommandContext(ctx, path, append(all, args...)...), nil
}

// BinlogCmd returns the mariadb-binlog program with --no-defaults and args.
// To read files, pass paths from BinaryLogs; to read from the server, pass
// "--read-from-remote-server" and ConnArgs.
func (s *MariaDB) BinlogCmd(ctx context.Context, args ...string) (*exec.Cmd, error) {
	path, err := lookBinary("mariadb-binlog", "mariadb-client")
	if err != nil {
		return nil, err
	}
	return exec.CommandContext(ctx, path, append([]string{"--no-defaults"}, args...)...), nil
}
