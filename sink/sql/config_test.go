package sql

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestFromURL reads the sink's parameters (kebab-case, as every URL of
// Sluice), passes the driver's own to it, and refuses unknown ones, the
// snake_case spellings of before included, naming the known ones.
func TestFromURL(t *testing.T) {
	for _, tc := range []struct {
		url   string
		check func(t *testing.T, c Config)
		err   string // a part of the error; "" for none
	}{
		{url: "mysql://u:p@db:3306/sluice", check: func(t *testing.T, c Config) {
			if c.CheckpointTable != DefaultCheckpointTable || c.CreateTables || c.DDL != DDLSkip || c.Keyless != KeylessMatch ||
				c.BatchRows != DefaultBatchRows || c.RetryFor != DefaultRetryFor || len(c.DB.Params) != 0 || !c.DB.TLSPrefer {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{url: "mysql://u:p@db:3306/sluice?create-tables=on&checkpoint-table=cp.pos&batch-rows=100&retry-for=30s&ddl=apply&keyless=refuse&schema=copy&tls=skip-verify",
			check: func(t *testing.T, c Config) {
				if !c.CreateTables || c.CheckpointTable != "cp.pos" || c.BatchRows != 100 || c.RetryFor != 30*time.Second ||
					c.DDL != DDLApply || c.Keyless != KeylessRefuse || c.Schema != "copy" {
					t.Errorf("parameters: %+v", c)
				}
				if c.DB.TLS == nil || !c.DB.TLS.InsecureSkipVerify || c.DB.TLSPrefer || len(c.DB.Params) != 0 {
					t.Errorf("tls=skip-verify: TLS %+v, prefer %v, driver parameters %v", c.DB.TLS, c.DB.TLSPrefer, c.DB.Params)
				}
			}},
		{url: "postgres://u:p@db:5432/app?retry-for=0&sslmode=disable", check: func(t *testing.T, c Config) {
			if c.RetryFor >= 0 {
				t.Errorf("retry-for=0: RetryFor %v, want negative (no retries)", c.RetryFor)
			}
			if c.DB.Params.Get("sslmode") != "disable" {
				t.Errorf("driver parameters %v, want sslmode=disable", c.DB.Params)
			}
		}},
		{url: "mysql://u:p@db:3306/sluice?tls=off&charset=utf8mb4", check: func(t *testing.T, c Config) {
			if c.DB.TLS != nil || c.DB.TLSPrefer || c.DB.Params.Get("charset") != "utf8mb4" || len(c.DB.Params) != 1 {
				t.Errorf("tls=off: TLS %v, prefer %v, driver parameters %v", c.DB.TLS, c.DB.TLSPrefer, c.DB.Params)
			}
		}},
		{url: "mysql://u:p@db:3306/sluice?tls-server-name=db.example&tls=skip-verify", check: func(t *testing.T, c Config) {
			if c.DB.TLS == nil || c.DB.TLS.ServerName != "db.example" {
				t.Errorf("tls-server-name: TLS %+v", c.DB.TLS)
			}
		}},
		{url: "mysql://u:p@db:3306/sluice?tls=true", err: "tls"},
		{url: "mysql://u:p@db:3306/sluice?tls-ca=/nonexistent/ca.pem", err: "tls-ca"},
		{url: "mysql://u:p@db:3306/sluice?create_tables=on", err: "create-tables"},
		{url: "postgres://u:p@db:5432/app?retry_for=1m", err: "retry-for"},
		{url: "mysql://u:p@db:3306/sluice?batch-rows=0", err: "batch-rows"},
		{url: "mysql://u:p@db:3306/sluice?ddl=maybe", err: "ddl"},
		{url: "mysql://u:p@db:3306/?create-tables=on", err: "checkpoint table needs a database"},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		c, err := FromURL(u)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want one containing %q", tc.url, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.url, err)
		case tc.err == "":
			tc.check(t, c)
		}
		if err != nil && strings.Contains(err.Error(), ":p@") {
			t.Errorf("%s: the error shows the password: %v", tc.url, err)
		}
	}
}
