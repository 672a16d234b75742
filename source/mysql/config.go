package mysql

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/source"
)

// Default values of Config fields left zero.
const (
	DefaultHeartbeat   = 5 * time.Second
	DefaultDialTimeout = 10 * time.Second
	DefaultServerID    = 1001
)

// Config configures a Source. The zero value of every optional field
// selects its documented default; Validate fills them in.
type Config struct {
	// Common holds Start — where to begin when Stream is given a zero
	// position: source.StartLatest (the default: the server's current
	// binlog position, SHOW MASTER STATUS) or source.StartEarliest (the
	// first binlog file the server still has, SHOW BINARY LOGS) — and the
	// Logger for reconnection and schema notes.
	source.Common
	// Addr is host:port of the server (a path containing '/' is a Unix socket).
	Addr string
	// User and Password authenticate the replication user; it needs
	// REPLICATION SLAVE and REPLICATION CLIENT (MariaDB: BINLOG MONITOR),
	// and SELECT on the tracked tables when the server does not write
	// binlog_row_metadata=FULL.
	User     string
	Password string
	// ServerID is the replica server id this source registers with; it must
	// be unique among all replicas of the server. Default DefaultServerID.
	ServerID uint32
	// TLS, when not nil, makes the connection use TLS with this
	// configuration: InsecureSkipVerify false verifies the certificate chain
	// (against RootCAs, or the system's roots) and ServerName. Nil is plain
	// text. ParseURL's default, tls=prefer, sets it to an unverified
	// configuration with TLSOptional.
	TLS *tls.Config
	// TLSOptional lets the connection go on in plain text when the server
	// does not offer TLS (its handshake lacks CLIENT_SSL), and skips TLS on
	// a Unix socket; without it a server without TLS is an error. Either
	// way each Source logs what its connection is once: WARN for plain text
	// or an unverified server, INFO for a verified one.
	TLSOptional bool
	// GTID makes the source resume by GTID set (MySQL COM_BINLOG_DUMP_GTID,
	// MariaDB @slave_connect_state) when a position has one, instead of by
	// file and offset.
	GTID bool
	// Heartbeat is the period the server is asked to send heartbeats at
	// when the binlog is idle; the connection is considered dead after
	// 3 heartbeats without any packet. Default DefaultHeartbeat.
	Heartbeat time.Duration
	// DialTimeout bounds connecting and authenticating. Default DefaultDialTimeout.
	DialTimeout time.Duration
	// Retry is how lost connections are retried (defaults
	// source.DefaultRetryMin and source.DefaultRetryMax, forever).
	Retry source.Retry
	// SchemaHistory is the file the schema history is persisted to; "" keeps
	// it in memory only (a restart then starts from information_schema).
	SchemaHistory string
	// EmitHeartbeats makes the source emit an OpHeartbeat change when the
	// server sends a heartbeat on an idle binlog.
	EmitHeartbeats bool
	// AllowStatement lets the source stream from a server whose
	// binlog_format is STATEMENT or MIXED. Such a server logs INSERT,
	// UPDATE, DELETE, REPLACE and LOAD DATA as SQL text, not as rows: they
	// arrive as change.OpStatement changes holding the statement, without
	// row images. Off (the default), the source refuses such a server with
	// an error wrapping ErrBinlogFormat.
	AllowStatement bool
}

