package config

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/sluice-cdc/sluice/snapshot"
	"github.com/sluice-cdc/sluice/source"
)

// File is a loaded, checked config file.
type File struct {
	// Path is the file's path as given to Load.
	Path string
	// Log is how the process logs.
	Log Log
	// HTTP is the API, metrics and dashboard listener.
	HTTP HTTP
	// HA is the high-availability section; its zero value (no
	// Coordinator) runs every pipeline in this process alone.
	HA HA
	// Pipelines are the pipelines in the order of the file.
	Pipelines []Pipeline
}

// Log is the `log:` section.
type Log struct {
	// Level is the lowest level logged. Default info.
	Level slog.Level
	// Format is "text", "json" or "auto" (text on a terminal, JSON
	// otherwise). Default auto.
	Format string
}

// HTTP is the `http:` section. An empty Listen serves no HTTP.
type HTTP struct {
	// Listen is the address of the API, /metrics and the dashboard
	// (":8080").
	Listen string
	// Token is the bearer token every request but /healthz must carry,
	// from `token` or the file `token-file` names. Required with Listen.
	Token string
	// TLSCert and TLSKey, when set, serve HTTPS.
	TLSCert, TLSKey string
}

// HA is the `ha:` section: the pipelines are owned through leases on a
// coordinator, so that several processes with the same config each run
// the pipelines they own and take over those of a process that dies.
type HA struct {
	// Coordinator is the lease coordinator: an etcd:// or zk:// URL, or
	// "source" for each pipeline's own source database (MySQL GET_LOCK,
	// PostgreSQL advisory locks). Empty: no high availability.
	Coordinator string
	// Instance names this process in leases, status and metrics; it must
	// differ between the processes of one deployment. Empty: HOST:PID.
	Instance string
	// TTL is how long a lease outlives its holder's last renewal (0: the
	// lease package's default, 10 s).
	TTL time.Duration
	// StopMargin is how long before its lease can expire a holder that
	// cannot renew stops delivering (0: the default, 2 s or TTL/4).
	StopMargin time.Duration
	// SpreadDelay paces the spreading of the pipelines over the
	// instances (supervisor.HA; 0: the default, TTL/2).
	SpreadDelay time.Duration
}

// Source is the Coordinator value that locks each pipeline on its own
// source database.
const Source = "source"

// Default settings of a pipeline.
const (
	DefaultState    = "sluice.db"
	DefaultMaskWith = "***"
	DefaultRetryMin = time.Second
	DefaultRetryMax = time.Minute
)

// Pipeline is one entry of `pipelines:`. Its fields are the flags of
// `sluice stream`, checked.
type Pipeline struct {
	// Name is the key under pipelines; it names the pipeline in logs,
	// metrics and the API.
	Name string
	// Line is where the pipeline is defined (not compared by Equal).
	Line int
	// Source is the source URL (secrets expanded).
	Source string
	// To is the sink URL, with Delivery added as its delivery parameter.
	To string
	// Format is the output format with its options.
	Format string
	// Filter and Transform are the table and column rules.
	Filter    pipeline.FilterSpec
	Transform pipeline.TransformSpec
	// Start and From are where to begin without a saved position.
	Start source.Start
	From  change.Position
	// Snapshot is whether (and how) the pipeline begins with the rows its
	// tables hold (Mode and Workers; the supervisor adds the filter).
	Snapshot snapshot.Options
	// StopAt ends the pipeline on reaching it (zero: never).
	StopAt change.Position
	// State is the checkpoint store: a bbolt state file (an absolute
	// path) or a store URL (etcd://, zk://, mysql://, postgres://,
	// redis://), unless the sink keeps the position itself.
	State string
	// ID names the pipeline's checkpoint in State. Default Name.
	ID string
	// BeginCommit delivers begin and commit events.
	BeginCommit bool
	// QueueBytes bounds the changes held between source and sink.
	QueueBytes int64
	// CheckpointInterval is how often, at most, the position is saved.
	CheckpointInterval time.Duration
	// RetryMin and RetryMax bound the capped exponential backoff between
	// restarts of a failed pipeline.
	RetryMin, RetryMax time.Duration
	// Paused pipelines are loaded but not started until resumed.
	Paused bool
}

