package postgres

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestEnsurePublicationConcurrent: readers that start at once and find the
// same publication missing all go on: one creates it, the others see it
// created (CI once failed here when two Canal clients of one destination
// raced, the loser getting a unique violation on pg_publication_pubname_index).
func TestEnsurePublicationConcurrent(t *testing.T) {
	srv := server(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for round := 0; round < 5; round++ {
		exec(t, `DROP PUBLICATION IF EXISTS racepub`)
		const n = 6
		conns := make([]*pgconn.PgConn, n)
		for i := range conns {
			c, err := pgconn.Connect(ctx, srv.DSN("postgres"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(context.Background())
			conns[i] = c
		}
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = ensurePublication(ctx, newCatalog(conns[i]), &Config{Publication: "racepub", CreatePublication: "all"})
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, reader %d: %v", round, i, err)
			}
		}
	}
}
