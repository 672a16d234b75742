package nats

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		raw  string
		want func(c Config) bool
		err  string
	}{
		{raw: "nats://u:p@h1,h2:4333/?stream=S", want: func(c Config) bool {
			return slices.Equal(c.Servers, []string{"h1:4222", "h2:4333"}) && c.User == "u" && c.Password == "p" && c.Stream == "S"
		}},
		{raw: "nats://tok@h/?stream=S", want: func(c Config) bool { return c.Token == "tok" && c.User == "" }},
		{raw: "nats://h/?stream=S&subject=cdc.{table}&checkpoint=kv&bucket=b&ordered=off&max-pending=10&ack-timeout=3s&headers=off&duplicates=10m&create-stream=on",
			want: func(c Config) bool {
				return c.Subject == "cdc.{table}" && c.Checkpoint == "kv" && c.Bucket == "b" && c.Unordered && c.MaxPending == 10 &&
					c.AckTimeout == 3*time.Second && c.NoHeaders && c.Duplicates == 10*time.Minute && c.CreateStream
			}},
		{raw: "nats://h/", err: "no stream"},
		{raw: "nats://h/?stream=a.b", err: "stream name"},
		{raw: "nats://h/?stream=S&subject={schema}.x", err: "only {prefix}, {db} and {table}"},
		{raw: "nats://h/?stream=S&subject=a..{table}", err: "tokens must be non-empty"},
		{raw: "nats://h/?stream=S&checkpoint=file", err: "checkpoint"},
		{raw: "nats://h/?stream=S&topic=x", err: "unknown parameter topic"},
		{raw: "nats://h/?stream=S&token=t&creds=a&nkey=b", err: "creds and nkey"},
		{raw: "nats://u:p@h/?stream=S&token=t", err: "a token and a user"},
		{raw: "nats://h/x?stream=S", err: "path"},
		{raw: "kafka://h/?stream=S", err: "scheme"},
		{raw: "nats://h/?stream=S&tls-cert=/x", err: "tls-cert and tls-key go together"},
		{raw: "nats://h/?stream=S&tls=false&tls-server-name=n", err: "need tls=on or skip-verify, not tls=off"},
		{raw: "nats://h/?stream=S&tls=true&tls-server-name=n", want: func(c Config) bool { return c.TLS != nil && c.TLS.ServerName == "n" }},
	}
	for _, tt := range tests {
		c, err := ParseURL(tt.raw)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: error %v, want %q", tt.raw, err, tt.err)
		case tt.err == "" && err != nil:
			t.Errorf("%s: %v", tt.raw, err)
		case tt.err == "" && !tt.want(c):
			t.Errorf("%s: %+v", tt.raw, c)
		}
	}
}

func TestSubjects(t *testing.T) {
	cfg := Config{Subject: DefaultSubject, Prefix: "sluice"}
	for _, tt := range []struct {
		c    change.Change
		want string
	}{
		{change.Change{Op: change.OpInsert, Namespace: change.Namespace{Database: "shop", Table: "orders"}}, "sluice.shop.orders"},
		{change.Change{Op: change.OpInsert, Namespace: change.Namespace{Database: "my.db", Table: "a b*>"}}, "sluice.my_db.a_b__"},
		{change.Change{Op: change.OpDDL, Namespace: change.Namespace{Database: "shop"}}, "sluice"},
		{change.Change{Op: change.OpBegin}, "sluice.transaction"},
		{change.Change{Op: change.OpInsert, Namespace: change.Namespace{Table: "t"}}, "sluice._.t"},
	} {
		if got := subjectOf(&cfg, &tt.c); got != tt.want {
			t.Errorf("%v: %s, want %s", tt.c.Namespace, got, tt.want)
		}
	}
	for _, tt := range []struct {
		filter, subject string
		want            bool
	}{
		{"a.*.c", "a.b.c", true}, {"a.*", "a.b.c", false}, {"a.>", "a.b.c", true}, {"a.>", "a", false},
		{"a", "a", true}, {"a.b", "a.c", false}, {"*.>", "a.b", true},
	} {
		if got := subjectMatch(tt.filter, tt.subject); got != tt.want {
			t.Errorf("subjectMatch(%s, %s) = %t", tt.filter, tt.subject, got)
		}
	}
	if got := streamSubjects(DefaultSubject, "sluice"); !slices.Equal(got, []string{"sluice.*.*", "sluice", "sluice.transaction"}) {
		t.Errorf("streamSubjects = %v", got)
	}
	if got := streamSubjects("{prefix}.>", "x"); !slices.Equal(got, []string{"x.>", "x"}) {
		t.Errorf("streamSubjects = %v", got)
	}
}

func TestMsgID(t *testing.T) {
	p := change.Position{Flavor: change.FlavorBinlog, File: "bin.000002", Offset: 77, Index: 3, GTIDSet: "0-1-100"}
	if got := string(msgID(nil, p, 0)); got != "binlog:bin.000002:77#3" {
		t.Errorf("msgID = %s", got)
	}
	if got := string(msgID(nil, p, 2)); got != "binlog:bin.000002:77#3/2" {
		t.Errorf("msgID = %s", got)
	}
	lsn := change.Position{Flavor: change.FlavorLSN, Offset: 0x16B3748}
	if got := string(msgID(nil, lsn, 0)); got != "lsn:0/16B3748" {
		t.Errorf("msgID = %s", got)
	}
}

func TestKVKey(t *testing.T) {
	for id, want := range map[string]string{"stream": "stream", "a.b": "a.b", ".a": "=2Ea", "a..b": "a.=2Eb", "a b": "a=20b", "x=y": "x=3Dy"} {
		if got := kvKey(id); got != want {
			t.Errorf("kvKey(%q) = %q, want %q", id, got, want)
		}
	}
}
