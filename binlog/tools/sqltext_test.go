package tools

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/change"
)

func TestAppendLiteral(t *testing.T) {
	for _, tc := range []struct {
		v    change.Value
		want string
	}{
		{change.Null(), "NULL"},
		{change.Int(-42, 32), "-42"},
		{change.Uint(18446744073709551615, 64), "18446744073709551615"},
		{change.Decimal([]byte("-12.50")), "-12.50"},
		{change.Float64(0.1), "0.1"},
		{change.String([]byte("it's a \\ test\n\x00")), `_utf8mb4'it\'s a \\ test\n\0'`},
		{change.Bytes([]byte{0, 0xff}), "X'00FF'"},
		{change.Bytes(nil), "X''"},
		{change.JSON([]byte(`{"a":"b'c"}`)), `CAST('{"a":"b\'c"}' AS JSON)`},
		{change.Date(2024, 2, 29), "'2024-02-29'"},
		{change.DateTime(2024, 2, 29, 12, 34, 56, 789012000, 6), "'2024-02-29 12:34:56.789012'"},
		{change.Time(true, 12, 0, 1, 500000000, 2), "'-12:00:01.50'"},
		{change.Timestamp(1700000000, 125000000, 3), "'2023-11-14 22:13:20.125'"},
		{change.Year(2024), "2024"},
		{change.Enum([]byte("b"), 2), "_utf8mb4'b'"},
		{change.Bit(5, 5), "5"},
	} {
		got, err := AppendLiteral(nil, tc.v)
		if err != nil || string(got) != tc.want {
			t.Errorf("AppendLiteral(%+v) = %s, %v; want %s", tc.v, got, err, tc.want)
		}
	}
	if _, err := AppendLiteral(nil, change.Absent()); err == nil {
		t.Error("an absent value got a literal")
	}
}

func TestUndoStatements(t *testing.T) {
	cols := []change.Column{{Name: "id", Key: true}, {Name: "v"}}
	row1 := []change.Value{change.Int(1, 32), change.String([]byte("a"))}
	row2 := []change.Value{change.Int(1, 32), change.String([]byte("b"))}
	noKey := []change.Column{{Name: "x"}, {Name: "f"}}
	fl := []change.Value{change.Int(7, 32), change.Float64(1.5)}
	for _, tc := range []struct {
		c          change.Change
		redo, undo string
	}{
		{change.Change{Op: change.OpInsert, Columns: cols, After: row1},
			"INSERT INTO `d`.`t` (`id`, `v`) VALUES (1, _utf8mb4'a');",
			"DELETE FROM `d`.`t` WHERE `id` <=> 1 LIMIT 1;"},
		{change.Change{Op: change.OpUpdate, Columns: cols, Before: row1, After: row2},
			"UPDATE `d`.`t` SET `id` = 1, `v` = _utf8mb4'b' WHERE `id` <=> 1 LIMIT 1;",
			"UPDATE `d`.`t` SET `id` = 1, `v` = _utf8mb4'a' WHERE `id` <=> 1 LIMIT 1;"},
		{change.Change{Op: change.OpDelete, Columns: noKey, Before: fl},
			"DELETE FROM `d`.`t` WHERE `x` <=> 7 LIMIT 1;",
			"INSERT INTO `d`.`t` (`x`, `f`) VALUES (7, 1.5);"},
	} {
		tc.c.Database, tc.c.Table = "d", "t"
		redo, err := AppendRedo(nil, &tc.c)
		if err != nil || strings.TrimSpace(string(redo)) != tc.redo {
			t.Errorf("redo = %s, %v; want %s", redo, err, tc.redo)
		}
		undo, err := AppendUndo(nil, &tc.c)
		if err != nil || strings.TrimSpace(string(undo)) != tc.undo {
			t.Errorf("undo = %s, %v; want %s", undo, err, tc.undo)
		}
	}
	// MINIMAL images and missing names are refused.
	minimal := change.Change{Op: change.OpDelete, Columns: cols, Before: []change.Value{change.Int(1, 32), change.Absent()}}
	if _, err := AppendUndo(nil, &minimal); err == nil || !strings.Contains(err.Error(), "FULL") {
		t.Errorf("undo of a MINIMAL image: %v", err)
	}
	unnamed := change.Change{Op: change.OpInsert, Columns: []change.Column{{}}, After: []change.Value{change.Int(1, 8)}}
	if _, err := AppendRedo(nil, &unnamed); err == nil || !strings.Contains(err.Error(), "binlog_row_metadata") {
		t.Errorf("redo without column names: %v", err)
	}
}

func TestSpoolReverse(t *testing.T) {
	for _, n := range []int{0, 1, 3, 8192, 8193, 20000} {
		sp, err := newSpool(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			if err := sp.add([]byte(fmt.Sprint(i, strings.Repeat("x", i%5)))); err != nil {
				t.Fatal(err)
			}
		}
		next := n - 1
		err = sp.reverse(func(rec []byte) error {
			if want := fmt.Sprint(next, strings.Repeat("x", next%5)); string(rec) != want {
				return fmt.Errorf("record %q, want %q", rec, want)
			}
			next--
			return nil
		})
		sp.close()
		if err != nil || next != -1 {
			t.Errorf("%d records: %v, %d left", n, err, next+1)
		}
	}
}

func TestOps(t *testing.T) {
	all := Ops{}
	del := Ops{Delete: true}
	for _, op := range []change.Op{change.OpInsert, change.OpUpdate, change.OpDelete} {
		if !all.keep(op) {
			t.Errorf("zero Ops drops %v", op)
		}
		if del.keep(op) != (op == change.OpDelete) {
			t.Errorf("Ops{Delete} keep(%v) = %v", op, del.keep(op))
		}
	}
}
