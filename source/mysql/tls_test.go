package mysql

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// testCA makes a CA and a server certificate for 127.0.0.1 and writes
// them as PEM files into dir; it returns the CA pool.
func testCA(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sluice test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	write := func(name, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", caDER)
	write("server.pem", "CERTIFICATE", der)
	write("server-key.pem", "EC PRIVATE KEY", keyDER)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool
}

// TestTLS streams over a verified TLS connection from a user that the
// server only admits with TLS, and refuses a server whose certificate does
// not verify.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	pool := testCA(t, dir)
	srv := testenv.NewMariaDB(t, testenv.MariaDBOptions{ExtraConfig: []string{
		"ssl_ca=" + filepath.Join(dir, "ca.pem"),
		"ssl_cert=" + filepath.Join(dir, "server.pem"),
		"ssl_key=" + filepath.Join(dir, "server-key.pem"),
	}})
	exec(t, srv, "ALTER USER '"+testenv.MariaDBReplUser+"'@'127.0.0.1' REQUIRE SSL", "ALTER USER '"+testenv.MariaDBReplUser+"'@'localhost' REQUIRE SSL",
		"CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY)")

	t.Run("plain refused", func(t *testing.T) {
		src, _ := New(testConfig(srv.Addr()))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err := src.Stream(ctx, change.Position{}, func([]change.Change) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "Access denied") {
			t.Fatalf("plain connection: %v", err)
		}
	})
	t.Run("verified", func(t *testing.T) {
		cfg := testConfig(srv.Addr())
		cfg.TLS = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		r, err := dial(context.Background(), &cfg)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := r.queryRows("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
		r.Close()
		if err != nil || len(rows) != 1 || rows[0][1] == "" {
			t.Fatalf("Ssl_cipher: %v %v", rows, err)
		}
		from := currentPosition(t, srv)
		src, _ := New(cfg)
		col := startCollector(t, src, from)
		exec(t, srv, "INSERT INTO app.t VALUES (1)")
		col.waitFor(t, 20*time.Second, "insert over TLS", countData("t", 1))
		t.Logf("cipher %s", rows[0][1])
	})
	t.Run("wrong CA", func(t *testing.T) {
		other := testCA(t, t.TempDir())
		cfg := testConfig(srv.Addr())
		cfg.TLS = &tls.Config{RootCAs: other, ServerName: "127.0.0.1"}
		src, _ := New(cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err := src.Stream(ctx, change.Position{}, func([]change.Change) error { return nil })
		var cv *tls.CertificateVerificationError
		if !errors.As(err, &cv) && (err == nil || !strings.Contains(err.Error(), "certificate")) {
			t.Fatalf("unverified server: %v", err)
		}
	})
}
