package changes

import (
	"context"
	"testing"

	"github.com/sluice-cdc/sluice/change"
)

// TestStatementFormat decodes a MariaDB 10.11 binlog written with
// binlog_format=STATEMENT (one transaction with SET SESSION
// binlog_format=ROW): its DML must come out as statement changes, not as
// DDL, and its DDL as DDL.
//
//	CREATE DATABASE shop; CREATE TABLE shop.items …               0-7-1, 0-7-2
//	INSERT …; /* app=shop */ UPDATE …; REPLACE …; LOAD DATA …    0-7-3 … 0-7-6
//	CREATE FUNCTION shop.bump …; SELECT shop.bump(11); DELETE …   0-7-7 … 0-7-9
//	INSERT (binlog_format=ROW)                                    0-7-10
//	BEGIN; INSERT … SELECT …; DELETE …; COMMIT                    0-7-11
//	ALTER TABLE …; TRUNCATE TABLE …                               0-7-12, 0-7-13
func TestStatementFormat(t *testing.T) {
	var got []string
	err := DecodeFiles(context.Background(), []string{"testdata/statement.000001"}, NewDecoder(Filter{}), func(c *change.Change) error {
		s := c.Op.String() + " " + c.Tx.ID
		if c.Op == change.OpStatement || c.Op == change.OpDDL {
			s += " " + c.SQL[:min(len(c.SQL), 16)]
		}
		got = append(got, s)
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ddl 0-7-1 CREATE DATABASE ",
		"ddl 0-7-2 CREATE TABLE sho",
		"begin 0-7-3", "statement 0-7-3 INSERT INTO shop", "commit 0-7-3",
		"begin 0-7-4", "statement 0-7-4 /* app=shop */ U", "commit 0-7-4",
		"begin 0-7-5", "statement 0-7-5 REPLACE INTO sho", "commit 0-7-5",
		"begin 0-7-6", "statement 0-7-6 LOAD DATA INFILE", "commit 0-7-6",
		"ddl 0-7-7 CREATE DEFINER=`",
		"begin 0-7-8", "statement 0-7-8 SELECT `shop`.`b", "commit 0-7-8",
		"begin 0-7-9", "statement 0-7-9 DELETE FROM shop", "commit 0-7-9",
		"begin 0-7-10", "insert 0-7-10", "commit 0-7-10",
		"begin 0-7-11", "statement 0-7-11 INSERT INTO shop", "statement 0-7-11 DELETE FROM shop", "commit 0-7-11",
		"ddl 0-7-12 ALTER TABLE shop", "ddl 0-7-13 TRUNCATE TABLE s",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d changes, want %d:\n%q", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("change %d: %q, want %q", i, got[i], want[i])
		}
	}
}
