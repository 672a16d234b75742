// Package storetest checks that a checkpoint.Store keeps its promises:
// what Save stored Load returns, every Position field round trip, ids are
// independent, a canceled context fails, and — for a checkpoint.Fencer —
// that fencing refuses every save of a deposed owner, also under
// concurrent saves. Every backend's tests run it against a real server.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
)

// FullPosition returns a Position with every field set to a non-zero value,
// found by reflection so that a field added to Position later and not
// stored by a backend makes the round-trip test fail.
func FullPosition(tb testing.TB) change.Position {
	tb.Helper()
	var p change.Position
	v := reflect.ValueOf(&p).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("v" + strconv.Itoa(i) + ":é/\"x\" ;=%")
		case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint:
			f.SetUint(uint64(i + 3))
		case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
			f.SetInt(int64(-i - 3))
		case reflect.Bool:
			f.SetBool(true)
		default:
			tb.Fatalf("Position field %s has kind %s the test does not fill", v.Type().Field(i).Name, f.Kind())
		}
	}
	// A flavor the text form knows, for backends that store the text.
	p.Flavor = change.FlavorBinlog
	return p
}

// Positions are the positions Run saves and loads back.
func Positions(tb testing.TB) []change.Position {
	return []change.Position{
		{Flavor: change.FlavorBinlog, File: "bin.000001", Offset: 4},
		{Flavor: change.FlavorBinlog, File: "bin.000002", Offset: 1 << 40, Index: 17, GTIDSet: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5"},
		{Flavor: change.FlavorLSN, Offset: 0x16B3748},
		{Flavor: change.FlavorMongo, Offset: 7<<32 | 3, Token: `{"_data":"8263"}`},
		{Flavor: change.FlavorLSN, Offset: 0x16B2F00, Row: 42, Snapshot: "t=public.orders,k=9"},
		FullPosition(tb),
	}
}

// Run checks the store open returns. open is called once per subtest
// and must return a store with no saved positions (a fresh prefix, path
// or table); it registers its own cleanup.
func Run(t *testing.T, open func(t *testing.T) checkpoint.Store) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, open(t)) })
	t.Run("Canceled", func(t *testing.T) { testCanceled(t, open(t)) })
	t.Run("Fencing", func(t *testing.T) {
		f, ok := open(t).(checkpoint.Fencer)
		if !ok {
			t.Skip("the store does not fence")
		}
		testFencing(t, f)
	})
	t.Run("FencingRace", func(t *testing.T) {
		f, ok := open(t).(checkpoint.Fencer)
		if !ok {
			t.Skip("the store does not fence")
		}
		testFencingRace(t, f)
	})
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func testRoundTrip(t *testing.T, s checkpoint.Store) {
	ctx := ctxFor(t)
	if _, err := s.Load(ctx, "a"); !errors.Is(err, checkpoint.ErrNotFound) {
		t.Fatalf("Load of unsaved id: err = %v, want ErrNotFound", err)
	}
	positions := Positions(t)
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
	// ids are independent, and may hold any text
	for _, id := range []string{"b", "with/slash", "ünïcode id", "a.b"} {
		if err := s.Save(ctx, id, change.Position{Flavor: change.FlavorLSN, Offset: 9}); err != nil {
			t.Fatalf("save %q: %v", id, err)
		}
		if got, err := s.Load(ctx, id); err != nil || got.Offset != 9 {
			t.Fatalf("load %q = %+v, %v", id, got, err)
		}
	}
	if got, _ := s.Load(ctx, "a"); got != positions[len(positions)-1] {
		t.Fatalf("saving other ids changed id a: %+v", got)
	}
}

func testCanceled(t *testing.T, s checkpoint.Store) {
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Save(cctx, "a", change.Position{Flavor: change.FlavorLSN, Offset: 1}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Save with canceled context: err = %v, want context.Canceled", err)
	}
	if _, err := s.Load(cctx, "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Load with canceled context: err = %v, want context.Canceled", err)
	}
}

func pos(n uint64) change.Position {
	return change.Position{Flavor: change.FlavorBinlog, File: "bin.000001", Offset: n}
}

