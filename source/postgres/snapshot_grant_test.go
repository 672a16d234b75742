package postgres

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// TestSnapshotNamesMissingGrant: a role that may replicate but not read a
// published table gets, from the initial snapshot, an error that matches
// ErrPrivilege and names the grant it lacks, and the table once, without
// its password. (With two workers the snapshot first asks worker 0 for the
// key's range, which fails without SELECT too; that must not abort worker
// 0's transaction, or the table's read there said only "current
// transaction is aborted".)
func TestSnapshotNamesMissingGrant(t *testing.T) {
	server(t)
	exec(t, `DROP PUBLICATION IF EXISTS nosel_pub`, `DROP TABLE IF EXISTS nosel`, `DROP ROLE IF EXISTS replnosel`,
		`CREATE TABLE nosel (id int PRIMARY KEY)`, `INSERT INTO nosel VALUES (1)`,
		`CREATE PUBLICATION nosel_pub FOR TABLE nosel`,
		`CREATE ROLE replnosel LOGIN REPLICATION PASSWORD 'nosel-pw'`)
	dropSlot(t, "nosel")
	u, _ := url.Parse(sourceURL("slot=nosel&publication=nosel_pub&create-publication=no&snapshot=only"))
	u.User = url.UserPassword("replnosel", "nosel-pw")
	err := streamErr(t, u.String())
	if !errors.Is(err, ErrPrivilege) || !strings.Contains(err.Error(), "GRANT SELECT ON") || !strings.Contains(err.Error(), "nosel") {
		t.Fatalf("snapshot without SELECT: %v; want ErrPrivilege naming GRANT SELECT ON the table", err)
	}
	if n := strings.Count(err.Error(), "public.nosel"); n != 1 {
		t.Errorf("the error names the table %d times, want once (wrappers add context only): %v", n, err)
	}
	if strings.Contains(err.Error(), "nosel-pw") {
		t.Errorf("password in the error: %v", err)
	}
	t.Logf("error: %v", err)
}
