package servers

import (
	"errors"
	"strings"
	"testing"
)

func TestLookBinary(t *testing.T) {
	tests := []struct {
		program, pkg string
		dirs         []string
		found        bool
	}{
		{"sh", "dash", nil, true},
		{"initdb", "postgresql-15", []string{PostgresBinDir}, true},
		{"sluice-no-such-server", "sluice-no-such-package", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.program, func(t *testing.T) {
			path, err := lookBinary(tt.program, tt.pkg, tt.dirs...)
			if tt.found {
				if err != nil || path == "" {
					t.Fatalf("lookBinary(%q) = %q, %v", tt.program, path, err)
				}
				return
			}
			var missing *MissingBinaryError
			if !errors.As(err, &missing) {
				t.Fatalf("lookBinary(%q) error = %v, want *MissingBinaryError", tt.program, err)
			}
			for _, want := range []string{tt.program, "apt-get install -y " + tt.pkg, "scripts/deps.sh"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestAddrInUse(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("servers: mariadbd exited: [ERROR] Can't start server: Bind on TCP/IP port. Got error: 98: Address already in use"), true},
		{errors.New(`FATAL: could not create any TCP/IP sockets: could not bind IPv4 address "127.0.0.1": Address in use`), true},
		{errors.New("servers: postgres not ready: context deadline exceeded"), false},
	}
	for _, tt := range tests {
		if got := addrInUse(tt.err); got != tt.want {
			t.Errorf("addrInUse(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
