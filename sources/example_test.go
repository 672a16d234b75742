package sources_test

import (
	"context"
	"fmt"
	"log"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/sluice-cdc/sluice/source"
	_ "github.com/sluice-cdc/sluice/sources" // registers mysql://, postgres://, mongodb://
)

// Iterate the changes of a MariaDB server like python-mysql-replication's
// BinLogStreamReader, with a checkpoint file: a restart continues after
// the last acknowledged change.
func Example() {
	ctx := context.Background()
	s, err := sluice.Open(ctx, "mariadb://repl:secret@db:3306/?server-id=4242",
		sluice.WithStateFile("sluice.db"),
		sluice.WithStart(source.StartLatest),
		sluice.WithFilter(pipeline.FilterSpec{Include: `shop\..*`}))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	for s.Next(ctx) {
		c := s.Change()
		fmt.Println(c.Op, c.Database, c.Table, c.Pos.String())
		if err := s.Ack(c); err != nil {
			log.Fatal(err)
		}
	}
	if err := s.Err(); err != nil {
		log.Fatal(err)
	}
}
