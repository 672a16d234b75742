package testenv

import (
	"context"
	"testing"
)

// sharedServers are shared by the tests of this package; TestMain fills
// them.
type sharedServers struct {
	mariadb *MariaDB
}

var shared sharedServers

func TestMain(m *testing.M) {
	RunMain(m, func(ctx context.Context, c *Cleanup) error {
		db, err := StartMariaDB(ctx, MariaDBOptions{})
		if err != nil {
			return err
		}
		c.Add(func() { db.Close() })
		shared.mariadb = db
		return nil
	})
}

func sharedMariaDB(t *testing.T) *MariaDB {
	t.Helper()
	if shared.mariadb == nil {
		t.Fatal("TestMain did not start MariaDB")
	}
	return shared.mariadb
}