// testFencing plays a takeover: owner A saves, B claims with a greater
// token, A's late save is refused, B resumes from A's last save, stale and
// unfenced writers are refused.
func testFencing(t *testing.T, s checkpoint.Fencer) {
	ctx := ctxFor(t)
	// Before any fence, the plain Save works.
	if err := s.Save(ctx, "p", pos(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Fence(ctx, "p", checkpoint.Fence{}); err == nil || errors.Is(err, checkpoint.ErrFenced) {
		t.Fatalf("Fence with token 0: err = %v, want an error that is not ErrFenced", err)
	}
	a, err := s.Fence(ctx, "p", checkpoint.Fence{Token: 10, Owner: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := a.Load(ctx, "p"); err != nil || got != pos(1) {
		t.Fatalf("A loads %+v, %v; want the unfenced save %+v", got, err, pos(1))
	}
	if err := a.Save(ctx, "p", pos(2)); err != nil {
		t.Fatal(err)
	}
	// The unfenced writer is refused once p is fenced.
	if err := s.Save(ctx, "p", pos(99)); !errors.Is(err, checkpoint.ErrFenced) {
		t.Fatalf("plain Save of a fenced id: err = %v, want ErrFenced", err)
	}
	// A claims again (a retry after a lost answer): allowed.
	a2, err := s.Fence(ctx, "p", checkpoint.Fence{Token: 10, Owner: "a"})
	if err != nil {
		t.Fatalf("A claims its own fence again: %v", err)
	}
	// The same token for another owner is refused, as is a smaller one.
	for _, f := range []checkpoint.Fence{{Token: 10, Owner: "x"}, {Token: 9, Owner: "b"}} {
		if _, err := s.Fence(ctx, "p", f); !errors.Is(err, checkpoint.ErrFenced) {
			t.Fatalf("Fence %+v over {10 a}: err = %v, want ErrFenced", f, err)
		}
	}
	b, err := s.Fence(ctx, "p", checkpoint.Fence{Token: 11, Owner: "b"})
	if err != nil {
		t.Fatal(err)
	}
	// The deposed owner's late save is refused, whichever of its stores
	// it uses, and names the new owner.
	for i, st := range []checkpoint.Store{a, a2} {
		err := st.Save(ctx, "p", pos(3))
		if !errors.Is(err, checkpoint.ErrFenced) {
			t.Fatalf("deposed owner's save %d: err = %v, want ErrFenced", i, err)
		}
		var fe *checkpoint.FencedError
		if !errors.As(err, &fe) || fe.Held.Owner != "b" || fe.Held.Token != 11 {
			t.Fatalf("deposed owner's save %d: err = %v, want a FencedError naming b and 11", i, err)
		}
	}
	if got, err := b.Load(ctx, "p"); err != nil || got != pos(2) {
		t.Fatalf("B loads %+v, %v; want A's last accepted save %+v", got, err, pos(2))
	}
	if err := b.Save(ctx, "p", pos(4)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Load(ctx, "p"); err != nil || got != pos(4) {
		t.Fatalf("Load = %+v, %v; want B's save", got, err)
	}
	// A fenced store serves its own id only.
	if err := b.Save(ctx, "other", pos(1)); err == nil {
		t.Fatal("a store fenced for p saved another id")
	}
	// Fencing a new id with no saved position: Load says not found.
	c, err := s.Fence(ctx, "fresh", checkpoint.Fence{Token: 1, Owner: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Load(ctx, "fresh"); !errors.Is(err, checkpoint.ErrNotFound) {
		t.Fatalf("Load of a fenced id never saved: err = %v, want ErrNotFound", err)
	}
	// Other ids are not fenced by p's owner.
	if err := s.Save(ctx, "q", pos(7)); err != nil {
		t.Fatalf("plain save of another id: %v", err)
	}
	// Tokens beyond 32 bits (etcd revisions, zxids, clocks in µs).
	big := uint64(1)<<62 + 5
	d, err := s.Fence(ctx, "p", checkpoint.Fence{Token: big, Owner: "d"})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Save(ctx, "p", pos(5)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Fence(ctx, "p", checkpoint.Fence{Token: big - 1, Owner: "e"}); !errors.Is(err, checkpoint.ErrFenced) {
		t.Fatalf("Fence below a 62-bit token: err = %v, want ErrFenced", err)
	}
}

// testFencingRace: owner A saves as fast as it can while B claims the
// pipeline; once B's Fence has returned, no save of A may succeed, and B
// resumes from a position A saved (never an older one).
func testFencingRace(t *testing.T, s checkpoint.Fencer) {
	ctx := ctxFor(t)
	a, err := s.Fence(ctx, "race", checkpoint.Fence{Token: 100, Owner: "a"})
	if err != nil {
		t.Fatal(err)
	}
	var claimed atomic.Bool
	var lastOK atomic.Uint64 // A's last save that returned nil
	var lateOK atomic.Int64  // saves of A that began after the claim and succeeded
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := uint64(1); ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			after := claimed.Load()
			err := a.Save(ctx, "race", pos(n))
			switch {
			case err == nil:
				lastOK.Store(n)
				if after {
					lateOK.Add(1)
				}
			case errors.Is(err, checkpoint.ErrFenced):
				if !after {
					// Refused before B's Fence returned: B's claim
					// landed first. Fine; wait for the flag.
					continue
				}
				return
			default:
				t.Errorf("A's save %d: %v", n, err)
				return
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)
	b, err := s.Fence(ctx, "race", checkpoint.Fence{Token: 101, Owner: "b"})
	if err != nil {
		t.Fatal(err)
	}
	claimed.Store(true)
	resume, err := b.Load(ctx, "race")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	if n := lateOK.Load(); n > 0 {
		t.Fatalf("%d saves of the deposed owner succeeded after the new owner's claim", n)
	}
	if resume.Offset < lastOK.Load() {
		t.Fatalf("B resumes from %d, older than A's last accepted save %d", resume.Offset, lastOK.Load())
	}
	if got, _ := s.Load(ctx, "race"); got != resume {
		t.Fatalf("the position moved after B's claim: %+v, B loaded %+v", got, resume)
	}
	t.Logf("A saved up to %d before B's claim", lastOK.Load())
	if err := b.Save(ctx, "race", pos(lastOK.Load()+1)); err != nil {
		t.Fatal(fmt.Errorf("B's first save: %w", err))
	}
}
