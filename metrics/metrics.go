// Package metrics keeps the Prometheus metrics of a process's pipelines
// and serves them on /metrics. Each pipeline has a *Pipeline, which is the
// pipeline.ChangeMetrics the pipeline reports to: it counts delivered
// changes by operation and table, bytes, batches, the commit-to-delivery
// lag, checkpoints, and it holds what the supervisor sets (state, errors,
// retries, reconnects, source lag, queue bytes). The delivery path only
// adds to atomic counters and, once per run of changes of one table, to a
// map; everything else is computed when Prometheus scrapes.
//
// The exposition (Prometheus text format 0.0.4) is written by this
// package rather than by prometheus/client_golang: linking client_golang
// and the protobuf runtime it needs added 8 MB to the sluice binary and
// 5.5 MB to the resident memory of every sluice process, `sluice canal
// serve` and `sluice stream` included, which pushed the Canal server's
// 1 GB-transaction gate over its 64 MB. The tests check the output with
// client_golang's own parser and linter (promlint) and with `promtool
// check metrics`, and docs/metrics.md against what is exported.
package metrics

import (
	"bufio"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Set is the metrics of every pipeline of a process, with a few of the
// process's own (process_*, go_*, named as client_golang names them).
type Set struct {
	started time.Time

	mu        sync.Mutex
	pipelines map[string]*Pipeline
	order     []string
	instances atomic.Int64 // live HA instances + 1; 0: not in HA
}

// New returns an empty Set.
func New() *Set {
	return &Set{started: time.Now(), pipelines: map[string]*Pipeline{}}
}

// Handler serves the metrics in the Prometheus text format.
func (s *Set) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		bw := bufio.NewWriterSize(w, 32<<10)
		s.Write(bw)
		bw.Flush()
	})
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
	p := newPipeline(name, source)
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
	for i, n := range s.order {
		if n == name {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
}

// all returns the pipelines sorted by name.
func (s *Set) all() []*Pipeline {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Pipeline, 0, len(s.order))
	for _, n := range s.order {
		out = append(out, s.pipelines[n])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// sample is one line of a family: its labels (name, value pairs, written
// in this order) and value.
type sample struct {
	suffix string // _bucket, _sum, _count for histograms
	labels []string
	value  float64
}

// family is one metric with its samples.
type family struct {
	name, typ, help string
	samples         []sample
}

// Write writes every metric in the Prometheus text format.
func (s *Set) Write(w *bufio.Writer) {
	now := time.Now()
	fams := s.pipelineFamilies(now)
	fams = append(fams, s.haFamilies()...)
	fams = append(fams, s.processFamilies(now)...)
	for _, f := range fams {
		if len(f.samples) == 0 {
			continue
		}
		w.WriteString("# HELP ")
		w.WriteString(f.name)
		w.WriteByte(' ')
		w.WriteString(escapeHelp(f.help))
		w.WriteString("\n# TYPE ")
		w.WriteString(f.name)
		w.WriteByte(' ')
		w.WriteString(f.typ)
		w.WriteByte('\n')
		for _, sm := range f.samples {
			w.WriteString(f.name)
			w.WriteString(sm.suffix)
			if len(sm.labels) > 0 {
				w.WriteByte('{')
				for i := 0; i+1 < len(sm.labels); i += 2 {
					if i > 0 {
						w.WriteByte(',')
					}
					w.WriteString(sm.labels[i])
					w.WriteString(`="`)
					w.WriteString(escapeLabel(sm.labels[i+1]))
					w.WriteByte('"')
				}
				w.WriteByte('}')
			}
			w.WriteByte(' ')
			w.WriteString(formatFloat(sm.value))
			w.WriteByte('\n')
		}
	}
}

func formatFloat(v float64) string {
	if v == float64(int64(v)) && v < 1e15 && v > -1e15 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
var labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeLabel(s string) string { return labelEscaper.Replace(s) }

// processFamilies are the process's own metrics, named as client_golang's
// process and Go collectors name them, so existing dashboards work.
func (s *Set) processFamilies(now time.Time) []family {
	var out []family
	gauge := func(name, help string, v float64) {
		out = append(out, family{name: name, typ: "gauge", help: help, samples: []sample{{value: v}}})
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		out = append(out, family{name: "process_cpu_seconds_total", typ: "counter", help: "Total user and system CPU time spent in seconds.", samples: []sample{{value: cpu}}})
	}
	if rss, vsz, ok := statm(); ok {
		gauge("process_resident_memory_bytes", "Resident memory size in bytes.", float64(rss))
		gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", float64(vsz))
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		gauge("process_open_fds", "Number of open file descriptors.", float64(len(fds)))
	}
	gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", float64(s.started.Unix()))
	gauge("go_goroutines", "Number of goroutines that currently exist.", float64(runtime.NumGoroutine()))
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gauge("go_memstats_heap_inuse_bytes", "Number of heap bytes that are in use.", float64(ms.HeapInuse))
	gauge("go_memstats_sys_bytes", "Number of bytes obtained from system.", float64(ms.Sys))
	return out
}

// statm reads the resident and virtual size of the process (Linux).
func statm() (rss, vsz int64, ok bool) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, 0, false
	}
	pages, err1 := strconv.ParseInt(f[0], 10, 64)
	res, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	page := int64(os.Getpagesize())
	return res * page, pages * page, true
}

// SetInstances records how many instances of a highly available
// deployment are live (sluice_ha_instances); negative: not in HA.
func (s *Set) SetInstances(n int) { s.instances.Store(int64(n) + 1) }

// haFamilies is sluice_ha_instances, in high availability only.
func (s *Set) haFamilies() []family {
	n := s.instances.Load() - 1
	if n < 0 {
		return nil
	}
	return []family{{name: "sluice_ha_instances", typ: "gauge",
		help:    "High availability: the live instances of the deployment (holders of a membership lease) as this instance last counted them.",
		samples: []sample{{value: float64(n)}}}}
}
