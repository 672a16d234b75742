package testenv

import (
	"context"
	"testing"
	"time"
)

// TestStartMariaDBAndPostgres: both servers answer, the Cleanup closes
// both; with a canceled context both errors come back and nothing is left
// to close.
func TestStartMariaDBAndPostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var c Cleanup
	defer c.Run()
	maria, pg, err := StartMariaDBAndPostgres(ctx, &c)
	if err != nil {
		t.Fatal(err)
	}
	if err := maria.Exec(ctx, "SELECT 1"); err != nil {
		t.Errorf("MariaDB: %v", err)
	}
	if err := pg.Exec(ctx, "postgres", "SELECT 1"); err != nil {
		t.Errorf("PostgreSQL: %v", err)
	}
	if len(c.fns) != 2 {
		t.Errorf("%d cleanups registered, want 2", len(c.fns))
	}
	c.Run()
	if err := maria.Exec(ctx, "SELECT 1"); err == nil {
		t.Error("MariaDB still answers after the cleanup")
	}
	if err := pg.Exec(ctx, "postgres", "SELECT 1"); err == nil {
		t.Error("PostgreSQL still answers after the cleanup")
	}

	canceled, cancelNow := context.WithCancel(context.Background())
	cancelNow()
	var c2 Cleanup
	defer c2.Run()
	if _, _, err := StartMariaDBAndPostgres(canceled, &c2); err == nil {
		t.Error("started with a canceled context")
	}
	if len(c2.fns) != 0 {
		t.Errorf("%d cleanups registered for servers that did not start", len(c2.fns))
	}
}
