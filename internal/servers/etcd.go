package servers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// Etcd is a private single-member etcd cluster (Debian package
// etcd-server) listening for clients on 127.0.0.1, without
// authentication, keeping its data in its directory so that it survives
// Stop and Start.
type Etcd struct {
	Server
	peerPort int
}

// StartEtcd starts an etcd server. Close stops it and removes its
// directory.
func StartEtcd(ctx context.Context) (*Etcd, error) {
	bin, err := lookBinary("etcd", "etcd-server")
	if err != nil {
		return nil, err
	}
	dir, err := newServerDir("etcd")
	if err != nil {
		return nil, err
	}
	s := &Etcd{}
	s.Server = Server{name: "etcd", dir: dir, ready: s.ping}
	s.spec = func() procSpec {
		client := "http://" + hostPort(s.port)
		peer := "http://" + hostPort(s.peerPort)
		return procSpec{path: bin, args: []string{
			"--name", "sluice",
			"--data-dir", s.dir.join("data"),
			"--listen-client-urls", client,
			"--advertise-client-urls", client,
			"--listen-peer-urls", peer,
			"--initial-advertise-peer-urls", peer,
			"--initial-cluster", "sluice=" + peer,
			"--initial-cluster-state", "new",
			"--logger", "zap",
			"--log-level", "warn",
		}}
	}
	err = s.launch(ctx, func(port int) error {
		peer, err := freePort()
		if err != nil {
			return err
		}
		s.peerPort = peer
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Endpoint is the client address, 127.0.0.1:port.
func (s *Etcd) Endpoint() string { return s.Addr() }

// URL is etcd://127.0.0.1:port/prefix, a checkpoint store or lease
// address of Sluice's.
func (s *Etcd) URL(prefix string) string {
	return "etcd://" + s.Addr() + "/" + prefix
}

// ping asks the client port's /health, which answers health true once the
// member has a leader and serves requests.
func (s *Etcd) ping(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.Addr()+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return err
	}
	var h struct {
		Health string `json:"health"`
	}
	if err := json.Unmarshal(body, &h); err != nil {
		return fmt.Errorf("etcd /health answered %s: %q", resp.Status, body)
	}
	if ok, _ := strconv.ParseBool(h.Health); !ok {
		return fmt.Errorf("etcd /health answered %q", body)
	}
	return nil
}

// Post sends one request to the JSON gateway of the server's client port
// (POST /v3/…, the gRPC API as JSON: keys and values in base64) with an
// optional auth token, and returns the answer's body; an HTTP status
// other than 200 is an error holding the body.
func (s *Etcd) Post(ctx context.Context, path string, body any, token string) ([]byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.Addr()+path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return out, fmt.Errorf("servers: etcd %s: %s: %s", path, resp.Status, out)
	}
	return out, nil
}
