// Package metrics keeps the Prometheus metrics of a process's pipelines
// and serves them on /metrics. Each pipeline has a *Pipeline, which is the
// pipeline.ChangeMetrics the pipeline reports to: it counts delivered
// changes by operation and table, bytes, batches, the commit-to-delivery
// lag, checkpoints, and it holds what the supervisor sets (state, sink
// errors, retries, reconnects, source lag, queue bytes). The delivery path
// only adds to atomic counters and, once per run of changes of one table,
// to a map; everything else is computed when Prometheus scrapes.
//
// docs/metrics.md lists every metric; a test checks that list against
// what this package exports.
package metrics

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Set is the metrics of every pipeline of a process, with the Go runtime's
// and the process's own.
type Set struct {
	reg *prometheus.Registry
	lag *prometheus.HistogramVec

	mu        sync.Mutex
	pipelines map[string]*Pipeline
	order     []string
}

// New returns a Set registered in a registry of its own.
func New() *Set {
	s := &Set{reg: prometheus.NewRegistry(), pipelines: map[string]*Pipeline{}}
	s.lag = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "sluice_pipeline_delivery_lag_seconds", Help: helpDeliveryLag, Buckets: LagBuckets,
	}, []string{"pipeline"})
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), (*collector)(s), s.lag)
	return s
}

// Registry returns the registry the Set exports through.
func (s *Set) Registry() *prometheus.Registry { return s.reg }

// Handler serves the metrics in the Prometheus text format (or
// OpenMetrics, when the scraper asks for it).
func (s *Set) Handler() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// Pipeline returns the metrics of the pipeline named name, creating them
// on first use. Source names the source's kind (mysql, postgres, mongodb)
// for the source lag metrics.
func (s *Set) Pipeline(name, source string) *Pipeline {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.pipelines[name]; ok {
		p.source.Store(&source)
		return p
	}
	p := newPipeline(name, source, s.lag)
	s.pipelines[name] = p
	s.order = append(s.order, name)
	return p
}

// Remove drops the metrics of a pipeline that no longer exists, so its
// series disappear from the next scrape.
func (s *Set) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pipelines, name)
	s.lag.DeleteLabelValues(name)
	for i, n := range s.order {
		if n == name {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
}

// all returns the pipelines in the order they were added.
func (s *Set) all() []*Pipeline {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Pipeline, 0, len(s.order))
	for _, n := range s.order {
		out = append(out, s.pipelines[n])
	}
	return out
}
