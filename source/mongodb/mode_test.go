package mongodb

import (
	"fmt"
	"github.com/sluice-cdc/sluice/source"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

func TestParseURLMode(t *testing.T) {
	for _, tt := range []struct {
		query string
		want  Mode
		err   string
	}{
		{"", ModeAuto, ""},
		{"&mode=auto", ModeAuto, ""},
		{"&mode=changestream", ModeChangeStream, ""},
		{"&mode=OPLOG", ModeOplog, ""},
		{"&mode=tail", "", "want one of auto, changestream, oplog"},
		{"&nosuch=1&password=pw", "", "unknown parameters nosuch, password (known: mode, collection"},
		{"&batch-size=0", "", `parameter batch-size="0"`},
	} {
		cfg, err := ParseURL("mongodb://h/?replicaSet=rs0" + tt.query)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want %q", tt.query, err, tt.err)
			}
			continue
		}
		if err != nil || cfg.Mode != tt.want || strings.Contains(cfg.URI, "mode") {
			t.Errorf("%q: mode %q, URI %s, err %v; want %q", tt.query, cfg.Mode, cfg.URI, err, tt.want)
		}
	}
	for _, tt := range []struct {
		mode Mode
		from source.Start
		ok   bool
	}{
		{"", source.StartEarliest, true}, // auto reads the oplog
		{ModeOplog, source.StartEarliest, true},
		{ModeChangeStream, source.StartEarliest, false},
		{ModeChangeStream, source.StartLatest, true},
		{"tail", source.StartLatest, false},
	} {
		src, err := New(Config{URI: "mongodb://h/", Mode: tt.mode, Common: source.Common{Start: tt.from}})
		if (err == nil) != tt.ok {
			t.Errorf("New(mode %q, from %s) = %v", tt.mode, tt.from, err)
		}
		if err == nil && tt.mode == "" && src.cfg.Mode != ModeAuto {
			t.Errorf("New without a mode: %q, want auto", src.cfg.Mode)
		}
	}
}

func TestPlanMode(t *testing.T) {
	var (
		zero   = change.Position{}
		stamp  = change.Position{Flavor: change.FlavorMongo, Offset: 7 << 32}                                  // a bare timestamp
		inTx   = change.Position{Flavor: change.FlavorMongo, Offset: 7 << 32, Index: 3}                        // inside an applyOps entry
		cs     = change.Position{Flavor: change.FlavorMongo, Offset: 7 << 32, Token: "8200000007"}             // a change-stream change
		begin  = change.Position{Flavor: change.FlavorMongo, Offset: 7 << 32, Index: 1, Token: "b:8200000007"} // a first begin
		commit = change.Position{Flavor: change.FlavorMongo, Offset: 7 << 32, Index: 4, Token: "c:8200000007"}
	)
	for _, tt := range []struct {
		mode Mode
		from source.Start
		pos  change.Position
		want Mode // ModeAuto: the server decides
		err  string
	}{
		{ModeAuto, source.StartLatest, zero, ModeAuto, ""},
		{ModeAuto, source.StartEarliest, zero, ModeOplog, ""},
		{ModeAuto, source.StartLatest, stamp, ModeOplog, ""},
		{ModeAuto, source.StartLatest, inTx, ModeOplog, ""},
		{ModeAuto, source.StartEarliest, cs, ModeChangeStream, ""},
		{ModeAuto, source.StartLatest, begin, ModeChangeStream, ""},
		{ModeAuto, source.StartLatest, commit, ModeChangeStream, ""},
		{ModeOplog, source.StartLatest, zero, ModeOplog, ""},
		{ModeOplog, source.StartLatest, inTx, ModeOplog, ""},
		{ModeOplog, source.StartLatest, cs, "", "holds a change-stream resume token"},
		{ModeOplog, source.StartLatest, begin, "", "holds a change-stream resume token"},
		{ModeChangeStream, source.StartLatest, zero, ModeChangeStream, ""},
		{ModeChangeStream, source.StartLatest, stamp, ModeChangeStream, ""}, // startAtOperationTime
		{ModeChangeStream, source.StartLatest, commit, ModeChangeStream, ""},
		{ModeChangeStream, source.StartLatest, inTx, "", "inside an oplog transaction entry"},
	} {
		src, err := New(Config{URI: "mongodb://h/", Mode: tt.mode, Common: source.Common{Start: tt.from}})
		if err != nil {
			t.Fatal(err)
		}
		got, why, err := src.planMode(tt.pos)
		name := fmt.Sprintf("mode %s from %s at %q", tt.mode, tt.from, tt.pos)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), tt.pos.String()) {
				t.Errorf("%s: err %v, want one naming the position and %q", name, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want || (got != ModeAuto) != (why != "") {
			t.Errorf("%s: %q (%q) %v, want %q with a reason", name, got, why, err, tt.want)
		}
	}
}

