package sink

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/change"
)

type nopSink struct{ u string }

func (nopSink) Write(context.Context, []change.Change) error { return nil }
func (nopSink) Close() error                                 { return nil }

func TestRegistry(t *testing.T) {
	ctx := context.Background()
	r := Builtin()
	if got := r.Schemes(); !reflect.DeepEqual(got, []string{"file", "stdout"}) {
		t.Fatalf("Builtin schemes %v", got)
	}
	s, err := r.Open(ctx, "file://"+filepath.Join(t.TempDir(), "x.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := r.Open(ctx, "kafka://b1:9092/topic"); !errors.Is(err, ErrUnknownScheme) {
		t.Errorf("unknown scheme: %v", err)
	}
	opened := ""
	if err := r.Register("HTTPS", func(ctx context.Context, u *url.URL) (Sink, error) {
		opened = u.Host
		return nopSink{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := r.Register("https", func(ctx context.Context, u *url.URL) (Sink, error) { return nil, nil }); err == nil {
		t.Error("duplicate Register succeeded")
	}
	if _, err := r.Open(ctx, "https://hook.example/x"); err != nil || opened != "hook.example" {
		t.Errorf("custom scheme: %v, host %q", err, opened)
	}
	// Errors never show passwords.
	r.Register("fail", func(ctx context.Context, u *url.URL) (Sink, error) { return nil, errors.New("refused") })
	for _, raw := range []string{"fail://user:s3cret@host/x", "nope://user:s3cret@host/x", "fail://user:s3cret@host:badport/x", "fail://user:s3cr%et@host/"} {
		_, err := r.Open(ctx, raw)
		if err == nil {
			t.Fatalf("Open(%s) succeeded", raw)
		}
		if strings.Contains(err.Error(), "s3cr") {
			t.Errorf("error leaks the password: %v", err)
		}
	}
}
