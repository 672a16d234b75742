package server

import (
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/supervisor"
)

// history keeps, per pipeline, the changes per second of the last samples.
type history struct {
	mu    sync.Mutex
	n     int
	pipes map[string]*series
}

type series struct {
	rates          []float64 // ring, oldest at head once full
	head           int
	full           bool
	lastAt         time.Time
	lastN, lastB   int64
	rate, byteRate float64
}

func newHistory(n int) *history { return &history{n: n, pipes: map[string]*series{}} }

// add records one sample of every pipeline (and forgets removed ones).
func (h *history) add(list []supervisor.Status, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := make(map[string]bool, len(list))
	for _, st := range list {
		seen[st.Name] = true
		s, ok := h.pipes[st.Name]
		if !ok {
			s = &series{rates: make([]float64, 0, h.n), lastAt: now, lastN: st.Totals.Written, lastB: st.Totals.Bytes}
			h.pipes[st.Name] = s
			continue
		}
		dt := now.Sub(s.lastAt).Seconds()
		if dt <= 0 {
			continue
		}
		s.rate = float64(st.Totals.Written-s.lastN) / dt
		s.byteRate = float64(st.Totals.Bytes-s.lastB) / dt
		s.lastAt, s.lastN, s.lastB = now, st.Totals.Written, st.Totals.Bytes
		if len(s.rates) < h.n {
			s.rates = append(s.rates, s.rate)
		} else {
			s.rates[s.head] = s.rate
			s.head = (s.head + 1) % h.n
		}
	}
	for name := range h.pipes {
		if !seen[name] {
			delete(h.pipes, name)
		}
	}
}

// get returns a pipeline's samples, oldest first, and its latest rates.
func (h *history) get(name string) ([]float64, Rates) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.pipes[name]
	if !ok {
		return []float64{}, Rates{}
	}
	out := make([]float64, 0, len(s.rates))
	out = append(out, s.rates[s.head:]...)
	out = append(out, s.rates[:s.head]...)
	return out, Rates{Changes: s.rate, Bytes: s.byteRate}
}
