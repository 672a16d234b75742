package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/metrics"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/sluice-cdc/sluice/supervisor"
)

// streamMetrics feeds both the stream's summary counters and the
// Prometheus metrics of `sluice stream --metrics`.
type streamMetrics struct {
	*pipeline.Counters
	set *metrics.Set
	p   *metrics.Pipeline
}

func (m *streamMetrics) DeliveredChanges(batch []change.Change) { m.p.DeliveredChanges(batch) }

func (m *streamMetrics) Delivered(read, written int, bytes int64, lag time.Duration) {
	m.Counters.Delivered(read, written, bytes, lag)
	m.p.Delivered(read, written, bytes, lag)
}

func (m *streamMetrics) Checkpointed(p change.Position) {
	m.Counters.Checkpointed(p)
	m.p.Checkpointed(p)
}

// serve serves /metrics on addr and measures the source's lag until stop
// is called.
func (m *streamMetrics) serve(ctx context.Context, addr string, src pipeline.Source, p *pipeline.Pipeline, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("stream: --metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.set.Handler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server failed", "err", err.Error())
		}
	}()
	m.p.SetQueue(p.QueuedBytes)
	m.p.SetState("running")
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		supervisor.WatchSource(wctx, src, p, m.p, supervisor.DefaultLagInterval, log, nil)
	}()
	log.Info("serving metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return func() {
		cancel()
		<-done
		hs.Close()
	}, nil
}
