package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/source"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestParse(t *testing.T) {
	text := `
log:
  level: debug
  format: json
http:
  listen: 127.0.0.1:8080
  token: ${TOKEN}
pipelines:
  orders:
    source: mysql://repl:${PW}@db:3306/?server-id=7
    to: file:///tmp/orders.jsonl
    format: debezium
    include: 'shop\..*'
    exclude-columns: 'shop\.users:ssn'
    mask: 'shop\.users:email'
    mask-with: "[hidden]"
    hash: 'shop\.users:phone'
    hash-key: ${KEY}
    rename: 'shop\.(.*)=archive.$1'
    from: mysql-bin.000003:4
    stop-at: lsn:0/10
    state: state/orders.db
    id: orders-v2
    begin-commit: true
    queue-bytes: 8MiB
    checkpoint-interval: 250ms
    retry-min: 2s
    retry-max: 30s
  audit:
    source: postgres://u@pg/db?slot=s
    paused: yes
    delivery: exactly-once
    to: kafka://k:9092
`
	f, err := Parse("/etc/sluice/sluice.yaml", []byte(text), Options{Getenv: env(map[string]string{"TOKEN": "tok", "PW": "p@ss", "KEY": "k"})})
	if err != nil {
		t.Fatal(err)
	}
	if f.Log.Level.String() != "DEBUG" || f.Log.Format != "json" || f.HTTP.Listen != "127.0.0.1:8080" || f.HTTP.Token != "tok" {
		t.Errorf("log/http: %+v %+v", f.Log, f.HTTP)
	}
	if len(f.Pipelines) != 2 || f.Pipelines[0].Name != "orders" || f.Pipelines[1].Name != "audit" {
		t.Fatalf("pipelines: %+v", f.Pipelines)
	}
	o := f.Pipelines[0]
	checks := []struct {
		what      string
		got, want any
	}{
		{"line", o.Line, 9},
		{"source", o.Source, "mysql://repl:p@ss@db:3306/?server-id=7"},
		{"to", o.To, "file:///tmp/orders.jsonl"},
		{"format", o.Format, "debezium"},
		{"include", o.Filter.Include, `shop\..*`},
		{"exclude-columns", o.Filter.ExcludeColumns, `shop\.users:ssn`},
		{"mask", o.Transform.Mask, `shop\.users:email`},
		{"mask-with", o.Transform.MaskWith, "[hidden]"},
		{"hash key", string(o.Transform.HashKey), "k"},
		{"rename", o.Transform.Rename, `shop\.(.*)=archive.$1`},
		{"from", o.From, change.Position{Flavor: change.FlavorBinlog, File: "mysql-bin.000003", Offset: 4}},
		{"stop-at", o.StopAt, change.Position{Flavor: change.FlavorLSN, Offset: 16}},
		{"state", o.State, "/etc/sluice/state/orders.db"},
		{"id", o.ID, "orders-v2"},
		{"begin-commit", o.BeginCommit, true},
		{"queue-bytes", o.QueueBytes, int64(8 << 20)},
		{"checkpoint-interval", o.CheckpointInterval, 250 * time.Millisecond},
		{"retry", [2]time.Duration{o.RetryMin, o.RetryMax}, [2]time.Duration{2 * time.Second, 30 * time.Second}},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	a := f.Pipelines[1]
	if !a.Paused || a.To != "kafka://k:9092/?delivery=exactly-once" || a.ID != "audit" || a.State != "/etc/sluice/sluice.db" ||
		a.To == "" || a.Start != source.StartDefault || a.QueueBytes != 4<<20 || a.Transform.MaskWith != "***" {
		t.Errorf("defaults: %+v", a)
	}
}

