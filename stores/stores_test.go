package stores

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
)

func TestOpenFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := change.Position{Flavor: change.FlavorLSN, Offset: 42}
	// A bare path and file:// name the same bbolt file.
	for _, raw := range []string{filepath.Join(dir, "a.db"), "file://" + filepath.Join(dir, "a.db") + "?lock-timeout=1s"} {
		s, err := Open(ctx, raw, checkpoint.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Save(ctx, "x", p); err != nil {
			t.Fatal(err)
		}
		if _, ok := s.(*checkpoint.Bolt); !ok {
			t.Errorf("%s opened a %T, want *checkpoint.Bolt", raw, s)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// A relative path is relative to the working directory.
	wd, _ := os.Getwd()
	t.Cleanup(func() { os.Chdir(wd) })
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, "./a.db", checkpoint.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.Load(ctx, "x"); err != nil || got != p {
		t.Fatalf("Load through a relative path = %+v, %v", got, err)
	}
}

func TestOpenMemory(t *testing.T) {
	s, err := Open(context.Background(), "memory://", checkpoint.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(checkpoint.Fencer); !ok {
		t.Fatal("memory:// does not fence")
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for raw, want := range map[string]error{
		"etcdd://h/x":                     address.ErrUnknownScheme,
		"memory://?x=1":                   checkpoint.ErrBadURL,
		"etcd://u:s3cret@h:1/x?bogus=1":   checkpoint.ErrBadURL,
		"zk://u:s3cret@h:1/x?bogus=1":     checkpoint.ErrBadURL,
		"mysql://u:s3cret@h:1/?x=1":       checkpoint.ErrBadURL,
		"postgres://u:s3cret@h:1/?table=": checkpoint.ErrBadURL,
		"redis://:s3cret@h:1/0?key=":      checkpoint.ErrBadURL,
	} {
		_, err := Open(ctx, raw, checkpoint.Config{})
		if err == nil {
			t.Errorf("Open(%s) succeeded", raw)
			continue
		}
		if want != nil && !errors.Is(err, want) {
			t.Errorf("Open(%s) = %v, want %v", raw, err, want)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%s) shows the password: %v", raw, err)
		}
		if !strings.HasPrefix(err.Error(), "checkpoint store ") {
			t.Errorf("Open(%s) = %q, want it to name the store", raw, err)
		}
	}
}
