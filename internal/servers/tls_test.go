package servers

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"
	"time"
)

// TestWriteTLSFiles checks that the certificate verifies against its own CA
// for each host given, and not for another host or against another CA.
func TestWriteTLSFiles(t *testing.T) {
	f, err := WriteTLSFiles(t.TempDir(), "127.0.0.1", "db.sluice.test")
	if err != nil {
		t.Fatal(err)
	}
	other, err := WriteTLSFiles(t.TempDir(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := func(path string) *x509.CertPool {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		p := x509.NewCertPool()
		if !p.AppendCertsFromPEM(b) {
			t.Fatalf("%s: no certificate", path)
		}
		return p
	}
	tests := []struct {
		name, host, ca string
		ok             bool
	}{
		{"ip", "127.0.0.1", f.CA, true},
		{"dns name", "db.sluice.test", f.CA, true},
		{"other host", "localhost", f.CA, false},
		{"other CA", "127.0.0.1", other.CA, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := leaf.Verify(x509.VerifyOptions{DNSName: tt.host, Roots: pool(tt.ca), CurrentTime: time.Now()})
			if (err == nil) != tt.ok {
				t.Fatalf("verify for %s: %v, want ok=%v", tt.host, err, tt.ok)
			}
		})
	}
	if st, err := os.Stat(f.Key); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", st, err)
	}
	if _, err := WriteTLSFiles(t.TempDir()); err == nil {
		t.Fatal("no hosts: no error")
	}
}