// TestErrors checks that every kind of mistake is reported with the file,
// the line and the key, and that all mistakes of a file are reported.
func TestErrors(t *testing.T) {
	vars := env(map[string]string{"SET": "x"})
	cases := []struct {
		name, text string
		want       []string
	}{
		{"unknown top key", "pipelines:\n  a: {source: 'mysql://h/'}\nlogs: {}\n", []string{"c.yaml:3: logs: unknown key (known: log, http, ha, pipelines)"}},
		{"unknown pipeline key", "pipelines:\n  a:\n    source: mysql://h/\n    sink: stdout://\n", []string{"c.yaml:4: pipelines.a.sink: unknown key (known: source, to,"}},
		{"duplicate name", "pipelines:\n  a:\n    source: mysql://h/\n  a:\n    source: mysql://h/\n", []string{"c.yaml:4: pipelines.a: given twice (first at line 2)"}},
		{"missing env", "pipelines:\n  a:\n    source: mysql://u:${NOPE}@h/\n", []string{"c.yaml:3: pipelines.a.source: environment variable NOPE is not set"}},
		{"missing source", "pipelines:\n  a:\n    to: stdout://\n", []string{"c.yaml:2: pipelines.a.source: missing"}},
		{"bad filter", "pipelines:\n  a:\n    source: x://\n    include: 'shop\\.(('\n", []string{"c.yaml:4: pipelines.a.include: include filter: pattern"}},
		{"bad mask", "pipelines:\n  a:\n    source: x://\n    mask: 'nocolon'\n", []string{"c.yaml:4: pipelines.a.mask: mask: item \"nocolon\""}},
		{"hash without key", "pipelines:\n  a:\n    source: x://\n    hash: 't:c'\n", []string{"c.yaml:4: pipelines.a.hash-key: missing"}},
		{"bad from", "pipelines:\n  a:\n    source: x://\n    from: yesterday\n", []string{"c.yaml:4: pipelines.a.from:"}},
		{"gtid stop-at", "pipelines:\n  a:\n    source: x://\n    stop-at: 0-1-100\n", []string{"c.yaml:4: pipelines.a.stop-at:", "no order"}},
		{"bad size", "pipelines:\n  a:\n    source: x://\n    queue-bytes: lots\n", []string{"c.yaml:4: pipelines.a.queue-bytes: \"lots\""}},
		{"bad duration", "pipelines:\n  a:\n    source: x://\n    retry-max: 1x\n", []string{"c.yaml:4: pipelines.a.retry-max:"}},
		{"retry order", "pipelines:\n  a:\n    source: x://\n    retry-min: 1m\n    retry-max: 1s\n", []string{"c.yaml:2: pipelines.a.retry-max: 1s is below retry-min 1m0s"}},
		{"bad bool", "pipelines:\n  a:\n    source: x://\n    paused: maybe\n", []string{"c.yaml:4: pipelines.a.paused: \"maybe\": want true or false"}},
		{"bad name", "pipelines:\n  'a b':\n    source: x://\n", []string{"c.yaml:2: pipelines.a b: pipeline name"}},
		{"same checkpoint", "pipelines:\n  a:\n    source: x://\n    id: same\n  b:\n    source: x://\n    id: same\n", []string{"c.yaml:5: pipelines.b.id: checkpoint id \"same\""}},
		{"no pipelines", "log: {level: info}\n", []string{"c.yaml:1: pipelines: missing"}},
		{"empty", "", []string{"c.yaml:0: empty file"}},
		{"syntax", "pipelines:\n  a: [\n", []string{"c.yaml:2: YAML: did not find expected node content"}},
		{"list for mapping", "pipelines:\n  - a\n", []string{"c.yaml:2: pipelines: want a mapping"}},
		{"token needed", "http:\n  listen: :8080\npipelines:\n  a: {source: x://}\n", []string{"c.yaml:2: http.token: missing"}},
		{"half tls", "http:\n  listen: :8080\n  token: t\n  tls-cert: c.pem\npipelines:\n  a: {source: x://}\n", []string{"c.yaml:4: http.tls-cert: give both"}},
		{"merge key", "base: &b {source: x://}\npipelines:\n  a:\n    <<: *b\n", []string{"c.yaml:4: YAML: merge keys"}},
		{"level", "log: {level: loud}\npipelines:\n  a: {source: x://}\n", []string{"c.yaml:1: log.level: \"loud\""}},
		{"delivery twice", "pipelines:\n  a:\n    source: x://\n    to: kafka://k/?delivery=at-least-once\n    delivery: exactly-once\n", []string{"c.yaml:5: pipelines.a.delivery: the sink URL gives delivery too"}},
		{"ha no coordinator", "ha: {ttl: 5s}\npipelines:\n  a: {source: x://, state: 'etcd://e/p'}\n", []string{"c.yaml:1: ha.coordinator: missing"}},
		{"ha bad ttl", "ha: {coordinator: source, ttl: soon}\npipelines:\n  a: {source: x://, state: 'etcd://e/p'}\n", []string{"c.yaml:1: ha.ttl: \"soon\""}},
		{"ha margin", "ha:\n  coordinator: source\n  ttl: 4s\n  stop-margin: 3s\npipelines:\n  a: {source: x://, state: 'etcd://e/p'}\n", []string{"c.yaml:4: ha.stop-margin: 3s is over half the ttl 4s"}},
		{"ha file state", "ha: {coordinator: source}\npipelines:\n  a: {source: x://}\n", []string{"c.yaml:3: pipelines.a.state:", "with ha, every instance must read"}},
		{"several", "pipelines:\n  a:\n    source: x://\n    color: red\n  b:\n    to: stdout://\n", []string{"c.yaml:4: pipelines.a.color: unknown key", "c.yaml:5: pipelines.b.source: missing"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(c.text), Options{Getenv: vars})
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error %v (%T), want Errors", err, err)
			}
			msg := err.Error()
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error:\n%s\nwant it to contain %q", msg, w)
				}
			}
			if len(es) != len(c.want) && c.name == "several" {
				t.Errorf("%d errors, want %d: %s", len(es), len(c.want), msg)
			}
		})
	}
}

