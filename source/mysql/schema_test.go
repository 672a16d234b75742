package mysql

import (
	"errors"
	"github.com/sluice-cdc/sluice/source"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/binlog"
)

// shape renders a table as "name type[*]" (* = key) for comparisons.
func shape(t *tableDef) string {
	if t == nil {
		return "<none>"
	}
	var parts []string
	for _, c := range t.Columns {
		s := c.Name + " " + c.Type
		if c.Key {
			s += "*"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func TestDDLParserApply(t *testing.T) {
	base := func() schemaSet {
		s := schemaSet{}
		s.put(&tableDef{Database: "d", Table: "t", Columns: []colDef{
			{Name: "id", Type: "int(11)", Key: true}, {Name: "a", Type: "varchar(10)", Nullable: true},
		}})
		return s
	}
	for _, tc := range []struct {
		name, db, sql string
		kind          ddlKind
		table         string // db.table to check afterwards
		want          string
	}{
		{"add column", "d", "ALTER TABLE t ADD COLUMN b INT UNSIGNED NOT NULL", ddlSchema, "d.t", "id int(11)*, a varchar(10), b int(10) unsigned"},
		{"add first", "d", "ALTER TABLE d.t ADD c DATETIME(3) FIRST", ddlSchema, "d.t", "c datetime(3), id int(11)*, a varchar(10)"},
		{"add after", "x", "ALTER TABLE `d`.`t` ADD COLUMN c DECIMAL(12,2) AFTER id", ddlSchema, "d.t", "id int(11)*, c decimal(12,2), a varchar(10)"},
		{"add two", "d", "ALTER TABLE t ADD COLUMN (b INT, c TEXT)", ddlSchema, "d.t", "id int(11)*, a varchar(10), b int(11), c text"},
		{"drop column", "d", "ALTER TABLE t DROP COLUMN a", ddlSchema, "d.t", "id int(11)*"},
		{"drop if exists", "d", "ALTER TABLE t DROP COLUMN IF EXISTS zz", ddlSchema, "d.t", "id int(11)*, a varchar(10)"},
		{"rename column", "d", "ALTER TABLE t RENAME COLUMN a TO title", ddlSchema, "d.t", "id int(11)*, title varchar(10)"},
		{"change column", "d", "ALTER TABLE t CHANGE a b BIGINT", ddlSchema, "d.t", "id int(11)*, b bigint(20)"},
		{"modify after", "d", "ALTER TABLE t MODIFY id BIGINT NOT NULL AFTER a", ddlSchema, "d.t", "a varchar(10), id bigint(20)*"},
		{"rename table", "d", "RENAME TABLE t TO u", ddlSchema, "d.u", "id int(11)*, a varchar(10)"},
		{"alter rename", "d", "ALTER TABLE t RENAME TO e.v", ddlSchema, "e.v", "id int(11)*, a varchar(10)"},
		{"drop table", "d", "DROP TABLE IF EXISTS t, nope", ddlSchema, "d.t", "<none>"},
		{"create", "d", "CREATE TABLE n (k CHAR(3), v JSON, PRIMARY KEY (k))", ddlSchema, "d.n", "k char(3)*, v json"},
		{"create like", "d", "CREATE TABLE n LIKE t", ddlSchema, "d.n", "id int(11)*, a varchar(10)"},
		{"truncate", "d", "TRUNCATE TABLE t", ddlTruncate, "d.t", "id int(11)*, a varchar(10)"},
		{"comment first", "d", "/* app */ ALTER TABLE t ADD z INT", ddlSchema, "d.t", "id int(11)*, a varchar(10), z int(11)"},
		{"drop database", "d", "DROP DATABASE d", ddlSchema, "d.t", "<none>"},
		{"dml", "d", "INSERT INTO t VALUES (1, 'a')", ddlNone, "d.t", "id int(11)*, a varchar(10)"},
		{"index only", "d", "CREATE INDEX ia ON t (a)", ddlSchema, "d.t", "id int(11)*, a varchar(10)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := base()
			res := newDDLParser().apply(set, tc.db, tc.sql)
			if res.unparsed != nil {
				t.Fatalf("unparsed: %v", res.unparsed)
			}
			if res.kind != tc.kind {
				t.Fatalf("kind %d, want %d", res.kind, tc.kind)
			}
			db, table, _ := strings.Cut(tc.table, ".")
			if got := shape(set.get(db, table)); got != tc.want {
				t.Fatalf("%s:\n got %s\nwant %s", tc.table, got, tc.want)
			}
		})
	}
}

func TestDDLParserUnknownTable(t *testing.T) {
	res := newDDLParser().apply(schemaSet{}, "d", "ALTER TABLE t ADD COLUMN b INT")
	if res.unparsed == nil || res.kind != ddlSchema {
		t.Fatalf("ALTER of an unknown table: %+v", res)
	}
}

func TestTypeFits(t *testing.T) {
	for _, tc := range []struct {
		sql  string
		t    binlog.ColumnType
		fits bool
	}{
		{"int(11)", binlog.TypeLong, true},
		{"int(10) unsigned", binlog.TypeLong, true},
		{"int(11)", binlog.TypeLongLong, false},
		{"varchar(20)", binlog.TypeVarchar, true},
		{"varchar(20)", binlog.TypeLong, false},
		{"decimal(12,2)", binlog.TypeNewDecimal, true},
		{"datetime(3)", binlog.TypeDateTime2, true},
		{"timestamp", binlog.TypeTimestamp2, true},
		{"longtext", binlog.TypeBlob, true},
		{"json", binlog.TypeBlob, true},
		{"enum('a','b')", binlog.TypeEnum, true},
		{"enum('a','b')", binlog.TypeBlob, false},
		{"geometry", binlog.TypeGeometry, true},
		{"mystery", binlog.TypeLong, false},
	} {
		if got := typeFits(tc.sql, tc.t); got != tc.fits {
			t.Errorf("typeFits(%q, %d) = %t, want %t", tc.sql, tc.t, got, tc.fits)
		}
	}
}

func TestConnectState(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0-1-5", "0-1-5"},
		{"0-1-5,0-2-9,1-1-3", "0-2-9,1-1-3"},
		{"", ""},
	} {
		got, err := connectState(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("connectState(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := connectState("0-x-1"); err == nil {
		t.Error("connectState accepted 0-x-1")
	}
}

func TestParseURL(t *testing.T) {
	c, err := ParseURL("mysql://repl:s3cr%40t@db.example:3307/?server-id=4242&gtid=on&from=earliest&heartbeat=2s&schema-history=/tmp/h.jsonl&tls=skip-verify")
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "db.example:3307" || c.User != "repl" || c.Password != "s3cr@t" || c.ServerID != 4242 || !c.GTID ||
		c.Start != source.StartEarliest || c.Heartbeat != 2*time.Second || c.SchemaHistory != "/tmp/h.jsonl" ||
		c.TLS == nil || !c.TLS.InsecureSkipVerify {
		t.Fatalf("parsed %+v", c)
	}
	if strings.Contains(c.String(), "s3cr") {
		t.Fatalf("String shows the password: %s", c)
	}
	d, err := ParseURL("mariadb://u@h")
	if err != nil || d.Addr != "h:3306" || d.ServerID != DefaultServerID || d.Start != source.StartDefault || d.AllowStatement ||
		d.TLS == nil || !d.TLS.InsecureSkipVerify || !d.TLSOptional {
		t.Fatalf("defaults: %+v, %v", d, err)
	}
	if a, err := ParseURL("mysql://u@h/?allow-statement=on"); err != nil || !a.AllowStatement {
		t.Fatalf("allow-statement=on: %+v, %v", a, err)
	}
	for _, bad := range []string{
		"postgres://u@h/", "mysql://u:pw@h/?server-id=0", "mysql://u:pw@h/?gtid=maybe", "mysql://u:pw@h/?allow-statement=perhaps",
		"mysql://u:pw@h/?from=middle", "mysql://u:pw@h/?tls=sometimes", "mysql://:pw@h/", "mysql://u:pw@h/?what=1",
	} {
		if _, err := ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) accepted it", bad)
		} else if strings.Contains(err.Error(), "pw") {
			t.Errorf("ParseURL(%q) error shows the password: %v", bad, err)
		}
	}
}

func TestClassifyDumpError(t *testing.T) {
	for _, tc := range []struct {
		msg    string
		purged bool
	}{
		{"Could not find first log file name in binary log index file", true},
		{"Could not find GTID state requested by slave in any binlog files. Probably the slave state is too old and required binlog files have been purged.", true},
		{"The slave is connecting using CHANGE MASTER TO MASTER_AUTO_POSITION = 1, but the master has purged binary logs containing GTIDs that the slave requires.", true},
		{"log event entry exceeded max_allowed_packet; Increase max_allowed_packet on master", false},
	} {
		err := classifyDumpError(&ServerError{Code: erMasterFatalReadingLog, Message: tc.msg}, "f:4")
		if got := errors.Is(err, source.ErrPositionLost); got != tc.purged {
			t.Errorf("%q: purged=%t, want %t", tc.msg, got, tc.purged)
		}
		if retryable(err) {
			t.Errorf("%q: retryable", tc.msg)
		}
	}
}
