package metrics

import (
	"sort"
	"time"
)

// States are the values of the state label of sluice_pipeline_state, the
// supervisor's states.
var States = []string{"starting", "standby", "running", "paused", "retrying", "finished", "stopped"}

// Families lists every pipeline metric: name, type and help, in the order
// they are written.
var Families = []struct{ Name, Type, Help string }{
	{"sluice_pipeline_changes_total", "counter", "Changes the sink acknowledged, by operation and table (database.table; empty for begin and commit events)."},
	{"sluice_pipeline_read_changes_total", "counter", "Changes read from the source, delivered or not (filtered out, hidden begin, commit and heartbeat events), once the sink acknowledged the batch that covers them."},
	{"sluice_pipeline_delivered_bytes_total", "counter", "Estimated in-memory bytes of the changes the sink acknowledged."},
	{"sluice_pipeline_batches_total", "counter", "Sink writes (deliveries) acknowledged."},
	{"sluice_pipeline_delivery_lag_seconds", "histogram", "Time from a change's commit in the source database to the sink's acknowledgement of it, observed once per transaction."},
	{"sluice_pipeline_checkpoints_total", "counter", "Positions saved to the checkpoint store."},
	{"sluice_pipeline_checkpoint_age_seconds", "gauge", "Seconds since the last position was saved (absent before the first save)."},
	{"sluice_pipeline_last_delivery_timestamp_seconds", "gauge", "Unix time of the last acknowledged delivery (absent before the first)."},
	{"sluice_pipeline_queue_bytes", "gauge", "Estimated bytes of changes read from the source and not yet acknowledged by the sink."},
	{"sluice_pipeline_errors_total", "counter", "Runs of the pipeline that ended in an error, by the stage it came from (source, sink, checkpoint)."},
	{"sluice_pipeline_retries_total", "counter", "Restarts of the pipeline after a failure."},
	{"sluice_pipeline_source_reconnects_total", "counter", "Reconnections of the source to its database."},
	{"sluice_pipeline_source_lag_bytes", "gauge", "Bytes of the database's log between the pipeline's position and the log's current end (MySQL binlog bytes, PostgreSQL LSN distance)."},
	{"sluice_pipeline_source_lag_seconds", "gauge", "Seconds between the pipeline's position and the newest entry of the database's log (MongoDB oplog)."},
	{"sluice_pipeline_source_retained_bytes", "gauge", "Bytes of log the database retains for the pipeline (PostgreSQL: WAL held by the replication slot)."},
	{"sluice_pipeline_snapshot_rows", "gauge", "Rows the pipeline's snapshot has delivered (runs before a restart included)."},
	{"sluice_pipeline_snapshot_estimated_rows", "gauge", "The database's estimate of the rows of every table the snapshot reads."},
	{"sluice_pipeline_snapshot_tables_done", "gauge", "Tables the snapshot has delivered."},
	{"sluice_pipeline_snapshot_tables", "gauge", "Tables the snapshot reads."},
	{"sluice_pipeline_snapshot_running", "gauge", "1 while the pipeline's snapshot runs, 0 once it is complete."},
	{"sluice_pipeline_state", "gauge", "1 for the pipeline's current state, 0 for the others."},
	{"sluice_pipeline_owned", "gauge", "High availability: 1 while this instance holds the pipeline's lease, 0 while it stands by."},
	{"sluice_pipeline_owner", "gauge", "High availability: 1 for the instance holding the pipeline's lease, as this instance last saw it (owner label; absent when nobody holds it)."},
	{"sluice_pipeline_lease_expiry_timestamp_seconds", "gauge", "High availability: Unix time at which this instance's lease of the pipeline ends at the earliest unless renewed (absent unless owned)."},
	{"sluice_pipeline_takeovers_total", "counter", "High availability: leases of the pipeline this instance acquired (it started owning the pipeline)."},
}

// pipelineFamilies returns the pipeline metrics of every pipeline.
func (s *Set) pipelineFamilies(now time.Time) []family {
	fams := make([]family, len(Families))
	index := map[string]*family{}
	for i, f := range Families {
		fams[i] = family{name: f.Name, typ: f.Type, help: f.Help}
		index[f.Name] = &fams[i]
	}
	for _, p := range s.all() {
		p.collect(index, now)
	}
	return fams
}

