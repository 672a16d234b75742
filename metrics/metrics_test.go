package metrics

import (
	"bytes"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sluice-cdc/sluice/change"
)

func rows(n int, op change.Op, db, table string, commit time.Time) []change.Change {
	out := make([]change.Change, n)
	for i := range out {
		out[i] = change.Change{Op: op, Namespace: change.Namespace{Database: db, Table: table}, CommitTime: commit}
	}
	return out
}

// scrape returns the text exposition of s.
func scrape(t *testing.T, s *Set) string {
	t.Helper()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d", rec.Code)
	}
	return rec.Body.String()
}

func TestPipelineMetrics(t *testing.T) {
	s := New()
	p := s.Pipeline("orders", "mysql")
	commit := time.Now().Add(-2 * time.Second)
	batch := append(rows(3, change.OpInsert, "shop", "orders", commit), rows(2, change.OpUpdate, "shop", "orders", commit)...)
	batch = append(batch, rows(1, change.OpInsert, "shop", "users", commit.Add(time.Second))...)
	p.DeliveredChanges(batch)
	p.Delivered(8, len(batch), 1234, 2*time.Second)
	p.Checkpointed(change.Position{})
	p.Failed(StageSink)
	p.Retried()
	p.Reconnected(1)
	p.SetQueue(func() int64 { return 4096 })
	p.SetState("running")
	p.SetSourceLag(&SourceLag{Bytes: 100, Seconds: -1, Retained: -1})
	p.SetSnapshot(&SnapshotProgress{TablesDone: 1, Tables: 3, Rows: 1500, Estimated: 4000})
	text := scrape(t, s)
	for _, want := range []string{
		`sluice_pipeline_changes_total{op="insert",pipeline="orders",table="shop.orders"} 3`,
		`sluice_pipeline_changes_total{op="update",pipeline="orders",table="shop.orders"} 2`,
		`sluice_pipeline_changes_total{op="insert",pipeline="orders",table="shop.users"} 1`,
		`sluice_pipeline_read_changes_total{pipeline="orders"} 8`,
		`sluice_pipeline_delivered_bytes_total{pipeline="orders"} 1234`,
		`sluice_pipeline_batches_total{pipeline="orders"} 1`,
		`sluice_pipeline_checkpoints_total{pipeline="orders"} 1`,
		`sluice_pipeline_queue_bytes{pipeline="orders"} 4096`,
		`sluice_pipeline_errors_total{pipeline="orders",stage="sink"} 1`,
		`sluice_pipeline_retries_total{pipeline="orders"} 1`,
		`sluice_pipeline_source_reconnects_total{pipeline="orders"} 1`,
		`sluice_pipeline_source_lag_bytes{pipeline="orders",source="mysql"} 100`,
		`sluice_pipeline_state{pipeline="orders",state="running"} 1`,
		`sluice_pipeline_state{pipeline="orders",state="paused"} 0`,
		`sluice_pipeline_delivery_lag_seconds_count{pipeline="orders"} 2`,
		`sluice_pipeline_delivery_lag_seconds_bucket{pipeline="orders",le="1"} 0`,
		`sluice_pipeline_delivery_lag_seconds_bucket{pipeline="orders",le="2.5"} 2`,
		`sluice_pipeline_checkpoint_age_seconds{pipeline="orders"} `,
		`sluice_pipeline_snapshot_rows{pipeline="orders"} 1500`,
		`sluice_pipeline_snapshot_estimated_rows{pipeline="orders"} 4000`,
		`sluice_pipeline_snapshot_tables_done{pipeline="orders"} 1`,
		`sluice_pipeline_snapshot_tables{pipeline="orders"} 3`,
		`sluice_pipeline_snapshot_running{pipeline="orders"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if strings.Contains(text, "sluice_pipeline_source_lag_seconds{") || strings.Contains(text, "sluice_pipeline_source_retained_bytes{") {
		t.Error("unknown source lag fields are exported")
	}
	s.Remove("orders")
	if text := scrape(t, s); strings.Contains(text, `pipeline="orders"`) {
		t.Errorf("removed pipeline still exported:\n%s", grepLines(text, `pipeline="orders"`))
	}
}

// TestLint runs the client library's linter and, where installed,
// promtool check metrics on a scrape.
func TestLint(t *testing.T) {
	s := New()
	for _, name := range []string{"a", "b"} {
		p := s.Pipeline(name, "postgres")
		p.DeliveredChanges(rows(2, change.OpDelete, "public", "t", time.Now()))
		p.Delivered(2, 2, 10, time.Millisecond)
		p.Checkpointed(change.Position{})
		p.SetSourceLag(&SourceLag{Bytes: 1, Seconds: -1, Retained: 5})
		p.SetOwnership(&Ownership{Owner: "sluice-2", Owned: name == "a", Expires: time.Now().Add(time.Second)})
		p.TookOver()
	}
	s.SetInstances(2)
	text := scrape(t, s)
	// client_golang's own parser reads it…
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("expfmt cannot parse the scrape: %v\n%s", err, text)
	}
	if len(families) < len(Families) {
		t.Errorf("parsed %d families, want at least %d", len(families), len(Families))
	}
	// …and its linter finds nothing.
	problems, err := promlint.New(strings.NewReader(text)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool not installed (scripts/deps.sh installs Debian's prometheus)")
		}
		t.Skip("promtool not installed")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestDocumented checks docs/metrics.md against what the package exports.
func TestDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(sluice_[a-z_]+)`").FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	s := New()
	p := s.Pipeline("x", "mysql")
	p.DeliveredChanges(rows(1, change.OpInsert, "d", "t", time.Now()))
	p.Delivered(1, 1, 1, 0)
	p.Checkpointed(change.Position{})
	p.SetSourceLag(&SourceLag{})
	p.SetSnapshot(&SnapshotProgress{TablesDone: 1, Tables: 2, Rows: 10, Estimated: 20})
	p.SetOwnership(&Ownership{Owner: "a", Owned: true, Expires: time.Now()})
	s.SetInstances(3)
	var exported []string
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (sluice_[a-z_]+) `).FindAllStringSubmatch(scrape(t, s), -1) {
		exported = append(exported, m[1])
		if !documented[m[1]] {
			t.Errorf("%s is not in docs/metrics.md", m[1])
		}
	}
	for name := range documented {
		if !slices.Contains(exported, name) {
			t.Errorf("docs/metrics.md lists %s, which is not exported", name)
		}
	}
}

func TestTailDropsSlowWatcher(t *testing.T) {
	var tail Tail
	fast, slow := tail.Watch(4), tail.Watch(1)
	done := make(chan int)
	go func() {
		n := 0
		for range fast.C {
			n++
		}
		done <- n
	}()
	batch := rows(2, change.OpInsert, "d", "t", time.Time{})
	for range 3 {
		tail.publish(batch)
		time.Sleep(10 * time.Millisecond) // the fast watcher keeps up
	}
	if !slow.Dropped() || fast.Dropped() {
		t.Fatalf("slow dropped %v, fast dropped %v", slow.Dropped(), fast.Dropped())
	}
	msg := <-slow.C // the one message it had room for
	if got := strings.Count(string(msg), "\n"); got != 2 {
		t.Errorf("message has %d lines, want 2: %s", got, msg)
	}
	if _, open := <-slow.C; open {
		t.Error("dropped watcher's channel is open")
	}
	fast.Close()
	if n := <-done; n != 3 {
		t.Errorf("fast watcher got %d messages, want 3", n)
	}
	if tail.Watchers() != 0 {
		t.Errorf("%d watchers left", tail.Watchers())
	}
}

// BenchmarkDeliveredChanges is the cost per change of the metrics on the
// delivery path, without watchers: batches of 256 changes over 4 tables.
func BenchmarkDeliveredChanges(b *testing.B) {
	s := New()
	p := s.Pipeline("bench", "mysql")
	now := time.Now()
	var batch []change.Change
	for i := range 256 {
		c := rows(1, change.OpInsert, "shop", []string{"orders", "orders", "users", "audit"}[i%4], now.Add(time.Duration(i/8)*time.Millisecond))
		batch = append(batch, c...)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(batch) {
		p.DeliveredChanges(batch)
		p.Delivered(len(batch), len(batch), 1000, 0)
	}
}

func grepLines(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
