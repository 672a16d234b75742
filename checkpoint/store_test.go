package checkpoint

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
)

// fullPosition returns a Position with every field set to a non-zero value,
// found by reflection so that a field added to Position later and not
// stored by this package makes the round-trip test fail.
func fullPosition(t *testing.T) change.Position {
	t.Helper()
	var p change.Position
	v := reflect.ValueOf(&p).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("v" + strconv.Itoa(i) + ":é/\"x\"")
		case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint:
			f.SetUint(uint64(i + 3))
		case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
			f.SetInt(int64(-i - 3))
		case reflect.Bool:
			f.SetBool(true)
		default:
			t.Fatalf("Position field %s has kind %s the test does not fill", v.Type().Field(i).Name, f.Kind())
		}
	}
	return p
}

func TestStores(t *testing.T) {
	ctx := context.Background()
	stores := []struct {
		name string
		open func(t *testing.T) Store
	}{
		{"memory", func(t *testing.T) Store { return &Memory{} }},
		{"bolt", func(t *testing.T) Store {
			b, err := OpenBolt(filepath.Join(t.TempDir(), "state.db"), 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			return b
		}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			if _, err := s.Load(ctx, "a"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Load of unsaved id: err = %v, want ErrNotFound", err)
			}
			positions := []change.Position{
				{},
				{Flavor: change.FlavorBinlog, File: "bin.000001", Offset: 4},
				{Flavor: change.FlavorBinlog, File: "bin.000002", Offset: 1 << 40, Index: 17, GTIDSet: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5"},
				{Flavor: change.FlavorLSN, Offset: 0x16B3748},
				{Flavor: change.FlavorMongo, Offset: 7<<32 | 3, Token: `{"_data":"8263"}`},
				fullPosition(t),
			}
			for _, p := range positions {
				if err := s.Save(ctx, "a", p); err != nil {
					t.Fatal(err)
				}
				got, err := s.Load(ctx, "a")
				if err != nil {
					t.Fatal(err)
				}
				if got != p {
					t.Fatalf("Load = %+v, want %+v", got, p)
				}
			}
			// ids are independent
			if err := s.Save(ctx, "b", change.Position{Offset: 9}); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.Load(ctx, "a"); got != positions[len(positions)-1] {
				t.Fatalf("saving id b changed id a: %+v", got)
			}
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if err := s.Save(cctx, "a", change.Position{}); !errors.Is(err, context.Canceled) {
				t.Fatalf("Save with canceled context: err = %v", err)
			}
		})
	}
}

func TestBoltPersistsAcrossReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	b, err := OpenBolt(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := change.Position{Flavor: change.FlavorBinlog, File: "bin.000003", Offset: 1234, Index: 5}
	if err := b.Save(ctx, "p", want); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b, err = OpenBolt(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, err := b.Load(ctx, "p")
	if err != nil || got != want {
		t.Fatalf("after reopen: %+v, %v; want %+v", got, err, want)
	}
}

func TestBoltLockedByAnotherHandle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	b, err := OpenBolt(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := OpenBolt(path, 50*time.Millisecond); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("second open of a locked file: err = %v, want a timeout naming the file", err)
	}
}

func TestDecodeRejectsGarbage(t *testing.T) {
	for _, in := range []string{``, `{`, `{"v":3,"offset":1}`, `{"v":0,"offset":1}`, `[1,2]`, `{"v":1,"offset":-1}`, `{"v":2,"row":-1}`} {
		if _, err := decodePosition([]byte(in)); err == nil {
			t.Errorf("decodePosition(%q) succeeded", in)
		}
	}
}

// TestRecordVersions: records written before snapshot positions existed
// still load; a snapshot position is written as version 2 (which a
// release knowing only version 1 refuses instead of dropping its
// progress), any other position as version 1, exactly as before.
func TestRecordVersions(t *testing.T) {
	old := `{"v":1,"flavor":1,"file":"bin.000003","offset":1234,"index":5,"gtid_set":"0-1-9"}`
	p, err := decodePosition([]byte(old))
	want := change.Position{Flavor: change.FlavorBinlog, File: "bin.000003", Offset: 1234, Index: 5, GTIDSet: "0-1-9"}
	if err != nil || p != want {
		t.Fatalf("decode of a version 1 record = %+v, %v; want %+v", p, err, want)
	}
	b, err := encodePosition(want)
	if err != nil || string(b) != old {
		t.Errorf("encode of a stream position = %s, %v; want the version 1 record %s", b, err, old)
	}
	snap := change.Position{Flavor: change.FlavorLSN, Offset: 0x16B2F00, Row: 42, Snapshot: "t=public.orders,k=9"}
	b, err = encodePosition(snap)
	if err != nil {
		t.Fatal(err)
	}
	if wantText := `{"v":2,"flavor":2,"offset":23801600,"index":0,"row":42,"snapshot":"t=public.orders,k=9"}`; string(b) != wantText {
		t.Errorf("encode of a snapshot position = %s, want %s", b, wantText)
	}
	if back, err := decodePosition(b); err != nil || back != snap {
		t.Errorf("decode(%s) = %+v, %v; want %+v", b, back, err, snap)
	}
	// Progress alone (the stream's positions during an incremental
	// snapshot) is version 2 too.
	inc := change.Position{Flavor: change.FlavorLSN, Offset: 7, Index: 2, Snapshot: "inc=1"}
	if b, _ := encodePosition(inc); !strings.HasPrefix(string(b), `{"v":2,`) {
		t.Errorf("encode of %+v = %s, want version 2", inc, b)
	}
}

// The crash test runs the test binary as a child that saves increasing
// positions forever, printing each offset after its Save returned. The parent
// kills it with SIGKILL at a random moment and checks the file opens and holds
// the last acknowledged offset or the one that was in flight.
const crashChildEnv = "SLUICE_CHECKPOINT_CRASH_CHILD"

func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("helper process for TestBoltCrashSafety")
	}
	ctx := context.Background()
	b, err := OpenBolt(path, 10*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	start := uint64(0)
	if p, err := b.Load(ctx, "crash"); err == nil {
		start = p.Offset
	}
	w := bufio.NewWriter(os.Stdout)
	for off := start + 1; ; off++ {
		p := change.Position{Flavor: change.FlavorBinlog, File: "bin.000001", Offset: off, Index: off % 7,
			GTIDSet: strings.Repeat("x", int(off%300))}
		if err := b.Save(ctx, "crash", p); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		fmt.Fprintln(w, off)
		w.Flush()
	}
}

func TestBoltCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	path := filepath.Join(t.TempDir(), "state.db")
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 6; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan uint64, 1024)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if n, err := strconv.ParseUint(sc.Text(), 10, 64); err == nil {
					lines <- n
				}
			}
			close(lines)
		}()
		// Let it save for a random while (at least one save), then kill it.
		deadline := time.After(time.Duration(20+rng.IntN(200)) * time.Millisecond)
		var acked uint64
		expired := false
		for !expired || acked == 0 {
			select {
			case n, ok := <-lines:
				if !ok {
					t.Fatalf("round %d: child exited early: %v", round, cmd.Wait())
				}
				acked = n
			case <-deadline:
				expired, deadline = true, nil
			}
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		for n := range lines {
			acked = n
		}
		cmd.Wait()

		b, err := OpenBolt(path, time.Second)
		if err != nil {
			t.Fatalf("round %d: state file unreadable after kill: %v", round, err)
		}
		p, err := b.Load(context.Background(), "crash")
		b.Close()
		if err != nil {
			t.Fatalf("round %d: load after kill: %v", round, err)
		}
		if p.Offset != acked && p.Offset != acked+1 {
			t.Fatalf("round %d: stored offset %d, last acknowledged %d: want it or the one in flight", round, p.Offset, acked)
		}
		if p.Index != p.Offset%7 || len(p.GTIDSet) != int(p.Offset%300) || p.File != "bin.000001" {
			t.Fatalf("round %d: torn record %+v", round, p)
		}
		t.Logf("round %d: killed after offset %d, stored %d", round, acked, p.Offset)
	}
}
