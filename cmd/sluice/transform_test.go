package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/fixture"
)

// TestStreamTransforms runs "sluice stream" with --mask, --hash (key from
// a file) and --rename and checks the JSON lines it writes.
func TestStreamTransforms(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte("s3cr3t-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const source = "fixture://db/?txs=2&rows=2"
	out, logs, err := runStreamTest(context.Background(), t, nil,
		source, "--state", filepath.Join(dir, "s.db"),
		"--mask", `shop\.audit:name`, "--mask-with", "[x]",
		"--hash", `shop\.orders:name/id`, "--hash-key-file", keyFile,
		"--rename", `shop\.audit=logs.audit`)
	if err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	mac := func(s string) string {
		m := hmac.New(sha256.New, []byte("s3cr3t-key"))
		m.Write([]byte(s))
		return hex.EncodeToString(m.Sum(nil))
	}
	// What the source emitted, untransformed.
	u, _ := url.Parse(source)
	src, err := fixture.Open(u)
	if err != nil {
		t.Fatal(err)
	}
	var rows []change.Change
	for c := range src.After(change.Position{}) {
		if c.Op == change.OpInsert {
			rows = append(rows, c)
		}
	}
	cs := decodeLines(t, out)
	if len(cs) != len(rows) {
		t.Fatalf("%d changes, want %d:\n%s", len(cs), len(rows), out)
	}
	seen := map[string]bool{}
	for i, c := range cs {
		w := rows[i]
		seen[w.Table] = true
		id, name, total := w.After[fixture.ColID].I, string(w.After[fixture.ColName].B), string(w.After[fixture.ColTotal].B)
		if string(c.After[fixture.ColTotal].B) != total {
			t.Errorf("change %d: total %q, want it untouched: %q", i, c.After[fixture.ColTotal].B, total)
		}
		switch w.Table {
		case "orders":
			if c.Database != "shop" || c.Table != "orders" || string(c.After[fixture.ColID].B) != mac(strconv.FormatInt(id, 10)) || string(c.After[fixture.ColName].B) != mac(name) {
				t.Errorf("orders change %d: %s.%s %q %q", i, c.Database, c.Table, c.After[fixture.ColID].B, c.After[fixture.ColName].B)
			}
		case "audit":
			if c.Database != "logs" || c.Table != "audit" || string(c.After[fixture.ColName].B) != "[x]" || c.After[fixture.ColID].I != id {
				t.Errorf("audit change %d: %s.%s %+v", i, c.Database, c.Table, c.After)
			}
		default:
			t.Errorf("change %d in %s.%s", i, w.Database, w.Table)
		}
	}
	if !seen["orders"] || !seen["audit"] {
		t.Errorf("the source's rows were not of both tables: %v", seen)
	}
	if strings.Contains(out+logs, "s3cr3t-key") {
		t.Error("the hash key is shown")
	}
	// A --hash without a key is a usage error.
	t.Setenv("SLUICE_HASH_KEY", "")
	_, _, err = runStreamTest(context.Background(), t, nil,
		source, "--state", filepath.Join(dir, "s2.db"), "--hash", `shop\.orders:name`)
	if _, ok := err.(*usageError); !ok || !strings.Contains(err.Error(), "SLUICE_HASH_KEY") {
		t.Errorf("--hash without a key: %v", err)
	}
}
