package mongodb

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// logRecorder is a slog.Handler keeping each record's message and attributes
// as one line of text, except the connection's security line (see
// tls_live_test.go), so that the lines are the mode notes.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }

func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	if strings.HasPrefix(rec.Message, "mongodb connection is ") {
		return nil
	}
	line := rec.Level.String() + " " + rec.Message
	rec.Attrs(func(a slog.Attr) bool {
		line += " " + a.String()
		return true
	})
	r.mu.Lock()
	r.lines = append(r.lines, line)
	r.mu.Unlock()
	return nil
}

func (r *logRecorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

// urlSource is a Source for raw logging to rec.
func urlSource(t *testing.T, raw string, rec *logRecorder) *Source {
	t.Helper()
	cfg, err := ParseURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = slog.New(rec)
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// autoSource is urlSource for a URL without mode (auto).
func autoSource(t *testing.T, raw string, rec *logRecorder) *Source {
	t.Helper()
	src := urlSource(t, raw, rec)
	if src.cfg.Mode != ModeAuto {
		t.Fatalf("%s: mode %q, want auto", raw, src.cfg.Mode)
	}
	return src
}

// streamErr runs src from the start and returns its error, which the
// caller expects before any change.
func streamErr(ctx context.Context, src *Source) error {
	return src.Stream(ctx, change.Position{}, func([]change.Change) error { return nil })
}

// inNS keeps the changes of one collection.
func inNS(cs []change.Change, coll *mongo.Collection) []change.Change {
	ns := change.Namespace{Database: coll.Database().Name(), Table: coll.Name()}
	var out []change.Change
	for _, c := range cs {
		if c.Namespace == ns {
			out = append(out, c)
		}
	}
	return out
}

// whenTailing inserts into ping until col receives one of those inserts:
// the source, started at the latest oplog entry, is then reading.
func whenTailing(ctx context.Context, t *testing.T, col *collector, ping *mongo.Collection) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for i := int32(1); ; i++ {
		if _, err := ping.InsertOne(ctx, bson.D{{Key: "_id", Value: i}}); err != nil {
			t.Fatal(err)
		}
		for wait := time.Now().Add(200 * time.Millisecond); time.Now().Before(wait); {
			col.mu.Lock()
			n := len(inNS(col.changes, ping))
			col.mu.Unlock()
			if n > 0 {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		if time.Now().After(deadline) {
			t.Fatal("the source read none of the pings in a minute")
		}
	}
}

// TestModeFerretDB runs mode=auto (the default) and the forced modes on
// FerretDB, which has an oplog but no change streams.
func TestModeFerretDB(t *testing.T) {
	if testing.Short() {
		t.Skip("starts FerretDB")
	}
	db := testenv.NewFerretDB(t)
	client, err := db.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	ctx := context.Background()
	dbURI := func(path string) string { return strings.Replace(db.URI(), "/?", "/"+path+"?", 1) }
	fallback := "change streams not supported by this server (FerretDB v1.24.2): tailing the oplog"

	t.Run("auto tails the oplog and resumes", func(t *testing.T) {
		coll := client.Database("auto").Collection("docs")
		ping := client.Database("auto").Collection("ping")
		rec := &logRecorder{}
		// The default URL: no mode, no from (latest), the whole deployment.
		src := autoSource(t, db.URI(), rec)
		col := collect(t, src, change.Position{})
		whenTailing(ctx, t, col, ping)
		var next int32
		n := workload(ctx, t, coll, 120, 11, &next)
		got := col.waitUntil(t, "the first workload", func(cs []change.Change) bool { return dataCount(inNS(cs, coll)) >= n })
		col.stop(t)
		lines := rec.all()
		if len(lines) != 1 || !strings.Contains(lines[0], fallback) || !strings.Contains(lines[0], "NotImplemented") && !strings.Contains(lines[0], "FailedToParse") {
			t.Fatalf("log after the first run:\n%s\nwant one line saying %q with the server's answer", strings.Join(lines, "\n"), fallback)
		}
		t.Logf("logged: %s", lines[0])
		for _, c := range got {
			if c.Pos.Token != "" {
				t.Fatalf("oplog change with a token: %v", c.Pos)
			}
		}
		all := inNS(got, coll)

		// The same Source again, from the last position: no second log line.
		from := got[len(got)-1].Pos
		col = collect(t, src, from)
		n2 := n + workload(ctx, t, coll, 60, 12, &next)
		got = col.waitUntil(t, "the second workload", func(cs []change.Change) bool { return dataCount(all)+dataCount(inNS(cs, coll)) >= n2 })
		col.stop(t)
		if lines := rec.all(); len(lines) != 1 {
			t.Fatalf("the second Stream logged again:\n%s", strings.Join(lines, "\n"))
		}
		all = append(all, inNS(got, coll)...)

		// A new Source (a restarted process) from the saved position: the
		// position pins the oplog.
		rec2 := &logRecorder{}
		src2 := autoSource(t, db.URI(), rec2)
		col = collect(t, src2, got[len(got)-1].Pos)
		n3 := n2 + workload(ctx, t, coll, 60, 13, &next)
		got = col.waitUntil(t, "the third workload", func(cs []change.Change) bool { return dataCount(all)+dataCount(inNS(cs, coll)) >= n3 })
		col.stop(t)
		all = append(all, inNS(got, coll)...)
		if lines := rec2.all(); len(lines) != 1 || !strings.Contains(lines[0], "tails the oplog") || !strings.Contains(lines[0], "resuming an oplog position") {
			t.Fatalf("log of the resumed source:\n%s\nwant one line naming the oplog position", strings.Join(lines, "\n"))
		}
		if dataCount(all) != n3 {
			t.Fatalf("got %d data changes over three runs, want %d", dataCount(all), n3)
		}
		ops := map[change.Op]int{}
		for _, c := range all {
			ops[c.Op]++
		}
		if ops[change.OpInsert] == 0 || ops[change.OpUpdate] == 0 || ops[change.OpDelete] == 0 {
			t.Fatalf("ops %v: want inserts, updates and deletes", ops)
		}
		checkRebuild(ctx, t, coll, all)
	})

	t.Run("changestream forced", func(t *testing.T) {
		// FerretDB answers a collection's $changeStream with NotImplemented
		// and a database's or the deployment's with FailedToParse.
		for _, raw := range []string{
			dbURI("shop") + "&collection=orders&mode=changestream",
			dbURI("shop") + "&mode=changestream",
			db.URI() + "&mode=changestream",
		} {
			err := streamErr(ctx, urlSource(t, raw, &logRecorder{}))
			if !errors.Is(err, ErrChangeStreamsUnsupported) || !strings.Contains(err.Error(), "mode=auto or mode=oplog") {
				t.Fatalf("%s: Stream = %v, want ErrChangeStreamsUnsupported naming mode=auto and mode=oplog", raw, err)
			}
			t.Logf("%s: %v", raw, err)
		}
	})

	t.Run("auto with a change-stream position", func(t *testing.T) {
		src := autoSource(t, db.URI(), &logRecorder{})
		from := change.Position{Flavor: change.FlavorMongo, Offset: 1 << 40, Token: "8266389D59000000032B0229296E04"}
		err := src.Stream(ctx, from, func([]change.Change) error { return nil })
		if !errors.Is(err, ErrChangeStreamsUnsupported) || !strings.Contains(err.Error(), "holds a change-stream resume token") {
			t.Fatalf("Stream = %v, want ErrChangeStreamsUnsupported naming the position's mode", err)
		}
		t.Log(err)
	})

	t.Run("no oplog", func(t *testing.T) { // last: drops the oplog
		if err := client.Database("local").Collection("oplog.rs").Drop(ctx); err != nil {
			t.Fatal(err)
		}
		for _, raw := range []string{db.URI(), db.URI() + "&mode=oplog"} {
			src := urlSource(t, raw, &logRecorder{})
			err := streamErr(ctx, src)
			if !errors.Is(err, errNoOplog) {
				t.Fatalf("%s without an oplog: Stream = %v, want errNoOplog", raw, err)
			}
			if src.cfg.Mode == ModeAuto && !strings.Contains(err.Error(), "nor change streams") {
				t.Fatalf("%s: %v does not say there are no change streams either", raw, err)
			}
			t.Logf("%s: %v", raw, err)
		}
	})
}
