package testenv

import (
	"context"
	"testing"
	"time"
)

// BenchmarkStart measures how long each server takes from the Start call to
// serving (including initialising data directories), and Close.
//
//	go test -run '^$' -bench Start -benchtime 3x ./internal/testenv
func BenchmarkStart(b *testing.B) {
	type closer interface{ Close() error }
	servers := []struct {
		name  string
		start func(context.Context) (closer, error)
	}{
		{"mariadb", func(ctx context.Context) (closer, error) { return StartMariaDB(ctx, MariaDBOptions{}) }},
		{"postgres", func(ctx context.Context) (closer, error) { return StartPostgres(ctx, PostgresOptions{}) }},
		{"redis", func(ctx context.Context) (closer, error) { return StartRedis(ctx) }},
		{"nats", func(ctx context.Context) (closer, error) { return StartNATS(ctx) }},
		{"ferretdb", func(ctx context.Context) (closer, error) { return StartFerretDB(ctx) }},
	}
	for _, srv := range servers {
		b.Run(srv.name, func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
			defer cancel()
			if srv.name == "ferretdb" {
				if _, err := BuildFerretDB(ctx); err != nil { // not part of the measure
					b.Fatal(err)
				}
			}
			for b.Loop() {
				s, err := srv.start(ctx)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
