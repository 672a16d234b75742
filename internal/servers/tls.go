package servers

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// TLSFiles are the PEM files of a server's TLS identity: the certificate of
// the CA that clients verify against, and the server's certificate (signed
// by that CA) and private key; and a client certificate signed by the same
// CA, with its key, for servers that require one.
type TLSFiles struct {
	CA   string
	Cert string
	Key  string
	// ClientCert and ClientKey are a client certificate (CommonName
	// "sluice", extended key usage client authentication) and its key.
	ClientCert, ClientKey string
}

// WriteTLSFiles makes a new CA and a server certificate signed by it, valid
// for hosts (IP addresses or DNS names) for a day, and writes them into dir
// as ca.pem, server.pem and server-key.pem, with a client certificate as
// client.pem and client-key.pem. Every call makes a new CA, so a
// client trusting one call's CA rejects a server using another call's
// certificate.
func WriteTLSFiles(dir string, hosts ...string) (TLSFiles, error) {
	if len(hosts) == 0 {
		return TLSFiles{}, fmt.Errorf("servers: tls files: no host to certify")
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return TLSFiles{}, fmt.Errorf("servers: tls files: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sluice test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return TLSFiles{}, fmt.Errorf("servers: tls files: CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return TLSFiles{}, fmt.Errorf("servers: tls files: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return TLSFiles{}, fmt.Errorf("servers: tls files: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: hosts[0]},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return TLSFiles{}, fmt.Errorf("servers: tls files: server certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return TLSFiles{}, fmt.Errorf("servers: tls files: %w", err)
	}
	clientKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return TLSFiles{}, fmt.Errorf("servers: tls files: %w", err)
	}
	clientTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "sluice"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature,
	}
	clientDER, err := x509.CreateCertificate(rand.Reader, clientTmpl, ca, &clientKey.PublicKey, caKey)
	if err != nil {
		return TLSFiles{}, fmt.Errorf("servers: tls files: client certificate: %w", err)
	}
	clientKeyDER, err := x509.MarshalECPrivateKey(clientKey)
	if err != nil {
		return TLSFiles{}, fmt.Errorf("servers: tls files: %w", err)
	}
	f := TLSFiles{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "server.pem"), Key: filepath.Join(dir, "server-key.pem"),
		ClientCert: filepath.Join(dir, "client.pem"), ClientKey: filepath.Join(dir, "client-key.pem")}
	for _, w := range []struct {
		path, typ string
		der       []byte
		perm      os.FileMode
	}{
		{f.CA, "CERTIFICATE", caDER, 0o644},
		{f.Cert, "CERTIFICATE", der, 0o644},
		{f.Key, "EC PRIVATE KEY", keyDER, 0o600},
		{f.ClientCert, "CERTIFICATE", clientDER, 0o644},
		{f.ClientKey, "EC PRIVATE KEY", clientKeyDER, 0o600},
	} {
		if err := os.WriteFile(w.path, pem.EncodeToMemory(&pem.Block{Type: w.typ, Bytes: w.der}), w.perm); err != nil {
			return TLSFiles{}, fmt.Errorf("servers: tls files: %w", err)
		}
	}
	return f, nil
}

// installTLS copies the server certificate and key of f into dir (as
// server.pem and server-key.pem, readable by uid:gid only when chown is
// set; PostgreSQL refuses a key others can read) and returns the copies'
// paths.
func installTLS(f TLSFiles, dir string, chown func(path string) error) (cert, key string, err error) {
	cert, key = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	for _, c := range [][2]string{{f.Cert, cert}, {f.Key, key}} {
		b, err := os.ReadFile(c[0])
		if err != nil {
			return "", "", fmt.Errorf("servers: tls: %w", err)
		}
		if err := os.WriteFile(c[1], b, 0o600); err != nil {
			return "", "", fmt.Errorf("servers: tls: %w", err)
		}
		if chown != nil {
			if err := chown(c[1]); err != nil {
				return "", "", fmt.Errorf("servers: tls: %w", err)
			}
		}
	}
	return cert, key, nil
}
