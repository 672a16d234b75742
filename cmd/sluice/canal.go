package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/canal"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/sluice-cdc/sluice/source"
	_ "github.com/sluice-cdc/sluice/sources" // registers every source scheme
)

// runCanal runs the "sluice canal" subcommands.
func runCanal(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, "sluice canal", canalCommands(), args)
}

func canalCommands() []command {
	return []command{
		{"serve", "serve destinations to Canal clients (canal-go, Java, canal-python) on port 11111", runCanalServe},
	}
}

const canalServeSynopsis = "sluice canal serve --destination NAME=SOURCE-URL [--destination …] [--listen :11111] [--filter NAME=REGEXES] [--exclude NAME=REGEXES] [--user NAME:PASSWORD] [--state ./sluice-canal.db]"

const canalServeHelp = `Serve the changes of source databases to unchanged Canal clients: they
connect (TCP, Canal's protocol), authenticate, subscribe to a destination
by name with a table filter, and pull batches with get / ack / rollback.
Each (destination, client id) reads the source with a reader of its own
and keeps its acknowledged position in the state file: a restart of the
server or of the client continues right after the last acknowledged
batch. docs/canal.md says how entries are built and how each source maps.

--destination NAME=URL names a source URL (mysql://, mariadb://,
postgres://, mongodb://); repeat it for several. A MySQL destination's
client ids read as replicas server-id, server-id+1, …; a PostgreSQL
destination's client id N reads slot SLOT_N.

--filter NAME=REGEXES is the destination's table filter in Canal's syntax
('shop\..*,crm\.users'), used when a client subscribes with an empty
filter; a client's own filter replaces it. --exclude NAME=REGEXES drops
tables whatever clients ask for.

--user NAME:PASSWORD adds an account (repeat for several); the password may
be given as * and the 40 hex digits of SHA1(SHA1(password)), the form of
Canal's canal.passwd. Without --user only an empty user name is accepted,
and only from loopback addresses.

SIGINT or SIGTERM stops the server; acknowledged positions are saved.`

// kv is a repeatable NAME=VALUE (or NAME:VALUE) flag.
type kv struct {
	sep   string
	items [][2]string
}

func (f *kv) String() string { return "" }

func (f *kv) Set(s string) error {
	k, v, ok := strings.Cut(s, f.sep)
	if !ok || k == "" {
		return fmt.Errorf("want NAME%sVALUE", f.sep)
	}
	f.items = append(f.items, [2]string{k, v})
	return nil
}

func runCanalServe(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "serve", canalServeSynopsis, canalServeHelp)
	dests := &kv{sep: "="}
	filters := &kv{sep: "="}
	excludes := &kv{sep: "="}
	users := &kv{sep: ":"}
	fs.Var(dests, "destination", "a destination: NAME=SOURCE-URL (repeatable)")
	fs.Var(filters, "filter", "a destination's default table filter: NAME=REGEXES (repeatable)")
	fs.Var(excludes, "exclude", "tables a destination never serves: NAME=REGEXES (repeatable)")
	fs.Var(users, "user", "an account: NAME:PASSWORD or NAME:*HEX-OF-SHA1(SHA1(PASSWORD)) (repeatable)")
	listen := fs.String("listen", canal.DefaultListen, "TCP address to listen on")
	state := fs.String("state", "./sluice-canal.db", "state file holding every client id's acknowledged position")
	tlsCert := fs.String("tls-cert", "", "serve TLS with this PEM certificate (needs --tls-key)")
	tlsKey := fs.String("tls-key", "", "PEM private key of --tls-cert")
	zone := fs.String("time-zone", "Local", "time zone MySQL TIMESTAMP values are shown in (an IANA name, UTC or Local)")
	queueBytes := fs.Int64("queue-bytes", pipeline.DefaultQueueBytes, "memory bound of each client id: bytes of changes read and not yet acknowledged")
	batchBytes := fs.Int("max-batch-bytes", canal.DefaultMaxBatchBytes, "bytes of entries in one answer to GET, at most (one entry always fits)")
	idle := fs.Duration("idle-stop", canal.DefaultIdleStop, "stop a client id's reader this long after its last connection closed")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logJSON := fs.Bool("log-json", false, "write logs as JSON instead of text")
	cpuProfile := fs.String("cpuprofile", "", "write a Go CPU profile (pprof) of the run to this file, for performance work")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("canal serve: unexpected arguments %q", pos)
	}
	if len(dests.items) == 0 {
		return usagef("canal serve: no --destination")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usagef("canal serve: --log-level %q: want debug, info, warn or error", *logLevel)
	}
	loc, err := time.LoadLocation(*zone)
	if err != nil {
		return usagef("canal serve: --time-zone: %v", err)
	}
	cfg := canal.Config{Listen: *listen, TimeZone: loc, QueueBytes: *queueBytes, MaxBatchBytes: *batchBytes, IdleStop: *idle}
	byName := map[string]int{}
	var urls []string
	for _, d := range dests.items {
		byName[d[0]] = len(cfg.Destinations)
		cfg.Destinations = append(cfg.Destinations, canal.Destination{Name: d[0], URL: d[1]})
		urls = append(urls, d[1])
		// The URL is the source's to check, as "sluice stream" does.
		if _, err := source.Open(ctx, source.Default(), d[1], source.Config{}); err != nil {
			return usagef("canal serve: destination %s: %v", d[0], err)
		}
	}
	for _, f := range [...]struct {
		list *kv
		name string
		set  func(*canal.Destination, string)
	}{
		{filters, "--filter", func(d *canal.Destination, v string) { d.Include = v }},
		{excludes, "--exclude", func(d *canal.Destination, v string) { d.Exclude = v }},
	} {
		for _, it := range f.list.items {
			i, ok := byName[it[0]]
			if !ok {
				return usagef("canal serve: %s %s: no such --destination", f.name, it[0])
			}
			f.set(&cfg.Destinations[i], it[1])
		}
	}
	for _, u := range users.items {
		cfg.Users = append(cfg.Users, canal.User{Name: u[0], Password: u[1]})
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return usagef("canal serve: --tls-cert and --tls-key go together")
	}
	if *tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			return fmt.Errorf("canal serve: %w", err)
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(e.Stderr, opts)
	if *logJSON {
		h = slog.NewJSONHandler(e.Stderr, opts)
	}
	cfg.Logger = slog.New(h)
	// Check everything before the state file is created.
	cfg.Store = &checkpoint.Memory{}
	if _, err := canal.NewServer(cfg); err != nil {
		return usagef("%v", address.RedactError(err, urls...))
	}
	store, err := checkpoint.OpenBolt(*state, 5*time.Second)
	if err != nil {
		return err
	}
	defer store.Close()
	cfg.Store = store
	srv, err := canal.NewServer(cfg)
	if err != nil {
		return err
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile("canal serve", *cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	return address.RedactError(srv.ListenAndServe(ctx), urls...)
}
