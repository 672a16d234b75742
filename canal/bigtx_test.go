package canal

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/procstat"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestBigTransactionMemory passes one transaction of 1 GB of row data
// (a million rows of 1 KB; 64 MB under -short) from MariaDB through
// "sluice canal serve", run as its own process, to a canal-go client, and
// checks that every row arrives in order, inside one BEGIN/END (the
// client, testdata/bigdrain, is built without the race detector), and that
// the server's peak RSS stayed under 64 MB.
func TestBigTransactionMemory(t *testing.T) {
	rows, width := 1_000_000, 1000
	if testing.Short() {
		rows = 64_000
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	bin := buildSluice(t)
	drain := filepath.Join(t.TempDir(), "bigdrain")
	if out, err := exec.Command("go", "build", "-o", drain, "./testdata/bigdrain").CombinedOutput(); err != nil {
		t.Fatalf("go build ./testdata/bigdrain: %v\n%s", err, out)
	}
	// A server of its own: the shared one's binlog stays small for the
	// tests that read it from the start.
	maria := testenv.NewMariaDB(t, testenv.MariaDBOptions{ExtraConfig: []string{"max_binlog_cache_size=16G"}})
	if err := maria.Exec(ctx, "CREATE DATABASE cbig", "CREATE DATABASE IF NOT EXISTS seq", "CREATE TABLE cbig.t (id int PRIMARY KEY, pad varchar(2000) NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if err := maria.Exec(ctx, fmt.Sprintf("INSERT INTO cbig.t SELECT seq, REPEAT(CHAR(65 + seq %% 26), %d) FROM seq.seq_1_to_%d", width, rows)); err != nil {
		t.Fatal(err)
	}
	t.Logf("MariaDB committed %d rows of %d bytes in one transaction in %v", rows, width, time.Since(began).Round(time.Millisecond))
	port := freePort(t)
	var logs bytes.Buffer
	cmd := exec.Command(bin, "canal", "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port),
		"--destination", "example="+fmt.Sprintf("mariadb://%s:%s@%s/?server-id=7101&from=earliest", testenv.MariaDBReplUser, testenv.MariaDBReplPassword, maria.Addr()), "--filter", `example=cbig\..*`,
		"--state", filepath.Join(t.TempDir(), "state.db"))
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	began = time.Now()
	client := exec.Command(drain, strconv.Itoa(port), strconv.Itoa(rows), strconv.Itoa(width))
	out, err := client.CombinedOutput()
	if err != nil || !bytes.HasPrefix(out, []byte(fmt.Sprintf("ok %d %d", rows, rows*width))) {
		t.Fatalf("canal-go client: %v: %s\nserver log:\n%s", err, out, tail(logs.String(), 3000))
	}
	elapsed := time.Since(began)
	// The server's own peak, read while it runs: wait4's Maxrss would
	// count this test process's peak too (see package procstat).
	peak, err := procstat.PeakRSS(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("server: %v\n%s", err, tail(logs.String(), 3000))
	}
	t.Logf("%d rows (%d MB of values) in one transaction passed in %v; server peak RSS %.1f MB, CPU %v",
		rows, rows*width>>20, elapsed.Round(time.Millisecond), float64(peak)/(1<<20), cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
	if peak >= 64<<20 {
		t.Errorf("server peak RSS %.1f MB, want under 64 MB", float64(peak)/(1<<20))
	}
}
