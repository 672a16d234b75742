package kafka

import (
	"slices"
	"testing"
)

func TestGather(t *testing.T) {
	for _, tc := range []struct {
		name   string
		queued []int
		closed bool
		want   []int
		ok     bool
	}{
		{name: "one", queued: []int{1}, want: []int{1}, ok: true},
		{name: "all queued", queued: []int{1, 2, 3}, want: []int{1, 2, 3}, ok: true},
		{name: "closed and empty", closed: true, want: []int{}, ok: false},
	} {
		q := make(chan int, 4)
		for _, v := range tc.queued {
			q <- v
		}
		closing := make(chan struct{})
		if tc.closed {
			close(closing)
		}
		got, ok := gather(q, closing, []int{9, 9})
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("%s: gather = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
