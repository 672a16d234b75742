package servers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// FerretDBReplSet is the replica set name every FerretDB server reports.
const FerretDBReplSet = "rs0"

// FerretDBOplogSize is the size in bytes of the capped local.oplog.rs
// collection created in every FerretDB server.
const FerretDBOplogSize = 64 << 20

// The FerretDB program is built from the tools/ferretdb module, which pins
// its version (v1.24.2) with a tool directive.
const (
	ferretDBModule  = "github.com/FerretDB/FerretDB"
	ferretDBPackage = ferretDBModule + "/cmd/ferretdb"
)

// FerretDB is a private FerretDB server (a MongoDB-compatible server on
// SQLite) listening on 127.0.0.1. It reports replica set FerretDBReplSet and
// has a capped local.oplog.rs collection, which makes FerretDB record every
// insert, update and delete there (its OpLog decorator writes entries only
// when that collection exists). It has no authentication.
//
// Unlike MongoDB, FerretDB closes a tailable cursor whose first batch is not
// full, and re-runs the query on each getMore: tail the oplog with a small
// batch size (1) from an entry that already exists, e.g. {ts: {$gte: last}}.
type FerretDB struct {
	Server
	opts    FerretDBOptions
	tlsPort int
}

// FerretDBOptions configures a FerretDB server.
type FerretDBOptions struct {
	// TLS, when not nil, makes the server listen for TLS connections too,
	// on TLSAddr, with this certificate and key (FerretDB's
	// --listen-tls-cert-file and --listen-tls-key-file; no client
	// certificates). Addr stays plain TCP.
	TLS *TLSFiles
}

// StartFerretDB builds the FerretDB program if needed (see BuildFerretDB),
// starts it and creates local.oplog.rs. Close stops it and removes its
// directory.
func StartFerretDB(ctx context.Context) (*FerretDB, error) {
	return StartFerretDBWith(ctx, FerretDBOptions{})
}

