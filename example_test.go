package sluice_test

import (
	"context"
	"fmt"
	"log"
	"net/url"
	"strconv"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/sluice-cdc/sluice/source"
)

// ordersSource is a test fixture standing in for a database source: it
// emits txs transactions of rows row changes each, alternating between the
// tables shop.orders and shop.audit, with positions that follow the resume
// contract of package pipeline (transaction start + Index, commit at the
// next transaction's start with Index 0).
type ordersSource struct {
	txs, rows int
	follow    bool // then wait for ctx, like a live source on an idle log
}

func newOrdersSource(u *url.URL) (*ordersSource, error) {
	s := &ordersSource{txs: 3, rows: 2}
	s.follow = u.Query().Get("follow") != ""
	for k, p := range map[string]*int{"txs": &s.txs, "rows": &s.rows} {
		if v := u.Query().Get(k); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("parameter %s=%q: want a count", k, v)
			}
			*p = n
		}
	}
	return s, nil
}

func pos(off, idx uint64) change.Position {
	return change.Position{Flavor: change.FlavorBinlog, File: "bin.000001", Offset: off, Index: idx}
}

// Stream emits every change after from, one transaction per batch.
func (s *ordersSource) Stream(ctx context.Context, from change.Position, emit func([]change.Change) error) error {
	cols := []change.Column{{Name: "id", Type: "int", Key: true}, {Name: "total", Type: "decimal(10,2)"}}
	for t := 0; t < s.txs; t++ {
		start := uint64(100 * (t + 1))
		id := "tx" + strconv.Itoa(t+1)
		batch := []change.Change{{Op: change.OpBegin, Tx: change.Tx{ID: id}, Pos: pos(start, 1)}}
		for r := 0; r < s.rows; r++ {
			table := "orders"
			if r%2 == 1 {
				table = "audit"
			}
			n := t*s.rows + r + 1
			batch = append(batch, change.Change{
				Op: change.OpInsert, Source: "fixture", Namespace: change.Namespace{Database: "shop", Table: table},
				Columns: cols, After: []change.Value{change.Int(int64(n), 32), change.Decimal([]byte(strconv.Itoa(n) + ".50"))},
				Tx: change.Tx{ID: id, Index: uint64(r), Last: r == s.rows-1}, Pos: pos(start, uint64(r)+2),
			})
		}
		batch = append(batch, change.Change{Op: change.OpCommit, Tx: change.Tx{ID: id}, Pos: pos(start+100, 0)})
		var out []change.Change
		for _, c := range batch {
			if from.IsZero() || change.Compare(c.Pos, from) > 0 {
				out = append(out, c)
			}
		}
		if len(out) == 0 {
			continue
		}
		if err := emit(out); err != nil {
			return err
		}
	}
	if s.follow {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

// fixtureRegistry registers the fixture under the "fixture" scheme.
func fixtureRegistry() *source.Registry {
	r := source.NewRegistry()
	r.Register("fixture", func(ctx context.Context, u *url.URL, cfg source.Config) (pipeline.Source, error) {
		return newOrdersSource(u)
	})
	return r
}

func Example() {
	ctx := context.Background()
	store := &checkpoint.Memory{} // sluice.WithStateFile("sluice.db") persists instead
	s, err := sluice.Open(ctx, "fixture://?txs=2&rows=3",
		sluice.WithRegistry(fixtureRegistry()),
		sluice.WithStore(store), sluice.WithID("orders-feed"),
		sluice.WithFilter(pipeline.FilterSpec{Include: `shop\.orders`}),
	)
	if err != nil {
		log.Fatal(err)
	}
	for s.Next(ctx) {
		c := s.Change()
		fmt.Printf("%s %s.%s id=%d total=%s at %s\n", c.Op, c.Database, c.Table, c.After[0].I, c.After[1].B, c.Pos)
		if err := s.Ack(c); err != nil {
			log.Fatal(err)
		}
	}
	if err := s.Err(); err != nil {
		log.Fatal(err)
	}
	if err := s.Close(); err != nil {
		log.Fatal(err)
	}
	saved, _ := store.Load(ctx, "orders-feed")
	fmt.Println("saved:", saved)
	// Output:
	// insert shop.orders id=1 total=1.50 at binlog:bin.000001:100#2
	// insert shop.orders id=3 total=3.50 at binlog:bin.000001:100#4
	// insert shop.orders id=4 total=4.50 at binlog:bin.000001:200#2
	// insert shop.orders id=6 total=6.50 at binlog:bin.000001:200#4
	// saved: binlog:bin.000001:300
}
