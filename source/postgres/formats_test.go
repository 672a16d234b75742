package postgres

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/format"
	"github.com/sluice-cdc/sluice/internal/dbzconsumer"
)

// TestEveryTypeInEveryFormat streams a row holding every type of
// typeCases (REPLICA IDENTITY FULL, with a TOASTed column), its update
// and its delete from a real PostgreSQL, and writes every change in every
// output format: each message is JSON on one line naming every column.
// The debezium events are then read back as a Debezium consumer reads them
// (internal/dbzconsumer, by their Kafka Connect schemas) and every value is
// compared with what SELECT returns — or, where docs/formats.md says
// Debezium's form cannot carry the value, with that documented form.
func TestEveryTypeInEveryFormat(t *testing.T) {
	// The types of typeCases, created unless another test left them, and
	// dropped again if created here (TestTypesAndReplicaIdentity creates
	// them itself).
	if queryText(t, `SELECT count(*)::text FROM pg_type WHERE typname IN ('mood', 'posint', 'pair')`) == "0" {
		exec(t, `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`, `CREATE DOMAIN posint AS integer CHECK (VALUE > 0)`,
			`CREATE TYPE pair AS (a int, b text)`)
		t.Cleanup(func() {
			exec(t, `DROP TABLE IF EXISTS fmt_types`, `DROP TYPE mood`, `DROP DOMAIN posint`, `DROP TYPE pair`)
		})
	}
	cases := typeCases()
	var defs, lits, sels, names []string
	for i, c := range cases {
		name := fmt.Sprintf("c%d", i)
		names = append(names, name)
		defs = append(defs, name+" "+c.typ)
		lits = append(lits, c.lit)
		sels = append(sels, pgSelect(c.typ, name))
	}
	exec(t, `DROP TABLE IF EXISTS fmt_types`,
		`CREATE TABLE fmt_types (id int PRIMARY KEY, n int, big text, `+strings.Join(defs, ", ")+`)`,
		`ALTER TABLE fmt_types REPLICA IDENTITY FULL`)
	t.Cleanup(func() { exec(t, `DROP TABLE IF EXISTS fmt_types`) })
	dropSlot(t, "fmt")
	r := start(t, "slot=fmt&publication=fmt&create-publication=fmt_types", change.Position{})
	toast := `(SELECT string_agg(md5(g::text), '') FROM generate_series(1, 400) g)`
	exec(t, `INSERT INTO fmt_types VALUES (1, 5, `+toast+`, `+strings.Join(lits, ", ")+`)`,
		`UPDATE fmt_types SET n = 6 WHERE id = 1`)
	selected := strings.Split(queryText(t, `SELECT concat_ws(E'\x01', `+strings.Join(sels, ", ")+`) FROM fmt_types`), "\x01")
	exec(t, `DELETE FROM fmt_types WHERE id = 1`)
	got := r.col.waitCommits(t, 3, r)
	var changes []change.Change
	for _, c := range got {
		if c.Table == "fmt_types" || c.Op == change.OpBegin || c.Op == change.OpCommit {
			changes = append(changes, c)
		}
	}
	if n := len(rows(changes, "fmt_types")); n != 3 {
		t.Fatalf("%d row changes, want 3", n)
	}
	all := append([]string{"id", "n", "big"}, names...)

	for _, spec := range []string{"sluice", "debezium", "debezium?schemas=true&provide.transaction.metadata=true", "maxwell",
		"canal-json", "cloudevents", "cloudevents?mode=binary"} {
		t.Run(spec, func(t *testing.T) {
			for _, m := range encodeAll(t, spec, changes) {
				if m.Value == nil || m.Topic != "" {
					continue
				}
				checkColumns(t, spec, m.Value, all)
			}
		})
	}

	t.Run("debezium restored", func(t *testing.T) {
		n := 0
		for _, m := range encodeAll(t, "debezium?schemas=true&database.dbname=postgres", changes) {
			if m.Value == nil {
				continue
			}
			ev, err := dbzconsumer.Decode(m.Value)
			if err != nil {
				t.Fatalf("%v\n%.500s", err, m.Value)
			}
			n++
			if ev.Source["db"] != "postgres" || ev.Source["schema"] != "public" || ev.Source["table"] != "fmt_types" {
				t.Errorf("source block %v", ev.Source)
			}
			var imgs []dbzconsumer.Row
			switch ev.Op {
			case "c":
				imgs = []dbzconsumer.Row{ev.After}
			case "u":
				imgs = []dbzconsumer.Row{ev.Before, ev.After}
				if got := ev.After["big"]; got != "__debezium_unavailable_value" {
					t.Errorf("update: unchanged TOAST column is %v, want the placeholder", got)
				}
			case "d":
				imgs = []dbzconsumer.Row{ev.Before}
			}
			for _, img := range imgs {
				for i, c := range cases {
					v, ok := img[names[i]]
					if !ok {
						t.Fatalf("%s event: column %s missing", ev.Op, names[i])
					}
					if got, want := pgForm(t, c.typ, v), pgExpected(c.typ, selected[i]); got != want {
						t.Errorf("%s event: %s %s %s: debezium %q, SELECT %q (documented form %q)", ev.Op, names[i], c.typ, c.lit, got, selected[i], want)
					}
				}
			}
		}
		if n != 3 {
			t.Fatalf("%d events, want 3", n)
		}
		if !t.Failed() {
			t.Logf("%d columns of every image restored from Debezium events equal SELECT", len(cases))
		}
	})
}

