package everytype

import (
	"strings"
	"testing"
)

// TestTable: column names are unique, every row has one literal per
// column with ids 1 to 4, and the statements name every column.
func TestTable(t *testing.T) {
	cols := Columns()
	seen := map[string]bool{}
	for i, c := range cols {
		if c.Name == "" || c.Def == "" || seen[c.Name] {
			t.Errorf("column %d %+v: empty or repeated", i, c)
		}
		seen[c.Name] = true
		if Index(c.Name) != i {
			t.Errorf("Index(%s) = %d, want %d", c.Name, Index(c.Name), i)
		}
	}
	if Index("nope") != -1 {
		t.Errorf("Index of an unknown column = %d", Index("nope"))
	}
	rows := Rows()
	for i, r := range rows {
		if len(r) != len(cols) {
			t.Errorf("row %d has %d values for %d columns", i+1, len(r), len(cols))
		}
		if want := string(rune('1' + i)); r[0] != want {
			t.Errorf("row %d has id %s", i+1, r[0])
		}
	}
	if len(rows) != 4 {
		t.Errorf("%d rows, want 4", len(rows))
	}
	rows[0][1] = "changed"
	if Rows()[0][1] == "changed" {
		t.Error("Rows returns a shared slice")
	}
	create := CreateTable("db.t")
	inserts := Inserts("db.t", Rows())
	for _, c := range cols {
		if !strings.Contains(create, c.Name+" "+c.Def) || !strings.Contains(inserts[0], c.Name) {
			t.Errorf("column %s missing from %.80s… or %.80s…", c.Name, create, inserts[0])
		}
	}
	if !strings.HasPrefix(create, "CREATE TABLE db.t (id INT NOT NULL, ") || !strings.HasSuffix(create, ", PRIMARY KEY (id))") {
		t.Errorf("CreateTable = %.80s…", create)
	}
	if len(inserts) != len(rows) || !strings.HasPrefix(inserts[3], "INSERT INTO db.t (id, ti, ") || !strings.HasSuffix(inserts[3], "'ffffffff-ffff-ffff-ffff-ffffffffffff')") {
		t.Errorf("Inserts = %q", inserts)
	}
	for _, u := range Updates("db.t") {
		if !strings.Contains(u, " db.t ") {
			t.Errorf("update %q not on db.t", u)
		}
	}
}
