package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStreamTransforms runs "sluice stream" with --mask, --hash (key from
// a file) and --rename and checks the JSON lines it writes.
func TestStreamTransforms(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte("s3cr3t-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, logs, err := runStreamTest(context.Background(), t, &tickSource{txs: 2, started: make(chan struct{})},
		"fixture://db/", "--state", filepath.Join(dir, "s.db"),
		"--mask", `shop\.audit:secret`, "--mask-with", "[x]",
		"--hash", `shop\.orders:secret/id`, "--hash-key-file", keyFile,
		"--rename", `shop\.audit=logs.audit`)
	if err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	mac := func(s string) string {
		m := hmac.New(sha256.New, []byte("s3cr3t-key"))
		m.Write([]byte(s))
		return hex.EncodeToString(m.Sum(nil))
	}
	cs := decodeLines(t, out)
	if len(cs) != 4 {
		t.Fatalf("%d changes:\n%s", len(cs), out)
	}
	for i, c := range cs {
		switch c.Table {
		case "orders":
			id := map[int]string{0: "0", 2: "2"}[i]
			if c.Database != "shop" || string(c.After[0].B) != mac(id) || string(c.After[1].B) != mac("s") {
				t.Errorf("orders change %d: %s.%s %q %q", i, c.Database, c.Table, c.After[0].B, c.After[1].B)
			}
		case "audit":
			if c.Database != "logs" || string(c.After[1].B) != "[x]" || c.After[0].I != int64(i) {
				t.Errorf("audit change %d: %s.%s %+v", i, c.Database, c.Table, c.After)
			}
		default:
			t.Errorf("change %d in %s.%s", i, c.Database, c.Table)
		}
	}
	if strings.Contains(out+logs, "s3cr3t-key") {
		t.Error("the hash key is shown")
	}
	// A --hash without a key is a usage error.
	t.Setenv("SLUICE_HASH_KEY", "")
	_, _, err = runStreamTest(context.Background(), t, &tickSource{txs: 1, started: make(chan struct{})},
		"fixture://db/", "--state", filepath.Join(dir, "s2.db"), "--hash", `shop\.orders:secret`)
	if _, ok := err.(*usageError); !ok || !strings.Contains(err.Error(), "SLUICE_HASH_KEY") {
		t.Errorf("--hash without a key: %v", err)
	}
}