// Equal reports whether two pipelines have the same settings (Line aside):
// a reload restarts a pipeline only when it is not Equal to its old self.
func (p Pipeline) Equal(q Pipeline) bool {
	p.Line, q.Line = 0, 0
	return reflect.DeepEqual(p, q)
}

// Lookup returns the pipeline named name.
func (f *File) Lookup(name string) (Pipeline, bool) {
	for _, p := range f.Pipelines {
		if p.Name == name {
			return p, true
		}
	}
	return Pipeline{}, false
}

// Options are what Load needs from outside the file.
type Options struct {
	// Getenv looks up ${NAME}. Default os.LookupEnv.
	Getenv func(name string) (string, bool)
	// CheckSource and CheckSink, when set, check a URL without connecting
	// (a registered scheme, known parameters); their errors are reported
	// at the URL's line.
	CheckSource func(raw string) error
	CheckSink   func(raw, format string) error
	// CheckFormat, when set, checks the format setting.
	CheckFormat func(format string) error
	// CheckState, when set, checks a state setting that is a checkpoint
	// store URL (etcd://, zk://, mysql://, …) without connecting.
	CheckState func(raw string) error
	// CheckCoordinator, when set, checks ha.coordinator when it is a URL
	// without connecting.
	CheckCoordinator func(raw string) error
	// Coordinator and Instance, when set, override (or supply)
	// ha.coordinator and ha.instance: sluice run's --ha and --instance.
	Coordinator, Instance string
}

// Error is one problem of a config file: where it is and what is wrong.
type Error struct {
	File string
	Line int
	// Key is the dotted path of the setting: pipelines.orders.source.
	Key string
	Msg string
}

func (e *Error) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Key, e.Msg)
}

// Errors is every problem of a file, in file order.
type Errors []*Error

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Load reads and checks the config file at path.
func Load(path string, opts Options) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data, opts)
}

// Parse checks the config text data, read from the file at path.
func Parse(path string, data []byte, opts Options) (*File, error) {
	if opts.Getenv == nil {
		opts.Getenv = os.LookupEnv
	}
	root, err := parseYAML(data)
	if err != nil {
		return nil, Errors{yamlError(path, err)}
	}
	l := &loader{path: path, dir: filepath.Dir(path), opts: opts}
	f := l.file(root)
	if len(l.errs) > 0 {
		return nil, l.errs
	}
	return f, nil
}

// yamlError turns a YAML syntax error ("yaml: line 3: …") into an Error.
func yamlError(path string, err error) *Error {
	msg := err.Error()
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		fmt.Sscan(m[1], &line)
		msg = strings.TrimPrefix(msg[len(m[0]):], " ")
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	return &Error{File: path, Line: line, Msg: "YAML: " + msg}
}

var yamlLine = regexp.MustCompile(`^yaml: (?:line (\d+):)?`)

// loader collects the problems of one file.
type loader struct {
	path, dir string
	opts      Options
	errs      Errors
}

