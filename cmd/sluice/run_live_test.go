package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/server"
	"github.com/sluice-cdc/sluice/sinks"
	"github.com/sluice-cdc/sluice/source"
	"github.com/sluice-cdc/sluice/source/mysql"
)

// TestRunThreePipelines is issue 17's acceptance test of sluice run: three
// pipelines against real servers (MariaDB → file, PostgreSQL → file,
// MariaDB → stdout with a mask and an exclude) all deliver; /metrics moves
// with the workload; stopping PostgreSQL fails only its pipeline, which
// recovers when the server returns; a SIGHUP after an edit removes one
// pipeline and adds another without touching the third; an incremental
// snapshot asked for through the API reaches the pipelines.
func TestRunThreePipelines(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MariaDB and PostgreSQL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	maria := testenv.NewMariaDB(t, testenv.MariaDBOptions{})
	pg := testenv.NewPostgres(t, testenv.PostgresOptions{})
	if err := maria.Exec(ctx,
		`CREATE DATABASE shop`,
		`CREATE TABLE shop.orders (id int PRIMARY KEY, email varchar(50), note varchar(50))`,
		`CREATE TABLE shop.secrets (id int PRIMARY KEY, v varchar(20))`,
	); err != nil {
		t.Fatal(err)
	}
	// The signalling table of incremental snapshots, and the replication
	// user's INSERT on it (for the watermarks; the API's request too).
	pool, err := maria.DB()
	if err != nil {
		t.Fatal(err)
	}
	if err := mysql.CreateSignalTable(ctx, pool, change.Namespace{Database: "sluice", Table: "signal"}); err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		if err := maria.Exec(ctx, fmt.Sprintf("GRANT INSERT ON sluice.signal TO '%s'@'%s'", testenv.MariaDBReplUser, host)); err != nil {
			t.Fatal(err)
		}
	}
	if err := pg.Exec(ctx, "postgres",
		`CREATE TABLE items (id int PRIMARY KEY, name text)`,
		`CREATE PUBLICATION run_pub FOR ALL TABLES`,
		`SELECT pg_create_logical_replication_slot('run_slot', 'pgoutput')`,
	); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Setenv("SLUICE_TEST_API_TOKEN", "api-t0ken-secret")
	t.Setenv("SLUICE_TEST_REPL_PASSWORD", testenv.MariaDBReplPassword)
	mysqlURL := func(id int) string {
		return fmt.Sprintf("mysql://%s:${SLUICE_TEST_REPL_PASSWORD}@%s/?server-id=%d", testenv.MariaDBReplUser, maria.Addr(), id)
	}
	// The PostgreSQL source gives up after one failed reconnect, so the
	// supervisor sees the failure and retries the pipeline itself.
	pgURL := pg.DSN("postgres") + "&slot=run_slot&publication=run_pub&max-retries=1&retry-min=100ms&retry-max=200ms"
	pipelines := map[string]string{
		"shop": `  shop:
    source: ` + mysqlURL(4301) + `
    to: file://` + dir + `/shop.jsonl
    from: earliest
    retry-min: 100ms
    retry-max: 1s
`,
		"billing": `  billing:
    source: '` + pgURL + `'
    to: file://` + dir + `/billing.jsonl
    retry-min: 200ms
    retry-max: 1s
`,
		"masked": `  masked:
    source: ` + mysqlURL(4302) + `
    to: stdout://
    from: earliest
    exclude: 'shop\.secrets'
    mask: 'shop\.orders:email'
    mask-with: '[hidden]'
`,
		"shop2": `  shop2:
    source: ` + mysqlURL(4303) + `
    to: file://` + dir + `/shop2.jsonl
    from: earliest
`,
	}
	head := "http:\n  listen: 127.0.0.1:0\n  token: ${SLUICE_TEST_API_TOKEN}\nlog:\n  format: json\n  level: debug\npipelines:\n"
	path := writeConfig(t, dir, head+pipelines["shop"]+pipelines["billing"]+pipelines["masked"])

	addr := make(chan string, 1)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	type result struct {
		stdout, stderr *testenv.Logs
		code           int
	}
	done := make(chan result, 1)
	stdout, stderr := &testenv.Logs{}, &testenv.Logs{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sluice run's log:\n%s", stderr)
		}
	})
	go func() {
		e := &env{Stdin: strings.NewReader(""), Stdout: stdout, Stderr: stderr}
		err := runWith(runCtx, e, []string{path}, source.Default(), sinks.BuiltinTo(stdout), func(a string) { addr <- a })
		done <- result{stdout, stderr, exitCode(e, err)}
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case r := <-done:
		t.Fatalf("run ended: exit %d\n%s", r.code, r.stderr)
	}
	apiBody := func(method, p, body string) (int, []byte) {
		req, _ := http.NewRequestWithContext(ctx, method, base+p, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer api-t0ken-secret")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	api := func(method, p string) (int, []byte) { return apiBody(method, p, "") }
	status := func(name string) server.PipelineView {
		var v server.PipelineView
		if code, b := api("GET", "/api/pipelines/"+name); code == 200 {
			json.Unmarshal(b, &v)
		}
		return v
	}
	count := func(file, what string) int {
		b, _ := os.ReadFile(filepath.Join(dir, file))
		return bytes.Count(b, []byte(what))
	}
	// billing begins with a snapshot (the default): rows inserted while it
	// runs arrive as reads or as inserts, each once.
	rows := func(file string) int { return count(file, `"op":"insert"`) + count(file, `"op":"read"`) }
	insertOrders := func(from, to int) {
		t.Helper()
		var stmts []string
		for i := from; i < to; i++ {
			stmts = append(stmts, fmt.Sprintf(`INSERT INTO shop.orders VALUES (%d, 'user%d@example.com', 'n%d')`, i, i, i))
		}
		if err := maria.Exec(ctx, stmts...); err != nil {
			t.Fatal(err)
		}
	}
	insertItems := func(from, to int) error {
		var stmts []string
		for i := from; i < to; i++ {
			stmts = append(stmts, fmt.Sprintf(`INSERT INTO items VALUES (%d, 'item %d')`, i, i))
		}
		return pg.Exec(ctx, "postgres", stmts...)
	}
	results := func() result {
		select {
		case r := <-done:
			t.Fatalf("run ended early: exit %d\n%s", r.code, r.stderr)
		default:
		}
		return result{}
	}

	// 1. All three deliver; /metrics moves with the workload.
	insertOrders(0, 10)
	if err := maria.Exec(ctx, `INSERT INTO shop.secrets VALUES (1, 'nuclear codes')`); err != nil {
		t.Fatal(err)
	}
	if err := insertItems(0, 5); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the three pipelines to deliver", func() bool {
		results()
		return count("shop.jsonl", `"op":"insert"`) == 11 && rows("billing.jsonl") == 5 &&
			status("masked").Totals.Delivered >= 10
	})
	_, metrics1 := api("GET", "/metrics")
	insertOrders(10, 40)
	waitUntil(t, "the second batch", func() bool { return count("shop.jsonl", `"op":"insert"`) == 41 })
	waitUntil(t, "source lag to be measured", func() bool {
		_, m := api("GET", "/metrics")
		return bytes.Contains(m, []byte(`sluice_pipeline_source_lag_bytes{pipeline="shop",source="mysql"}`)) &&
			bytes.Contains(m, []byte(`sluice_pipeline_source_retained_bytes{pipeline="billing",source="postgres"}`))
	})
	_, metrics2 := api("GET", "/metrics")
	for _, series := range []string{
		`sluice_pipeline_changes_total{op="insert",pipeline="shop",table="shop.orders"}`,
		`sluice_pipeline_changes_total{op="insert",pipeline="masked",table="shop.orders"}`,
		`sluice_pipeline_delivery_lag_seconds_count{pipeline="shop"}`,
		`sluice_pipeline_batches_total{pipeline="shop"}`,
	} {
		v1, v2 := metricValue(metrics1, series), metricValue(metrics2, series)
		if !(v2 > v1) {
			t.Errorf("%s did not move with the workload: %v then %v", series, v1, v2)
		}
	}
	for _, series := range []string{`sluice_pipeline_queue_bytes{pipeline="shop"}`, `sluice_pipeline_checkpoint_age_seconds{pipeline="billing"}`,
		`sluice_pipeline_snapshot_tables_done{pipeline="billing"} 1`, `sluice_pipeline_snapshot_running{pipeline="billing"} 0`,
		`sluice_pipeline_state{pipeline="billing",state="running"} 1`} {
		if !bytes.Contains(metrics2, []byte(series)) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
	if bytes.Contains(metrics2, []byte(`pipeline="masked",table="shop.secrets"`)) {
		t.Error("the excluded table was delivered by masked")
	}
	// The scrape of a live run passes promtool (CI installs it).
	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(metrics2)
		if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("promtool check metrics on the live scrape: %v\n%s", err, out)
		}
	} else if os.Getenv("CI") != "" {
		t.Error("promtool not installed (scripts/deps.sh installs Debian's prometheus)")
	}

	// 2. PostgreSQL goes away: only billing fails, and it recovers.
	// (SIGKILL: a clean stop would wait for the replication connection.)
	pg.Kill()
	waitUntil(t, "billing to fail", func() bool {
		v := status("billing")
		return v.State == "retrying" && v.LastError != nil
	})
	insertOrders(40, 50)
	waitUntil(t, "shop and masked to go on", func() bool {
		return count("shop.jsonl", `"op":"insert"`) == 51 && status("masked").Totals.Delivered >= 50
	})
	for _, n := range []string{"shop", "masked"} {
		if v := status(n); v.State != "running" || v.LastError != nil {
			t.Errorf("%s while PostgreSQL is down: %s, last error %+v", n, v.State, v.LastError)
		}
	}
	if code, _ := api("GET", "/readyz"); code != 503 {
		t.Errorf("readyz with billing retrying: %d", code)
	}
	if err := pg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := insertItems(5, 10); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "billing to recover", func() bool {
		return rows("billing.jsonl") >= 10 && status("billing").State == "running"
	})
	if n := rows("billing.jsonl"); n != 10 {
		b, _ := os.ReadFile(filepath.Join(dir, "billing.jsonl"))
		t.Errorf("billing delivered %d rows, want 10 (each once):\n%s", n, b)
	}

	// 3. SIGHUP after an edit: shop removed, shop2 added, masked and
	// billing untouched.
	maskedBefore := status("masked")
	os.WriteFile(path, []byte(head+pipelines["billing"]+pipelines["masked"]+pipelines["shop2"]), 0o600)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "shop2 to deliver and shop to go", func() bool {
		code, _ := api("GET", "/api/pipelines/shop")
		return code == 404 && count("shop2.jsonl", `"op":"insert"`) == 51
	})
	insertOrders(50, 55)
	waitUntil(t, "masked to deliver after the reload", func() bool { return status("masked").Totals.Delivered >= 55 })
	if m := status("masked"); !m.Since.Equal(maskedBefore.Since) || m.State != "running" {
		t.Errorf("masked was touched by the reload: since %s → %s, state %s", maskedBefore.Since, m.Since, m.State)
	}
	nShop := count("shop.jsonl", `"op":"insert"`)

	// 4. An incremental snapshot from the API: the request goes to the
	// database, so both pipelines that follow it read shop.orders again
	// (masked with its mask); a table masked's filter drops is refused.
	code, b := apiBody("POST", "/api/pipelines/shop2/snapshot", `{"tables":["shop.orders"]}`)
	var started server.SnapshotStarted
	if err := json.Unmarshal(b, &started); code != 202 || err != nil || started.Request == "" {
		t.Fatalf("snapshot: %d %s", code, b)
	}
	if code, b := apiBody("POST", "/api/pipelines/masked/snapshot", `{"tables":["shop.secrets"]}`); code != 400 {
		t.Errorf("snapshot of a table masked excludes: %d %s", code, b)
	}
	const incremental = `"snapshot":"incremental"`
	waitUntil(t, "the incremental snapshot", func() bool {
		results()
		return count("shop2.jsonl", incremental) == 55 && strings.Count(stdout.String(), incremental) == 55
	})

	stop()
	var r result
	select {
	case r = <-done:
	case <-time.After(time.Minute):
		t.Fatal("sluice run did not stop")
	}
	if r.code != 0 {
		t.Errorf("exit %d", r.code)
	}
	if nShop != 51 {
		t.Errorf("shop delivered %d after its removal", nShop-51)
	}
	// masked: orders only, email masked, in stdout.
	out := r.stdout.String()
	if n := strings.Count(out, `"op":"insert"`); n < 55 || strings.Contains(out, "nuclear codes") || strings.Contains(out, "@example.com") ||
		!strings.Contains(out, `[hidden]`) {
		t.Errorf("masked's output (%d inserts) leaks or lacks the mask:\n%.2000s", n, out)
	}
	logs := r.stderr.String()
	if strings.Contains(logs, testenv.MariaDBReplPassword) || strings.Contains(logs, "api-t0ken-secret") {
		t.Error("a secret reached the log")
	}
	if n := strings.Count(logs, `"msg":"pipeline running","pipeline":"masked"`); n != 1 {
		t.Errorf("masked started %d times, want once", n)
	}
	for _, want := range []string{`"msg":"pipeline failed, retrying","pipeline":"billing"`, `"msg":"config reloaded"`, `"msg":"pipeline removed","pipeline":"shop"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s", want)
		}
	}
}

// metricValue returns the value of a series in a Prometheus text scrape
// (-1 when absent).
func metricValue(scrape []byte, series string) float64 {
	for _, line := range strings.Split(string(scrape), "\n") {
		if strings.HasPrefix(line, series+" ") {
			v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, series)), 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}
