package kafka

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
)

func TestParseURL(t *testing.T) {
	for _, tt := range []struct {
		url  string
		want Config // compared on the fields set here, after defaults
	}{
		{"kafka://b1:9093,b2:9094/", Config{Brokers: []string{"b1:9093", "b2:9094"}}},
		{"kafka://b1,b2:9093", Config{Brokers: []string{"b1:9092", "b2:9093"}}},
		{"kafka://b1:9092/?topic={db}.{table}&prefix=p&delivery=exactly-once&offsets-topic=offs&transactional-id=tx1&transaction-timeout=30s",
			Config{Brokers: []string{"b1:9092"}, Topic: "{db}.{table}", Prefix: "p", Delivery: ExactlyOnce, OffsetsTopic: "offs", TransactionalID: "tx1", TransactionTimeout: 30 * time.Second}},
		{"kafka://u:p%40ss@b1/?sasl=scram-sha-512&compression=zstd&create-topics=on&partitions=6&replication=3&keyless=spread&headers=off&max-message-bytes=2MiB",
			Config{Brokers: []string{"b1:9092"}, SASL: "scram-sha-512", User: "u", Password: "p@ss", Compression: "zstd", CreateTopics: true,
				Partitions: 6, Replication: 3, Keyless: KeylessSpread, NoHeaders: true, MaxMessageBytes: 2 << 20}},
		{"kafka://b1/?sasl=plain&sasl-user=u2&sasl-password=pw", Config{Brokers: []string{"b1:9092"}, SASL: "plain", User: "u2", Password: "pw"}},
		{"kafka://[::1]/", Config{Brokers: []string{"[::1]:9092"}}},
		{"kafka://b1/?in-flight=2", Config{Brokers: []string{"b1:9092"}, InFlight: 2}},
	} {
		t.Run(tt.url, func(t *testing.T) {
			got, err := ParseURL(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			got = got.withDefaults()
			want := tt.want.withDefaults()
			got.Logger, want.Logger = nil, nil
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	for _, tt := range []struct{ url, want string }{
		{"kafka:///", "no broker address"},
		{"kafka://b1/topic", `path "/topic": the topic goes in ?topic=`},
		{"kafka://b1/?topik=x", "unknown parameter topik (known: "},
		{"kafka://b1/?delivery=twice", "parameter delivery=\"twice\": want one of at-least-once, exactly-once"},
		{"kafka://b1/?compression=brotli", "parameter compression=\"brotli\": want one of none, gzip, snappy, lz4, zstd"},
		{"kafka://b1/?topic={schema}.{table}", "topic template \"{schema}.{table}\": only {prefix}, {db} and {table} are replaced"},
		{"kafka://b1/?offsets-topic=a/b", "offsets topic: topic name \"a/b\": Kafka allows only letters, digits, '.', '_' and '-'"},
		{"kafka://u:secretpw@b1/", "a user or password needs sasl=plain, scram-sha-256 or scram-sha-512"},
		{"kafka://b1/?sasl=plain", "sasl=plain needs a user"},
		{"kafka://b1/?sasl=plain&sasl-user=u&sasl-password=secretpw&partitions=0", "parameter partitions=\"0\": want an integer from 1 to 1048576"},
		{"kafka://b1/?in-flight=0", "parameter in-flight=\"0\": want an integer from 1 to 1024"},
		{"kafka://b1/?tls-ca=/nonexistent/ca.pem", "tls-ca: open /nonexistent/ca.pem"},
		{"kafka://b1/?tls-cert=/x.pem", "tls-cert and tls-key go together"},
		{"mysql://b1/", `scheme "mysql": want kafka`},
	} {
		t.Run(tt.url, func(t *testing.T) {
			_, err := ParseURL(tt.url)
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secretpw") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestTopicName(t *testing.T) {
	for _, tt := range []struct {
		template, prefix, db, table, want string
	}{
		{DefaultTopic, "sluice", "shop", "orders", "sluice.shop.orders"},
		{"{db}.{table}", "x", "public", "Orders-2024", "public.Orders-2024"},
		{"{db}.{table}", "", "my db", "tâble$", "my_db.t__ble_"},
		{"all", "", "a", "b", "all"},
		{"{table}", "", "a", "..", "_"},
		{"{table}", "", "a", strings.Repeat("x", 300), strings.Repeat("x", 249)},
	} {
		got := topicName(tt.template, tt.prefix, change.Namespace{Database: tt.db, Table: tt.table})
		if got != tt.want {
			t.Errorf("topicName(%q, %q, %s.%s) = %q, want %q", tt.template, tt.prefix, tt.db, tt.table, got, tt.want)
		}
		if err := checkTopicName(got); err != nil {
			t.Errorf("topicName gave a name Kafka refuses: %v", err)
		}
	}
}

func TestRouteOf(t *testing.T) {
	cfg := Config{}.withDefaults()
	r := newRouter(&cfg)
	for _, tt := range []struct {
		c     change.Change
		topic string
		fresh bool
	}{
		{change.Change{Op: change.OpInsert, Namespace: change.Namespace{Database: "d", Table: "t"}}, "sluice.d.t", true},
		{change.Change{Op: change.OpUpdate, Namespace: change.Namespace{Database: "d", Table: "t"}}, "sluice.d.t", false},
		{change.Change{Op: change.OpBegin}, "sluice.transaction", true},
		{change.Change{Op: change.OpCommit}, "sluice.transaction", false},
		{change.Change{Op: change.OpDDL, Namespace: change.Namespace{Database: "d"}}, "sluice", true},
		{change.Change{Op: change.OpDDL, Namespace: change.Namespace{Database: "d", Table: "t"}}, "sluice.d.t", false},
		{change.Change{Op: change.OpDelete, Namespace: change.Namespace{Database: "d", Table: "u"}}, "sluice.d.u", true},
	} {
		rt, fresh := r.routeOf(&tt.c)
		if rt.topic != tt.topic || fresh != tt.fresh {
			t.Errorf("%s %s.%s: topic %s (new %v), want %s (new %v)", tt.c.Op, tt.c.Database, tt.c.Table, rt.topic, fresh, tt.topic, tt.fresh)
		}
	}
}
