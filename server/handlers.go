package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/supervisor"
)

// PipelineView is the JSON form of a pipeline's status.
type PipelineView struct {
	Name      string     `json:"name"`
	State     string     `json:"state"`
	Since     time.Time  `json:"since"`
	Source    string     `json:"source"`
	To        string     `json:"to"`
	Format    string     `json:"format"`
	Positions Positions  `json:"positions"`
	Lag       LagView    `json:"lag"`
	Rates     Rates      `json:"rates"`
	Totals    TotalsView `json:"totals"`
	LastError *ErrorView `json:"last_error"`
	Attempt   int        `json:"attempt"`
	NextRetry *time.Time `json:"next_retry"`
	// History is the changes delivered per second, oldest first, one
	// sample per history interval (the dashboard's chart).
	History []float64 `json:"history"`
	// HA is the pipeline's ownership in high availability (null
	// without an ha section).
	HA *HAView `json:"ha"`
}

// HAView is who owns a pipeline in high availability, as this instance
// sees it.
type HAView struct {
	// Instance is the instance answering.
	Instance string `json:"instance"`
	// Owner is the instance holding the pipeline's lease ("": nobody).
	Owner string `json:"owner"`
	// Owned is whether the instance answering holds it.
	Owned bool `json:"owned"`
	// LeaseExpires is when the answering owner's lease ends at the
	// earliest unless renewed (null unless owned); it stops delivering
	// the stop margin before.
	LeaseExpires *time.Time `json:"lease_expires"`
	// LeaseToken is the owner's fencing token (0 unless owned).
	LeaseToken uint64 `json:"lease_token"`
	// Standbys are the other live instances.
	Standbys []string `json:"standbys"`
	// Takeovers counts the leases of the pipeline this instance acquired.
	Takeovers int64 `json:"takeovers"`
}

// Positions are a pipeline's positions as Sluice prints them ("" when unknown).
type Positions struct {
	// Source is the end of the source database's log.
	Source string `json:"source"`
	// Delivered is the end of what the sink acknowledged.
	Delivered string `json:"delivered"`
	// Checkpointed is the last position saved.
	Checkpointed string `json:"checkpointed"`
}

// LagView is how far behind a pipeline is (null: unknown).
type LagView struct {
	// Seconds from the last delivered change's commit to its delivery.
	Seconds *float64 `json:"seconds"`
	// SourceBytes of log between Delivered and the log's end (MySQL,
	// PostgreSQL); SourceSeconds behind the log's end (MongoDB);
	// RetainedBytes the log the database keeps for the pipeline
	// (PostgreSQL slot).
	SourceBytes   *int64   `json:"source_bytes"`
	SourceSeconds *float64 `json:"source_seconds"`
	RetainedBytes *int64   `json:"retained_bytes"`
	// CheckpointAgeSeconds since the last save.
	CheckpointAgeSeconds *float64 `json:"checkpoint_age_seconds"`
}

// Rates are per second, over the last history interval.
type Rates struct {
	Changes float64 `json:"changes_per_second"`
	Bytes   float64 `json:"bytes_per_second"`
}

// TotalsView are the counters since the process started.
type TotalsView struct {
	Read        int64 `json:"read"`
	Delivered   int64 `json:"delivered"`
	Bytes       int64 `json:"bytes"`
	Batches     int64 `json:"batches"`
	Checkpoints int64 `json:"checkpoints"`
	QueueBytes  int64 `json:"queue_bytes"`
	Errors      int64 `json:"errors"`
	Retries     int64 `json:"retries"`
	Reconnects  int64 `json:"reconnects"`
}

// ErrorView is a pipeline's last failure.
type ErrorView struct {
	Message string    `json:"message"`
	At      time.Time `json:"at"`
}

func posText(p change.Position) string {
	if p.IsZero() {
		return ""
	}
	return p.String()
}