// collect adds the pipeline's samples to the families. Labels are written
// in name order (le last), as client_golang writes them.
func (p *Pipeline) collect(fams map[string]*family, now time.Time) {
	add := func(name string, v float64, labels ...string) {
		f := fams[name]
		f.samples = append(f.samples, sample{labels: labels, value: v})
	}
	pl := func(labels ...string) []string { return append([]string{"pipeline", p.name}, labels...) }
	t := p.Totals()

	type opCount struct {
		op, table string
		n         int64
	}
	p.mu.Lock()
	counts := make([]opCount, 0, len(p.counts))
	for k, n := range p.counts {
		table := ""
		if k.ns.Table != "" {
			table = k.ns.Database + "." + k.ns.Table
			if k.ns.Database == "" {
				table = k.ns.Table
			}
		}
		counts = append(counts, opCount{k.op.String(), table, n.Load()})
	}
	p.mu.Unlock()
	sort.Slice(counts, func(i, j int) bool {
		if counts[i].table != counts[j].table {
			return counts[i].table < counts[j].table
		}
		return counts[i].op < counts[j].op
	})
	for _, c := range counts {
		add("sluice_pipeline_changes_total", float64(c.n), "op", c.op, "pipeline", p.name, "table", c.table)
	}
	add("sluice_pipeline_read_changes_total", float64(t.Read), pl()...)
	add("sluice_pipeline_delivered_bytes_total", float64(t.Bytes), pl()...)
	add("sluice_pipeline_batches_total", float64(t.Batches), pl()...)
	lag := fams["sluice_pipeline_delivery_lag_seconds"]
	lag.samples = append(lag.samples, p.lag.samples(pl()...)...)
	add("sluice_pipeline_checkpoints_total", float64(t.Checkpoints), pl()...)
	if !t.LastCheckpoint.IsZero() {
		add("sluice_pipeline_checkpoint_age_seconds", max(now.Sub(t.LastCheckpoint), 0).Seconds(), pl()...)
	}
	if !t.LastDelivery.IsZero() {
		add("sluice_pipeline_last_delivery_timestamp_seconds", float64(t.LastDelivery.UnixNano())/1e9, pl()...)
	}
	add("sluice_pipeline_queue_bytes", float64(t.QueueBytes), pl()...)
	add("sluice_pipeline_errors_total", float64(t.StoreErrors), pl("stage", string(StageStore))...)
	add("sluice_pipeline_errors_total", float64(t.SinkErrors), pl("stage", string(StageSink))...)
	add("sluice_pipeline_errors_total", float64(t.SourceErrors), pl("stage", string(StageSource))...)
	add("sluice_pipeline_retries_total", float64(t.Retries), pl()...)
	add("sluice_pipeline_source_reconnects_total", float64(t.Reconnects), pl()...)
	src := *p.source.Load()
	if l := t.SourceLag; l != nil {
		if l.Bytes >= 0 {
			add("sluice_pipeline_source_lag_bytes", float64(l.Bytes), pl("source", src)...)
		}
		if l.Seconds >= 0 {
			add("sluice_pipeline_source_lag_seconds", l.Seconds, pl("source", src)...)
		}
		if l.Retained >= 0 {
			add("sluice_pipeline_source_retained_bytes", float64(l.Retained), pl("source", src)...)
		}
	}
	if sp := t.Snapshot; sp != nil {
		add("sluice_pipeline_snapshot_rows", float64(sp.Rows), pl()...)
		if sp.Estimated >= 0 {
			add("sluice_pipeline_snapshot_estimated_rows", float64(sp.Estimated), pl()...)
		}
		add("sluice_pipeline_snapshot_tables_done", float64(sp.TablesDone), pl()...)
		add("sluice_pipeline_snapshot_tables", float64(sp.Tables), pl()...)
		running := 1.0
		if sp.Done {
			running = 0
		}
		add("sluice_pipeline_snapshot_running", running, pl()...)
	}
	state := *p.state.Load()
	for _, st := range States {
		v := 0.0
		if st == state {
			v = 1
		}
		add("sluice_pipeline_state", v, pl("state", st)...)
	}
	if o := t.Ownership; o != nil {
		owned := 0.0
		if o.Owned {
			owned = 1
		}
		add("sluice_pipeline_owned", owned, pl()...)
		if o.Owner != "" {
			add("sluice_pipeline_owner", 1, "owner", o.Owner, "pipeline", p.name)
		}
		if o.Owned && !o.Expires.IsZero() {
			add("sluice_pipeline_lease_expiry_timestamp_seconds", float64(o.Expires.UnixNano())/1e9, pl()...)
		}
		add("sluice_pipeline_takeovers_total", float64(t.Takeovers), pl()...)
	}
}
