package servers

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
)

// Where Debian's zookeeper package puts the server (its jar names its
// dependencies in its manifest) and libslf4j-java the logger binding.
const (
	zooKeeperJar = "/usr/share/java/zookeeper.jar"
	slf4jSimple  = "/usr/share/java/slf4j-simple.jar"
)

// ZooKeeperTick is the tickTime of every ZooKeeper server. Sessions may
// time out after as little as two ticks (minSessionTimeout), so tests can
// lose a session in about a second.
const ZooKeeperTick = 250 // milliseconds

// ZooKeeper is a private standalone ZooKeeper server (Debian package
// zookeeper, run on the Java runtime it brings) listening on 127.0.0.1,
// without authentication, keeping its data in its directory so that it
// survives Stop and Start.
type ZooKeeper struct {
	Server
}

// StartZooKeeper starts a ZooKeeper server. Close stops it and removes its
// directory.
func StartZooKeeper(ctx context.Context) (*ZooKeeper, error) {
	java, err := lookBinary("java", "default-jre-headless")
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(zooKeeperJar); err != nil {
		return nil, &MissingBinaryError{Program: zooKeeperJar, Package: "zookeeper"}
	}
	dir, err := newServerDir("zookeeper")
	if err != nil {
		return nil, err
	}
	s := &ZooKeeper{}
	s.Server = Server{name: "zookeeper", dir: dir, ready: s.ping}
	s.spec = func() procSpec {
		cp := zooKeeperJar
		if _, err := os.Stat(slf4jSimple); err == nil {
			cp += ":" + slf4jSimple
		}
		return procSpec{path: java, args: []string{
			// A small heap and the quick JIT: the tests' servers hold a
			// few znodes and must start fast on a busy machine.
			"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
			"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
			"-Dzookeeper.admin.enableServer=false",
			"-cp", cp,
			"org.apache.zookeeper.server.ZooKeeperServerMain",
			s.dir.join("zoo.cfg"),
		}}
	}
	err = s.launch(ctx, func(port int) error {
		conf := strings.Join([]string{
			fmt.Sprintf("tickTime=%d", ZooKeeperTick),
			"dataDir=" + s.dir.join("data"),
			fmt.Sprintf("clientPort=%d", port),
			"clientPortAddress=127.0.0.1",
			fmt.Sprintf("minSessionTimeout=%d", 2*ZooKeeperTick),
			"maxSessionTimeout=60000",
			"admin.enableServer=false",
			"4lw.commands.whitelist=ruok,srvr,stat,cons",
		}, "\n") + "\n"
		if err := os.WriteFile(s.dir.join("zoo.cfg"), []byte(conf), 0o644); err != nil {
			return fmt.Errorf("servers: zookeeper: write zoo.cfg: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// URL is zk://127.0.0.1:port/path, a checkpoint store or lease address of
// Sluice's.
func (s *ZooKeeper) URL(path string) string {
	return "zk://" + s.Addr() + "/" + strings.TrimPrefix(path, "/")
}

// FourLetter sends one of ZooKeeper's four-letter commands (ruok, srvr,
// stat, cons) and returns the answer.
func (s *ZooKeeper) FourLetter(ctx context.Context, cmd string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Addr())
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if _, err := conn.Write([]byte(cmd)); err != nil {
		return "", err
	}
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break // the server closes the connection after answering
		}
	}
	return b.String(), nil
}

// ping asks srvr, which names the version once the server serves requests.
func (s *ZooKeeper) ping(ctx context.Context) error {
	out, err := s.FourLetter(ctx, "srvr")
	if err != nil {
		return err
	}
	if !strings.HasPrefix(out, "Zookeeper version") {
		return fmt.Errorf("zookeeper srvr answered %q", out)
	}
	return nil
}