// Validate checks c and fills in defaults.
func (c *Config) Validate() error {
	if c.Addr == "" {
		return errors.New("mysql: config: Addr is empty")
	}
	if c.User == "" {
		return errors.New("mysql: config: User is empty")
	}
	if c.ServerID == 0 {
		c.ServerID = DefaultServerID
	}
	if err := c.CheckSnapshot(); err != nil {
		return fmt.Errorf("mysql: config: %w", err)
	}
	switch c.Start {
	case source.StartDefault, source.StartLatest, source.StartEarliest:
		// StartDefault is the current end of the binlog, as StartLatest.
	default:
		return fmt.Errorf("mysql: config: Start %q: want latest or earliest", c.Start)
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.Heartbeat < 10*time.Millisecond {
		return fmt.Errorf("mysql: config: Heartbeat %v is below 10ms", c.Heartbeat)
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if err := c.Retry.Validate(); err != nil {
		return fmt.Errorf("mysql: config: %w", err)
	}
	c.Logger = c.Log()
	return nil
}

// readTimeout is how long a read may wait before the connection counts as dead.
func (c *Config) readTimeout() time.Duration { return 3 * c.Heartbeat }

// String describes c without its password.
func (c Config) String() string {
	return fmt.Sprintf("mysql://%s@%s/?server-id=%d&gtid=%t", c.User, c.Addr, c.ServerID, c.GTID)
}

// ParseURL reads a source address of the form
//
//	mysql://user:password@host:3306/?server-id=4242&gtid=on&from=earliest
//
// Query parameters: server-id, gtid (on/off), from (latest/earliest),
// heartbeat and dial-timeout (Go durations), retry-min, retry-max and
// max-retries (see source.Retry), schema-history (file path), heartbeats
// (emit heartbeat changes: on/off), allow-statement (on/off: stream from a
// server whose binlog_format is STATEMENT or MIXED, see
// Config.AllowStatement), tls, tls-ca (PEM file of the CA to
// verify against), tls-server-name (the name to verify instead of the
// URL's host), tls-cert and tls-key (client certificate). tls is prefer
// (the default, as for the mysql client: TLS without verification when
// the server offers it, else plain text), on (TLS required, chain and host
// name verified; the default when tls-ca, tls-cert or tls-server-name is
// given), skip-verify (TLS required, not verified) or off.
// An unknown parameter is an error that lists the known ones. The scheme
// may also be mariadb://. Errors never contain the password.
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, address.ParseError(err)
	}
	if u.Scheme != "mysql" && u.Scheme != "mariadb" {
		return Config{}, fmt.Errorf("scheme %q: want mysql:// or mariadb://", u.Scheme)
	}
	var c Config
	c.Addr = u.Host
	if u.Host == "" {
		return c, errors.New("no host")
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil {
		c.Addr = net.JoinHostPort(u.Hostname(), "3306")
	}
	if u.User != nil {
		c.User = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	p := address.NewParams(u)
	source.ReadCommon(p, &c.Common)
	source.ReadRetry(p, &c.Retry)
	p.Uint32("server-id", &c.ServerID, 1, 1<<32-1)
	p.Bool("gtid", &c.GTID)
	p.Bool("heartbeats", &c.EmitHeartbeats)
	p.Bool("allow-statement", &c.AllowStatement)
	p.Duration("heartbeat", &c.Heartbeat, 10*time.Millisecond)
	p.Duration("dial-timeout", &c.DialTimeout, time.Millisecond)
	p.String("schema-history", &c.SchemaHistory)
	var tlsMode, ca, serverName, cert, key string
	p.String("tls", &tlsMode)
	p.String("tls-ca", &ca)
	p.String("tls-server-name", &serverName)
	p.String("tls-cert", &cert)
	p.String("tls-key", &key)
	if err := p.Check(); err != nil {
		return c, err
	}
	if c.TLS, c.TLSOptional, err = tlsConfig(tlsMode, ca, serverName, cert, key, u.Hostname()); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// tlsConfig builds the TLS configuration of the tls* URL parameters, and
// whether it is optional (tls=prefer).
func tlsConfig(mode, caFile, serverName, certFile, keyFile, host string) (cfg *tls.Config, optional bool, err error) {
	verifying := caFile != "" || certFile != "" || keyFile != "" || serverName != ""
	switch mode {
	case "":
		mode = "prefer"
		if verifying {
			mode = "on"
		}
	case "prefer", "preferred":
		mode = "prefer"
	case "off", "false", "disable", "disabled":
		mode = "off"
	case "on", "true", "verify":
		mode = "on"
	case "skip-verify":
	default:
		return nil, false, fmt.Errorf("parameter tls=%q: want prefer, on, skip-verify or off", mode)
	}
	if verifying && (mode == "off" || mode == "prefer") {
		return nil, false, fmt.Errorf("tls-ca, tls-cert, tls-key and tls-server-name need tls=on or skip-verify, not tls=%s", mode)
	}
	if mode == "off" {
		return nil, false, nil
	}
	cfg = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	cfg.InsecureSkipVerify = mode == "skip-verify" || mode == "prefer"
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, false, fmt.Errorf("tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, false, fmt.Errorf("tls-ca %s: no PEM certificate in it", caFile)
		}
		cfg.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, false, errors.New("tls-cert and tls-key go together")
	}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, false, fmt.Errorf("tls-cert/tls-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, mode == "prefer", nil
}
