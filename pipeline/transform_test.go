package pipeline

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/fixture"
)

// copySink keeps deep copies of what it is written.
type copySink struct {
	mu  sync.Mutex
	got []change.Change
}

func (s *copySink) Write(_ context.Context, batch []change.Change) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range batch {
		c.Before, c.After = cloneImage(c.Before), cloneImage(c.After)
		s.got = append(s.got, c)
	}
	return nil
}

func (s *copySink) Close() error { return nil }

func TestNewTransformErrors(t *testing.T) {
	for _, tt := range []struct {
		spec TransformSpec
		want string
	}{
		{TransformSpec{Mask: "db\\.t"}, "mask: item"},
		{TransformSpec{Hash: "db\\.t:c"}, "hash: a key is required"},
		{TransformSpec{Rename: "db\\.t"}, "rename: item"},
		{TransformSpec{Rename: "db\\.(=x.y"}, "rename: item"},
	} {
		if _, err := NewTransform(tt.spec); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.spec, err, tt.want)
		}
	}
	if tr, err := NewTransform(TransformSpec{}); tr != nil || err != nil {
		t.Errorf("empty spec: %v %v", tr, err)
	}
}

func TestTransformRename(t *testing.T) {
	tr, err := NewTransform(TransformSpec{Rename: `shop\.(.*)=archive.$1, crm\.users=people.users, x\.(.*)=$1`})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		in, want change.Namespace
		err      bool
	}{
		{change.Namespace{Database: "shop", Table: "orders"}, change.Namespace{Database: "archive", Table: "orders"}, false},
		{change.Namespace{Database: "crm", Table: "users"}, change.Namespace{Database: "people", Table: "users"}, false},
		{change.Namespace{Database: "crm", Table: "other"}, change.Namespace{Database: "crm", Table: "other"}, false},
		{change.Namespace{Database: "shop"}, change.Namespace{Database: "shop"}, false}, // no table: untouched
		{change.Namespace{Database: "x", Table: "t"}, change.Namespace{Database: "x", Table: "t"}, true},
	} {
		got, err := tr.Rename(tt.in)
		if (err != nil) != tt.err || (!tt.err && got != tt.want) {
			t.Errorf("Rename(%v) = %v, %v", tt.in, got, err)
		}
	}
}

// TestPipelineTransform runs a pipeline with a mask, a keyed hash and a
// rename, with and without a column filter, and checks every delivered
// change: masked values replaced (NULL kept), hashes equal to the HMAC of
// the value's text, tables renamed, the source's own memory untouched.
func TestPipelineTransform(t *testing.T) {
	key := []byte("k3y")
	const payloadCol, noteCol = fixture.ColPayload, fixture.ColNote
	for _, filter := range []FilterSpec{{}, {ExcludeColumns: `shop\.users:note`}} {
		g := gen(t, fixture.Options{Txs: []int{4, 3, 5}, Batch: 3, Payload: 6, Tables: []string{"orders", "users"}})
		sink := &copySink{}
		p, err := New(g, sink, &checkpoint.Memory{}, WithFilter(filter), WithTransform(TransformSpec{
			Mask: `shop\.orders:note`, MaskWith: "[hidden]", Hash: `shop\..*:payload`, HashKey: key,
			Rename: `shop\.orders=sales.orders`,
		}))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		var want []change.Change
		for c := range g.After(change.Position{}) {
			if c.Op == change.OpInsert {
				want = append(want, c)
			}
		}
		if len(sink.got) != len(want) {
			t.Fatalf("%d changes, want %d", len(sink.got), len(want))
		}
		for i, c := range sink.got {
			w := want[i]
			payload := w.After[payloadCol]
			mac := hmac.New(sha256.New, key)
			mac.Write(change.AppendText(nil, payload))
			if got := string(c.After[payloadCol].B); got != hex.EncodeToString(mac.Sum(nil)) {
				t.Fatalf("change %d payload %q, want the HMAC of %q", i, got, payload.B)
			}
			switch w.Table {
			case "orders":
				if c.Database != "sales" || c.Table != "orders" {
					t.Fatalf("change %d in %s.%s, want sales.orders", i, c.Database, c.Table)
				}
				note := c.After[noteCol]
				if w.After[noteCol].Kind == change.KindNull {
					if note.Kind != change.KindNull {
						t.Fatalf("change %d: masked NULL became %+v", i, note)
					}
				} else if string(note.B) != "[hidden]" {
					t.Fatalf("change %d: note %q not masked", i, note.B)
				}
			case "users":
				if c.Database != "shop" {
					t.Fatalf("users renamed to %s", c.Database)
				}
				if filter.ExcludeColumns != "" && len(c.After) != len(w.After)-1 {
					t.Fatalf("users change with %d columns after the filter", len(c.After))
				}
				if filter.ExcludeColumns == "" && !change.Equal(c.After[noteCol], w.After[noteCol]) {
					t.Fatalf("users note changed: %+v", c.After[noteCol])
				}
			}
		}
	}
}

// statementSource emits one statement-based DML change, which the fixture
// source does not generate.
type statementSource struct{}

func (statementSource) Stream(ctx context.Context, from change.Position, emit func([]change.Change) error) error {
	p := change.Position{Flavor: change.FlavorBinlog, File: "bin.000001", Offset: 4}
	if !from.IsZero() {
		return nil
	}
	return emit([]change.Change{{Op: change.OpStatement, Namespace: change.Namespace{Database: "db"},
		SQL: "INSERT INTO users VALUES (1, 'ada@example.com')", Pos: p}})
}

// TestTransformWithholdsStatementText: with a mask on, a statement change
// keeps its place but not its text, which holds the masked values.
func TestTransformWithholdsStatementText(t *testing.T) {
	for _, spec := range []TransformSpec{{Mask: `db\.users:email`}, {Rename: `db\.users=x.users`}} {
		sink := &copySink{}
		p, err := New(statementSource{}, sink, &checkpoint.Memory{}, WithTransform(spec))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(sink.got) != 1 {
			t.Fatalf("%d changes", len(sink.got))
		}
		withheld := strings.Contains(sink.got[0].SQL, "withheld")
		if withheld != (spec.Mask != "") || (spec.Mask != "" && strings.Contains(sink.got[0].SQL, "ada@")) {
			t.Errorf("spec %+v: SQL %q", spec, sink.got[0].SQL)
		}
	}
}