// TestResumeFirstTransaction: a stream whose first event is a
// transaction's has no token for its begin to resume after; the begin's
// token is the first change's with beginMark, so it is still a
// change-stream position, and resuming there starts at the transaction's
// cluster time. Resuming at every position reproduces the rest exactly.
func TestResumeFirstTransaction(t *testing.T) {
	lsid := bson.E{Key: "lsid", Value: bson.D{{Key: "id", Value: lsidID}}}
	txn := bson.E{Key: "txnNumber", Value: int64(3)}
	ins := func(ts bson.Timestamp, n int, tx bool) bson.D {
		e := ev("insert", ts, n, bson.E{Key: "documentKey", Value: bson.D{{Key: "_id", Value: int32(n)}}})
		if tx {
			e = append(e, lsid, txn)
		}
		return e
	}
	events := []bson.D{ins(t2, 1, true), ins(t2, 2, true), ins(t3, 0, false)}
	tok := func(e bson.D) string { return e[0].Value.(bson.D)[0].Value.(string) }
	ts := func(e bson.D) uint64 { v := e[2].Value.(bson.Timestamp); return uint64(v.T)<<32 | uint64(v.I) }
	run := func(from change.Position) []change.Change {
		dec, skip := resumeDecoder(from)
		var out []change.Change
		for _, e := range events {
			if rt := resumeToken(from); rt != "" && tok(e) <= strings.TrimPrefix(rt, commitMark) {
				continue // the server resumes after the token
			}
			if resumeToken(from) == "" && ts(e) < from.Offset {
				continue // the server starts at the operation time
			}
			var err error
			if out, _, err = dec.decode(out, mustRaw(t, e), time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		out = dec.closeTx(out)
		var kept []change.Change
		for _, c := range out {
			if !skip(c.Pos) {
				kept = append(kept, c)
			}
		}
		return kept
	}
	all := run(change.Position{})
	var ops []string
	for _, c := range all {
		ops = append(ops, c.Op.String())
		if positionMode(c.Pos) != ModeChangeStream {
			t.Errorf("%v at %v: position of mode %q, want changestream", c.Op, c.Pos, positionMode(c.Pos))
		}
	}
	if len(all) != 5 || all[0].Op != change.OpBegin || all[0].Pos.Token != beginMark+tok(events[0]) {
		t.Fatalf("changes %v, first at %v; want begin, 2 inserts, commit, insert, the begin's token %q", ops, all[0].Pos, beginMark+tok(events[0]))
	}
	for k := range all {
		got := run(all[k].Pos)
		want := all[k+1:]
		if len(got) != len(want) {
			t.Fatalf("resume at %v: %d changes, want %d", all[k].Pos, len(got), len(want))
		}
		for i := range want {
			if got[i].Op != want[i].Op || got[i].Pos != want[i].Pos {
				t.Errorf("resume at %v: change %d %v at %v, want %v at %v", all[k].Pos, i, got[i].Op, got[i].Pos, want[i].Op, want[i].Pos)
			}
		}
	}
}

func TestParseBuildInfo(t *testing.T) {
	ferret := func(stages ...string) bson.D {
		d := bson.D{{Key: "version", Value: "7.0.42"}, {Key: "ferretdbVersion", Value: "v1.24.2"}}
		if stages != nil {
			a := bson.A{}
			for _, s := range stages {
				a = append(a, s)
			}
			d = append(d, bson.E{Key: "ferretdbFeatures", Value: bson.D{{Key: "aggregationStages", Value: a}}})
		}
		return append(d, bson.E{Key: "ok", Value: 1.0})
	}
	for _, tt := range []struct {
		name  string
		doc   bson.D
		want  string
		lacks bool
	}{
		// what FerretDB v1.24.2 answers (its list, abridged)
		{"ferretdb", ferret("$limit", "$project", "$match", "$group"), "FerretDB v1.24.2", true},
		{"ferretdb with change streams", ferret("$match", "$changeStream"), "FerretDB v1.24.2", false},
		{"ferretdb without a stage list", ferret(), "FerretDB v1.24.2", false},
		{"mongodb", bson.D{{Key: "version", Value: "7.0.5"}, {Key: "gitVersion", Value: "abc"}, {Key: "ok", Value: 1.0}}, "MongoDB 7.0.5", false},
		{"nothing", bson.D{{Key: "ok", Value: 1.0}}, "", false},
	} {
		b := parseBuildInfo(mustRaw(t, tt.doc))
		if b.name != tt.want || b.lacksChangeStreams() != tt.lacks {
			t.Errorf("%s: name %q, lacks change streams %t; want %q, %t", tt.name, b.name, b.lacksChangeStreams(), tt.want, tt.lacks)
		}
	}
}

func TestUnsupportedReason(t *testing.T) {
	err := streamError("open change stream", change.Position{}, mongo.CommandError{Code: 238, Name: "NotImplemented", Message: "`aggregate` stage \"$changeStream\" is not implemented yet"})
	if got := unsupportedReason(err); got != "open change stream: (NotImplemented) `aggregate` stage \"$changeStream\" is not implemented yet" {
		t.Errorf("reason %q", got)
	}
}
