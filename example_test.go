package sluice_test

import (
	"context"
	"fmt"
	"log"
	"net/url"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/fixture"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/sluice-cdc/sluice/source"
)

// fixtureRegistry registers, under the scheme "fixture", the source the
// tests use in place of a database: fixture://?txs=2&rows=3 is a log of
// two transactions of three inserts each into shop.orders and shop.audit
// (see internal/fixture).
func fixtureRegistry() *source.Registry {
	r := source.NewRegistry()
	r.Register("fixture", func(_ context.Context, u *url.URL, _ source.Config) (pipeline.Source, error) {
		s, err := fixture.Open(u)
		if err != nil {
			return nil, err
		}
		return s, nil
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
	// insert shop.orders id=5 total=5.50 at binlog:bin.000001:200#3
	// saved: binlog:bin.000001:300
}