// StartFerretDBWith is StartFerretDB with options.
func StartFerretDBWith(ctx context.Context, opts FerretDBOptions) (*FerretDB, error) {
	bin, err := BuildFerretDB(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := newServerDir("ferretdb")
	if err != nil {
		return nil, err
	}
	s := &FerretDB{opts: opts}
	s.Server = Server{name: "ferretdb", dir: dir, ready: s.ping}
	s.spec = func() procSpec {
		args := []string{
			"--handler=sqlite",
			"--sqlite-url=file:" + s.dir.join("data") + "/",
			"--listen-addr=" + s.Addr(),
			"--state-dir=" + s.dir.join("state"),
			"--repl-set-name=" + FerretDBReplSet,
			"--telemetry=disable",
			"--debug-addr=-",
			"--log-level=warn",
		}
		if t := s.opts.TLS; t != nil {
			args = append(args, "--listen-tls="+s.TLSAddr(), "--listen-tls-cert-file="+t.Cert, "--listen-tls-key-file="+t.Key)
		}
		return procSpec{path: bin, args: args, env: []string{"DO_NOT_TRACK=1"}}
	}
	for _, d := range []string{"data", "state"} {
		if err := os.Mkdir(s.dir.join(d), 0o755); err != nil {
			dir.release()
			return nil, fmt.Errorf("servers: ferretdb: %w", err)
		}
	}
	var configure func(int) error
	if opts.TLS != nil {
		configure = func(int) (err error) {
			s.tlsPort, err = freePort()
			return err
		}
	}
	if err := s.launch(ctx, configure); err != nil {
		return nil, err
	}
	if err := s.createOplog(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// TLSAddr is the host:port of the TLS listener ("" without
// FerretDBOptions.TLS).
func (s *FerretDB) TLSAddr() string {
	if s.opts.TLS == nil {
		return ""
	}
	return hostPort(s.tlsPort)
}

// TLSURI is a mongodb:// connection string for the TLS listener with
// tls=true, tlsCAFile naming the CA of FerretDBOptions.TLS and
// directConnection=true (FerretDB's hello names its plain address as the
// replica set's member, so discovery would leave the TLS listener).
func (s *FerretDB) TLSURI() string {
	if s.opts.TLS == nil {
		return ""
	}
	return fmt.Sprintf("mongodb://%s/?directConnection=true&tls=true&tlsCAFile=%s", s.TLSAddr(), url.QueryEscape(s.opts.TLS.CA))
}

// URI is a mongodb:// connection string naming the replica set.
func (s *FerretDB) URI() string {
	return fmt.Sprintf("mongodb://%s/?replicaSet=%s", s.Addr(), FerretDBReplSet)
}

// DirectURI is a mongodb:// connection string with directConnection=true.
func (s *FerretDB) DirectURI() string {
	return fmt.Sprintf("mongodb://%s/?directConnection=true", s.Addr())
}

// Connect opens a client with URI.
func (s *FerretDB) Connect() (*mongo.Client, error) {
	c, err := mongo.Connect(options.Client().ApplyURI(s.URI()))
	if err != nil {
		return nil, fmt.Errorf("servers: ferretdb at %s: %w", s.Addr(), err)
	}
	return c, nil
}

func (s *FerretDB) ping(ctx context.Context) error {
	c, err := mongo.Connect(options.Client().ApplyURI(s.DirectURI()).SetServerSelectionTimeout(time.Second))
	if err != nil {
		return err
	}
	defer c.Disconnect(context.Background())
	return c.Ping(ctx, nil)
}

func (s *FerretDB) createOplog(ctx context.Context) error {
	c, err := mongo.Connect(options.Client().ApplyURI(s.DirectURI()))
	if err != nil {
		return fmt.Errorf("servers: ferretdb: %w", err)
	}
	defer c.Disconnect(context.Background())
	err = c.Database("local").CreateCollection(ctx, "oplog.rs",
		options.CreateCollection().SetCapped(true).SetSizeInBytes(FerretDBOplogSize))
	if err != nil {
		return fmt.Errorf("servers: ferretdb: create capped local.oplog.rs: %w", err)
	}
	return nil
}

// BuildFerretDB builds the FerretDB program pinned by the tools/ferretdb
// module and returns its path. The binary is cached in
// $(go env GOCACHE)/sluice-testenv/ferretdb-<hash>/, the hash covering the
// module's go.mod and go.sum and the Go version, so it is built once per
// machine; a file lock keeps parallel test packages from building it twice.
// The first build takes a few minutes of CPU.
//
// FerretDB's program refuses to start unless it was built with the version
// file its release process generates (build/version/version.txt), which the
// module download lacks, and its embeddable package cannot set a replica
// set name. So the module is vendored into the cache directory, the version
// file is written there with the pinned version, and the program is built
// from the vendor tree.
func BuildFerretDB(ctx context.Context) (string, error) {
	goBin, err := goTool()
	if err != nil {
		return "", err
	}
	modDir, err := toolsModuleDir("ferretdb")
	if err != nil {
		return "", err
	}
	key, err := buildKey(modDir)
	if err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, goBin, "env", "GOCACHE").Output()
	if err != nil {
		return "", fmt.Errorf("servers: go env GOCACHE: %w", err)
	}
	cacheRoot := strings.TrimSpace(string(out))
	if cacheRoot == "" || cacheRoot == "off" {
		cacheRoot = filepath.Join(os.TempDir(), "sluice-testenv-cache")
	}
	cacheDir := filepath.Join(cacheRoot, "sluice-testenv", "ferretdb-"+key)
	bin := filepath.Join(cacheDir, "ferretdb")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("servers: ferretdb build cache: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(cacheRoot, "sluice-testenv", "ferretdb-build.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(bin); err == nil { // built while we waited
		return bin, nil
	}
	// One work directory for every version: with -trimpath the compiled
	// packages are cached by content, so a rebuild after a version change
	// recompiles only what changed.
	work := filepath.Join(cacheRoot, "sluice-testenv", "ferretdb-src")
	if err := os.RemoveAll(work); err != nil {
		return "", fmt.Errorf("servers: ferretdb build: %w", err)
	}
	defer os.RemoveAll(work)
	if err := vendorFerretDB(ctx, goBin, modDir, work); err != nil {
		return "", err
	}
	tmp := bin + ".tmp"
	if err := runGo(ctx, goBin, work, "-mod=vendor", "build", "-trimpath", "-o", tmp, ferretDBPackage); err != nil {
		os.Remove(tmp)
		return "", err
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", fmt.Errorf("servers: ferretdb build cache: %w", err)
	}
	return bin, nil
}

// vendorFerretDB copies the tools module to work, vendors it and writes
// FerretDB's version file.
func vendorFerretDB(ctx context.Context, goBin, modDir, work string) error {
	if err := os.MkdirAll(work, 0o755); err != nil {
		return fmt.Errorf("servers: ferretdb build: %w", err)
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(modDir, f))
		if err != nil {
			return fmt.Errorf("servers: ferretdb build: %w", err)
		}
		if err := os.WriteFile(filepath.Join(work, f), b, 0o644); err != nil {
			return fmt.Errorf("servers: ferretdb build: %w", err)
		}
	}
	cmd := exec.CommandContext(ctx, goBin, "list", "-m", "-f", "{{.Version}}", ferretDBModule)
	cmd.Dir = work
	cmd.Env = goEnv("-mod=mod")
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("servers: ferretdb build: go list -m %s: %w", ferretDBModule, err)
	}
	version := strings.TrimSpace(string(out))
	if err := runGo(ctx, goBin, work, "-mod=mod", "mod", "vendor"); err != nil {
		return err
	}
	versionFile := filepath.Join(work, "vendor", filepath.FromSlash(ferretDBModule), "build", "version", "version.txt")
	if err := os.WriteFile(versionFile, []byte(version+"\n"), 0o644); err != nil {
		return fmt.Errorf("servers: ferretdb build: write version file: %w", err)
	}
	return nil
}

// runGo runs the go command in dir with the given -mod flag.
func runGo(ctx context.Context, goBin, dir, modFlag string, args ...string) error {
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = dir
	cmd.Env = goEnv(modFlag)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("servers: ferretdb build: go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// goEnv is the environment for go commands building FerretDB: no workspace
// and our own GOFLAGS, whatever the caller's are.
func goEnv(modFlag string) []string {
	return append(os.Environ(), "GOWORK=off", "GOFLAGS="+modFlag+" -buildvcs=false")
}

// goTool finds the go command (go test puts GOROOT/bin first in PATH).
func goTool() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("servers: the go command is needed to build test servers: %w", err)
	}
	return p, nil
}

// toolsModuleDir finds tools/<name> of the Sluice repository, walking up
// from the working directory (a test runs in its package directory) and,
// failing that, from this source file.
func toolsModuleDir(name string) (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			candidate := filepath.Join(dir, "tools", name, "go.mod")
			if _, err := os.Stat(candidate); err == nil {
				return filepath.Dir(candidate), nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("servers: tools/%s/go.mod not found above %v", name, starts)
}

// buildKey hashes what determines the built program.
func buildKey(modDir string) (string, error) {
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(modDir, f))
		if err != nil {
			return "", fmt.Errorf("servers: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	fmt.Fprintf(h, "%s %s/%s vendor-build-1\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// lockFile takes an exclusive flock on path, polling so that ctx can end the
// wait. The returned function releases it.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("servers: lock %s: %w", path, err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("servers: lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("servers: waiting for lock %s: %w", path, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
