package servers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Credentials of the SASL users of a Kafka cluster started with
// KafkaOptions.SASL: one user per mechanism, all with KafkaPassword.
const (
	KafkaUserPlain    = "sluice-plain"
	KafkaUserScram256 = "sluice-scram256"
	KafkaUserScram512 = "sluice-scram512"
	KafkaPassword     = "sluice-kafka"
)

// KafkaOptions configures a Kafka cluster.
type KafkaOptions struct {
	// Brokers is the number of brokers (default 3).
	Brokers int
	// SASL makes the cluster require SASL authentication (PLAIN,
	// SCRAM-SHA-256 and SCRAM-SHA-512, users KafkaUser*).
	SASL bool
	// Partitions is the default partition count of created topics (0:
	// kfake's default, 10).
	Partitions int
	// Configs are broker configs (message.max.bytes, …).
	Configs map[string]string
	// Proxy puts a Proxy in front of every broker and makes the cluster
	// tell clients the proxies' addresses, so that every connection a
	// client makes passes through them; ProxyCutEvery cuts them
	// periodically (0: only on Cut).
	Proxy         bool
	ProxyCutEvery time.Duration
	// TLSCert and TLSKey (PEM files) make the brokers serve TLS;
	// TLSClientCA makes them require client certificates signed by it.
	TLSCert, TLSKey, TLSClientCA string
	// CPUProfile, when set, is where the cluster writes its CPU profile
	// (pprof) when it stops cleanly (Stop, Close), for benchmarks.
	CPUProfile string
}

// Kafka is a private Kafka-protocol cluster: franz-go's kfake (every
// request kind a producer, a consumer, transactions and the admin API use)
// run by the kfake program below this package, as one process holding
// every broker, each listening on its own port of 127.0.0.1. The cluster
// keeps its state in its directory, so Stop (clean) or Kill (SIGKILL) and
// Start restart it with its topics, records and transactions, on the same
// ports.
type Kafka struct {
	Server
	listen  []string
	proxies []*Proxy
	cutting chan struct{} // closed by StopCuts
	cutWG   sync.WaitGroup
	stopped sync.Once
}

// StartKafka builds the kfake program if needed (BuildKafka) and starts a
// cluster. Close stops it (and its proxies) and removes its directory.
func StartKafka(ctx context.Context, opts KafkaOptions) (*Kafka, error) {
	bin, err := BuildKafka(ctx)
	if err != nil {
		return nil, err
	}
	n := opts.Brokers
	if n <= 0 {
		n = 3
	}
	dir, err := newServerDir("kafka")
	if err != nil {
		return nil, err
	}
	s := &Kafka{}
	ready := dir.join("ready")
	s.Server = Server{name: "kfake", dir: dir, ready: func(context.Context) error {
		if _, err := os.Stat(ready); err != nil {
			return errors.New("brokers not listening yet")
		}
		return nil
	}}
	var args []string
	s.spec = func() procSpec {
		os.Remove(ready) // written again by the new process
		return procSpec{path: bin, args: args}
	}
	err = s.launch(ctx, func(port int) error {
		s.listen = []string{hostPort(port)}
		for len(s.listen) < n {
			p, err := freePort()
			if err != nil {
				return err
			}
			s.listen = append(s.listen, hostPort(p))
		}
		for _, p := range s.proxies {
			p.Close()
		}
		s.proxies = nil
		var adv []string
		if opts.Proxy {
			for _, l := range s.listen {
				p, err := StartProxy(l, 0)
				if err != nil {
					return err
				}
				s.proxies = append(s.proxies, p)
				adv = append(adv, p.Addr())
			}
		}
		args = []string{"-listen", strings.Join(s.listen, ","), "-ready", ready, "-data-dir", dir.join("data")}
		if adv != nil {
			args = append(args, "-advertise", strings.Join(adv, ","))
		}
		if opts.Partitions > 0 {
			args = append(args, "-partitions", fmt.Sprint(opts.Partitions))
		}
		if opts.SASL {
			args = append(args,
				"-user", "PLAIN:"+KafkaUserPlain+":"+KafkaPassword,
				"-user", "SCRAM-SHA-256:"+KafkaUserScram256+":"+KafkaPassword,
				"-user", "SCRAM-SHA-512:"+KafkaUserScram512+":"+KafkaPassword)
		}
		if opts.CPUProfile != "" {
			args = append(args, "-cpuprofile", opts.CPUProfile)
		}
		for k, v := range opts.Configs {
			args = append(args, "-c", k+"="+v)
		}
		if opts.TLSCert != "" {
			args = append(args, "-tls-cert", opts.TLSCert, "-tls-key", opts.TLSKey)
			if opts.TLSClientCA != "" {
				args = append(args, "-tls-client-ca", opts.TLSClientCA)
			}
		}
		return nil
	})
	if err != nil {
		for _, p := range s.proxies {
			p.Close()
		}
		return nil, err
	}
	s.cutting = make(chan struct{})
	if opts.Proxy && opts.ProxyCutEvery > 0 {
		s.cutWG.Add(1)
		go func() {
			defer s.cutWG.Done()
			tk := time.NewTicker(opts.ProxyCutEvery)
			defer tk.Stop()
			for {
				select {
				case <-s.cutting:
					return
				case <-tk.C:
					for _, p := range s.proxies {
						p.Cut()
					}
				}
			}
		}()
	}
	return s, nil
}

