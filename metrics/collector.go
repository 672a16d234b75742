package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// States are the values of the state label of sluice_pipeline_state, the
// supervisor's states.
var States = []string{"starting", "running", "paused", "retrying", "finished", "stopped"}

const helpDeliveryLag = "Time from a change's commit in the source database to the sink's acknowledgement of it, observed once per transaction."

var (
	pipeLabel = []string{"pipeline"}
	descs     = struct {
		changes, read, bytes, batches, checkpoints, checkpointAge, queue, errors, retries, reconnects,
		lagBytes, lagSeconds, retained, state, lastDelivery *prometheus.Desc
	}{
		changes:       prometheus.NewDesc("sluice_pipeline_changes_total", "Changes the sink acknowledged, by operation and table (database.table; empty for begin and commit events).", []string{"pipeline", "op", "table"}, nil),
		read:          prometheus.NewDesc("sluice_pipeline_read_changes_total", "Changes read from the source, delivered or not (filtered out, hidden begin, commit and heartbeat events), once the sink acknowledged the batch that covers them.", pipeLabel, nil),
		bytes:         prometheus.NewDesc("sluice_pipeline_delivered_bytes_total", "Estimated in-memory bytes of the changes the sink acknowledged.", pipeLabel, nil),
		batches:       prometheus.NewDesc("sluice_pipeline_batches_total", "Sink writes (deliveries) acknowledged.", pipeLabel, nil),
		checkpoints:   prometheus.NewDesc("sluice_pipeline_checkpoints_total", "Positions saved to the checkpoint store.", pipeLabel, nil),
		checkpointAge: prometheus.NewDesc("sluice_pipeline_checkpoint_age_seconds", "Seconds since the last position was saved (absent before the first save).", pipeLabel, nil),
		queue:         prometheus.NewDesc("sluice_pipeline_queue_bytes", "Estimated bytes of changes read from the source and not yet acknowledged by the sink.", pipeLabel, nil),
		errors:        prometheus.NewDesc("sluice_pipeline_errors_total", "Runs of the pipeline that ended in an error, by the stage it came from (source, sink, checkpoint).", []string{"pipeline", "stage"}, nil),
		retries:       prometheus.NewDesc("sluice_pipeline_retries_total", "Restarts of the pipeline after a failure.", pipeLabel, nil),
		reconnects:    prometheus.NewDesc("sluice_pipeline_source_reconnects_total", "Reconnections of the source to its database.", pipeLabel, nil),
		lagBytes:      prometheus.NewDesc("sluice_pipeline_source_lag_bytes", "Bytes of the database's log between the pipeline's position and the log's current end (MySQL binlog bytes, PostgreSQL LSN distance).", []string{"pipeline", "source"}, nil),
		lagSeconds:    prometheus.NewDesc("sluice_pipeline_source_lag_seconds", "Seconds between the pipeline's position and the newest entry of the database's log (MongoDB oplog).", []string{"pipeline", "source"}, nil),
		retained:      prometheus.NewDesc("sluice_pipeline_source_retained_bytes", "Bytes of log the database retains for the pipeline (PostgreSQL: WAL held by the replication slot).", []string{"pipeline", "source"}, nil),
		state:         prometheus.NewDesc("sluice_pipeline_state", "1 for the pipeline's current state, 0 for the others.", []string{"pipeline", "state"}, nil),
		lastDelivery:  prometheus.NewDesc("sluice_pipeline_last_delivery_timestamp_seconds", "Unix time of the last acknowledged delivery (absent before the first).", pipeLabel, nil),
	}
)

// collector exports a Set's pipelines.
type collector Set

// Describe sends every metric's description.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	d := descs
	for _, x := range []*prometheus.Desc{d.changes, d.read, d.bytes, d.batches, d.checkpoints, d.checkpointAge, d.queue,
		d.errors, d.retries, d.reconnects, d.lagBytes, d.lagSeconds, d.retained, d.state, d.lastDelivery} {
		ch <- x
	}
}

// Collect sends the current values.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	for _, p := range (*Set)(c).all() {
		p.collect(ch, now)
	}
}

func (p *Pipeline) collect(ch chan<- prometheus.Metric, now time.Time) {
	d := descs
	counter := func(desc *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), append([]string{p.name}, labels...)...)
	}
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, append([]string{p.name}, labels...)...)
	}
	t := p.Totals()
	p.mu.Lock()
	for k, n := range p.counts {
		table := ""
		if k.ns.Table != "" {
			table = k.ns.Database + "." + k.ns.Table
			if k.ns.Database == "" {
				table = k.ns.Table
			}
		}
		counter(d.changes, n.Load(), k.op.String(), table)
	}
	p.mu.Unlock()
	counter(d.read, t.Read)
	counter(d.bytes, t.Bytes)
	counter(d.batches, t.Batches)
	counter(d.checkpoints, t.Checkpoints)
	if !t.LastCheckpoint.IsZero() {
		gauge(d.checkpointAge, max(now.Sub(t.LastCheckpoint), 0).Seconds())
	}
	if !t.LastDelivery.IsZero() {
		gauge(d.lastDelivery, float64(t.LastDelivery.UnixNano())/1e9)
	}
	gauge(d.queue, float64(t.QueueBytes))
	counter(d.errors, t.SourceErrors, string(StageSource))
	counter(d.errors, t.SinkErrors, string(StageSink))
	counter(d.errors, t.StoreErrors, string(StageStore))
	counter(d.retries, t.Retries)
	counter(d.reconnects, t.Reconnects)
	src := *p.source.Load()
	if l := t.SourceLag; l != nil {
		if l.Bytes >= 0 {
			gauge(d.lagBytes, float64(l.Bytes), src)
		}
		if l.Seconds >= 0 {
			gauge(d.lagSeconds, l.Seconds, src)
		}
		if l.Retained >= 0 {
			gauge(d.retained, float64(l.Retained), src)
		}
	}
	state := *p.state.Load()
	for _, s := range States {
		v := 0.0
		if s == state {
			v = 1
		}
		gauge(d.state, v, s)
	}
}
