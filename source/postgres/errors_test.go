package postgres

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// streamErr runs Stream for a URL and returns its error, which must come
// before any change.
func streamErr(t *testing.T, rawURL string) error {
	t.Helper()
	src, err := Open(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return src.Stream(ctx, change.Position{}, func([]change.Change) error { return nil })
}

// TestSetupErrors: each misconfiguration gives an error that says what is
// wrong and matches its sentinel, and never shows the password.
func TestSetupErrors(t *testing.T) {
	exec(t, `CREATE ROLE plain LOGIN PASSWORD 'plain-pw'`, `CREATE ROLE repl LOGIN REPLICATION PASSWORD 'repl-pw'`,
		`CREATE TABLE errs (id int PRIMARY KEY)`)
	replica := testenv.NewPostgres(t, testenv.PostgresOptions{ExtraConfig: []string{"wal_level = replica"}})
	pu, _ := url.Parse(pg.DSN("postgres"))
	pu.User = url.UserPassword("plain", "plain-pw")
	plain := pu.String()
	pu.User = url.UserPassword("repl", "repl-pw")
	replOnly := pu.String()
	tests := []struct {
		name     string
		url      string
		sentinel error
		text     string
	}{
		{"wrong password", withPassword(pg.DSN("postgres"), "wrong-pw") + "&slot=errs", ErrAuth, "password authentication failed"},
		{"wal_level replica", replica.DSN("postgres") + "&slot=errs", ErrWALLevel, `it is "replica"; set wal_level = logical`},
		{"no replication privilege", plain + "&slot=errs", ErrPrivilege, `role "plain" has neither SUPERUSER nor REPLICATION`},
		{"may not create the publication", replOnly + "&slot=errs&publication=allpub", ErrPrivilege, `CREATE PUBLICATION "allpub" FOR ALL TABLES`},
		{"missing publication", sourceURL("slot=errs&publication=nopub&create-publication=no"), ErrNoPublication, `"nopub"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := streamErr(t, tc.url)
			if !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %v; want %v containing %q", err, tc.sentinel, tc.text)
			}
			if strings.Contains(err.Error(), "wrong-pw") || strings.Contains(err.Error(), "plain-pw") {
				t.Fatalf("password in error: %v", err)
			}
		})
	}
	// A slot of another database.
	exec(t, `CREATE DATABASE otherdb`, `SELECT pg_create_logical_replication_slot('elsewhere', 'pgoutput')`)
	dropSlot(t, "elsewhere")
	if err := streamErr(t, pg.DSN("otherdb")+"&slot=elsewhere"); err == nil ||
		!strings.Contains(err.Error(), `slot "elsewhere" belongs to database "postgres", not "otherdb"`) {
		t.Fatalf("slot of another database: %v", err)
	}
	// A slot in use by another reader.
	dropSlot(t, "busy")
	start(t, "slot=busy&publication=busy&create-publication=errs", change.Position{})
	if err := streamErr(t, sourceURL("slot=busy&publication=busy")); !errors.Is(err, ErrSlotInUse) {
		t.Fatalf("second reader on a busy slot: %v, want ErrSlotInUse", err)
	}
}

// TestTemporarySlotTruncateMessages: a temporary slot disappears with its
// connection; TRUNCATE of two tables gives one truncate change per table;
// logical decoding messages arrive when asked for, in and outside transactions.
func TestTemporarySlotTruncateMessages(t *testing.T) {
	exec(t, `CREATE TABLE tr1 (id int PRIMARY KEY)`, `CREATE TABLE tr2 (id int PRIMARY KEY)`, `INSERT INTO tr1 VALUES (1)`)
	r := start(t, "slot=tmp&publication=tr&create-publication=tr1,public.tr2&temporary=true&messages=true", change.Position{})
	if got := queryText(t, `SELECT temporary::text FROM pg_replication_slots WHERE slot_name = 'tmp'`); got != "true" {
		t.Fatalf("slot temporary = %q", got)
	}
	exec(t,
		`TRUNCATE tr1, tr2`,
		`BEGIN`, `INSERT INTO tr2 VALUES (7)`, `SELECT pg_logical_emit_message(true, 'pfx', 'in tx')`, `COMMIT`,
		`SELECT pg_logical_emit_message(false, 'pfx', '\x00ff'::bytea)`,
		`INSERT INTO tr2 VALUES (8)`,
	)
	// A transaction replayed from another node carries an Origin message.
	exec(t,
		`SELECT pg_replication_origin_create('sluice_test_origin')`,
		`SELECT pg_replication_origin_session_setup('sluice_test_origin')`,
		`INSERT INTO tr2 VALUES (9)`,
	)
	got := r.col.waitCommits(t, 4, r)
	if rs := rows(got, "tr2"); len(rs) != 4 || rs[3].Op != change.OpInsert || rs[3].After[0].I != 9 {
		t.Errorf("tr2 rows: %+v", rs)
	}
	var truncated []string
	var msgs []change.Change
	for _, c := range got {
		if c.Op == change.OpTruncate {
			truncated = append(truncated, c.Table)
		}
		if c.Namespace == messageNamespace {
			msgs = append(msgs, c)
		}
	}
	if strings.Join(truncated, ",") != "tr1,tr2" {
		t.Errorf("truncated %v, want tr1,tr2", truncated)
	}
	if len(msgs) != 2 {
		t.Fatalf("%d messages: %+v", len(msgs), msgs)
	}
	if string(msgs[0].After[0].B) != "pfx" || string(msgs[0].After[1].B) != "in tx" || msgs[0].After[2].I != 1 || msgs[0].Tx.ID == "" {
		t.Errorf("transactional message: %+v", msgs[0])
	}
	if string(msgs[1].After[1].B) != "\x00\xff" || msgs[1].After[2].I != 0 || msgs[1].Tx.ID != "" {
		t.Errorf("non-transactional message: %+v", msgs[1])
	}
	for i := 1; i < len(got); i++ {
		if change.Compare(got[i-1].Pos, got[i].Pos) >= 0 {
			t.Fatalf("position %d %v not after %v (%v then %v)", i, got[i].Pos, got[i-1].Pos, got[i-1].Op, got[i].Op)
		}
	}
	r.stop(t)
	deadline := time.Now().Add(10 * time.Second)
	for queryText(t, `SELECT count(*)::text FROM pg_replication_slots WHERE slot_name = 'tmp'`) != "0" {
		if time.Now().After(deadline) {
			t.Fatal("temporary slot still exists after the stream ended")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
