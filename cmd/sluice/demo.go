package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/internal/servers"
	"github.com/sluice-cdc/sluice/sinks"
	"github.com/sluice-cdc/sluice/source"
)

const demoSynopsis = "sluice demo [--rate N] [--duration D] [--begin-commit]"

const demoHelp = `Start a throwaway MariaDB (binlog ROW, full metadata) on a free loopback
port in a temporary directory, run a small ongoing workload on it (inserts,
updates and deletes of a demo.orders table), and stream its changes to the
terminal as Sluice JSON lines until Ctrl-C (or --duration). The server and
its files are removed on exit.

Needs mariadbd from Debian's mariadb-server package: "make demo" installs it
when it is missing.`

// runDemo runs "sluice demo".
func runDemo(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "demo", demoSynopsis, demoHelp)
	rate := fs.Int("rate", 5, "workload transactions per second")
	duration := fs.Duration("duration", 0, "stop after this long (0: until Ctrl-C)")
	beginCommit := fs.Bool("begin-commit", false, "include transaction begin/commit events")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("demo: unexpected argument %q", rest[0])
	}
	if *rate < 1 {
		return usagef("demo: --rate must be at least 1")
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}

	fmt.Fprintln(e.Stderr, "sluice demo: starting a private MariaDB…")
	db, err := servers.StartMariaDB(ctx, servers.MariaDBOptions{})
	if err != nil {
		var missing *servers.MissingBinaryError
		if errors.As(err, &missing) {
			return fmt.Errorf("demo: %w (run \"make demo\" or scripts/deps.sh to install it)", err)
		}
		return fmt.Errorf("demo: %w", err)
	}
	defer db.Close()
	if err := db.Exec(ctx,
		"CREATE DATABASE demo",
		"CREATE TABLE demo.orders (id INT AUTO_INCREMENT PRIMARY KEY, customer VARCHAR(40) NOT NULL, amount DECIMAL(10,2) NOT NULL, status ENUM('new','paid','shipped') NOT NULL DEFAULT 'new', created DATETIME(3) NOT NULL)",
	); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	state, err := os.MkdirTemp("", "sluice-demo-")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer os.RemoveAll(state)

	src := fmt.Sprintf("mysql://%s:%s@%s/?server-id=%d", servers.MariaDBReplUser, servers.MariaDBReplPassword, db.Addr(), 4000+rand.IntN(1000))
	fmt.Fprintf(e.Stderr, "sluice demo: MariaDB at %s; streaming its changes (Ctrl-C to stop)\n", db.Addr())
	fmt.Fprintf(e.Stderr, "sluice demo: the same by hand: sluice stream '%s' --from earliest\n", address.Redact(src))

	work, stopWork := context.WithCancel(ctx)
	workDone := make(chan error, 1)
	go func() { workDone <- demoWorkload(work, db, *rate) }()

	streamArgs := []string{src, "--from", "earliest", "--state", filepath.Join(state, "sluice.db")}
	if *beginCommit {
		streamArgs = append(streamArgs, "--begin-commit")
	}
	err = streamWith(ctx, e, streamArgs, source.Default(), sinks.BuiltinTo(e.Stdout))
	stopWork()
	if werr := <-workDone; werr != nil && err == nil && ctx.Err() == nil {
		err = werr
	}
	if err == nil || errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(e.Stderr, "sluice demo: stopped; removing the server")
	}
	return err
}

// demoWorkload inserts, updates and deletes demo.orders rows at about rate
// transactions per second until ctx ends.
func demoWorkload(ctx context.Context, db *servers.MariaDB, rate int) error {
	conn, err := db.DB()
	if err != nil {
		return err
	}
	customers := []string{"Ada", "Grace", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances"}
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		var q string
		var args []any
		switch {
		case n%10 == 9:
			q = "DELETE FROM demo.orders WHERE status = 'shipped' ORDER BY id LIMIT 1"
		case n%3 == 2:
			q = "UPDATE demo.orders SET status = IF(status = 'new', 'paid', 'shipped'), amount = amount + 1 WHERE status <> 'shipped' ORDER BY id LIMIT 1"
		default:
			q = "INSERT INTO demo.orders (customer, amount, created) VALUES (?, ?, NOW(3))"
			args = []any{customers[rand.IntN(len(customers))], fmt.Sprintf("%d.%02d", 5+rand.IntN(200), rand.IntN(100))}
		}
		if _, err := conn.ExecContext(ctx, q, args...); err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil {
			if !errors.Is(err, sql.ErrConnDone) {
				return fmt.Errorf("demo workload: %w", err)
			}
		}
	}
}
