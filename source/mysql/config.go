package mysql

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Default values of Config fields left zero.
const (
	DefaultHeartbeat   = 5 * time.Second
	DefaultDialTimeout = 10 * time.Second
	DefaultBackoffMin  = 100 * time.Millisecond
	DefaultBackoffMax  = 30 * time.Second
	DefaultServerID    = 1001
)

// Start names where a stream begins when no position is given.
type Start string

// Start points.
const (
	// StartLatest begins at the server's current binlog position
	// (SHOW MASTER STATUS / SHOW BINARY LOG STATUS).
	StartLatest Start = "latest"
	// StartEarliest begins at the first binlog file the server still has
	// (the first row of SHOW BINARY LOGS).
	StartEarliest Start = "earliest"
)

// Config configures a Source. The zero value of every optional field
// selects its documented default; Validate fills them in.
type Config struct {
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
	// TLS, when not nil, makes the connection use TLS with this configuration
	// (set InsecureSkipVerify only for tests).
	TLS *tls.Config
	// GTID makes the source resume by GTID set (MySQL COM_BINLOG_DUMP_GTID,
	// MariaDB @slave_connect_state) when a position has one, instead of by
	// file and offset.
	GTID bool
	// From is where to begin when Stream is given a zero position:
	// StartLatest (default) or StartEarliest.
	From Start
	// Heartbeat is the period the server is asked to send heartbeats at
	// when the binlog is idle; the connection is considered dead after
	// 3 heartbeats without any packet. Default DefaultHeartbeat.
	Heartbeat time.Duration
	// DialTimeout bounds connecting and authenticating. Default DefaultDialTimeout.
	DialTimeout time.Duration
	// BackoffMin and BackoffMax bound the capped exponential backoff between
	// reconnection attempts. Defaults DefaultBackoffMin, DefaultBackoffMax.
	BackoffMin, BackoffMax time.Duration
	// MaxRetries is how many consecutive failed reconnection attempts are
	// made before Stream gives up; 0 means retry until the context ends.
	MaxRetries int
	// SchemaHistory is the file the schema history is persisted to; "" keeps
	// it in memory only (a restart then starts from information_schema).
	SchemaHistory string
	// EmitHeartbeats makes the source emit an OpHeartbeat change when the
	// server sends a heartbeat on an idle binlog.
	EmitHeartbeats bool
	// Logger receives reconnection and schema notes; nil discards them.
	Logger *slog.Logger
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
	switch c.From {
	case "":
		c.From = StartLatest
	case StartLatest, StartEarliest:
	default:
		return fmt.Errorf("mysql: config: From %q: want %q or %q", c.From, StartLatest, StartEarliest)
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
	if c.BackoffMin == 0 {
		c.BackoffMin = DefaultBackoffMin
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = DefaultBackoffMax
	}
	if c.BackoffMax < c.BackoffMin {
		return fmt.Errorf("mysql: config: BackoffMax %v < BackoffMin %v", c.BackoffMax, c.BackoffMin)
	}
	if c.MaxRetries < 0 {
		return fmt.Errorf("mysql: config: MaxRetries %d < 0", c.MaxRetries)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
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
// Query parameters: server-id, gtid (on/off/true/false/1/0), from
// (latest/earliest), heartbeat (Go duration), dial-timeout, max-retries,
// schema-history (file path), heartbeats (emit heartbeat changes: on/off),
// tls (off, on = verify, skip-verify = encrypt without verifying),
// tls-ca (PEM file of the CA to verify against), tls-server-name,
// tls-cert and tls-key (client certificate). The scheme may also be
// mariadb://. Errors never contain the password.
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url errors quote the whole input, password included.
		return Config{}, errors.New("mysql: address is not a valid URL")
	}
	if u.Scheme != "mysql" && u.Scheme != "mariadb" {
		return Config{}, fmt.Errorf("mysql: address scheme %q: want mysql:// or mariadb://", u.Scheme)
	}
	var c Config
	c.Addr = u.Host
	if u.Host == "" {
		return c, errors.New("mysql: address has no host")
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil {
		c.Addr = net.JoinHostPort(u.Hostname(), "3306")
	}
	if u.User != nil {
		c.User = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	q := u.Query()
	var tlsMode, ca, serverName, cert, key string
	for name, vals := range q {
		v := vals[len(vals)-1]
		switch name {
		case "server-id":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil || n == 0 {
				return c, fmt.Errorf("mysql: address: server-id %q: want an integer 1..4294967295", v)
			}
			c.ServerID = uint32(n)
		case "gtid":
			if c.GTID, err = parseBool(v); err != nil {
				return c, fmt.Errorf("mysql: address: gtid: %w", err)
			}
		case "heartbeats":
			if c.EmitHeartbeats, err = parseBool(v); err != nil {
				return c, fmt.Errorf("mysql: address: heartbeats: %w", err)
			}
		case "from":
			c.From = Start(v)
		case "heartbeat", "dial-timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return c, fmt.Errorf("mysql: address: %s %q: want a positive duration such as 5s", name, v)
			}
			if name == "heartbeat" {
				c.Heartbeat = d
			} else {
				c.DialTimeout = d
			}
		case "max-retries":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return c, fmt.Errorf("mysql: address: max-retries %q: want a count >= 0", v)
			}
			c.MaxRetries = n
		case "schema-history":
			c.SchemaHistory = v
		case "tls":
			tlsMode = v
		case "tls-ca":
			ca = v
		case "tls-server-name":
			serverName = v
		case "tls-cert":
			cert = v
		case "tls-key":
			key = v
		default:
			return c, fmt.Errorf("mysql: address: unknown parameter %q", name)
		}
	}
	if c.TLS, err = tlsConfig(tlsMode, ca, serverName, cert, key, u.Hostname()); err != nil {
		return c, err
	}
	return c, c.Validate()
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "on", "true", "1", "yes":
		return true, nil
	case "off", "false", "0", "no", "":
		return false, nil
	}
	return false, fmt.Errorf("%q is not on/off", v)
}

// tlsConfig builds the TLS configuration of the tls* URL parameters.
func tlsConfig(mode, caFile, serverName, certFile, keyFile, host string) (*tls.Config, error) {
	switch mode {
	case "", "off", "false", "disable":
		if caFile != "" || certFile != "" {
			return nil, errors.New("mysql: address: tls-ca/tls-cert given without tls=on")
		}
		return nil, nil
	case "on", "true", "verify", "skip-verify":
	default:
		return nil, fmt.Errorf("mysql: address: tls %q: want off, on or skip-verify", mode)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	cfg.InsecureSkipVerify = mode == "skip-verify"
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("mysql: address: tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mysql: address: tls-ca %s: no PEM certificate in it", caFile)
		}
		cfg.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("mysql: address: tls-cert and tls-key go together")
	}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("mysql: address: tls-cert/tls-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}
