package tlsparam

import (
	"crypto/tls"
	"net/url"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/address"
)

func TestRead(t *testing.T) {
	cases := []struct {
		query, def string
		prefer     bool // ReadPrefer
		want       string
	}{
		{"", "off", false, "plain"},
		{"", "on", false, "verify host"},
		{"tls=on", "off", false, "verify host"},
		{"tls=skip-verify", "off", false, "skip"},
		{"tls-server-name=other", "off", false, "verify other"},
		{"tls=off&tls-server-name=x", "off", false, "error need tls=on"},
		{"tls=prefer", "off", false, "error one of off, on, skip-verify"},
		{"tls=prefer", "off", true, "prefer"},
		{"", "prefer", true, "prefer"},
		{"tls-ca=/nonexistent", "off", false, "error tls-ca"},
		{"tls-cert=/x", "off", false, "error go together"},
	}
	for _, c := range cases {
		u := &url.URL{RawQuery: c.query}
		p := address.NewParams(u)
		var got string
		var cfg *tls.Config
		var prefer bool
		var err error
		if c.prefer {
			cfg, prefer, err = ReadPrefer(p, c.def, "host")
		} else {
			cfg, err = Read(p, c.def, "host")
		}
		switch {
		case err != nil:
			got = "error " + err.Error()
		case cfg == nil:
			got = "plain"
		case prefer:
			got = "prefer"
		case cfg.InsecureSkipVerify:
			got = "skip"
		default:
			got = "verify " + cfg.ServerName
		}
		if !strings.HasPrefix(got, c.want) && !(strings.HasPrefix(c.want, "error") && strings.HasPrefix(got, "error") && strings.Contains(got, strings.TrimPrefix(c.want, "error "))) {
			t.Errorf("%q (default %s, prefer %v) = %s, want %s", c.query, c.def, c.prefer, got, c.want)
		}
	}
}
