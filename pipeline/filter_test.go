package pipeline

import (
	"reflect"
	"testing"

	"github.com/sluice-cdc/sluice/change"
)

func TestSplitList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" , ,", nil},
		{`db\.t`, []string{`db\.t`}},
		{`db\.table, db2\..*`, []string{`db\.table`, `db2\..*`}},
		{`db\.t_[0-9]{1,3},x\.(a|b,c)`, []string{`db\.t_[0-9]{1,3}`, `x\.(a|b,c)`}},
		{`a\,b,c`, []string{`a\,b`, `c`}},
		{`[,],d`, []string{`[,]`, `d`}},
	}
	for _, tt := range tests {
		if got := splitList(tt.in, ','); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitList(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFilterKeep(t *testing.T) {
	ns := func(db, tbl string) change.Namespace { return change.Namespace{Database: db, Table: tbl} }
	tests := []struct {
		name string
		spec FilterSpec
		op   change.Op
		ns   change.Namespace
		want bool
	}{
		{"empty keeps all", FilterSpec{}, change.OpInsert, ns("a", "b"), true},
		{"include exact", FilterSpec{Include: `shop\.orders`}, change.OpInsert, ns("shop", "orders"), true},
		{"include is anchored at end", FilterSpec{Include: `shop\.orders`}, change.OpInsert, ns("shop", "orders_archive"), false},
		{"include is anchored at start", FilterSpec{Include: `shop\.orders`}, change.OpInsert, ns("myshop", "orders"), false},
		{"include other db", FilterSpec{Include: `shop\.orders`}, change.OpUpdate, ns("crm", "orders"), false},
		{"include second item", FilterSpec{Include: `shop\.orders, crm\..*`}, change.OpDelete, ns("crm", "people"), true},
		{"unescaped dot still matches", FilterSpec{Include: `shop.orders`}, change.OpInsert, ns("shop", "orders"), true},
		{"exclude wins", FilterSpec{Include: `shop\..*`, Exclude: `shop\.audit_.*`}, change.OpInsert, ns("shop", "audit_2024"), false},
		{"exclude only", FilterSpec{Exclude: `mysql\..*,sys\..*`}, change.OpInsert, ns("sys", "x"), false},
		{"exclude only keeps rest", FilterSpec{Exclude: `mysql\..*,sys\..*`}, change.OpInsert, ns("shop", "x"), true},
		{"case sensitive", FilterSpec{Include: `shop\.Orders`}, change.OpInsert, ns("shop", "orders"), false},
		{"case insensitive flag", FilterSpec{Include: `(?i)shop\.Orders`}, change.OpInsert, ns("SHOP", "orders"), true},
		{"braces with comma", FilterSpec{Include: `db\.t_[0-9]{1,3}`}, change.OpInsert, ns("db", "t_42"), true},
		{"braces with comma too long", FilterSpec{Include: `db\.t_[0-9]{1,3}`}, change.OpInsert, ns("db", "t_4242"), false},
		{"begin bypasses", FilterSpec{Include: `x\.y`}, change.OpBegin, ns("", ""), true},
		{"commit bypasses", FilterSpec{Include: `x\.y`}, change.OpCommit, ns("", ""), true},
		{"heartbeat bypasses", FilterSpec{Include: `x\.y`}, change.OpHeartbeat, ns("", ""), true},
		{"database ddl kept", FilterSpec{Include: `x\.y`}, change.OpDDL, ns("other", ""), true},
		{"table ddl filtered", FilterSpec{Include: `x\.y`}, change.OpDDL, ns("other", "t"), false},
		{"statement kept", FilterSpec{Include: `x\.y`}, change.OpStatement, ns("other", ""), true},
		{"truncate filtered", FilterSpec{Exclude: `x\.y`}, change.OpTruncate, ns("x", "y"), false},
		{"mongo collection with dots", FilterSpec{Include: `app\.events\..*`}, change.OpInsert, ns("app", "events.2024"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewFilter(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Keep(tt.op, tt.ns); got != tt.want {
				t.Errorf("Keep(%v, %v) = %v, want %v", tt.op, tt.ns, got, tt.want)
			}
		})
	}
	var nilFilter *Filter
	if !nilFilter.Keep(change.OpInsert, ns("a", "b")) {
		t.Error("nil Filter dropped a change")
	}
}

func TestFilterSelectColumns(t *testing.T) {
	cols := []change.Column{{Name: "id", Key: true}, {Name: "email"}, {Name: "password_hash"}, {Name: "Name"}, {Name: ""}}
	users := change.Namespace{Database: "shop", Table: "users"}
	other := change.Namespace{Database: "shop", Table: "orders"}
	tests := []struct {
		name string
		spec FilterSpec
		ns   change.Namespace
		want []int
	}{
		{"no rules", FilterSpec{}, users, nil},
		{"exclude one", FilterSpec{ExcludeColumns: `shop\.users:password_hash`}, users, []int{0, 1, 3, 4}},
		{"exclude other table untouched", FilterSpec{ExcludeColumns: `shop\.users:password_hash`}, other, nil},
		{"exclude case-insensitive", FilterSpec{ExcludeColumns: `shop\.users:PASSWORD_HASH/name`}, users, []int{0, 1, 4}},
		{"include keeps key", FilterSpec{IncludeColumns: `shop\.users:email`}, users, []int{0, 1}},
		{"include unnamed column", FilterSpec{IncludeColumns: `shop\..*:@5`}, users, []int{0, 4}},
		{"include and exclude", FilterSpec{IncludeColumns: `shop\.users:email/name`, ExcludeColumns: `shop\..*:name`}, users, []int{0, 1}},
		{"exclude key explicitly", FilterSpec{ExcludeColumns: `shop\.users:id`}, users, []int{1, 2, 3, 4}},
		{"exclude absent column keeps all", FilterSpec{ExcludeColumns: `shop\.users:nope`}, users, nil},
		{"two include rules merge", FilterSpec{IncludeColumns: `shop\.users:email,shop\..*:Name`}, users, []int{0, 1, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewFilter(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.SelectColumns(tt.ns, cols); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SelectColumns = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewFilterErrors(t *testing.T) {
	for _, spec := range []FilterSpec{
		{Include: `shop\.(orders`},
		{Exclude: `a\.[b`},
		{IncludeColumns: `shop\.users`},
		{IncludeColumns: `shop\.users:`},
		{ExcludeColumns: `:a/b`},
		{ExcludeColumns: `shop\.users: / `},
		{ExcludeColumns: `shop\.(users:a`},
	} {
		if _, err := NewFilter(spec); err == nil {
			t.Errorf("NewFilter(%+v) succeeded", spec)
		}
	}
}
