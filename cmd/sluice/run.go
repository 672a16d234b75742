package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/format"
	"github.com/sluice-cdc/sluice/leases"
	"github.com/sluice-cdc/sluice/metrics"
	"github.com/sluice-cdc/sluice/server"
	"github.com/sluice-cdc/sluice/sink"
	"github.com/sluice-cdc/sluice/sinks"
	"github.com/sluice-cdc/sluice/source"
	"github.com/sluice-cdc/sluice/stores"
	"github.com/sluice-cdc/sluice/supervisor"
)

const runSynopsis = "sluice run [--check] [--http ADDR] [--ha URL|source] [--instance NAME] [--log-format auto|text|json] [--log-level LEVEL] [--memory-limit SIZE] sluice.yaml"

const runHelp = `Run the pipelines of a YAML config file side by side in one process,
with an HTTP API, Prometheus metrics and a web dashboard (docs/config.md,
docs/api.yaml, docs/metrics.md).

The whole file is checked before anything starts; every problem is
reported as FILE:LINE: KEY: message and the exit status is 2. --check
only checks. ${NAME} in a value is the environment variable NAME.

A pipeline that fails retries alone, with capped exponential backoff;
the others go on. SIGHUP (or POST /api/reload) re-reads the file: added
pipelines start, removed ones stop, changed ones restart, unchanged ones
keep running; a file with errors changes nothing. SIGINT or SIGTERM
stops every pipeline, saving its position.

High availability (the ha: section, or --ha): run two or three
processes with the same config on different machines; each pipeline
runs on one of them at a time, the owner of its lease on the
coordinator (etcd://HOST:2379/PREFIX, zk://HOST:2181/PATH, or source: a
lock on each pipeline's own source database), and a standby takes it
over from the shared checkpoint (state must be etcd://, zk://, mysql://,
postgres:// or redis://) about ha.ttl after its owner dies. Each
process needs its own --instance name (default HOST:PID).`

// runRun runs "sluice run" with the registered sources and built-in sinks.
func runRun(ctx context.Context, e *env, args []string) error {
	return runWith(ctx, e, args, source.Default(), sinks.BuiltinTo(e.Stdout), nil)
}

