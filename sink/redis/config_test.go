package redis

import (
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
		{raw: "redis://h", want: func(c Config) bool { return c.Addr == "h:6379" && c.DB == 0 && c.TLS == nil }},
		{raw: "redis://u:p@h:7000/3?mode=hash&value=json&key=c:{table}:{key}&positions=pos&retry-for=1m", want: func(c Config) bool {
			return c.Addr == "h:7000" && c.User == "u" && c.Password == "p" && c.DB == 3 && c.Mode == ModeHash && c.Value == ValueJSON &&
				c.Key == "c:{table}:{key}" && c.Positions == "pos" && c.RetryFor == time.Minute
		}},
		{raw: "rediss://:p@h/?maxlen=1000&stream=s:{db}", want: func(c Config) bool {
			return c.TLS != nil && c.TLS.ServerName == "h" && c.MaxLen == 1000 && c.Stream == "s:{db}" && c.Password == "p"
		}},
		{raw: "redis://h/?mode=pubsub&channel=ch", want: func(c Config) bool { return c.Mode == ModePubSub && c.Channel == "ch" }},
		{raw: "redis://h/x", err: "database number"},
		{raw: "redis://h/?mode=list", err: "parameter mode"},
		{raw: "redis://h/?mode=hash&key={prefix}:{table}", err: "needs {key}"},
		{raw: "redis://h/?stream={schema}", err: "only {prefix}, {db} and {table}"},
		{raw: "redis://h/?positions={db}", err: "only {prefix}"},
		{raw: "redis://h/?topic=x", err: "unknown parameter topic"},
		{raw: "redis://a,b/", err: "one server address"},
		{raw: "rediss://h/?tls=off", err: "contradicts"},
		{raw: "redis://h/?tls=off&tls-cert=/c&tls-key=/k", err: "need tls=on or skip-verify, not tls=off"},
		{raw: "redis:///", err: "no server address"},
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

func TestNames(t *testing.T) {
	if got := expand(DefaultStream, "sluice", change.Namespace{Database: "a:b", Table: "c%d"}); got != "sluice:a%3Ab:c%25d" {
		t.Errorf("expand = %s", got)
	}
	kt := splitKey(DefaultKey, "sluice", change.Namespace{Database: "d", Table: "t"})
	cols := []change.Column{{Name: "a", Key: true}, {Name: "v"}, {Name: "b", Key: true}}
	img := []change.Value{change.Int(7, 32), change.String([]byte("x")), change.String([]byte("p:q"))}
	key, _, ok := kt.appendKey(nil, cols, img, nil, nil)
	if !ok || string(key) != "sluice:d:t:7:p%3Aq" {
		t.Errorf("key %q %t", key, ok)
	}
	// A key column absent from the after image comes from the before image.
	after := []change.Value{{}, change.String([]byte("y")), change.String([]byte("z"))}
	key, _, ok = kt.appendKey(nil, cols, after, img, nil)
	if !ok || string(key) != "sluice:d:t:7:z" {
		t.Errorf("key %q %t", key, ok)
	}
	if got := globEscape(`a*b?[c]\`); got != `a\*b\?\[c\]\\` {
		t.Errorf("globEscape = %s", got)
	}
}

func TestMergeRows(t *testing.T) {
	got, err := mergeRows([]byte(`{"id":1,"a":"x","b":{"k":[1,2]},"c":null}`), []byte(`{"id":1,"b":{"$kind":"unchanged"},"c":"now","d":2}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"id":1,"a":"x","b":{"k":[1,2]},"c":"now","d":2}`; string(got) != want {
		t.Errorf("merged %s, want %s", got, want)
	}
}