// pgSelect is the SELECT expression whose text each type's restored value
// is compared with: instants, times and day counts as numbers, binary as
// hex, the rest as PostgreSQL prints them.
func pgSelect(typ, c string) string {
	micros := func(c string) string {
		return fmt.Sprintf(`CASE WHEN isfinite(%[1]s) THEN (extract(epoch FROM %[1]s) * 1000000)::numeric(40,0)::text ELSE %[1]s::text END`, c)
	}
	switch typ {
	case "date":
		return fmt.Sprintf(`CASE WHEN isfinite(%[1]s) THEN (%[1]s - date '1970-01-01')::text ELSE %[1]s::text END`, c)
	case "time", "time(3)", "timetz":
		return fmt.Sprintf(`(extract(epoch FROM %s) * 1000000)::numeric(40,0)::text`, c)
	case "timestamp", "timestamp(0)", "timestamptz":
		return micros(c)
	case "bytea":
		return fmt.Sprintf(`encode(%s, 'hex')`, c)
	case "interval":
		return fmt.Sprintf(`concat_ws(' ', extract(year FROM %[1]s) * 12 + extract(month FROM %[1]s), extract(day FROM %[1]s), (extract(epoch FROM %[1]s - date_trunc('day', %[1]s)) * 1000000)::numeric(40,0))`, c)
	case "point":
		return fmt.Sprintf(`%[1]s[0]::text || ',' || %[1]s[1]::text`, c)
	case "money":
		return c + "::numeric::text"
	case "boolean":
		return c + "::text"
	}
	return fmt.Sprintf("concat(%s)", c)
}

// pgExpected is the text a restored value must have: SELECT's, or the
// form docs/formats.md documents where Debezium cannot carry the value
// exactly (decimal.handling.mode=precise has no NaN or infinity, a date
// no infinity; timestamp infinities are Debezium's constants; intervals
// count a month as 30.4375 days).
func pgExpected(typ, selected string) string {
	switch {
	case (typ == "numeric" || typ == "numeric(10,2)") && (selected == "NaN" || strings.HasSuffix(selected, "Infinity")):
		return "null"
	case typ == "date" && strings.HasSuffix(selected, "infinity"):
		return "null"
	case strings.HasPrefix(typ, "timestamp") && typ != "timestamptz" && selected == "infinity":
		return "9223372036825200000"
	case strings.HasPrefix(typ, "timestamp") && typ != "timestamptz" && selected == "-infinity":
		return "-9223372036832400000"
	case typ == "interval":
		f := strings.Fields(selected)
		months, _ := strconv.ParseFloat(f[0], 64)
		days, _ := strconv.ParseInt(f[1], 10, 64)
		us, _ := strconv.ParseInt(f[2], 10, 64)
		return strconv.FormatInt(int64(math.Round(months*(365.25/12)*86400e6))+days*86400e6+us, 10)
	case typ == "numeric[]":
		return strings.ReplaceAll(selected, "NaN", "NULL")
	}
	return selected
}

