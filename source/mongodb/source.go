package mongodb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ErrPositionLost is returned (wrapped) when the server no longer holds the
// position a stream should resume from: the oplog rolled past it, or the
// server answered ChangeStreamHistoryLost (286), ChangeStreamFatalError
// (280) or InvalidResumeToken (260). The source never starts elsewhere
// silently.
var ErrPositionLost = errors.New("mongodb: resume position is no longer in the oplog")

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

// Start is where a stream begins when Stream is given a zero Position.
type Start string

// Start points.
const (
	StartLatest   Start = "latest"   // the current end of the log (default)
	StartEarliest Start = "earliest" // the oldest entry of the oplog (oplog mode only)
)

// Config configures a Source.
type Config struct {
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
	// From is where to start without a position (default StartLatest).
	From Start
	// Batch is the most changes handed to emit at once (default 1024).
	Batch int
	// MaxAwait is how long the server holds an idle tailing read (default 1s).
	MaxAwait time.Duration
	// Logger receives notes (default: discarded).
	Logger *slog.Logger
}

// ParseURL reads a mongodb:// or mongodb+srv:// URL. Sluice's parameters
// are removed before the rest goes to the driver:
//
//	mode=auto|changestream|oplog, collection=NAME, fullDocument=…,
//	fullDocumentBeforeChange=…, from=latest|earliest
//
// The URL path names the database scope (and, as in any MongoDB URI, the
// default authentication database).
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, fmt.Errorf("mongodb: parse URL: %w", redact(err))
	}
	if u.Scheme != "mongodb" && u.Scheme != "mongodb+srv" {
		return Config{}, fmt.Errorf("mongodb: URL scheme %q: want mongodb or mongodb+srv", u.Scheme)
	}
	q := u.Query()
	cfg := Config{Mode: ModeAuto, From: StartLatest}
	if m := q.Get("mode"); m != "" {
		cfg.Mode = Mode(strings.ToLower(m))
		if !cfg.Mode.valid() {
			return Config{}, fmt.Errorf("mongodb: mode=%q: want auto, changestream or oplog", m)
		}
	}
	if f := q.Get("from"); f != "" {
		cfg.From = Start(f)
		if cfg.From != StartLatest && cfg.From != StartEarliest {
			return Config{}, fmt.Errorf("mongodb: from=%q: want latest or earliest", f)
		}
	}
	cfg.Database = strings.TrimPrefix(u.Path, "/")
	cfg.Collection = q.Get("collection")
	cfg.FullDocument = q.Get("fullDocument")
	cfg.FullDocumentBeforeChange = q.Get("fullDocumentBeforeChange")
	if cfg.Collection != "" && cfg.Database == "" {
		return Config{}, fmt.Errorf("mongodb: collection=%q needs a database in the URL path", cfg.Collection)
	}
	for _, k := range []string{"mode", "from", "collection", "fullDocument", "fullDocumentBeforeChange"} {
		q.Del(k)
	}
	u.RawQuery = q.Encode()
	cfg.URI = u.String()
	return cfg, nil
}

// redact drops the URL from a url.Error, which may hold a password.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Source streams the changes of a MongoDB deployment (see the package
// documentation). It implements pipeline.Source.
type Source struct {
	cfg Config

	mu    sync.Mutex
	noted Mode // the mode last logged (see note)
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
	if cfg.From == "" {
		cfg.From = StartLatest
	}
	if cfg.From == StartEarliest && cfg.Mode == ModeChangeStream {
		return nil, errors.New("mongodb: from=earliest needs mode=oplog or auto (a change stream starts at a token or an operation time)")
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 1024
	}
	if cfg.MaxAwait <= 0 {
		cfg.MaxAwait = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Source{cfg: cfg}, nil
}

// Stream connects and emits changes strictly after from (see
// pipeline/doc.go) until ctx is canceled, emit fails or the server fails.
func (s *Source) Stream(ctx context.Context, from change.Position, emit func([]change.Change) error) error {
	if !from.IsZero() && from.Flavor != change.FlavorMongo {
		return fmt.Errorf("mongodb: position %s is not a MongoDB position", from)
	}
	mode, why, err := s.planMode(from)
	if err != nil {
		return err
	}
	client, err := mongo.Connect(options.Client().ApplyURI(s.cfg.URI))
	if err != nil {
		return fmt.Errorf("mongodb: connect: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = client.Disconnect(dctx)
	}()
	err = s.run(ctx, client, mode, why, from, emit)
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return ctx.Err()
	}
	return err
}
