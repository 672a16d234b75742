package tlsparam

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestRefusal: a server that requires a client certificate refuses a
// client without one, which Refusal reports as a TLS failure, and accepts
// one with it, where Refusal reports nothing (as for a closed port).
func TestRefusal(t *testing.T) {
	files := testenv.NewTLSFiles(t, "127.0.0.1")
	cert, err := tls.LoadX509KeyPair(files.Cert, files.Key)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				// The handshake; a refused client gets its alert here.
				c.(*tls.Conn).Handshake()
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				c.Read(make([]byte, 1))
			}()
		}
	}()
	ctx := context.Background()
	client := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	err = Refusal(ctx, ln.Addr().String(), client, 5*time.Second)
	if err == nil || !IsFailure(err) {
		t.Errorf("no client certificate: Refusal = %v, want the server's alert", err)
	}
	pair, err := tls.LoadX509KeyPair(files.ClientCert, files.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	withCert := client.Clone()
	withCert.Certificates = []tls.Certificate{pair}
	if err := Refusal(ctx, ln.Addr().String(), withCert, 300*time.Millisecond); err != nil {
		t.Errorf("with a client certificate: Refusal = %v", err)
	}
	// Another CA: the handshake fails at the client.
	other := testenv.NewTLSFiles(t, "127.0.0.1")
	otherPEM, _ := os.ReadFile(other.CA)
	otherPool := x509.NewCertPool()
	otherPool.AppendCertsFromPEM(otherPEM)
	if err := Refusal(ctx, ln.Addr().String(), &tls.Config{RootCAs: otherPool, ServerName: "127.0.0.1"}, time.Second); err == nil || !IsFailure(err) {
		t.Errorf("untrusted server: Refusal = %v", err)
	}
	// Nothing listening: not a TLS failure.
	free, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := free.Addr().String()
	free.Close()
	if err := Refusal(ctx, addr, client, time.Second); err != nil {
		t.Errorf("closed port: Refusal = %v", err)
	}
}
