package mysql

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestAuthPlugins streams from users that authenticate with each plugin a
// MariaDB server offers here (mysql_native_password and client_ed25519),
// granted only what the README documents, and checks that a wrong password
// fails with the server's "Access denied" and without the password in the
// error.
func TestAuthPlugins(t *testing.T) {
	srv := testenv.NewMariaDB(t, testenv.MariaDBOptions{})
	exec(t, srv, "INSTALL SONAME 'auth_ed25519'",
		"CREATE DATABASE auth", "CREATE TABLE auth.t (id INT PRIMARY KEY, who VARCHAR(16))")
	for i, tc := range []struct {
		user, plugin, create string
	}{
		{"native", "mysql_native_password", "IDENTIFIED VIA mysql_native_password USING PASSWORD('n4tive-Secret')"},
		{"edward", "ed25519", "IDENTIFIED VIA ed25519 USING PASSWORD('ed-Secret-25519')"},
	} {
		t.Run(tc.plugin, func(t *testing.T) {
			password := map[string]string{"native": "n4tive-Secret", "edward": "ed-Secret-25519"}[tc.user]
			exec(t, srv,
				"CREATE USER '"+tc.user+"'@'127.0.0.1' "+tc.create,
				"GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO '"+tc.user+"'@'127.0.0.1'")
			db, err := srv.DB()
			if err != nil {
				t.Fatal(err)
			}
			var plugin string
			if err := db.QueryRow("SELECT plugin FROM mysql.user WHERE user = ? AND host = '127.0.0.1'", tc.user).Scan(&plugin); err != nil {
				t.Fatal(err)
			}
			if plugin != tc.plugin {
				t.Fatalf("user %s has plugin %q, want %q", tc.user, plugin, tc.plugin)
			}

			cfg := testConfig(srv.Addr())
			cfg.User, cfg.Password, cfg.ServerID = tc.user, password, uint32(7100+i)
			from := currentPosition(t, srv)
			src, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			col := startCollector(t, src, from)
			exec(t, srv, fmt.Sprintf("INSERT INTO auth.t VALUES (%d, '%s')", i+1, tc.user))
			col.waitFor(t, 20*time.Second, "insert as "+tc.user, countData("t", 1))

			bad := cfg
			bad.Password = password + "-wrong"
			src, err = New(bad)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err = src.Stream(ctx, change.Position{}, func([]change.Change) error { return nil })
			if err == nil || !strings.Contains(err.Error(), "Access denied") {
				t.Fatalf("wrong password for %s: %v", tc.user, err)
			}
			if strings.Contains(err.Error(), bad.Password) {
				t.Fatalf("error shows the password: %v", err)
			}
		})
	}
}
