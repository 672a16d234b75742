package mongodb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/source"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// errNoOplog is returned (wrapped) when local.oplog.rs does not exist: the
// tail would otherwise wait forever on a collection nothing writes.
var errNoOplog = errors.New("mongodb: no oplog: local.oplog.rs does not exist " +
	"(a standalone mongod keeps no oplog and has no change streams: run it as a replica set, a single-node one is enough; through mongos, use change streams)")

// positionMode is the mode that wrote a position: ModeChangeStream when it
// holds a resume token (every change-stream position does), ModeOplog when
// it holds none, "" for the zero position. A position without a token and
// without an Index is a bare oplog timestamp, which a change stream can
// also start after (startAtOperationTime); one with an Index is inside an
// oplog transaction entry, whose numbering only the oplog reproduces.
func positionMode(p change.Position) Mode {
	switch {
	case p.IsZero():
		return ""
	case p.Token != "":
		return ModeChangeStream
	default:
		return ModeOplog
	}
}

// planMode decides what Stream reads before it connects: the configured
// mode, checked against the position's (a position is never read by the
// mode that did not write it), or in auto mode the mode the position
// pins. It returns ModeAuto when only the server can tell (a fresh start
// in auto mode), and why it chose, for the log.
func (s *Source) planMode(from change.Position) (Mode, string, error) {
	pm := positionMode(from)
	switch s.cfg.Mode {
	case ModeOplog:
		if pm == ModeChangeStream {
			return "", "", fmt.Errorf("mongodb: position %s holds a change-stream resume token: mode=oplog cannot resume there (use mode=changestream or auto, or start without the saved position)", from)
		}
		return ModeOplog, "mode=oplog", nil
	case ModeChangeStream:
		if pm == ModeOplog && from.Index > 0 {
			return "", "", fmt.Errorf("mongodb: position %s is inside an oplog transaction entry (it was written by oplog tailing): mode=changestream cannot resume there (use mode=oplog or auto)", from)
		}
		return ModeChangeStream, "mode=changestream", nil
	}
	switch {
	case pm == ModeChangeStream:
		return ModeChangeStream, "resuming a change-stream position (it holds a resume token)", nil
	case pm == ModeOplog:
		return ModeOplog, "resuming an oplog position (it holds no resume token)", nil
	case s.cfg.Start == source.StartEarliest:
		return ModeOplog, "from=earliest: only the oplog starts at its oldest entry", nil
	}
	return ModeAuto, "", nil
}

// run reads changes in mode, as planMode chose it. In auto mode it opens a
// change stream and tails the oplog instead when the server has none
// (ErrChangeStreamsUnsupported); any other error is returned, so a
// network or authentication failure never switches modes. It calls
// answered once the server has answered a first command.
func (s *Source) run(ctx context.Context, client *mongo.Client, mode Mode, why string, from change.Position,
	emit func([]change.Change) error, answered func()) error {
	if mode == ModeOplog {
		if err := checkOplog(ctx, client); err != nil {
			return err
		}
		answered()
		s.note(ModeOplog, "mongodb source tails the oplog", why)
		return s.tailOplog(ctx, client, from, emit)
	}
	cs, err := s.openChangeStream(ctx, client, from)
	if err == nil || errors.Is(err, ErrChangeStreamsUnsupported) {
		answered()
	}
	switch {
	case err == nil:
	case !errors.Is(err, ErrChangeStreamsUnsupported):
		return err
	case mode == ModeAuto:
		reason := unsupportedReason(err)
		if oerr := checkOplog(ctx, client); oerr != nil {
			return fmt.Errorf("%w; nor change streams (%s)", oerr, reason)
		}
		name := readBuildInfo(ctx, client).name
		if name == "" {
			name = "unknown server"
		}
		s.note(ModeOplog, "mongodb change streams not supported by this server ("+name+"): tailing the oplog", reason)
		return s.tailOplog(ctx, client, from, emit)
	case s.cfg.Mode == ModeAuto: // a change-stream position on a server without them
		return fmt.Errorf("%w (the position %s holds a change-stream resume token: start without it to tail the oplog)", err, from)
	default:
		return fmt.Errorf("%w (mode=auto or mode=oplog tails the oplog instead)", err)
	}
	defer cs.Close(context.Background())
	if why == "" {
		why = "the server opened a change stream"
	}
	s.note(ModeChangeStream, "mongodb source reads change streams", why)
	return s.readChangeStream(ctx, cs, from, emit)
}

// note logs the mode chosen and why, once: again only if a later Stream
// chooses another mode.
func (s *Source) note(mode Mode, msg, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.noted == mode {
		return
	}
	s.noted = mode
	s.cfg.Logger.Info(msg, "mode", string(s.cfg.Mode), "reason", why)
}

// unsupportedReason is an ErrChangeStreamsUnsupported error without the
// sentinel's text: what the server answered.
func unsupportedReason(err error) string {
	return strings.TrimPrefix(err.Error(), ErrChangeStreamsUnsupported.Error()+": ")
}

// checkOplog fails with errNoOplog when local.oplog.rs does not exist
// (authorizedCollections lets a user who may only read the oplog ask).
func checkOplog(ctx context.Context, client *mongo.Client) error {
	names, err := client.Database("local").ListCollectionNames(ctx, bson.D{{Key: "name", Value: "oplog.rs"}},
		options.ListCollections().SetNameOnly(true).SetAuthorizedCollections(true))
	if err != nil {
		return fmt.Errorf("mongodb: look for the oplog (local.oplog.rs): %w", err)
	}
	if len(names) == 0 {
		return errNoOplog
	}
	return nil
}

// buildInfo is what the buildInfo command says about the server.
type buildInfo struct {
	// name is "MongoDB 7.0.5" or "FerretDB v1.24.2"; "" when unknown.
	name string
	// stages are the aggregation stages the server lists (FerretDB does,
	// MongoDB does not: nil).
	stages []string
}

// lacksChangeStreams reports whether the server lists its aggregation
// stages and $changeStream is not among them.
func (b buildInfo) lacksChangeStreams() bool {
	return b.stages != nil && !slices.Contains(b.stages, "$changeStream")
}

// readBuildInfo runs buildInfo; a failure gives the zero buildInfo (the
// caller only uses it to name the server or to confirm a failure).
func readBuildInfo(ctx context.Context, client *mongo.Client) buildInfo {
	raw, err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Raw()
	if err != nil {
		return buildInfo{}
	}
	return parseBuildInfo(raw)
}

func parseBuildInfo(raw bson.Raw) buildInfo {
	var b buildInfo
	if v, ok := raw.Lookup("ferretdbVersion").StringValueOK(); ok {
		b.name = "FerretDB " + v
		if arr, ok := raw.Lookup("ferretdbFeatures", "aggregationStages").ArrayOK(); ok {
			b.stages = []string{}
			vals, _ := arr.Values()
			for _, v := range vals {
				if s, ok := v.StringValueOK(); ok {
					b.stages = append(b.stages, s)
				}
			}
		}
		return b
	}
	if v, ok := raw.Lookup("version").StringValueOK(); ok {
		b.name = "MongoDB " + v
	}
	return b
}
