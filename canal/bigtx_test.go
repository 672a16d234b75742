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

	canalclient "github.com/withlin/canal-go/client"
	pbe "github.com/withlin/canal-go/protocol/entry"
	"google.golang.org/protobuf/proto"
)

// TestBigTransactionMemory passes one transaction of 1 GB of row data
// (a million rows of 1 KB; 64 MB under -short) from MariaDB through
// "sluice canal serve", run as its own process, to a canal-go client, and
// checks that every row arrives in order, inside one BEGIN/END, and that
// the server's peak RSS stayed under 64 MB.
func TestBigTransactionMemory(t *testing.T) {
	rows, width := 1_000_000, 1000
	if testing.Short() {
		rows = 64_000
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	bin := buildSluice(t)
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
		"--destination", "example="+mariaURL(7101), "--filter", `example=cbig\..*`,
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
	var c *canalclient.SimpleCanalConnector
	for deadline := time.Now().Add(30 * time.Second); ; {
		c = canalclient.NewSimpleCanalConnector("127.0.0.1", port, "", "", "example", 60000, 60*60*1000)
		if err := c.Connect(); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("connect: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := c.Subscribe(""); err != nil {
		t.Fatal(err)
	}
	began = time.Now()
	next, inTx, ended := 1, false, false
	var bytesIn int64
	rc := &pbe.RowChange{}
	for !ended {
		if ctx.Err() != nil {
			t.Fatalf("timed out at row %d", next)
		}
		wait, unit := int64(1000), int32(2)
		msg, err := c.GetWithOutAck(1000, &wait, &unit)
		if err != nil {
			t.Fatalf("get: %v\n%s", err, logs.String())
		}
		for i := range msg.Entries {
			e := &msg.Entries[i]
			switch e.GetEntryType() {
			case pbe.EntryType_TRANSACTIONBEGIN:
				inTx = next == 1
			case pbe.EntryType_TRANSACTIONEND:
				ended = inTx && next == rows+1
			case pbe.EntryType_ROWDATA:
				if err := proto.Unmarshal(e.GetStoreValue(), rc); err != nil {
					t.Fatal(err)
				}
				if rc.GetIsDdl() {
					continue
				}
				cols := rc.GetRowDatas()[0].GetAfterColumns()
				if !inTx || cols[0].GetValue() != strconv.Itoa(next) || len(cols[1].GetValue()) != width ||
					cols[1].GetValue()[0] != byte(65+next%26) {
					t.Fatalf("row %d: in transaction %v, id %s, %d bytes", next, inTx, cols[0].GetValue(), len(cols[1].GetValue()))
				}
				bytesIn += int64(width)
				next++
			}
		}
		if msg.Id > 0 {
			c.Ack(msg.Id)
		}
	}
	elapsed := time.Since(began)
	c.DisConnection()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("server: %v\n%s", err, tail(logs.String(), 3000))
	}
	peak := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss * 1024
	t.Logf("%d rows (%d MB of values) in one transaction passed in %v; server peak RSS %.1f MB, CPU %v",
		rows, bytesIn>>20, elapsed.Round(time.Millisecond), float64(peak)/(1<<20), cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
	if peak >= 64<<20 {
		t.Errorf("server peak RSS %.1f MB, want under 64 MB", float64(peak)/(1<<20))
	}
}
