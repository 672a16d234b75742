package sqldb

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/internal/tlsparam"
)

// Engine is one of the two SQL engines.
type Engine uint8

// The engines.
const (
	// MySQL is MySQL or MariaDB.
	MySQL Engine = iota + 1
	// Postgres is PostgreSQL.
	Postgres
)

func (e Engine) String() string {
	switch e {
	case MySQL:
		return "mysql"
	case Postgres:
		return "postgres"
	}
	return "engine(?)"
}

// EngineOf returns the engine of a URL scheme: mysql and mariadb, postgres
// and postgresql.
func EngineOf(scheme string) (Engine, bool) {
	switch strings.ToLower(scheme) {
	case "mysql", "mariadb":
		return MySQL, true
	case "postgres", "postgresql":
		return Postgres, true
	}
	return 0, false
}

// EngineOfSource returns the engine whose tables a source of change.Change
// Source name ("mysql", "mariadb", "postgres") writes.
func EngineOfSource(source string) (Engine, bool) { return EngineOf(source) }

// Quote quotes an identifier: `name` for MySQL, "name" for PostgreSQL.
func (e Engine) Quote(ident string) string {
	if e == Postgres {
		return `"` + strings.ReplaceAll(ident, `"`, `""`) + `"`
	}
	return "`" + strings.ReplaceAll(ident, "`", "``") + "`"
}

// QuoteTable quotes schema.table (just table when schema is empty).
func (e Engine) QuoteTable(schema, table string) string {
	if schema == "" {
		return e.Quote(table)
	}
	return e.Quote(schema) + "." + e.Quote(table)
}

// Config says where and how to connect.
type Config struct {
	Engine Engine
	// Addr is host:port (default port 3306 or 5432).
	Addr           string
	User, Password string
	// Database is the URL path: MySQL's default database (may be
	// empty), PostgreSQL's database (default: the user's name).
	Database string
	// Params go to the driver: go-sql-driver/mysql DSN parameters
	// (charset, …) or libpq-style parameters for pgx (sslmode,
	// sslrootcert, …).
	Params url.Values
	// TLS, for MySQL, is the connection's TLS configuration (nil: plain
	// text), and TLSPrefer says TLS is used only when the server offers
	// it, unverified (TakeTLS sets them).
	TLS       *tls.Config
	TLSPrefer bool
}

// tlsParams are the TLS parameters of every MySQL URL of Sluice.
var tlsParams = []string{"tls", "tls-ca", "tls-cert", "tls-key", "tls-server-name"}

// TakeTLS reads, for MySQL, the TLS parameters in Params as every MySQL
// URL of Sluice names them — tls=off|prefer|on|skip-verify (default
// prefer, as the mysql client), tls-ca, tls-cert, tls-key, tls-server-name
// — into TLS and TLSPrefer, and removes them from Params. PostgreSQL's
// TLS parameters are libpq's (sslmode, sslrootcert, …), left for pgx.
func (c *Config) TakeTLS() error {
	if c.Engine != MySQL {
		return nil
	}
	p := address.NewParams(&url.URL{RawQuery: c.Params.Encode()})
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		host = c.Addr
	}
	tc, prefer, err := tlsparam.ReadPrefer(p, "prefer", host)
	if err != nil {
		return err
	}
	for _, k := range tlsParams {
		c.Params.Del(k)
	}
	c.TLS, c.TLSPrefer = tc, prefer
	return nil
}

// ParseURL reads a mysql://, mariadb://, postgres:// or postgresql:// URL:
// user, password, host, port and the database in the path. Every query
// parameter is kept in Params; a caller removes its own first.
func ParseURL(u *url.URL) (Config, error) {
	e, ok := EngineOf(u.Scheme)
	if !ok {
		return Config{}, fmt.Errorf("scheme %q: want mysql, mariadb, postgres or postgresql", u.Scheme)
	}
	c := Config{Engine: e, Params: u.Query()}
	if u.User != nil {
		c.User = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		host = "127.0.0.1"
	}
	if port == "" {
		port = "3306"
		if e == Postgres {
			port = "5432"
		}
	}
	c.Addr = net.JoinHostPort(host, port)
	c.Database = strings.TrimPrefix(u.Path, "/")
	if strings.Contains(c.Database, "/") {
		return Config{}, fmt.Errorf("path %q: want /DATABASE", u.Path)
	}
	if c.User == "" {
		return Config{}, errors.New("no user: give USER[:PASSWORD]@ before the host")
	}
	return c, nil
}

