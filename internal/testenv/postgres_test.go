package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestPostgres(t *testing.T) {
	s := NewPostgres(t, PostgresOptions{ExtraConfig: []string{"max_replication_slots = 7"}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := s.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	settings := []struct{ name, want string }{
		{"wal_level", "logical"},
		{"max_replication_slots", "7"},
		{"max_wal_senders", "16"},
		{"listen_addresses", "127.0.0.1"},
		{"unix_socket_directories", s.SocketDir()},
		{"server_version_num", "15"},
	}
	for _, tt := range settings {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			if err := conn.QueryRow(ctx, "SELECT current_setting($1)", tt.name).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if tt.name == "server_version_num" {
				got = got[:2]
			}
			if got != tt.want {
				t.Errorf("%s = %q, want %q", tt.name, got, tt.want)
			}
		})
	}

	if err := s.Exec(ctx, "postgres",
		"CREATE TABLE t (id int PRIMARY KEY, v text)",
		"CREATE PUBLICATION pub FOR TABLE t",
	); err != nil {
		t.Fatal(err)
	}
	plugins := []struct {
		plugin, peek string
	}{
		{"pgoutput", `SELECT count(*) FROM pg_logical_slot_peek_binary_changes('slot_pgoutput', NULL, NULL,
			'proto_version', '1', 'publication_names', 'pub')`},
		{"wal2json", `SELECT count(*) FROM pg_logical_slot_peek_changes('slot_wal2json', NULL, NULL)
			WHERE data LIKE '%"kind":"insert"%'`},
	}
	for _, p := range plugins {
		if _, err := conn.Exec(ctx, "SELECT pg_create_logical_replication_slot('slot_'||$1::text, $1::text)", p.plugin); err != nil {
			t.Fatalf("create %s slot: %v", p.plugin, err)
		}
	}
	if _, err := conn.Exec(ctx, "INSERT INTO t VALUES (1, 'a')"); err != nil {
		t.Fatal(err)
	}
	for _, p := range plugins {
		t.Run(p.plugin, func(t *testing.T) {
			var changes int
			if err := conn.QueryRow(ctx, p.peek).Scan(&changes); err != nil {
				t.Fatal(err)
			}
			if changes == 0 {
				t.Errorf("%s slot shows no change after an insert", p.plugin)
			}
			if _, err := conn.Exec(ctx, "SELECT pg_drop_replication_slot('slot_'||$1::text)", p.plugin); err != nil {
				t.Fatal(err)
			}
		})
	}
	var left int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_replication_slots").Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d slots left after drop", left)
	}

	// A replication connection (the protocol a CDC reader uses) is accepted.
	rconn, err := pgconn.Connect(ctx, s.ReplicationDSN("postgres"))
	if err != nil {
		t.Fatalf("replication connection: %v", err)
	}
	res, err := rconn.Exec(ctx, "IDENTIFY_SYSTEM").ReadAll()
	rconn.Close(ctx)
	if err != nil {
		t.Fatalf("IDENTIFY_SYSTEM: %v", err)
	}
	if len(res) != 1 || len(res[0].Rows) != 1 {
		t.Errorf("IDENTIFY_SYSTEM returned %v", res)
	}

	// Restart keeps the data.
	conn.Close(ctx)
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	conn2, err := s.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close(context.Background())
	var n int
	if err := conn2.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("after restart t has %d rows, want 1", n)
	}
}
