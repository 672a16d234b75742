package leases

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/lease"
)

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for raw, want := range map[string]string{
		"consul://h/x":                                "unknown URL scheme",
		"etcd://u:s3cret@h:1/x?bogus=1":               "bogus",
		"zk://u:s3cret@h:1/x?bogus=1":                 "bogus",
		"mysql://u:s3cret@h:1/?bogus=1":               "bogus",
		"postgres://u:s3cret@h:1/?x=%zz":              "lease coordinator",
		"etcd://u:s3cret@127.0.0.1:1/x?timeout=200ms": "127.0.0.1:1",
	} {
		_, err := Open(ctx, raw, lease.Options{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%s) = %v, want an error about %s", raw, err, want)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%s) shows the password: %v", raw, err)
		}
	}
	if _, err := Open(ctx, "consul://h/x", lease.Options{}); !errors.Is(err, address.ErrUnknownScheme) {
		t.Errorf("unknown scheme: %v", err)
	}
	if _, err := Open(ctx, "etcd://h/x", lease.Options{TTL: 4e9, StopMargin: 3e9}); err == nil || !strings.Contains(err.Error(), "margin") {
		t.Errorf("a stop margin over TTL/2: %v", err)
	}
}