// TestCheckers checks that URL and format checks are reported at the
// line of the setting, with the checker's message.
func TestCheckers(t *testing.T) {
	text := "pipelines:\n  a:\n    source: bad://\n  b:\n    source: ok://\n    to: nope://\n  c:\n    source: ok://\n    format: weird\n" +
		"  d:\n    source: ok://\n    state: etcd://e:2379/sluice\n  e:\n    source: ok://\n    state: consul://c/\n"
	opts := Options{
		CheckSource: func(raw string) error {
			if strings.HasPrefix(raw, "bad") {
				return errors.New("unknown scheme bad")
			}
			return nil
		},
		CheckSink: func(raw, format string) error {
			if strings.HasPrefix(raw, "nope") {
				return errors.New("unknown scheme nope")
			}
			return nil
		},
		CheckFormat: func(f string) error {
			if f == "weird" {
				return errors.New("unknown format weird")
			}
			return nil
		},
		CheckState: func(raw string) error {
			if strings.HasPrefix(raw, "consul") {
				return errors.New("unknown scheme consul")
			}
			return nil
		},
	}
	_, err := Parse("c.yaml", []byte(text), opts)
	want := "c.yaml:3: pipelines.a.source: unknown scheme bad\nc.yaml:6: pipelines.b.to: unknown scheme nope\nc.yaml:9: pipelines.c.format: unknown format weird\n" +
		"c.yaml:15: pipelines.e.state: unknown scheme consul"
	opts.CheckSource, opts.CheckSink, opts.CheckFormat = nil, nil, nil
	f, _ := Parse("c.yaml", []byte("pipelines:\n  d:\n    source: ok://\n    state: etcd://e:2379/sluice\n"), opts)
	if f == nil || f.Pipelines[0].State != "etcd://e:2379/sluice" {
		t.Errorf("a store URL was not kept as given: %+v", f)
	}
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

func TestExpand(t *testing.T) {
	get := env(map[string]string{"A": "1", "EMPTY": ""})
	cases := []struct{ in, want, err string }{
		{"plain", "plain", ""},
		{"${A}-${A}", "1-1", ""},
		{"x${EMPTY}y", "xy", ""},
		{"$${A}", "${A}", ""},
		{"$A", "$A", ""},
		{"${A", "", "unclosed"},
		{"${1A}", "", "want ${NAME}"},
		{"${B}", "", "B is not set"},
	}
	for _, c := range cases {
		got, err := expand(c.in, get)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("expand(%q) error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("expand(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "token"), []byte("s3cret\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "key"), []byte("hk\n"), 0o600)
	text := "http:\n  listen: :0\n  token-file: token\npipelines:\n  a:\n    source: x://\n    hash: 't:c'\n    hash-key-file: key\n"
	f, err := Load(writeFile(t, dir, "c.yaml", text), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f.HTTP.Token != "s3cret" || string(f.Pipelines[0].Transform.HashKey) != "hk" {
		t.Errorf("token %q key %q", f.HTTP.Token, f.Pipelines[0].Transform.HashKey)
	}
}

func TestEqual(t *testing.T) {
	text := "pipelines:\n  a:\n    source: x://\n"
	f1, _ := Parse("c.yaml", []byte(text), Options{})
	f2, _ := Parse("c.yaml", []byte("\n\n"+text), Options{})
	f3, _ := Parse("c.yaml", []byte(text+"    mask: 't:c'\n"), Options{})
	if !f1.Pipelines[0].Equal(f2.Pipelines[0]) {
		t.Error("a pipeline that only moved is not Equal")
	}
	if f1.Pipelines[0].Equal(f3.Pipelines[0]) {
		t.Error("a pipeline with a new mask is Equal")
	}
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHA(t *testing.T) {
	text := "ha:\n  coordinator: etcd://e:2379/sluice\n  instance: ${NODE}\n  ttl: 6s\n  stop-margin: 1500ms\n  spread-delay: 2s\npipelines:\n  a: {source: x://, state: 'etcd://e:2379/sluice'}\n"
	var checked string
	f, err := Parse("c.yaml", []byte(text), Options{Getenv: env(map[string]string{"NODE": "n2"}),
		CheckCoordinator: func(raw string) error { checked = raw; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	want := HA{Coordinator: "etcd://e:2379/sluice", Instance: "n2", TTL: 6 * time.Second, StopMargin: 1500 * time.Millisecond, SpreadDelay: 2 * time.Second}
	if f.HA != want || checked != want.Coordinator {
		t.Errorf("ha %+v (checked %q), want %+v", f.HA, checked, want)
	}
	_, err = Parse("c.yaml", []byte(text), Options{Getenv: env(map[string]string{"NODE": "n2"}),
		CheckCoordinator: func(string) error { return errors.New("unknown scheme") }})
	if err == nil || !strings.Contains(err.Error(), "c.yaml:2: ha.coordinator: unknown scheme") {
		t.Errorf("bad coordinator: %v", err)
	}
	f, err = Parse("c.yaml", []byte("pipelines:\n  a: {source: x://}\n"), Options{})
	if err != nil || f.HA != (HA{}) {
		t.Errorf("no ha section: %+v, %v", f.HA, err)
	}
	// --ha and --instance supply the section, and the states must be shared.
	f, err = Parse("c.yaml", []byte("pipelines:\n  a: {source: x://, state: 'zk://z/p'}\n"), Options{Coordinator: "source", Instance: "b"})
	if err != nil || f.HA != (HA{Coordinator: "source", Instance: "b"}) {
		t.Errorf("--ha source --instance b: %+v, %v", f.HA, err)
	}
	_, err = Parse("c.yaml", []byte("pipelines:\n  a: {source: x://}\n"), Options{Coordinator: "etcd://e/p"})
	if err == nil || !strings.Contains(err.Error(), "pipelines.a.state:") {
		t.Errorf("--ha with a state file: %v", err)
	}
}
