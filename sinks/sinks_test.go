package sinks

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/sink"
)

// TestCheckEverySink: every sink Register adds has a check.
func TestCheckEverySink(t *testing.T) {
	for _, scheme := range BuiltinTo(io.Discard).Schemes() {
		if _, ok := checkers[scheme]; !ok {
			t.Errorf("sink %s has no check in checkers", scheme)
		}
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.jsonl")
	r := BuiltinTo(io.Discard)
	cases := []struct {
		url, format, err string
	}{
		{"stdout://", "", ""},
		{"stdout://", "sluice", ""},
		{"stdout://?x=1", "", "takes no host, path or parameters"},
		{"stdout://", "nope", "nope"},
		{"file://" + path, "", ""},
		{"file://" + path + "?mode=x", "", "no parameters"},
		{"kafka://k1:9092/?topic=t", "", ""},
		{"kafka://k1:9092/?topic=t&colour=red", "", "colour"},
		{"kafka://u:s3cret@k1:9092/?topic=t&colour=red", "", "***"},
		{"redis://r:6379/?mode=hash", "", ""},
		{"rediss://r:6379/?mode=list", "", "mode"},
		{"redis://u:s3cret@r:6379/?colour=red", "", "***"},
		{"nats://n:4222/?stream=CDC&subject=cdc", "", ""},
		{"nats://n:4222/orders", "", "subject"},
		{"https://hook.example/cdc?body=array", "", ""},
		{"http://hook.example/cdc?secret=a&secret-file=/b", "", "do not go together"},
		{"https://hook.example/cdc", "nope", "nope"},
		{"nats2://x", "", "unknown"},
	}
	for _, c := range cases {
		err := Check(r, c.url, sink.Config{Format: c.format})
		switch {
		case c.err == "" && err != nil:
			t.Errorf("Check(%s, %q) = %v", c.url, c.format, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("Check(%s, %q) = %v, want %q", c.url, c.format, err, c.err)
		case err != nil && strings.Contains(err.Error(), "s3cret"):
			t.Errorf("Check shows a password: %v", err)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("Check created %s", path)
	}
}
