package testenv

import (
	"context"
	"os"
	"testing"
)

// servers are shared by the tests of this package; TestMain fills it.
type servers struct {
	mariadb *MariaDB
}

var shared servers

func TestMain(m *testing.M) {
	if os.Getenv(crashHelperEnv) != "" { // the child of TestServerDiesWithTestBinary
		os.Exit(m.Run())
	}
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
