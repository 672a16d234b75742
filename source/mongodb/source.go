package mongodb

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/snapshot"
	"github.com/sluice-cdc/sluice/source"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"
)

// ErrChangeStreamsUnsupported is returned (wrapped) by mode=changestream
// when the server does not implement $changeStream (FerretDB, a standalone
// mongod); mode=auto (the default) then tails the oplog instead.
var ErrChangeStreamsUnsupported = errors.New("mongodb: server does not support change streams")

// Mode selects how the source reads changes.
type Mode string

// The modes.
const (
	// ModeAuto (the default) reads change streams where the server
	// supports them and tails the oplog elsewhere; a saved position keeps
	// the mode that wrote it (see the package documentation).
	ModeAuto         Mode = "auto"
	ModeChangeStream Mode = "changestream"
	ModeOplog        Mode = "oplog"
)

// Config configures a Source.
type Config struct {
	// Common holds Start — where to begin when Stream is given a zero
	// position: source.StartLatest (the default: the current end of the
	// log) or source.StartEarliest (the oldest entry of the oplog; the
	// oplog only) — and the Logger.
	source.Common
	// URI is the driver's connection string, without Sluice's parameters.
	URI string
	// Mode is ModeAuto (default), ModeChangeStream or ModeOplog.
	Mode Mode
	// Database and Collection narrow the scope: a change stream on the
	// deployment, a database or a collection; in oplog mode, a filter on ns.
	Database, Collection string
	// FullDocument is the change stream's fullDocument option: "",
	// "updateLookup", "whenAvailable" or "required".
	FullDocument string
	// FullDocumentBeforeChange is "", "whenAvailable" or "required" (pre-images, 6.0+).
	FullDocumentBeforeChange string
	// BatchSize is the most changes handed to emit at once (default
	// source.DefaultBatchSize).
	BatchSize int
	// MaxAwait is how long the server holds an idle tailing read (default 1s).
	MaxAwait time.Duration
}

// ownParams are the URL parameters ParseURL reads; the others go to the driver.
var ownParams = []string{"mode", "collection", "fullDocument", "fullDocumentBeforeChange", "from", "batch-size", "max-await",
	"snapshot", "snapshot-workers", "snapshot-chunk", "snapshot-memory", "signal-table"}

// ParseURL reads a mongodb:// or mongodb+srv:// URL. Sluice's parameters
// are removed before the rest goes to the driver:
//
//	mode=auto|changestream|oplog, collection=NAME, fullDocument=…,
//	fullDocumentBeforeChange=…, from=latest|earliest, batch-size=N,
//	max-await=DURATION
//
// The rest must be options of MongoDB's connection string (replicaSet,
// authSource, tls, …): an option the driver does not know is an error that
// lists Sluice's parameters. The URL path names the database scope (and,
// as in any MongoDB URI, the default authentication database).
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, address.ParseError(err)
	}
	if u.Scheme != "mongodb" && u.Scheme != "mongodb+srv" {
		return Config{}, fmt.Errorf("scheme %q: want mongodb or mongodb+srv", u.Scheme)
	}
	cfg := Config{Mode: ModeAuto}
	p := address.NewParams(u)
	source.ReadCommon(p, &cfg.Common)
	source.ReadBatchSize(p, &cfg.BatchSize)
	mode := string(cfg.Mode)
	p.Enum("mode", &mode, string(ModeAuto), string(ModeChangeStream), string(ModeOplog))
	cfg.Mode = Mode(mode)
	p.String("collection", &cfg.Collection)
	p.String("fullDocument", &cfg.FullDocument)
	p.String("fullDocumentBeforeChange", &cfg.FullDocumentBeforeChange)
	p.Duration("max-await", &cfg.MaxAwait, time.Millisecond)
	if err := p.Err(); err != nil {
		return Config{}, err
	}
	cfg.Database = strings.TrimPrefix(u.Path, "/")
	if cfg.Collection != "" && cfg.Database == "" {
		return Config{}, fmt.Errorf("collection=%q needs a database in the URL path", cfg.Collection)
	}
	q := u.Query()
	for _, k := range ownParams {
		q.Del(k)
	}
	u.RawQuery = q.Encode()
	cfg.URI = u.String()
	cs, err := connstring.Parse(cfg.URI)
	if err != nil {
		return Config{}, address.RedactError(err, raw)
	}
	if len(cs.UnknownOptions) > 0 {
		unknown := make([]string, 0, len(cs.UnknownOptions))
		for k := range cs.UnknownOptions {
			unknown = append(unknown, k)
		}
		slices.Sort(unknown)
		noun := "parameter"
		if len(unknown) > 1 {
			noun = "parameters"
		}
		return Config{}, fmt.Errorf("unknown %s %s (known: %s; and MongoDB's connection string options such as replicaSet, authSource, tls, tlsCAFile, readPreference)",
			noun, strings.Join(unknown, ", "), strings.Join(ownParams, ", "))
	}
	return cfg, nil
}