// pgForm renders a value a Debezium consumer restored in the form of its
// type's pgSelect expression.
func pgForm(t *testing.T, typ string, v any) string {
	t.Helper()
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		bits := 64
		if typ == "real" {
			bits = 32
		}
		switch {
		case math.IsInf(x, 1):
			return "Infinity"
		case math.IsInf(x, -1):
			return "-Infinity"
		}
		return strconv.FormatFloat(x, 'g', -1, bits)
	case string:
		if typ == "timetz" { // io.debezium.time.ZonedTime, "07:04:56Z": microseconds of the UTC time
			var h, m int
			var s float64
			if _, err := fmt.Sscanf(strings.TrimSuffix(x, "Z"), "%d:%d:%f", &h, &m, &s); err != nil {
				t.Fatalf("timetz %q: %v", x, err)
			}
			return strconv.FormatInt(int64(h)*3600e6+int64(m)*60e6+int64(math.Round(s*1e6)), 10)
		}
		return x
	case []byte:
		return hex.EncodeToString(x)
	case dbzconsumer.Decimal:
		return x.String()
	case dbzconsumer.Date:
		y := x.Year
		return strconv.FormatInt(daysFromEpoch(y, x.Month, x.Day), 10)
	case dbzconsumer.TimeOfDay:
		return strconv.FormatInt(int64(x)/1000, 10)
	case dbzconsumer.WallClock:
		return strconv.FormatInt(x.T.UnixMicro(), 10)
	case dbzconsumer.Instant:
		switch x.Infinity {
		case 1:
			return "infinity"
		case -1:
			return "-infinity"
		}
		return strconv.FormatInt(x.T.UnixMicro(), 10)
	case dbzconsumer.Bits:
		s := strconv.FormatUint(x.Value, 2)
		for len(s) < x.Length {
			s = "0" + s
		}
		return s
	case dbzconsumer.Geometry:
		if x.X == nil || x.Y == nil {
			t.Fatalf("%s: point without x, y", typ)
		}
		return strconv.FormatFloat(*x.X, 'g', -1, 64) + "," + strconv.FormatFloat(*x.Y, 'g', -1, 64)
	case []any:
		return pgArray(t, typ, x)
	}
	t.Fatalf("%s: restored %T %v", typ, v, v)
	return ""
}

// pgArray writes restored array elements as a PostgreSQL array literal.
func pgArray(t *testing.T, typ string, elems []any) string {
	var parts []string
	for _, e := range elems {
		switch x := e.(type) {
		case nil:
			parts = append(parts, "NULL")
		case []any:
			parts = append(parts, pgArray(t, typ, x))
		case string:
			if x == "" || strings.ContainsAny(x, ` ,"\{}`) || strings.EqualFold(x, "null") {
				x = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(x) + `"`
			}
			parts = append(parts, x)
		default:
			parts = append(parts, pgForm(t, strings.TrimSuffix(typ, "[]"), x))
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// daysFromEpoch counts days from 1970-01-01 in the proleptic Gregorian
// calendar (year 0 is 1 BC).
func daysFromEpoch(y, m, d int) int64 {
	yy := int64(y)
	if m <= 2 {
		yy--
	}
	era := yy / 400
	if yy < 0 && yy%400 != 0 {
		era--
	}
	yoe := yy - era*400
	mp := int64((m + 9) % 12)
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// encodeAll encodes changes in the format spec names, as a sink with
// headers does, and checks every key and value is one line of JSON.
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

// checkColumns checks that a row message names every column, where each
// format puts its row. Unchanged TOAST columns are left out of Maxwell's
// and Canal's rows, as those formats document.
func checkColumns(t *testing.T, spec string, value []byte, names []string) {
	t.Helper()
	var msg map[string]any
	if err := json.Unmarshal(value, &msg); err != nil {
		t.Fatal(err)
	}
	first := func(vs ...any) map[string]any {
		for _, v := range vs {
			if m, ok := v.(map[string]any); ok {
				return m
			}
		}
		return nil
	}
	var row map[string]any
	toastOut := false
	switch {
	case strings.HasPrefix(spec, "debezium?schemas"):
		p, _ := msg["payload"].(map[string]any)
		row = first(p["after"], p["before"])
	case strings.HasPrefix(spec, "debezium"):
		row = first(msg["after"], msg["before"])
	case spec == "maxwell":
		row, toastOut = first(msg["data"]), msg["type"] == "update"
	case spec == "canal-json":
		if d, ok := msg["data"].([]any); ok && len(d) == 1 {
			row = first(d[0])
		}
		toastOut = msg["type"] == "UPDATE"
	case spec == "cloudevents":
		d, _ := msg["data"].(map[string]any)
		row = first(d["after"], d["before"])
	default:
		row = first(msg["after"], msg["before"])
	}
	if row == nil {
		return // begin, commit
	}
	for _, n := range names {
		if _, ok := row[n]; !ok && !(toastOut && n == "big") {
			t.Errorf("%s: column %s missing from %.300s", spec, n, value)
		}
	}
}
