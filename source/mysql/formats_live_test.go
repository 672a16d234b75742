package mysql

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/format"
	"github.com/sluice-cdc/sluice/internal/dbzconsumer"
	"github.com/sluice-cdc/sluice/internal/everytype"
)

// TestEveryTypeInEveryFormat streams the every-type table of
// TestEveryTypeEndToEnd (its rows, updates and deletes) from a real
// MariaDB and writes every change in every output format: each message is
// JSON on one line and names every column of its row. The debezium events
// are then read back as a Debezium consumer reads them
// (internal/dbzconsumer, by their Kafka Connect schemas, knowing nothing of
// Sluice), the table is rebuilt from them, and every value is compared
// with what SELECT returns.
func TestEveryTypeInEveryFormat(t *testing.T) {
	cols := everyTypeColumns()
	var names, sels []string
	for _, c := range cols {
		names = append(names, c.name)
		sels = append(sels, c.sel+" AS "+c.name)
	}
	full := "types.every_formats"
	exec(t, shared, "CREATE DATABASE IF NOT EXISTS types", "DROP TABLE IF EXISTS "+full,
		everytype.CreateTable(full))
	from := currentPosition(t, shared)
	cfg := testConfig(shared.Addr())
	cfg.GTID = true
	cfg.SchemaHistory = t.TempDir() + "/schema.jsonl"
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	col := startCollector(t, src, from)
	stmts := append(everytype.Inserts(full, everyTypeRows()), everytype.Updates(full)...)
	exec(t, shared, stmts...)
	got := col.waitFor(t, 30*time.Second, "7 row changes", countData("every_formats", 7))
	// The transactions of the table, begin and commit included.
	var changes []change.Change
	for _, c := range got {
		if c.Table == "every_formats" || c.Op == change.OpBegin || c.Op == change.OpCommit {
			changes = append(changes, c)
		}
	}

	for _, spec := range []string{"sluice", "debezium", "debezium?schemas=true&provide.transaction.metadata=true", "maxwell?output_ddl=true",
		"canal-json", "cloudevents", "cloudevents?mode=binary"} {
		t.Run(spec, func(t *testing.T) {
			msgs := encodeAll(t, spec, changes)
			for _, m := range msgs {
				if m.Value == nil || m.Topic != "" {
					continue // tombstones, transaction metadata
				}
				checkColumns(t, spec, m.Value, names)
			}
		})
	}

	t.Run("debezium restored", func(t *testing.T) {
		msgs := encodeAll(t, "debezium?schemas=true&bigint.unsigned.handling.mode=precise", changes)
		rebuilt := map[string][]string{}
		events := 0
		for _, m := range msgs {
			if m.Value == nil {
				continue
			}
			ev, err := dbzconsumer.Decode(m.Value)
			if err != nil {
				t.Fatalf("%v\n%s", err, m.Value)
			}
			events++
			render := func(row dbzconsumer.Row) []string {
				out := make([]string, len(cols))
				for i, c := range cols {
					v, ok := row[c.name]
					if !ok {
						t.Fatalf("%s event: column %s missing", ev.Op, c.name)
					}
					out[i] = selectForm(t, c.def, v)
				}
				return out
			}
			switch ev.Op {
			case "c":
				r := render(ev.After)
				rebuilt[r[0]] = r
			case "u":
				b, a := render(ev.Before), render(ev.After)
				delete(rebuilt, b[0])
				rebuilt[a[0]] = a
			case "d":
				delete(rebuilt, render(ev.Before)[0])
			default:
				t.Fatalf("op %q", ev.Op)
			}
		}
		// 7 changes; the update of id 3 to 30 changes the key, which
		// Debezium writes as a delete and a create.
		if events != 8 {
			t.Fatalf("%d events, want 8", events)
		}
		db, err := shared.DB()
		if err != nil {
			t.Fatal(err)
		}
		want := selectText(t, db, "SELECT "+strings.Join(sels, ", ")+" FROM "+full+" ORDER BY id")
		if len(want) != len(rebuilt) {
			t.Fatalf("SELECT has %d rows, the events rebuilt %d", len(want), len(rebuilt))
		}
		for _, line := range want {
			fields := splitSelectLine(line, names)
			r, ok := rebuilt[fields[0]]
			if !ok {
				t.Fatalf("row id=%s is in SELECT but not in the events", fields[0])
			}
			for i := range cols {
				if r[i] != fields[i] && !sameFloat(cols[i].def, r[i], fields[i]) {
					t.Errorf("id=%s column %s %s: debezium %.120q, SELECT %.120q", fields[0], cols[i].name, cols[i].def, r[i], fields[i])
				}
			}
		}
		if !t.Failed() {
			t.Logf("%d rows × %d columns restored from Debezium events equal SELECT", len(want), len(cols))
		}
	})
}