// Source streams the changes of a MongoDB deployment (see the package
// documentation). It implements pipeline.Source.
type Source struct {
	cfg Config

	mu    sync.Mutex
	noted Mode // the mode last logged (see note)
	// security logs the connection's TLS state once (see noteSecurity).
	security source.SecurityNote
}

func (m Mode) valid() bool {
	return m == ModeAuto || m == ModeChangeStream || m == ModeOplog
}

// New validates cfg and returns a Source. It does not connect: Stream does.
func New(cfg Config) (*Source, error) {
	if cfg.URI == "" {
		return nil, errors.New("mongodb: no URI")
	}
	if cfg.Mode == "" {
		cfg.Mode = ModeAuto
	}
	if !cfg.Mode.valid() {
		return nil, fmt.Errorf("mongodb: mode %q: want auto, changestream or oplog", cfg.Mode)
	}
	if err := cfg.CheckSnapshot(); err != nil {
		return nil, fmt.Errorf("mongodb: %w", err)
	}
	switch cfg.Start {
	case source.StartDefault:
		cfg.Start = source.StartLatest
	case source.StartLatest, source.StartEarliest:
	default:
		return nil, fmt.Errorf("mongodb: start %q: want latest or earliest", cfg.Start)
	}
	if cfg.Start == source.StartEarliest && cfg.Mode == ModeChangeStream {
		return nil, errors.New("mongodb: from=earliest needs mode=oplog or auto (a change stream starts at a token or an operation time)")
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = source.DefaultBatchSize
	}
	if cfg.MaxAwait <= 0 {
		cfg.MaxAwait = time.Second
	}
	cfg.Logger = cfg.Log()
	return &Source{cfg: cfg}, nil
}

// Stream connects and emits changes strictly after from (see
// pipeline/doc.go) until ctx is canceled, emit fails or the server fails.
func (s *Source) Stream(ctx context.Context, from change.Position, emit func([]change.Change) error) error {
	if !from.IsZero() && from.Flavor != change.FlavorMongo {
		return fmt.Errorf("mongodb: position %s is not a MongoDB position", from)
	}
	snapMode := s.cfg.Snapshot.Mode
	st, err := snapshot.ParseState(from.Snapshot)
	if err != nil {
		return fmt.Errorf("mongodb: resume position %s: %w", from, err)
	}
	if snapMode == snapshot.ModeOnly && !from.IsZero() && (st.Table == (change.Namespace{}) || st.Incremental != "") {
		return nil // the snapshot was done before
	}
	opts := options.Client().ApplyURI(s.cfg.URI)
	client, err := mongo.Connect(opts)
	if err != nil {
		return fmt.Errorf("mongodb: connect: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = client.Disconnect(dctx)
	}()
	switch {
	case from.IsZero() && snapMode.Snapshots():
		if from, err = s.snapshotRun(ctx, client, snapshot.State{}, 0, change.Position{}, emit); err != nil || snapMode == snapshot.ModeOnly {
			return err
		}
	case st.Table != (change.Namespace{}) && st.Incremental == "":
		point := from
		point.Row, point.Snapshot = 0, ""
		if from, err = s.snapshotRun(ctx, client, st, from.Row, point, emit); err != nil || snapMode == snapshot.ModeOnly {
			return err
		}
	}
	mode, why, err := s.planMode(from)
	if err != nil {
		return err
	}
	err = s.run(ctx, client, mode, why, from, emit, s.noteSecurity(opts))
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return ctx.Err()
	}
	return unreachable(err)
}