// mysqlSession is what every MySQL session Sluice opens sets: strict
// modes (a value the column cannot hold is an error, not a warning) that
// still accept zero dates, 0 written into an AUTO_INCREMENT column as 0,
// and UTC for TIMESTAMP columns.
var mysqlSession = map[string]string{
	"sql_mode":  "'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION'",
	"time_zone": "'+00:00'",
}

// OpenMySQL opens a database/sql pool on go-sql-driver/mysql with Sluice's
// session settings plus extra (system variables, values quoted as SQL).
// clientFoundRows makes UPDATE report the rows it matched. The sessions
// have no default database (Sluice names every table with its database:
// the URL's database may not exist yet). It does not connect; the first
// query does.
func OpenMySQL(c Config, extra map[string]string) (*sql.DB, error) {
	dsn := "tcp(" + c.Addr + ")/"
	if len(c.Params) > 0 {
		dsn += "?" + c.Params.Encode()
	}
	mc, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("mysql parameters: %w", err)
	}
	mc.User, mc.Passwd = c.User, c.Password
	switch {
	case c.TLSPrefer:
		mc.TLSConfig = "preferred"
	case c.TLS != nil:
		mc.TLS = c.TLS
	}
	mc.ClientFoundRows = true
	mc.Loc = time.UTC
	if mc.Timeout == 0 {
		mc.Timeout = 10 * time.Second
	}
	mc.Logger = nopLogger{}
	if mc.Params == nil {
		mc.Params = map[string]string{}
	}
	for k, v := range mysqlSession {
		mc.Params[k] = v
	}
	for k, v := range extra {
		mc.Params[k] = v
	}
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	return sql.OpenDB(conn), nil
}

// nopLogger silences go-sql-driver's own log lines ("[mysql] … invalid
// connection"): its errors reach the caller anyway.
type nopLogger struct{}

func (nopLogger) Print(...any) {}

// postgresSession is what every PostgreSQL session Sluice opens sets.
var postgresSession = map[string]string{
	"TimeZone":           "UTC",
	"DateStyle":          "ISO, YMD",
	"IntervalStyle":      "postgres",
	"extra_float_digits": "1", // shortest text that reads back exactly
	"bytea_output":       "hex",
	"client_encoding":    "UTF8",
}

// ConnectPostgres opens a pgx connection with Sluice's session settings
// plus extra (run-time parameters).
func ConnectPostgres(ctx context.Context, c Config, extra map[string]string) (*pgx.Conn, error) {
	u := url.URL{Scheme: "postgres", Host: c.Addr, Path: "/" + c.Database, RawQuery: c.Params.Encode()}
	pc, err := pgx.ParseConfig(u.String())
	if err != nil {
		return nil, fmt.Errorf("postgres parameters: %w", err)
	}
	pc.User, pc.Password = c.User, c.Password
	if pc.Database == "" {
		pc.Database = c.User
	}
	if pc.ConnectTimeout == 0 {
		pc.ConnectTimeout = 10 * time.Second
	}
	for k, v := range postgresSession {
		pc.RuntimeParams[k] = v
	}
	for k, v := range extra {
		pc.RuntimeParams[k] = v
	}
	if _, ok := pc.RuntimeParams["application_name"]; !ok {
		pc.RuntimeParams["application_name"] = "sluice"
	}
	conn, err := pgx.ConnectConfig(ctx, pc)
	if err != nil {
		return nil, err
	}
	return conn, nil
}
