// Package sqlconn opens a database/sql handle from a mysql://,
// mariadb://, postgres:// or postgresql:// URL, for the SQL checkpoint
// store and the SQL lease:
//
//	mysql://USER:PASSWORD@HOST:3306/DATABASE[?timeout=5s&tls=…]
//	postgres://USER:PASSWORD@HOST:5432/DATABASE[?sslmode=…]
//
// MySQL takes tls=off|prefer|on|skip-verify (default prefer, as the mysql
// client), tls-ca, tls-cert, tls-key, tls-server-name and timeout
// (connect, read and write, default 5s). PostgreSQL passes every
// parameter the caller did not read to pgx, as libpq would read it.
package sqlconn

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/internal/tlsparam"
)

// DefaultTimeout bounds MySQL's connect, reads and writes, and is the
// timeout callers give their statements.
const DefaultTimeout = 5 * time.Second

// DB is an opened handle and what the URL said.
type DB struct {
	*sql.DB
	Postgres bool
	Database string        // the URL's path
	Timeout  time.Duration // MySQL's timeout parameter; DefaultTimeout for PostgreSQL
}

// Open reads u (with p, whose own parameters the caller has read) and
// opens a handle; it does not connect yet. Its errors are the URL's.
func Open(u *url.URL, p *address.Params) (*DB, error) {
	switch strings.ToLower(u.Scheme) {
	case "mysql", "mariadb":
		return openMySQL(u, p)
	case "postgres", "postgresql":
		return openPostgres(u, p)
	}
	return nil, fmt.Errorf("scheme %q: want mysql, mariadb, postgres or postgresql", u.Scheme)
}

func openMySQL(u *url.URL, p *address.Params) (*DB, error) {
	d := &DB{Timeout: DefaultTimeout, Database: strings.TrimPrefix(u.Path, "/")}
	p.Duration("timeout", &d.Timeout, time.Millisecond)
	tc, prefer, err := tlsparam.ReadPrefer(p, "prefer", u.Hostname())
	if err != nil {
		return nil, err
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = u.Host
	if u.Port() == "" {
		cfg.Addr = net.JoinHostPort(u.Hostname(), "3306")
	}
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	cfg.DBName = d.Database
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = d.Timeout, d.Timeout, d.Timeout
	// Rows matched, not changed: an UPDATE that writes the same values
	// still reports its row.
	cfg.ClientFoundRows = true
	// The driver's own log lines (a connection that ended) come back as
	// errors where they matter.
	cfg.Logger = mysql.Logger(log.New(io.Discard, "", 0))
	switch {
	case prefer:
		cfg.TLSConfig = "preferred"
	case tc != nil:
		cfg.TLS = tc
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	d.DB = sql.OpenDB(conn)
	return d, nil
}

func openPostgres(u *url.URL, p *address.Params) (*DB, error) {
	if err := p.Err(); err != nil {
		return nil, err
	}
	rest := *u
	rest.RawQuery = p.Rest().Encode()
	cfg, err := pgx.ParseConfig(rest.String())
	if err != nil {
		return nil, errors.New(address.RedactText(err.Error(), rest.String()))
	}
	return &DB{DB: stdlib.OpenDB(*cfg), Postgres: true, Database: strings.TrimPrefix(u.Path, "/"), Timeout: DefaultTimeout}, nil
}
