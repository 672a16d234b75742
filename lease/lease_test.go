package lease

import (
	"errors"
	"testing"
	"time"
)

// TestValidity: Lost closes at the last confirmed renewal's send time +
// TTL − margin, later renewals push it, Lose closes it at once.
func TestValidity(t *testing.T) {
	start := time.Now()
	v := NewValidity(start, 300*time.Millisecond, 100*time.Millisecond)
	if got := v.Expires(); !got.Equal(start.Add(300 * time.Millisecond)) {
		t.Fatalf("Expires = %v", got)
	}
	time.Sleep(100 * time.Millisecond)
	v.Renewed(time.Now(), 0) // now expires at ≈ start+400ms, lost at ≈ start+300ms
	v.Renewed(start, 0)      // an older renewal does not move it back
	select {
	case <-v.Lost():
		t.Fatal("lost before its time")
	case <-time.After(150 * time.Millisecond): // start+250ms
	}
	select {
	case <-v.Lost():
		if at := time.Since(start); at < 280*time.Millisecond || at > 600*time.Millisecond {
			t.Fatalf("lost at %s, want about 300ms", at)
		}
	case <-time.After(time.Second):
		t.Fatal("not lost")
	}
	if !errors.Is(v.Err(), ErrExpired) || v.Valid() {
		t.Fatalf("Err = %v", v.Err())
	}
	v.Renewed(time.Now(), 0) // too late: stays lost
	if v.Valid() {
		t.Fatal("a renewal revived a lost lease")
	}

	w := NewValidity(time.Now(), time.Hour, time.Minute)
	w.Lose(ErrRevoked)
	w.Lose(ErrReleased)
	if !errors.Is(w.Err(), ErrRevoked) || w.Valid() {
		t.Fatalf("Err = %v, want the first Lose's", w.Err())
	}
}

func TestOptions(t *testing.T) {
	o, err := Options{}.WithDefaults()
	if err != nil || o.TTL != DefaultTTL || o.StopMargin != DefaultStopMargin || o.Owner == "" || o.Logger == nil {
		t.Fatalf("defaults %+v, %v", o, err)
	}
	if o.RenewEvery() != DefaultTTL/3 {
		t.Fatalf("RenewEvery = %s", o.RenewEvery())
	}
	if o, _ := (Options{TTL: 2 * time.Second}).WithDefaults(); o.StopMargin != 500*time.Millisecond {
		t.Fatalf("a short TTL's margin = %s, want TTL/4", o.StopMargin)
	}
	for _, bad := range []Options{{TTL: -1}, {TTL: time.Second, StopMargin: 600 * time.Millisecond}} {
		if _, err := bad.WithDefaults(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
