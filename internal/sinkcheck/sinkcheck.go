// Package sinkcheck checks that changes arrive exactly through the NATS,
// Redis and HTTP sinks: the type tests of the MySQL and PostgreSQL sources
// hand it the changes their every-type tables produced, and it writes them
// through each sink to a real Redis and NATS server (started for the test)
// and a webhook receiver, reads back what each destination holds, and
// compares it with the changes:
//
//   - Redis stream mode, pubsub mode, NATS and the webhook (NDJSON and a
//     JSON array): every message decodes (change.DecodeJSON) to its change,
//     equal value for value (change.EqualChange: kind, size and every
//     field), in order;
//   - Redis hash mode: every key holds the row the changes leave, each
//     field the column's value as change.AppendText writes it (NULL
//     columns left out, columns an update did not send kept), and with
//     value=json the row as the "after" member of its Sluice JSON line.
package sinkcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	goredis "github.com/redis/go-redis/v9"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/internal/webhooktest"
	httpsink "github.com/sluice-cdc/sluice/sink/http"
	natssink "github.com/sluice-cdc/sluice/sink/nats"
	redissink "github.com/sluice-cdc/sluice/sink/redis"
)

// EveryType writes changes (in log order, with their positions, as a
// pipeline hands them to a sink) through every mode of the three sinks and
// checks that each destination holds them exactly.
func EveryType(t *testing.T, changes []change.Change) {
	t.Helper()
	if len(changes) == 0 {
		t.Fatal("no changes to check")
	}
	through := changes[len(changes)-1].Pos
	var rows []change.Change
	for _, c := range changes {
		if c.Op >= change.OpInsert && c.Op <= change.OpDelete {
			rows = append(rows, c)
		}
	}
	rds := testenv.NewRedis(t)
	nts := testenv.NewNATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t.Run("redis-stream", func(t *testing.T) {
		s := openRedis(t, rds, 1, "mode=stream&stream=every")
		if err := s.WriteAt(ctx, changes, through); err != nil {
			t.Fatal(err)
		}
		cl := dbClient(rds, 1)
		defer cl.Close()
		entries, err := cl.XRange(ctx, "every", "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		var msgs [][]byte
		for _, e := range entries {
			msgs = append(msgs, []byte(e.Values[redissink.FieldValue].(string)))
		}
		compare(t, msgs, rows)
	})

	t.Run("redis-pubsub", func(t *testing.T) {
		cl := dbClient(rds, 0)
		defer cl.Close()
		sub := cl.Subscribe(ctx, "every")
		defer sub.Close()
		if _, err := sub.Receive(ctx); err != nil {
			t.Fatal(err)
		}
		s := openRedis(t, rds, 0, "mode=pubsub&channel=every")
		if err := s.WriteAt(ctx, changes, through); err != nil {
			t.Fatal(err)
		}
		var msgs [][]byte
		for range rows {
			select {
			case m := <-sub.Channel():
				msgs = append(msgs, []byte(m.Payload))
			case <-time.After(10 * time.Second):
				t.Fatalf("received %d of %d messages", len(msgs), len(rows))
			}
		}
		compare(t, msgs, rows)
	})

	for _, value := range []string{"hash", "json"} {
		t.Run("redis-hash-"+value, func(t *testing.T) {
			db := 2
			if value == "json" {
				db = 3
			}
			s := openRedis(t, rds, db, "mode=hash&value="+value)
			if err := s.WriteAt(ctx, changes, through); err != nil {
				t.Fatal(err)
			}
			cl := dbClient(rds, db)
			defer cl.Close()
			checkMirror(t, ctx, cl, rows, value == "json")
		})
	}

	t.Run("nats", func(t *testing.T) {
		raw := fmt.Sprintf("nats://%s:%s@%s/?stream=EVERY&create-stream=on&subject=every.{db}.{table}&prefix=every",
			testenv.NATSUser, url.QueryEscape(testenv.NATSPassword), nts.Addr())
		s, err := natssink.Open(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Write(ctx, changes); err != nil {
			t.Fatal(err)
		}
		nc, err := nts.Connect()
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		st, err := js.Stream(ctx, "EVERY")
		if err != nil {
			t.Fatal(err)
		}
		var msgs [][]byte
		for seq := uint64(1); seq <= uint64(len(rows)); seq++ {
			m, err := st.GetMsg(ctx, seq)
			if err != nil {
				t.Fatalf("message %d: %v", seq, err)
			}
			msgs = append(msgs, m.Data)
		}
		compare(t, msgs, rows)
	})

	for _, body := range []string{"ndjson", "array"} {
		t.Run("http-"+body, func(t *testing.T) {
			rc := webhooktest.New([]byte("every-Secret"), httpsink.DefaultSignatureHeader)
			srv := httptest.NewServer(rc)
			defer srv.Close()
			s, err := httpsink.Open(srv.URL + "/every?secret=every-Secret&max-messages=3&body=" + body)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.WriteAt(ctx, changes, through); err != nil {
				t.Fatal(err)
			}
			if p := rc.Problems(); len(p) > 0 {
				t.Fatalf("receiver problems: %v", p)
			}
			compare(t, rc.Deduplicated(), rows)
		})
	}
}

// openRedis opens a Redis sink of database db of rds, loaded for
// pipeline "every".
func openRedis(t *testing.T, rds *testenv.Redis, db int, query string) *redissink.Sink {
	t.Helper()
	s, err := redissink.Open(context.Background(), fmt.Sprintf("redis://:%s@%s/%d?%s", rds.Password(), rds.Addr(), db, query))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.Load(context.Background(), "every")
	return s
}

// dbClient is a client of database db of rds.
func dbClient(rds *testenv.Redis, db int) *goredis.Client {
	return goredis.NewClient(&goredis.Options{Addr: rds.Addr(), Password: rds.Password(), DB: db})
}

// compare checks that msgs decode to want, in order.
func compare(t *testing.T, msgs [][]byte, want []change.Change) {
	t.Helper()
	if len(msgs) != len(want) {
		t.Fatalf("%d messages, want %d", len(msgs), len(want))
	}
	for i, m := range msgs {
		c, err := change.DecodeJSON(m)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		w := want[i]
		if !change.EqualChange(&c, &w) {
			for j := range w.Columns {
				for _, img := range []struct {
					name     string
					got, exp []change.Value
				}{{"before", c.Before, w.Before}, {"after", c.After, w.After}} {
					if j < len(img.exp) && (j >= len(img.got) || !change.Equal(img.got[j], img.exp[j])) {
						var g change.Value
						if j < len(img.got) {
							g = img.got[j]
						}
						t.Errorf("message %d (%s %s.%s), %s column %s %s: got %+v, want %+v", i, w.Op, w.Database, w.Table, img.name, w.Columns[j].Name, w.Columns[j].Type, g, img.exp[j])
					}
				}
			}
			t.Fatalf("message %d: decodes to a change that differs from the source's", i)
		}
	}
	t.Logf("%d changes, every value equal to the source's", len(msgs))
}

// row is the state of one row while the changes are applied.
type row struct {
	change *change.Change
	values []change.Value
}

// checkMirror applies rows to a model of the mirror and compares every key
// of the database with it.
func checkMirror(t *testing.T, ctx context.Context, cl *goredis.Client, rows []change.Change, asJSON bool) {
	t.Helper()
	model := map[string]row{}
	for i := range rows {
		c := &rows[i]
		switch c.Op {
		case change.OpInsert:
			model[keyOf(c, c.After, nil)] = row{c, clone(c.After)}
		case change.OpUpdate:
			old := keyOf(c, c.Before, nil)
			if c.Before == nil {
				old = keyOf(c, c.After, nil)
			}
			prev := model[old]
			delete(model, old)
			vals := clone(c.After)
			for j := range vals {
				if k := vals[j].Kind; (k == change.KindAbsent || k == change.KindUnchanged) && prev.values != nil {
					vals[j] = prev.values[j]
				}
			}
			model[keyOf(c, c.After, c.Before)] = row{c, vals}
		case change.OpDelete:
			delete(model, keyOf(c, c.Before, nil))
		}
	}
	keys, err := cl.Keys(ctx, "sluice:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, k := range keys {
		if k == "sluice:positions" {
			continue
		}
		n++
		r, ok := model[k]
		if !ok {
			t.Errorf("key %s: no such row", k)
			continue
		}
		if asJSON {
			got, err := cl.Get(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			img := change.Change{Op: change.OpInsert, Columns: r.change.Columns, After: r.values}
			var v struct{ After json.RawMessage }
			if err := json.Unmarshal(change.AppendJSON(nil, &img), &v); err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(got, v.After) {
				t.Errorf("key %s:\n got %.300s\nwant %.300s", k, got, v.After)
			}
			continue
		}
		got, err := cl.HGetAll(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{}
		for j, col := range r.change.Columns {
			v := r.values[j]
			if v.Kind == change.KindNull || v.Kind == change.KindAbsent || v.Kind == change.KindUnchanged {
				continue
			}
			want[col.Name] = string(change.AppendText(nil, v))
		}
		if len(got) != len(want) {
			t.Errorf("key %s: %d fields, want %d", k, len(got), len(want))
		}
		for f, w := range want {
			if got[f] != w {
				t.Errorf("key %s field %s (%s): %.120q, want %.120q", k, f, typeOf(r.change, f), got[f], w)
			}
		}
	}
	if n != len(model) {
		t.Errorf("%d keys, want %d rows", n, len(model))
	}
	t.Logf("%d rows mirrored, every field equal", len(model))
}

// typeOf returns the type of the named column.
func typeOf(c *change.Change, name string) string {
	for _, col := range c.Columns {
		if col.Name == name {
			return col.Type
		}
	}
	return "?"
}

// keyOf returns the row key the sink must write for img (key columns
// missing from img taken from fallback): sluice:DB:TABLE: and the key
// columns' texts joined by ':', '%' and ':' escaped.
func keyOf(c *change.Change, img, fallback []change.Value) string {
	esc := strings.NewReplacer("%", "%25", ":", "%3A")
	parts := []string{"sluice", esc.Replace(c.Database), esc.Replace(c.Table)}
	for j, col := range c.Columns {
		if !col.Key {
			continue
		}
		v := change.Value{}
		if j < len(img) {
			v = img[j]
		}
		if (v.Kind == change.KindAbsent || v.Kind == change.KindUnchanged) && j < len(fallback) {
			v = fallback[j]
		}
		parts = append(parts, esc.Replace(string(change.AppendText(nil, v))))
	}
	return strings.Join(parts, ":")
}

// clone copies an image.
func clone(img []change.Value) []change.Value { return append([]change.Value(nil), img...) }

// jsonEqual reports whether two JSON texts hold the same members in the
// same order with the same values (numbers compared as text).
func jsonEqual(a string, b []byte) bool {
	var x, y bytes.Buffer
	if json.Compact(&x, []byte(a)) != nil || json.Compact(&y, b) != nil {
		return false
	}
	return x.String() == y.String()
}