func (s *Server) view(st supervisor.Status) PipelineView {
	t := st.Totals
	v := PipelineView{
		Name: st.Name, State: string(st.State), Since: st.Since,
		Source: address.Redact(st.Config.Source), To: address.Redact(st.Config.To), Format: st.Config.Format,
		Positions: Positions{Delivered: posText(st.Delivered), Checkpointed: posText(st.Checkpointed)},
		Totals: TotalsView{Read: t.Read, Delivered: t.Written, Bytes: t.Bytes, Batches: t.Batches, Checkpoints: t.Checkpoints,
			QueueBytes: t.QueueBytes, Errors: t.SinkErrors + t.SourceErrors + t.StoreErrors, Retries: t.Retries, Reconnects: t.Reconnects},
		Attempt: st.Attempt,
	}
	if v.Format == "" {
		v.Format = "sluice"
	}
	if t.Batches > 0 {
		sec := t.LastLag.Seconds()
		v.Lag.Seconds = &sec
	}
	if !t.LastCheckpoint.IsZero() {
		age := time.Since(t.LastCheckpoint).Seconds()
		v.Lag.CheckpointAgeSeconds = &age
	}
	if l := st.Lag; l != nil {
		v.Positions.Source = posText(l.Head)
		if l.Bytes >= 0 {
			v.Lag.SourceBytes = &l.Bytes
		}
		if l.Seconds >= 0 {
			v.Lag.SourceSeconds = &l.Seconds
		}
		if l.Retained >= 0 {
			v.Lag.RetainedBytes = &l.Retained
		}
	}
	if st.LastError != "" {
		v.LastError = &ErrorView{Message: st.LastError, At: st.LastErrorAt}
	}
	if !st.NextRetry.IsZero() {
		v.NextRetry = &st.NextRetry
	}
	if h := st.HA; h != nil {
		v.HA = &HAView{Instance: h.Instance, Owner: h.Owner, Owned: h.Owned, LeaseToken: h.Token, Standbys: h.Standbys, Takeovers: h.Takeovers}
		if h.Owned && !h.Expires.IsZero() {
			e := h.Expires
			v.HA.LeaseExpires = &e
		}
		if v.HA.Standbys == nil {
			v.HA.Standbys = []string{}
		}
	}
	v.History, v.Rates = s.history.get(st.Name)
	return v
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

// Readiness is the body of /readyz.
type Readiness struct {
	Ready bool `json:"ready"`
	// NotReady names the pipelines neither running, paused nor finished.
	NotReady []string `json:"not_ready"`
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	ok, not := s.opts.Supervisor.Ready()
	if not == nil {
		not = []string{}
	}
	code := http.StatusOK
	if !ok {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, Readiness{Ready: ok, NotReady: not})
}

// PipelineList is the body of GET /api/pipelines.
type PipelineList struct {
	Pipelines []PipelineView `json:"pipelines"`
	// HistoryIntervalSeconds is the time between two history samples.
	HistoryIntervalSeconds float64 `json:"history_interval_seconds"`
}

func (s *Server) list(w http.ResponseWriter, _ *http.Request) {
	out := PipelineList{Pipelines: []PipelineView{}, HistoryIntervalSeconds: s.opts.HistoryInterval.Seconds()}
	for _, st := range s.opts.Supervisor.List() {
		out.Pipelines = append(out.Pipelines, s.view(st))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	st, err := s.opts.Supervisor.Status(r.PathValue("name"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.view(st))
}

// fail answers err: 404 for an unknown pipeline, 500 otherwise.
func (s *Server) fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, supervisor.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, supervisor.ErrSnapshotTable):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, supervisor.ErrSnapshotUnsupported):
		writeError(w, http.StatusNotImplemented, err.Error())
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// control answers a pause, resume or restart: 202 with the status after
// the command was handed over (the state changes shortly after).
func (s *Server) control(do func(string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if err := do(name); err != nil {
			s.fail(w, err)
			return
		}
		st, err := s.opts.Supervisor.Status(name)
		if err != nil {
			s.fail(w, err)
			return
		}
		writeJSON(w, http.StatusAccepted, s.view(st))
	}
}

// SnapshotRequest is the body of POST /api/pipelines/{name}/snapshot.
type SnapshotRequest struct {
	// Tables are database.table (PostgreSQL: schema.table).
	Tables []string `json:"tables"`
}

// SnapshotStarted answers POST /api/pipelines/{name}/snapshot.
type SnapshotStarted struct {
	// Request is the request's id in the source's signalling table.
	Request string   `json:"request"`
	Tables  []string `json:"tables"`
}

func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	var req SnapshotRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || len(req.Tables) == 0 {
		msg := "want {\"tables\": [\"db.table\", …]}"
		if err != nil {
			msg += ": " + err.Error()
		}
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	tables := make([]change.Namespace, 0, len(req.Tables))
	for _, t := range req.Tables {
		db, tb, ok := strings.Cut(strings.TrimSpace(t), ".")
		if !ok || db == "" || tb == "" {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("table %q: want database.table", t))
			return
		}
		tables = append(tables, change.Namespace{Database: db, Table: tb})
	}
	id, err := s.opts.Supervisor.Snapshot(r.Context(), r.PathValue("name"), tables)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, SnapshotStarted{Request: id, Tables: req.Tables})
}

// ReloadResult is the body of POST /api/reload.
type ReloadResult struct {
	Added     []string `json:"added"`
	Removed   []string `json:"removed"`
	Changed   []string `json:"changed"`
	Unchanged []string `json:"unchanged"`
}

func (s *Server) reload(w http.ResponseWriter, _ *http.Request) {
	if s.opts.Reload == nil {
		writeError(w, http.StatusNotImplemented, "this server has no config file to reload")
		return
	}
	ch, err := s.opts.Reload()
	if err != nil {
		// A config that does not load changes nothing.
		writeError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	nz := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	writeJSON(w, http.StatusOK, ReloadResult{Added: nz(ch.Added), Removed: nz(ch.Removed), Changed: nz(ch.Changed), Unchanged: nz(ch.Unchanged)})
}

// tailKeepAlive is how often an idle tail sends a comment, so proxies
// and clients do not time it out.
const tailKeepAlive = 15 * time.Second

// tail streams the pipeline's delivered changes as server-sent events:
// one "change" event per change (data: its Sluice JSON), until the client
// goes away, ?limit=N changes were sent, or the client fell too far
// behind ("dropped" event). It never slows the pipeline.
func (s *Server) tail(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	t, err := s.opts.Supervisor.Tail(name)
	if err != nil {
		s.fail(w, err)
		return
	}
	limit := -1
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 {
			writeError(w, http.StatusBadRequest, "limit: want a positive count")
			return
		}
		limit = n
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, ": tail of pipeline %s\n\n", name)
	rc.Flush()
	watcher := t.Watch(0)
	defer watcher.Close()
	keep := time.NewTicker(tailKeepAlive)
	defer keep.Stop()
	sent := 0
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keep.C:
			io.WriteString(w, ": keep-alive\n\n")
			if rc.Flush() != nil {
				return
			}
		case msg, ok := <-watcher.C:
			if !ok {
				if watcher.Dropped() {
					io.WriteString(w, "event: dropped\ndata: the client fell too far behind the pipeline and was dropped\n\n")
					rc.Flush()
				}
				return
			}
			for line := range bytes.Lines(msg) {
				w.Write([]byte("event: change\ndata: "))
				w.Write(bytes.TrimRight(line, "\n"))
				w.Write([]byte("\n\n"))
				if sent++; sent == limit {
					rc.Flush()
					return
				}
			}
			if rc.Flush() != nil {
				return
			}
		}
	}
}
