package binlog

import "testing"

func TestIsDML(t *testing.T) {
	tests := []struct {
		sql  string
		want bool
	}{
		{"INSERT INTO t VALUES (1)", true},
		{"insert into t values (1)", true},
		{"REPLACE INTO t VALUES (1)", true},
		{"UPDATE t SET a = 1", true},
		{"DELETE FROM t WHERE id = 1", true},
		{"DELETE t1, t2 FROM t1 JOIN t2 USING (id)", true},
		{"LOAD DATA INFILE '/tmp/SQL_LOAD-1-2-3.data' INTO TABLE t", true},
		{"LOAD DATA LOCAL INFILE 'x' INTO TABLE t", true},
		{"load xml infile 'x' into table t", true},
		{"LOAD INDEX INTO CACHE t", false},
		{"SELECT f(1)", true},
		{"DO f(1)", true},
		{"CALL p()", true},
		{"  \n\tINSERT INTO t VALUES (1)", true},
		{"/* app=shop */ UPDATE t SET a = 1", true},
		{"/* a */ /* b */\n-- c\n# d\nDELETE FROM t", true},
		{"--\nDELETE FROM t", true},
		{"--x\nDELETE FROM t", false}, // "--" not followed by a space or control character is no comment
		{"-- x\nDELETE FROM t", true},
		{"/*!40000 INSERT INTO t VALUES (1) */", true},
		{"/*M!100100 UPDATE t SET a = 1 */", true},
		{"/*!*/ INSERT INTO t VALUES (1)", true},
		{"/*!40000 ALTER TABLE t DISABLE KEYS */", false},
		{"(SELECT f(1)) UNION (SELECT f(2))", true},
		{"WITH c AS (SELECT 1 AS id) UPDATE t JOIN c USING (id) SET t.a = 2", true},
		{"WITH RECURSIVE c (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 3) DELETE FROM t WHERE id IN (SELECT n FROM c)", true},
		{"with a as (select ')' as x), `b c` as (select 2) insert into t select * from a", true},
		{"WITH c AS (SELECT 1) SELECT f(1)", true},
		{"WITH c AS SELECT 1", false},
		{"WITH", false},
		{"SET STATEMENT max_statement_time=10, sql_mode='FOR' FOR UPDATE t SET a = 1", true},
		{"SET STATEMENT sort_buffer_size=1 FOR ALTER TABLE t ADD c INT", false},
		{"SET PASSWORD FOR u = PASSWORD('x')", false},
		{"SET @a = 1", false},
		{"CREATE TABLE t (id INT)", false},
		{"CREATE TABLE t2 SELECT * FROM t", false},
		{"ALTER TABLE t ADD COLUMN insert_at INT", false},
		{"DROP TABLE t", false},
		{"TRUNCATE TABLE t", false},
		{"RENAME TABLE a TO b", false},
		{"GRANT SELECT ON *.* TO u", false},
		{"CREATE USER u", false},
		{"BEGIN", false},
		{"COMMIT", false},
		{"ROLLBACK", false},
		{"SAVEPOINT s", false},
		{"XA START 'x'", false},
		{"FLUSH PRIVILEGES", false},
		{"ANALYZE TABLE t", false},
		{"INSERTX INTO t", false},
		{"", false},
		{"/* unterminated", false},
		{"'INSERT'", false},
		{"((((", false},
	}
	for _, tt := range tests {
		if got := IsDML(tt.sql); got != tt.want {
			t.Errorf("IsDML(%q) = %v, want %v", tt.sql, got, tt.want)
		}
	}
}

// FuzzIsDML checks that IsDML never panics and agrees with itself when
// the statement is wrapped in comments and whitespace.
func FuzzIsDML(f *testing.F) {
	f.Add("WITH c AS (SELECT 1) UPDATE t SET a = 1")
	f.Add("/*!40000 INSERT INTO t VALUES (1) */")
	f.Add("SET STATEMENT a=1 FOR DELETE FROM t")
	f.Fuzz(func(t *testing.T, sql string) {
		got := IsDML(sql)
		if again := IsDML(" /* x */\n" + sql); again != got {
			t.Fatalf("IsDML(%q) = %v but %v after a leading comment", sql, got, again)
		}
	})
}