// encodeAll encodes changes in the format spec names, as a sink with
// headers does.
func encodeAll(t *testing.T, spec string, changes []change.Change) []format.Message {
	t.Helper()
	enc, err := format.New(spec, format.Target{Headers: true})
	if err != nil {
		t.Fatal(err)
	}
	var b format.Batch
	for i := range changes {
		if err := enc.Encode(&b, &changes[i]); err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
	}
	for _, m := range b.Messages {
		for _, data := range [][]byte{m.Key, m.Value} {
			if data != nil && (!json.Valid(data) || strings.ContainsAny(string(data), "\n\r")) {
				t.Fatalf("%s: not one line of JSON: %.300s", spec, data)
			}
		}
	}
	return append([]format.Message(nil), b.Messages...)
}

// checkColumns checks that a row message names every column: as a member
// of its row object, wherever the format puts it.
func checkColumns(t *testing.T, spec string, value []byte, names []string) {
	t.Helper()
	var msg map[string]any
	if err := json.Unmarshal(value, &msg); err != nil {
		t.Fatal(err)
	}
	var row map[string]any
	switch {
	case strings.HasPrefix(spec, "debezium?schemas"):
		p, _ := msg["payload"].(map[string]any)
		row = firstObject(p["after"], p["before"])
	case strings.HasPrefix(spec, "debezium"):
		row = firstObject(msg["after"], msg["before"])
	case strings.HasPrefix(spec, "maxwell"):
		row = firstObject(msg["data"])
	case strings.HasPrefix(spec, "canal"):
		if d, ok := msg["data"].([]any); ok && len(d) == 1 {
			row = firstObject(d[0])
		}
	case spec == "cloudevents":
		d, _ := msg["data"].(map[string]any)
		row = firstObject(d["after"], d["before"])
	default: // sluice, cloudevents binary
		row = firstObject(msg["after"], msg["before"])
	}
	if row == nil {
		if op, _ := msg["op"].(string); op == "begin" || op == "commit" {
			return
		}
		if ty, _ := msg["type"].(string); strings.Contains(ty, "begin") || strings.Contains(ty, "commit") {
			return
		}
		t.Fatalf("%s: no row in %.300s", spec, value)
	}
	for _, n := range names {
		if _, ok := row[n]; !ok {
			t.Errorf("%s: column %s missing from %.300s", spec, n, value)
		}
	}
}

func firstObject(vs ...any) map[string]any {
	for _, v := range vs {
		if m, ok := v.(map[string]any); ok {
			return m
		}
	}
	return nil
}

// selectForm renders a value a Debezium consumer restored in the form the
// SELECT expression of its column gives (see everyTypeColumns).
func selectForm(t *testing.T, def string, v any) string {
	t.Helper()
	if v == nil {
		return "NULL"
	}
	fsp := 0
	if i := strings.IndexByte(def, '('); i >= 0 {
		fsp, _ = strconv.Atoi(strings.TrimSuffix(strings.Fields(def[i+1:])[0], ")"))
	}
	base := strings.Fields(def)[0]
	if i := strings.IndexByte(base, '('); i >= 0 {
		base = base[:i]
	}
	switch x := v.(type) {
	case bool:
		if x {
			return "1"
		}
		return "0"
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		if base == "FLOAT" {
			return strconv.FormatFloat(x, 'g', -1, 32)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		return x
	case []byte:
		return strings.ToUpper(hex.EncodeToString(x))
	case dbzconsumer.Decimal:
		return x.String()
	case dbzconsumer.Bits:
		return strconv.FormatUint(x.Value, 10)
	case dbzconsumer.Date:
		return x.String()
	case dbzconsumer.TimeOfDay:
		return x.Text(fsp)
	case dbzconsumer.WallClock:
		return x.Text(fsp)
	case dbzconsumer.Instant:
		if fsp > 0 {
			return fmt.Sprintf("%d.%06d", x.T.Unix(), x.T.Nanosecond()/1000)
		}
		return strconv.FormatInt(x.T.Unix(), 10)
	case dbzconsumer.Geometry:
		return strings.ToUpper(hex.EncodeToString(x.WKB))
	}
	t.Fatalf("column %s: restored %T %v", def, v, v)
	return ""
}
