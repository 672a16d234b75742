package sink_test

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/sluice-cdc/sluice/sink"
	"github.com/sluice-cdc/sluice/sinks"
)

type nopSink struct{}

func (nopSink) Write(context.Context, []change.Change) error { return nil }
func (nopSink) Close() error                                 { return nil }

func TestOpen(t *testing.T) {
	ctx := context.Background()
	r := sinks.Builtin()
	if got := r.Schemes(); !reflect.DeepEqual(got, []string{"file", "http", "https", "kafka", "mariadb", "mysql", "nats", "postgres", "postgresql", "redis", "rediss", "stdout"}) {
		t.Fatalf("Builtin schemes %v", got)
	}
	s, err := sink.Open(ctx, r, "file://"+filepath.Join(t.TempDir(), "x.jsonl"), sink.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := sink.Open(ctx, r, "amqp://b1:5672/queue", sink.Config{}); !errors.Is(err, address.ErrUnknownScheme) {
		t.Errorf("unknown scheme: %v", err)
	}
	opened := ""
	if err := r.Register("X-HOOK", func(ctx context.Context, u *url.URL, _ sink.Config) (pipeline.Sink, error) {
		opened = u.Host
		return nopSink{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Open(ctx, r, "x-hook://hook.example/x", sink.Config{}); err != nil || opened != "hook.example" {
		t.Errorf("custom scheme: %v, host %q", err, opened)
	}
	// Errors never show secrets, and say "sink" once.
	r.Register("fail", func(ctx context.Context, u *url.URL, _ sink.Config) (pipeline.Sink, error) {
		p, _ := u.User.Password()
		return nil, errors.New("refused " + p + " " + u.Query().Get("token"))
	})
	for _, raw := range []string{"fail://user:s3cret@host/x", "nope://user:s3cret@host/x", "fail://user:s3cret@host:badport/x",
		"fail://user:s3cr%et@host/", "fail://host/x?token=s3cret", "stdout://user:s3cret@host/",
		"kafka://user:s3cret@host/?sasl=plain&partitions=0", "kafka://host/?sasl=plain&sasl-user=u&sasl-password=s3cret&nope=1"} {
		_, err := sink.Open(ctx, r, raw, sink.Config{})
		if err == nil {
			t.Fatalf("Open(%s) succeeded", raw)
		}
		if strings.Contains(err.Error(), "s3cr") {
			t.Errorf("error leaks the secret: %v", err)
		}
		if strings.Count(err.Error(), "sink") != 1 {
			t.Errorf("error should say sink once: %v", err)
		}
	}
}
