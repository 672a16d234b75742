package mongodb

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/source"
	"go.mongodb.org/mongo-driver/v2/mongo/address"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	driverdesc "go.mongodb.org/mongo-driver/v2/x/mongo/driver/description"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

func TestClientSecurity(t *testing.T) {
	ca := url.QueryEscape(testenv.NewTLSFiles(t, "127.0.0.1").CA)
	const hint = "tls=true and tlsCAFile=FILE (the CA that signed the server's certificate), without tlsInsecure, to encrypt and verify"
	tests := []struct {
		uri  string
		want source.Security
	}{
		{"mongodb://db:27017/", source.Security{Hint: hint}},
		{"mongodb://db:27017/?tls=false", source.Security{Hint: hint}},
		{"mongodb://db:27017/?tls=true", source.Security{Encrypted: true, Verified: "certificate chain (system roots) and host name of each host"}},
		{"mongodb://db:27017/?ssl=true&tlsCAFile=" + ca, source.Security{Encrypted: true, Verified: "certificate chain (tlsCAFile) and host name of each host"}},
		{"mongodb://db:27017/?tls=true&tlsInsecure=true&tlsCAFile=" + ca, source.Security{Encrypted: true, Hint: hint}},
		{"mongodb://%2Ftmp%2Fmongodb-27017.sock/", source.Security{Local: true}},
		{"mongodb://%2Ftmp%2Fmongodb-27017.sock,db:27017/", source.Security{Hint: hint}},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			opts := options.Client().ApplyURI(tt.uri)
			if err := opts.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := clientSecurity(opts); got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	cause := errors.New("x509: certificate signed by unknown authority")
	sse := topology.ServerSelectionError{Wrapped: errors.New("context deadline exceeded"), Desc: driverdesc.Topology{Servers: []driverdesc.Server{
		{Addr: address.Address("a:27017"), LastError: cause},
		{Addr: address.Address("b:27017")},
	}}}
	err := unreachable(sse)
	if got, want := err.Error(), "mongodb: cannot connect to a:27017: x509: certificate signed by unknown authority"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	var back topology.ServerSelectionError
	if !errors.As(err, &back) {
		t.Fatal("the driver's error is not in the chain")
	}
	if err := unreachable(topology.ServerSelectionError{}); !strings.HasPrefix(err.Error(), "server selection error") {
		t.Fatalf("no server errors: %v", err)
	}
	if err := unreachable(cause); err != cause {
		t.Fatalf("other error changed: %v", err)
	}
}
