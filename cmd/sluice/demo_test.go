package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/sluice-cdc/sluice/change"
)

// TestDemo runs "sluice demo" for a few seconds against the real MariaDB it
// starts and checks that the workload's changes reached stdout as JSON lines.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a MariaDB")
	}
	var out, errOut bytes.Buffer
	e := &env{Stdin: bytes.NewReader(nil), Stdout: &out, Stderr: &errOut}
	code := run(context.Background(), e, []string{"demo", "--duration", "12s", "--rate", "20", "--begin-commit"})
	if code != exitOK {
		t.Fatalf("exit %d\nstderr:\n%s", code, errOut.String())
	}
	ops := map[change.Op]int{}
	for _, line := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
		c, err := change.DecodeJSON(line)
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if c.Op == change.OpInsert && (c.Database != "demo" || c.Table != "orders") {
			t.Errorf("insert into %s.%s, want demo.orders", c.Database, c.Table)
		}
		ops[c.Op]++
	}
	if ops[change.OpInsert] == 0 || ops[change.OpBegin] == 0 || ops[change.OpCommit] == 0 {
		t.Fatalf("want inserts with begin/commit, got %v\nstderr:\n%s", ops, errOut.String())
	}
	if ops[change.OpDDL] == 0 {
		t.Errorf("want the CREATE TABLE as a ddl change (stream from earliest), got %v", ops)
	}
}