// StopCuts ends the periodic cuts of KafkaOptions.ProxyCutEvery (a test
// reading back what was produced, with a client that gives up when every
// broker is away).
func (s *Kafka) StopCuts() {
	s.stopped.Do(func() { close(s.cutting) })
	s.cutWG.Wait()
}

// Brokers are the addresses clients bootstrap from: the proxies' with
// KafkaOptions.Proxy, else the brokers'.
func (s *Kafka) Brokers() []string {
	if s.proxies != nil {
		out := make([]string, len(s.proxies))
		for i, p := range s.proxies {
			out[i] = p.Addr()
		}
		return out
	}
	return append([]string(nil), s.listen...)
}

// Seeds is Brokers joined by commas, as kafka:// URLs and kcat -b take them.
func (s *Kafka) Seeds() string { return strings.Join(s.Brokers(), ",") }

// Proxies are the proxies in front of the brokers (KafkaOptions.Proxy).
func (s *Kafka) Proxies() []*Proxy { return s.proxies }

// Close stops the cluster and its proxies and removes its directory.
func (s *Kafka) Close() error {
	s.StopCuts()
	err := s.Server.Close()
	for _, p := range s.proxies {
		p.Close()
	}
	return err
}

// kafkaPackage is the kfake program's import path.
const kafkaPackage = "github.com/sluice-cdc/sluice/internal/servers/cmd/kfake"

// BuildKafka builds the kfake program (internal/servers/cmd/kfake, with
// the franz-go version go.mod pins) and returns its path. The binary is
// cached in $(go env GOCACHE)/sluice-testenv/kfake-<hash>/, the hash
// covering go.mod, go.sum, the program's source and the Go version, so it
// is built once per machine; a file lock keeps parallel test packages from
// building it twice.
func BuildKafka(ctx context.Context) (string, error) {
	goBin, err := goTool()
	if err != nil {
		return "", err
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum", "internal/servers/cmd/kfake/main.go"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return "", fmt.Errorf("servers: kfake build: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	fmt.Fprintf(h, "%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	key := hex.EncodeToString(h.Sum(nil))[:16]
	out, err := exec.CommandContext(ctx, goBin, "env", "GOCACHE").Output()
	if err != nil {
		return "", fmt.Errorf("servers: go env GOCACHE: %w", err)
	}
	cacheRoot := strings.TrimSpace(string(out))
	if cacheRoot == "" || cacheRoot == "off" {
		cacheRoot = filepath.Join(os.TempDir(), "sluice-testenv-cache")
	}
	bin := filepath.Join(cacheRoot, "sluice-testenv", "kfake-"+key, "kfake")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", fmt.Errorf("servers: kfake build cache: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(cacheRoot, "sluice-testenv", "kfake-build.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(bin); err == nil { // built while we waited
		return bin, nil
	}
	tmp := bin + ".tmp"
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-o", tmp, kafkaPackage)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-buildvcs=false")
	if b, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("servers: kfake build: go build %s: %w\n%s", kafkaPackage, err, b)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", fmt.Errorf("servers: kfake build cache: %w", err)
	}
	return bin, nil
}

// moduleRoot finds the Sluice module's directory, walking up from the
// working directory and, failing that, from this source file.
func moduleRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
			if err == nil && strings.HasPrefix(string(b), "module github.com/sluice-cdc/sluice\n") {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("servers: the sluice module's go.mod not found above %v", starts)
}
