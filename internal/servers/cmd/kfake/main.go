// Command kfake runs franz-go's fake Kafka cluster (kfake) as a process of
// its own, so that tests can kill, stop and restart the broker the way
// they do a real server. internal/servers builds it (servers.BuildKafka)
// and starts it (servers.StartKafka); it is not meant to be run by hand.
//
// Usage:
//
//	kfake -listen 127.0.0.1:P1,127.0.0.1:P2,… -ready FILE [-advertise H:P,…]
//	      [-data-dir DIR] [-user MECHANISM:USER:PASSWORD]… [-c KEY=VALUE]…
//	      [-tls-cert FILE -tls-key FILE [-tls-client-ca FILE]] [-partitions N]
//	      [-cpuprofile FILE]
//
// One broker listens on each -listen address. -advertise gives, per
// broker, the address the cluster tells clients (a proxy in front of the
// broker); by default the listen address. With -user the cluster requires
// SASL, and every user given is a superuser. With -data-dir the cluster
// keeps its topics, offsets and transactions there and reloads them on the
// next start. With -cpuprofile the cluster's CPU profile (pprof) is
// written to FILE when it shuts down cleanly. Once the brokers listen, the ready file is written; SIGTERM
// or SIGINT shuts the cluster down cleanly.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "kfake:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "", "comma-separated 127.0.0.1:PORT, one per broker")
	advertise := flag.String("advertise", "", "comma-separated HOST:PORT told to clients, one per broker (default: the listen addresses)")
	ready := flag.String("ready", "", "file written once the brokers listen")
	dataDir := flag.String("data-dir", "", "keep the cluster's state here across restarts")
	partitions := flag.Int("partitions", 0, "default partitions of created topics (0: kfake's default)")
	tlsCert := flag.String("tls-cert", "", "serve TLS with this certificate (PEM)")
	tlsKey := flag.String("tls-key", "", "key of -tls-cert (PEM)")
	tlsClientCA := flag.String("tls-client-ca", "", "require client certificates signed by this CA (PEM)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile (pprof) here on a clean shutdown")
	logLevel := flag.String("log-level", "warn", "none, error, warn, info or debug")
	var users, configs listFlag
	flag.Var(&users, "user", "MECHANISM:USER:PASSWORD of a SASL superuser (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512); repeatable")
	flag.Var(&configs, "c", "broker config KEY=VALUE; repeatable")
	flag.Parse()

	if *listen == "" || *ready == "" {
		return errors.New("-listen and -ready are required")
	}
	addrs := strings.Split(*listen, ",")
	var adv []string
	if *advertise != "" {
		adv = strings.Split(*advertise, ",")
		if len(adv) != len(addrs) {
			return fmt.Errorf("-advertise names %d addresses, -listen %d", len(adv), len(addrs))
		}
	}
	ports := make([]int, len(addrs))
	for i, a := range addrs {
		_, p, err := net.SplitHostPort(a)
		if err != nil {
			return fmt.Errorf("-listen %q: %w", a, err)
		}
		if ports[i], err = strconv.Atoi(p); err != nil {
			return fmt.Errorf("-listen %q: %w", a, err)
		}
	}
	level := map[string]kfake.LogLevel{
		"none": kfake.LogLevelNone, "error": kfake.LogLevelError, "warn": kfake.LogLevelWarn,
		"info": kfake.LogLevelInfo, "debug": kfake.LogLevelDebug,
	}[*logLevel]
	opts := []kfake.Opt{
		kfake.NumBrokers(len(addrs)),
		kfake.Ports(ports...),
		kfake.WithLogger(kfake.BasicLogger(os.Stderr, level)),
	}
	if adv != nil {
		// kfake tells clients its listeners' addresses: report the
		// advertised one instead.
		n := 0
		opts = append(opts, kfake.ListenFn(func(network, address string) (net.Listener, error) {
			ln, err := net.Listen(network, address)
			if err != nil || n >= len(adv) {
				return ln, err
			}
			a, err := net.ResolveTCPAddr("tcp", adv[n])
			if err != nil {
				ln.Close()
				return nil, fmt.Errorf("-advertise %q: %w", adv[n], err)
			}
			n++
			return advertised{ln, a}, nil
		}))
	}
	if *dataDir != "" {
		opts = append(opts, kfake.DataDir(*dataDir))
	}
	if *partitions > 0 {
		opts = append(opts, kfake.DefaultNumPartitions(*partitions))
	}
	if len(users) > 0 {
		opts = append(opts, kfake.EnableSASL())
		for _, u := range users {
			parts := strings.SplitN(u, ":", 3)
			if len(parts) != 3 {
				return fmt.Errorf("-user %q: want MECHANISM:USER:PASSWORD", parts[0])
			}
			opts = append(opts, kfake.Superuser(parts[0], parts[1], parts[2]))
		}
	}
	if len(configs) > 0 {
		m := map[string]string{}
		for _, c := range configs {
			k, v, ok := strings.Cut(c, "=")
			if !ok {
				return fmt.Errorf("-c %q: want KEY=VALUE", c)
			}
			m[k] = v
		}
		opts = append(opts, kfake.BrokerConfigs(m))
	}
	if *tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			return fmt.Errorf("-tls-cert: %w", err)
		}
		tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if *tlsClientCA != "" {
			pem, err := os.ReadFile(*tlsClientCA)
			if err != nil {
				return fmt.Errorf("-tls-client-ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return fmt.Errorf("-tls-client-ca %s: no certificate", *tlsClientCA)
			}
			tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
		}
		opts = append(opts, kfake.TLS(tc))
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*ready, []byte(strings.Join(c.ListenAddrs(), ",")+"\n"), 0o644); err != nil {
		c.Close()
		return err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	<-sigs
	c.Close()
	return nil
}

// advertised is a listener that reports another address than its own.
type advertised struct {
	net.Listener
	addr net.Addr
}

func (a advertised) Addr() net.Addr { return a.addr }
