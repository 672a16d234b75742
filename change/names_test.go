package change

import "testing"

func TestOpNames(t *testing.T) {
	want := map[Op]string{
		OpInsert: "insert", OpUpdate: "update", OpDelete: "delete", OpTruncate: "truncate",
		OpDDL: "ddl", OpBegin: "begin", OpCommit: "commit", OpHeartbeat: "heartbeat",
		OpStatement: "statement", OpRead: "read", 0: "op(0)", 11: "op(11)", 200: "op(200)",
	}
	for op, name := range want {
		if got := op.String(); got != name {
			t.Errorf("Op(%d).String() = %q, want %q", op, got, name)
		}
		if got := string(appendOp(nil, op)); got != name {
			t.Errorf("appendOp(%d) = %q, want %q", op, got, name)
		}
		back, err := ParseOp(name)
		if err != nil || back != op {
			t.Errorf("ParseOp(%q) = %d, %v; want %d", name, back, err, op)
		}
	}
	for _, bad := range []string{"", "INSERT", "op(256)", "op(01)", "op(1", "upsert"} {
		if _, err := ParseOp(bad); err == nil {
			t.Errorf("ParseOp(%q) succeeded", bad)
		}
	}
}

func TestKindNames(t *testing.T) {
	seen := map[string]bool{}
	for k := Kind(0); k < kindCount; k++ {
		name := k.String()
		if name == "" || seen[name] {
			t.Fatalf("kind %d has empty or repeated name %q", k, name)
		}
		seen[name] = true
		if back, err := ParseKind(name); err != nil || back != k {
			t.Errorf("ParseKind(%q) = %d, %v; want %d", name, back, err, k)
		}
		if string(appendKind(nil, k)) != name {
			t.Errorf("appendKind(%d) differs from String", k)
		}
	}
	if got := Kind(99).String(); got != "kind(99)" {
		t.Errorf("Kind(99).String() = %q", got)
	}
	if back, err := ParseKind("kind(99)"); err != nil || back != 99 {
		t.Errorf("ParseKind(kind(99)) = %d, %v", back, err)
	}
	for _, bad := range []string{"", "Int", "kind()", "kind(-1)"} {
		if _, err := ParseKind(bad); err == nil {
			t.Errorf("ParseKind(%q) succeeded", bad)
		}
	}
}

func TestSnapshotMarkNames(t *testing.T) {
	want := map[SnapshotMark]string{
		SnapshotNone: "", SnapshotFirst: "first", SnapshotOn: "true", SnapshotLast: "last",
		SnapshotIncremental: "incremental", 5: "snapshot(5)", 255: "snapshot(255)",
	}
	for m, name := range want {
		if got := m.String(); got != name {
			t.Errorf("SnapshotMark(%d).String() = %q, want %q", m, got, name)
		}
		back, err := ParseSnapshotMark(name)
		if err != nil || back != m {
			t.Errorf("ParseSnapshotMark(%q) = %d, %v; want %d", name, back, err, m)
		}
	}
	for _, bad := range []string{"false", "TRUE", "snapshot(256)", "snapshot(05)"} {
		if _, err := ParseSnapshotMark(bad); err == nil {
			t.Errorf("ParseSnapshotMark(%q) succeeded", bad)
		}
	}
}