// runWith is runRun with explicit registries; ready, when set, is called
// with the HTTP address once the pipelines were started (for tests).
func runWith(ctx context.Context, e *env, args []string, sources *source.Registry, sinkReg *sink.Registry, ready func(addr string)) error {
	fs := newFlagSet(e, "run", runSynopsis, runHelp)
	check := fs.Bool("check", false, "check the config file and exit")
	httpAddr := fs.String("http", "", "serve the API, /metrics and the dashboard on this address (overrides http.listen)")
	logFormat := fs.String("log-format", "", "auto (text on a terminal, JSON otherwise), text or json (overrides log.format)")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (overrides log.level)")
	cpuProfile := fs.String("cpuprofile", "", "write a Go CPU profile (pprof) of the run to this file")
	memLimit := fs.String("memory-limit", "", "soft limit of the Go heap of the whole process (e.g. 256MiB); default none, or $GOMEMLIMIT")
	haURL := fs.String("ha", "", "high availability: own each pipeline through a lease on this coordinator (etcd://, zk://, or source); overrides ha.coordinator")
	instance := fs.String("instance", "", "high availability: this process's name among the instances (overrides ha.instance; default HOST:PID)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("run: want one config file, got %d arguments", len(pos))
	}
	path := pos[0]
	storeReg := stores.Builtin()
	leaseReg := leases.Builtin()
	load := func() (*config.File, error) {
		return config.Load(path, config.Options{
			Coordinator: *haURL, Instance: *instance,
			CheckCoordinator: func(raw string) error {
				_, _, err := leaseReg.Lookup(raw)
				return err
			},
			CheckSource: func(raw string) error {
				_, err := source.Open(ctx, sources, raw, source.Config{})
				return err
			},
			CheckSink: func(raw, f string) error { return sinks.Check(sinkReg, raw, sink.Config{Format: f}) },
			CheckFormat: func(f string) error {
				_, err := format.Parse(f)
				return err
			},
			CheckState: func(raw string) error {
				_, _, err := storeReg.Lookup(raw)
				return err
			},
		})
	}
	cfg, err := load()
	if err != nil {
		var es config.Errors
		if errors.As(err, &es) {
			return usagef("run: %d problem(s) in the config:\n%s", len(es), err)
		}
		return usagef("run: %v", err)
	}
	if *httpAddr != "" {
		cfg.HTTP.Listen = *httpAddr
		if cfg.HTTP.Token == "" {
			cfg.HTTP.Token = os.Getenv("SLUICE_API_TOKEN")
		}
		if cfg.HTTP.Token == "" {
			return usagef("run: --http needs a bearer token: http.token in %s, or $SLUICE_API_TOKEN", path)
		}
	}
	if *logLevel != "" {
		if err := cfg.Log.Level.UnmarshalText([]byte(*logLevel)); err != nil {
			return usagef("run: --log-level %q: want debug, info, warn or error", *logLevel)
		}
	}
	if *logFormat != "" {
		switch *logFormat {
		case "auto", "text", "json":
			cfg.Log.Format = *logFormat
		default:
			return usagef("run: --log-format %q: want auto, text or json", *logFormat)
		}
	}
	var memLimitBytes int64
	if *memLimit != "" {
		n, err := address.ParseSize(*memLimit)
		if err != nil || n == 0 {
			return usagef("run: --memory-limit %q: want a size such as 256MiB", *memLimit)
		}
		memLimitBytes = n
	}
	ha := supervisor.FromConfig(cfg.HA, leaseReg)
	if ha != nil {
		if _, err := ha.Lease.WithDefaults(); err != nil {
			return usagef("run: ha: %v", err)
		}
	}
	if *check {
		fmt.Fprintf(e.Stdout, "%s: %d pipelines, no problems\n", path, len(cfg.Pipelines))
		return nil
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile("run", *cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if memLimitBytes > 0 {
		debug.SetMemoryLimit(memLimitBytes)
	}
	log := newLogger(e.Stderr, e.StderrTerminal, cfg.Log)

	// Listen before starting anything: a taken port must not leave
	// pipelines half started.
	var ln net.Listener
	if cfg.HTTP.Listen != "" {
		if ln, err = net.Listen("tcp", cfg.HTTP.Listen); err != nil {
			return fmt.Errorf("run: http: %w", err)
		}
		defer ln.Close()
	}
	sup := supervisor.New(supervisor.Options{Sources: sources, Sinks: sinkReg, Stores: storeReg, Metrics: metrics.New(), Logger: log,
		Snapshot: requestPipelineSnapshot, HA: ha})
	defer sup.Close()

	var reloadMu sync.Mutex
	reload := func() (supervisor.Changes, error) {
		reloadMu.Lock()
		defer reloadMu.Unlock()
		next, err := load()
		if err != nil {
			return supervisor.Changes{}, err
		}
		if next.HTTP != cfg.HTTP || next.Log != cfg.Log || next.HA != cfg.HA {
			log.Warn("reload: the http, log and ha sections take effect at the next start only")
		}
		ch := sup.Apply(next.Pipelines)
		log.Info("config reloaded", "file", path, "added", ch.Added, "removed", ch.Removed, "changed", ch.Changed, "unchanged", len(ch.Unchanged))
		return ch, nil
	}

	ch := sup.Apply(cfg.Pipelines)
	if ha != nil {
		log.Info("sluice run started", "file", path, "pipelines", len(ch.Added), "version", version(),
			"instance", sup.Instance(), "coordinator", address.Redact(cfg.HA.Coordinator))
	} else {
		log.Info("sluice run started", "file", path, "pipelines", len(ch.Added), "version", version())
	}

	var srvDone chan error
	sctx, stopServer := context.WithCancel(ctx)
	defer stopServer()
	if ln != nil {
		tlsConfig, err := tlsFor(cfg.HTTP)
		if err != nil {
			return fmt.Errorf("run: http: %w", err)
		}
		srv, err := server.New(server.Options{Supervisor: sup, Token: cfg.HTTP.Token, Reload: reload, Logger: log})
		if err != nil {
			return err
		}
		defer srv.Close()
		srvDone = make(chan error, 1)
		go func() { srvDone <- srv.Serve(sctx, ln, tlsConfig) }()
		scheme := "http"
		if tlsConfig != nil {
			scheme = "https"
		}
		log.Info("serving the API, /metrics and the dashboard", "url", scheme+"://"+ln.Addr().String()+"/")
	}
	if ready != nil {
		addr := ""
		if ln != nil {
			addr = ln.Addr().String()
		}
		ready(addr)
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			log.Info("stopping every pipeline")
			stopServer()
			if srvDone != nil {
				<-srvDone
			}
			return nil
		case err := <-srvDone:
			return fmt.Errorf("run: http: %w", err)
		case <-hup:
			if _, err := reload(); err != nil {
				log.Error("reload failed; the running pipelines are unchanged", "err", err.Error())
			}
		}
	}
}

func tlsFor(h config.HTTP) (*tls.Config, error) {
	if h.TLSCert == "" {
		return nil, nil
	}
	return server.LoadTLS(h.TLSCert, h.TLSKey)
}

// newLogger returns the process's logger: text on a terminal and JSON
// otherwise (auto), or as cfg says. Every line passes through a redactor
// that masks URL passwords and secret parameters in string values.
func newLogger(w io.Writer, terminal bool, cfg config.Log) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Level, ReplaceAttr: redactAttr}
	json := cfg.Format == "json" || (cfg.Format == "auto" && !terminal)
	if json {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// redactAttr masks secrets in string attributes that look like they hold
// a URL: a last guard behind the redaction the code does where it logs.
func redactAttr(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindString {
		if s := a.Value.String(); strings.Contains(s, "://") || strings.Contains(s, "password") {
			if m := address.Redact(s); m != s {
				return slog.String(a.Key, m)
			}
		}
	}
	return a
}

// requestPipelineSnapshot asks the database of p's source for an
// incremental snapshot of tables, as `sluice snapshot` does: the API's
// POST /api/pipelines/{name}/snapshot.
func requestPipelineSnapshot(ctx context.Context, p config.Pipeline, tables []change.Namespace) (string, error) {
	request, _, err := snapshotRequester(p.Source)
	switch {
	case errors.Is(err, errNoIncremental):
		return "", fmt.Errorf("%w: %w", supervisor.ErrSnapshotUnsupported, err)
	case err != nil:
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return request(ctx, tables)
}