func (l *loader) fail(n *node, key, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.line
	}
	l.errs = append(l.errs, &Error{File: l.path, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// pipelineName is what a pipeline may be called: it appears in URLs of the
// API, metric labels and checkpoint ids.
var pipelineName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

func (l *loader) file(root *node) *File {
	f := &File{Path: l.path, Log: Log{Level: slog.LevelInfo, Format: "auto"}}
	if root == nil {
		l.fail(nil, "", "empty file: want a pipelines: section")
		return f
	}
	m := l.mapping(root, "", "log", "http", "ha", "pipelines")
	if m == nil {
		return f
	}
	if n := m["log"]; n != nil {
		lm := l.mapping(n.value, "log", "level", "format")
		if v := lm["level"]; v != nil {
			if s, ok := l.str(v, "log.level"); ok {
				if err := f.Log.Level.UnmarshalText([]byte(s)); err != nil {
					l.fail(v.value, "log.level", "%q: want debug, info, warn or error", s)
				}
			}
		}
		if v := lm["format"]; v != nil {
			if s, ok := l.str(v, "log.format"); ok {
				switch s {
				case "auto", "text", "json":
					f.Log.Format = s
				default:
					l.fail(v.value, "log.format", "%q: want auto, text or json", s)
				}
			}
		}
	}
	if n := m["http"]; n != nil {
		l.http(n, &f.HTTP)
	}
	if n := m["ha"]; n != nil {
		l.ha(n, &f.HA)
	}
	if c := l.opts.Coordinator; c != "" {
		f.HA.Coordinator = c
		if c != Source && l.opts.CheckCoordinator != nil {
			if err := l.opts.CheckCoordinator(c); err != nil {
				l.fail(nil, "ha.coordinator", "--ha %v", err)
			}
		}
	}
	if l.opts.Instance != "" {
		f.HA.Instance = l.opts.Instance
	}
	pn := m["pipelines"]
	if pn == nil {
		l.fail(root, "pipelines", "missing: a config names at least one pipeline")
		return f
	}
	if pn.value.kind != mappingNode {
		l.fail(pn.value, "pipelines", "want a mapping of pipeline names to their settings")
		return f
	}
	if len(pn.value.pairs) == 0 {
		l.fail(pn.value, "pipelines", "empty: a config names at least one pipeline")
	}
	ids := map[string]string{} // state file + id → pipeline
	lines := map[string]int{}  // pipeline name → line
	for _, kv := range pn.value.pairs {
		name := kv.key.text
		key := "pipelines." + name
		if first, dup := lines[name]; dup {
			l.fail(kv.key, key, "given twice (first at line %d): pipeline names must be unique", first)
			continue
		}
		lines[name] = kv.key.line
		if !pipelineName.MatchString(name) {
			l.fail(kv.key, key, "pipeline name %q: want letters, digits, '_', '.' or '-' (at most 64, not starting with a symbol)", name)
			continue
		}
		p, ok := l.pipeline(name, kv)
		if !ok {
			continue
		}
		k := p.State + "\x00" + p.ID
		if other, dup := ids[k]; dup && p.State != "" {
			l.fail(kv.key, key+".id", "checkpoint id %q in %s is also pipeline %s's: two pipelines would overwrite each other's position", p.ID, p.State, other)
		}
		ids[k] = name
		if f.HA.Coordinator != "" && !strings.Contains(p.State, "://") {
			l.fail(kv.key, key+".state", "%s is a file of this machine: with ha, every instance must read the checkpoint the owner saved (etcd://, zk://, mysql://, postgres:// or redis://)", p.State)
		}
		f.Pipelines = append(f.Pipelines, p)
	}
	return f
}

func (l *loader) http(n *pair, h *HTTP) {
	m := l.mapping(n.value, "http", "listen", "token", "token-file", "tls-cert", "tls-key")
	if m == nil {
		return
	}
	for key, dst := range map[string]*string{"listen": &h.Listen, "token": &h.Token, "tls-cert": &h.TLSCert, "tls-key": &h.TLSKey} {
		if v := m[key]; v != nil {
			if s, ok := l.str(v, "http."+key); ok {
				*dst = s
			}
		}
	}
	if v := m["token-file"]; v != nil {
		if s, ok := l.str(v, "http.token-file"); ok {
			if h.Token != "" {
				l.fail(v.key, "http.token-file", "give token or token-file, not both")
			} else if t, err := readSecretFile(l.abs(s)); err != nil {
				l.fail(v.value, "http.token-file", "%v", err)
			} else {
				h.Token = string(t)
			}
		}
	}
	for _, k := range []string{"tls-cert", "tls-key"} {
		if v := m[k]; v != nil && (h.TLSCert == "") != (h.TLSKey == "") {
			l.fail(v.key, "http."+k, "give both tls-cert and tls-key")
			break
		}
	}
	if v := m["listen"]; v != nil && h.Listen != "" && h.Token == "" {
		l.fail(v.key, "http.token", "missing: the API needs a bearer token (token: ${SLUICE_API_TOKEN}, or token-file)")
	}
	if h.TLSCert != "" {
		h.TLSCert, h.TLSKey = l.abs(h.TLSCert), l.abs(h.TLSKey)
	}
}

func (l *loader) ha(n *pair, h *HA) {
	m := l.mapping(n.value, "ha", "coordinator", "instance", "ttl", "stop-margin", "spread-delay")
	if m == nil {
		return
	}
	v := m["coordinator"]
	if v == nil && l.opts.Coordinator == "" {
		l.fail(n.key, "ha.coordinator", "missing: an etcd:// or zk:// URL, or source")
	} else if v == nil {
	} else if s, ok := l.str(v, "ha.coordinator"); ok {
		h.Coordinator = s
		switch {
		case s == "":
			l.fail(v.value, "ha.coordinator", "empty: an etcd:// or zk:// URL, or source")
		case s == Source:
		case l.opts.CheckCoordinator != nil:
			if err := l.opts.CheckCoordinator(s); err != nil {
				l.fail(v.value, "ha.coordinator", "%v", err)
			}
		}
	}
	if v := m["instance"]; v != nil {
		if s, ok := l.str(v, "ha.instance"); ok {
			h.Instance = s
			if s == "" {
				l.fail(v.value, "ha.instance", "empty: leave it out for HOST:PID")
			}
		}
	}
	for key, dst := range map[string]*time.Duration{"ttl": &h.TTL, "stop-margin": &h.StopMargin, "spread-delay": &h.SpreadDelay} {
		if v := m[key]; v != nil {
			if s, ok := l.str(v, "ha."+key); ok {
				d, err := time.ParseDuration(s)
				if err != nil || d <= 0 {
					l.fail(v.value, "ha."+key, "%q: want a positive duration such as 10s", s)
				}
				*dst = d
			}
		}
	}
	if h.TTL > 0 && h.StopMargin > h.TTL/2 {
		l.fail(m["stop-margin"].value, "ha.stop-margin", "%s is over half the ttl %s: a holder must stop well before its lease can expire", h.StopMargin, h.TTL)
	}
	if h.TTL == 0 && h.StopMargin > 5*time.Second {
		l.fail(m["stop-margin"].value, "ha.stop-margin", "%s is over half the default ttl 10s", h.StopMargin)
	}
}

// pipelineKeys are the settings of a pipeline: the flags of sluice stream
// (less the process-wide ones), the positional SOURCE-URL as source, and
// the keys only a config has.
var pipelineKeys = []string{
	"source", "to", "format", "delivery", "snapshot", "snapshot-workers",
	"include", "exclude", "include-columns", "exclude-columns",
	"mask", "mask-with", "hash", "hash-key", "hash-key-file", "rename",
	"from", "stop-at", "state", "id", "begin-commit", "queue-bytes", "checkpoint-interval",
	"retry-min", "retry-max", "paused",
}

// PipelineKeys returns the keys a pipeline takes, for documentation tests.
func PipelineKeys() []string { return append([]string(nil), pipelineKeys...) }

func (l *loader) pipeline(name string, kv *pair) (Pipeline, bool) {
	before := len(l.errs)
	prefix := "pipelines." + name + "."
	p := Pipeline{
		Name: name, Line: kv.key.line, To: "stdout://", ID: name, State: l.abs(DefaultState),
		QueueBytes: pipeline.DefaultQueueBytes, CheckpointInterval: pipeline.DefaultCheckpointInterval,
		RetryMin: DefaultRetryMin, RetryMax: DefaultRetryMax,
	}
	p.Transform.MaskWith = DefaultMaskWith
	m := l.mapping(kv.value, "pipelines."+name, pipelineKeys...)
	if m == nil {
		return p, false
	}
	text := func(key string, dst *string) *pair {
		v := m[key]
		if v != nil {
			if s, ok := l.str(v, prefix+key); ok {
				*dst = s
			}
		}
		return v
	}
	srcN := text("source", &p.Source)
	if srcN == nil {
		l.fail(kv.key, prefix+"source", "missing: every pipeline reads a source URL")
	} else if p.Source == "" {
		l.fail(srcN.value, prefix+"source", "empty")
	} else if l.opts.CheckSource != nil {
		if err := l.opts.CheckSource(p.Source); err != nil {
			l.fail(srcN.value, prefix+"source", "%v", err)
		}
	}
	toN := text("to", &p.To)
	text("format", &p.Format)
	if v := m["format"]; v != nil && l.opts.CheckFormat != nil {
		if err := l.opts.CheckFormat(p.Format); err != nil {
			l.fail(v.value, prefix+"format", "%v", err)
		}
	}
	var delivery string
	if v := text("delivery", &delivery); v != nil && delivery != "" {
		to, err := withParam(p.To, "delivery", delivery)
		if err != nil {
			l.fail(v.value, prefix+"delivery", "%v", err)
		}
		p.To = to
	}
	if l.opts.CheckSink != nil && len(l.errs) == before {
		if err := l.opts.CheckSink(p.To, p.Format); err != nil {
			at, key := kv.key, prefix+"to"
			if toN != nil {
				at = toN.value
			}
			l.fail(at, key, "%v", err)
		}
	}
	filterN := []*pair{
		text("include", &p.Filter.Include), text("exclude", &p.Filter.Exclude),
		text("include-columns", &p.Filter.IncludeColumns), text("exclude-columns", &p.Filter.ExcludeColumns),
	}
	if _, err := pipeline.NewFilter(p.Filter); err != nil {
		l.fail(firstNode(filterN, kv), prefix+firstKey(filterN, "include"), "%s", strings.TrimPrefix(err.Error(), "pipeline: "))
	}
	transformN := []*pair{text("mask", &p.Transform.Mask), text("mask-with", &p.Transform.MaskWith),
		text("hash", &p.Transform.Hash), text("rename", &p.Transform.Rename)}
	var hashKey, hashKeyFile string
	hk, hkf := text("hash-key", &hashKey), text("hash-key-file", &hashKeyFile)
	switch {
	case hk != nil && hkf != nil:
		l.fail(hkf.key, prefix+"hash-key-file", "give hash-key or hash-key-file, not both")
	case hkf != nil:
		k, err := readSecretFile(l.abs(hashKeyFile))
		if err != nil {
			l.fail(hkf.value, prefix+"hash-key-file", "%v", err)
		}
		p.Transform.HashKey = k
	case hk != nil:
		p.Transform.HashKey = []byte(hashKey)
	}
	if p.Transform.Hash != "" && len(p.Transform.HashKey) == 0 && hk == nil && hkf == nil {
		l.fail(m["hash"].key, prefix+"hash-key", "missing: hash needs a secret key (hash-key: ${SLUICE_HASH_KEY}, or hash-key-file)")
	} else if _, err := pipeline.NewTransform(p.Transform); err != nil {
		l.fail(firstNode(transformN, kv), prefix+firstKey(transformN, "mask"), "%v", err)
	}
	var from string
	if v := text("from", &from); v != nil {
		start, pos, err := source.ParseFrom(from)
		if err != nil {
			l.fail(v.value, prefix+"from", "%v", err)
		}
		p.Start, p.From = start, pos
	}
	var snapMode string
	snapN := text("snapshot", &snapMode)
	mode, err := snapshot.ParseMode(snapMode)
	if err != nil {
		l.fail(snapN.value, prefix+"snapshot", "%v", err)
	}
	// As sluice stream: the URL's own snapshot= or from= stands when the
	// config says nothing; a from means never; else initial.
	var urlSays bool
	if u, err := url.Parse(p.Source); err == nil {
		urlSays = u.Query().Has("snapshot") || u.Query().Has("from")
	}
	fromN := m["from"]
	switch {
	case mode == snapshot.ModeDefault && urlSays:
	case mode == snapshot.ModeDefault && fromN != nil:
		mode = snapshot.ModeNever
	case mode == snapshot.ModeDefault:
		mode = snapshot.ModeInitial
	case mode.Snapshots() && fromN != nil:
		l.fail(snapN.value, prefix+"snapshot", "%s starts at the snapshot's consistent point; from contradicts it", mode)
	}
	p.Snapshot = snapshot.Options{Mode: mode, Workers: snapshot.DefaultWorkers}
	if v := m["snapshot-workers"]; v != nil {
		if s, ok := l.str(v, prefix+"snapshot-workers"); ok {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 64 {
				l.fail(v.value, prefix+"snapshot-workers", "%q: want 1 to 64", s)
			}
			p.Snapshot.Workers = n
		}
	}
	var stopAt string
	if v := text("stop-at", &stopAt); v != nil && stopAt != "" {
		pos, err := ParseStopAt(stopAt)
		if err != nil {
			l.fail(v.value, prefix+"stop-at", "%v", err)
		}
		p.StopAt = pos
	}
	if v := text("state", &p.State); v != nil {
		switch {
		case p.State == "":
			l.fail(v.value, prefix+"state", "empty")
		case strings.Contains(p.State, "://"):
			if l.opts.CheckState != nil {
				if err := l.opts.CheckState(p.State); err != nil {
					l.fail(v.value, prefix+"state", "%v", err)
				}
			}
		default:
			p.State = l.abs(p.State)
		}
	}
	if v := text("id", &p.ID); v != nil && p.ID == "" {
		l.fail(v.value, prefix+"id", "empty")
	}
	if v := m["begin-commit"]; v != nil {
		p.BeginCommit, _ = l.boolean(v, prefix+"begin-commit")
	}
	if v := m["paused"]; v != nil {
		p.Paused, _ = l.boolean(v, prefix+"paused")
	}
	if v := m["queue-bytes"]; v != nil {
		if s, ok := l.str(v, prefix+"queue-bytes"); ok {
			n, err := address.ParseSize(s)
			if err != nil || n <= 0 {
				l.fail(v.value, prefix+"queue-bytes", "%q: want a positive byte count such as 4MiB", s)
			}
			p.QueueBytes = n
		}
	}
	durations := []struct {
		key string
		dst *time.Duration
		min time.Duration
	}{
		{"checkpoint-interval", &p.CheckpointInterval, 0},
		{"retry-min", &p.RetryMin, time.Millisecond},
		{"retry-max", &p.RetryMax, time.Millisecond},
	}
	for _, d := range durations {
		if v := m[d.key]; v != nil {
			if s, ok := l.str(v, prefix+d.key); ok {
				x, err := time.ParseDuration(s)
				if err != nil || x < d.min {
					l.fail(v.value, prefix+d.key, "%q: want a duration such as 1s or 250ms, at least %s", s, d.min)
				}
				*d.dst = x
			}
		}
	}
	if p.RetryMax < p.RetryMin {
		l.fail(kv.key, prefix+"retry-max", "%s is below retry-min %s", p.RetryMax, p.RetryMin)
	}
	return p, len(l.errs) == before
}

// ParseStopAt reads a stop-at setting: what from takes, less the words and
// GTID sets, which name no single point of the log.
func ParseStopAt(s string) (change.Position, error) {
	start, p, err := source.ParseFrom(s)
	switch {
	case err != nil:
		return change.Position{}, err
	case start != "" || p.IsZero():
		return change.Position{}, fmt.Errorf("%q: want FILE:POS, an LSN or a position", s)
	case p.Flavor == change.FlavorBinlog && p.File == "":
		return change.Position{}, fmt.Errorf("%q: a GTID set has no order; give FILE:POS", s)
	}
	return p, nil
}

func firstNode(ps []*pair, def *pair) *node {
	for _, p := range ps {
		if p != nil {
			return p.value
		}
	}
	return def.key
}

func firstKey(ps []*pair, def string) string {
	for _, p := range ps {
		if p != nil {
			return p.key.text
		}
	}
	return def
}

// abs makes a relative path relative to the config file's directory.
func (l *loader) abs(path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	p, err := filepath.Abs(filepath.Join(l.dir, path))
	if err != nil {
		return filepath.Join(l.dir, path)
	}
	return p
}

// readSecretFile reads a key or token file; a trailing newline is not part of it.
func readSecretFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) == 0 {
		return nil, fmt.Errorf("%s is empty", path)
	}
	return b, nil
}

// withParam adds name=value to the query of the URL raw, refusing a URL
// that already gives name.
func withParam(raw, name, value string) (string, error) {
	base, query, _ := strings.Cut(raw, "?")
	for _, kv := range strings.Split(query, "&") {
		if k, _, _ := strings.Cut(kv, "="); k == name {
			return raw, errors.New("the sink URL gives " + name + " too: give it once")
		}
	}
	if query == "" {
		if !strings.Contains(base, "://") || strings.Count(base, "/") < 3 {
			base += "/"
		}
		return base + "?" + name + "=" + value, nil
	}
	return raw + "&" + name + "=" + value, nil
}
