package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/dbzconsumer"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/sink/kafka"
	"github.com/sluice-cdc/sluice/sinks"
	"github.com/sluice-cdc/sluice/source"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kafkaMsg is one record as a consumer sees it: key, value (nil for a
// tombstone) and headers in order.
type kafkaMsg struct {
	key, value []byte
	headers    [][2]string
}

func (m kafkaMsg) header(k string) (string, bool) {
	for _, h := range m.headers {
		if h[0] == k {
			return h[1], true
		}
	}
	return "", false
}

// String is the message as the kcat dump below writes it.
func (m kafkaMsg) String() string {
	value := "NULL"
	if m.value != nil {
		value = string(m.value)
	}
	var hs []string
	for _, h := range m.headers {
		hs = append(hs, h[0]+"="+h[1])
	}
	key := "NULL"
	if m.key != nil {
		key = string(m.key)
	}
	return key + "\t" + value + "\t" + strings.Join(hs, ",")
}

// franzRead reads every committed record of topic (one partition) with a
// franz-go consumer.
func franzRead(t *testing.T, brokers []string, topic string) []kafkaMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []kafkaMsg
	for {
		pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
		fs := cl.PollFetches(pctx)
		pcancel()
		if ctx.Err() != nil {
			t.Fatalf("reading %s took too long", topic)
		}
		if fs.NumRecords() == 0 {
			return out
		}
		fs.EachRecord(func(r *kgo.Record) {
			m := kafkaMsg{key: r.Key, value: r.Value}
			for _, h := range r.Headers {
				m.headers = append(m.headers, [2]string{h.Key, string(h.Value)})
			}
			out = append(out, m)
		})
	}
}

// kcatRead reads every committed record of topic with kcat (librdkafka),
// one line per record: key, value (NULL for a tombstone) and headers.
func kcatRead(t *testing.T, seeds, topic string) []string {
	t.Helper()
	cmd := exec.Command("kcat", "-C", "-b", seeds, "-t", topic, "-o", "beginning", "-e", "-q", "-Z",
		"-X", "isolation.level=read_committed", "-f", "%k\t%s\t%h\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat -t %s: %v\n%s", topic, err, stderr.Bytes())
	}
	return strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
}

// sameAsKcat checks that kcat saw exactly what the franz-go consumer saw.
func sameAsKcat(t *testing.T, seeds, topic string, msgs []kafkaMsg) {
	t.Helper()
	lines := kcatRead(t, seeds, topic)
	if len(lines) != len(msgs) {
		t.Fatalf("kcat read %d records of %s, franz-go %d:\n%s", len(lines), topic, len(msgs), strings.Join(lines, "\n"))
	}
	for i, m := range msgs {
		if lines[i] != m.String() {
			t.Errorf("%s record %d:\nkcat    %s\nfranz-go %s", topic, i, lines[i], m)
		}
	}
}

// payload is the "payload" member of a message written with
// schemas=true (the message itself without).
func payload(t *testing.T, msg []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(msg, &v); err != nil {
		t.Fatalf("%s: %v", msg, err)
	}
	if p, ok := v["payload"].(map[string]any); ok {
		return p
	}
	return v
}

// TestStreamKafkaFormats streams real MariaDB transactions with sluice
// stream into Kafka in the formats whose Kafka messages have more to them
// than a value, and reads them back with a franz-go consumer and with
// kcat (read_committed), which must agree record for record:
//
//   - debezium?schemas=true&provide.transaction.metadata=true, exactly-once:
//     key messages with their schema, one per row, a tombstone after each
//     delete, an update of the primary key as a delete (header
//     __debezium.newkey), its tombstone and a create (__debezium.oldkey),
//     each event's transaction block counting in order, and on the
//     transaction topic BEGIN and END with event_count and
//     data_collections; the row images restored by their schemas;
//   - cloudevents?mode=binary, at-least-once: the Sluice JSON change as the
//     value and the CloudEvents attributes as ce_ headers (Kafka protocol
//     binding), before the sink's own headers.
func TestStreamKafkaFormats(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MariaDB and Kafka")
	}
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Fatal("kcat not installed: run scripts/deps.sh (Debian package kcat)")
	}
	srv := testenv.NewMariaDB(t, testenv.MariaDBOptions{})
	k := testenv.NewKafka(t, testenv.KafkaOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	db, err := srv.DB()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Exec(ctx, `CREATE DATABASE shop`, `CREATE TABLE shop.t (id int PRIMARY KEY, name varchar(10), price decimal(8,2))`,
		`BEGIN`, `INSERT INTO shop.t VALUES (1, 'a', 1.50), (2, 'b', 2.00)`, `UPDATE shop.t SET name = 'B' WHERE id = 2`,
		`DELETE FROM shop.t WHERE id = 1`, `UPDATE shop.t SET id = 3 WHERE id = 2`, `COMMIT`,
		`INSERT INTO shop.t VALUES (5, 'e', 5.25)`); err != nil {
		t.Fatal(err)
	}
	var file, doDB, ignoreDB string
	var pos int64
	if err := db.QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&file, &pos, &doDB, &ignoreDB); err != nil {
		t.Fatal(err)
	}
	srcURL := "mysql://" + testenv.MariaDBReplUser + ":" + testenv.MariaDBReplPassword + "@" + srv.Addr() + "/?server-id=4245"
	stream := func(t *testing.T, sinkQuery, format string) {
		t.Helper()
		dir := t.TempDir()
		var logs bytes.Buffer
		e := &env{Stdout: &bytes.Buffer{}, Stderr: &logs}
		err := streamWith(ctx, e, []string{srcURL, "--to", "kafka://" + k.Seeds() + "/?create-topics=on&partitions=1" + sinkQuery,
			"--state", filepath.Join(dir, "state.db"), "--id", t.Name(), "--from", "earliest", "--include", `shop\.t`,
			"--format", format, "--stop-at", file + ":" + itoa64(pos)}, source.Default(), sinks.Builtin())
		if err != nil {
			t.Fatalf("%v\n%s", err, logs.String())
		}
	}

	t.Run("debezium", func(t *testing.T) {
		stream(t, "&prefix=dz&delivery=exactly-once", "debezium?schemas=true&provide.transaction.metadata=true&topic.prefix=dz")
		rows := franzRead(t, k.Brokers(), "dz.shop.t")
		sameAsKcat(t, k.Seeds(), "dz.shop.t", rows)
		type want struct {
			key, op string // op "" for a tombstone
			header  string
			after   string // the after image's id and name
		}
		wants := []want{
			{`{"id":1}`, "c", "", "1 a 1.50"},
			{`{"id":2}`, "c", "", "2 b 2.00"},
			{`{"id":2}`, "u", "", "2 B 2.00"},
			{`{"id":1}`, "d", "", ""},
			{`{"id":1}`, "", "", ""},
			{`{"id":2}`, "d", `__debezium.newkey={"schema":`, ""},
			{`{"id":2}`, "", "", ""},
			{`{"id":3}`, "c", `__debezium.oldkey={"schema":`, "3 B 2.00"},
			{`{"id":5}`, "c", "", "5 e 5.25"},
		}
		if len(rows) != len(wants) {
			t.Fatalf("%d records on dz.shop.t, want %d:\n%v", len(rows), len(wants), rows)
		}
		txOrder := map[string]float64{}
		txEvents := map[string]int{}
		for i, w := range wants {
			m := rows[i]
			// The key message: Debezium's key with its schema.
			var key struct {
				Schema struct {
					Type, Name string
				}
				Payload json.RawMessage
			}
			if err := json.Unmarshal(m.key, &key); err != nil || key.Schema.Type != "struct" || key.Schema.Name != "dz.shop.t.Key" ||
				string(key.Payload) != w.key {
				t.Errorf("record %d: key %s, want the payload %s with schema dz.shop.t.Key", i, m.key, w.key)
			}
			if w.op == "" {
				if m.value != nil {
					t.Errorf("record %d: %s, want the tombstone of %s", i, m.value, w.key)
				}
				continue
			}
			ev, err := dbzconsumer.Decode(m.value)
			if err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			if ev.Op != w.op {
				t.Errorf("record %d: op %s, want %s", i, ev.Op, w.op)
			}
			if w.after != "" {
				got := fmt.Sprint(ev.After["id"], " ", ev.After["name"], " ", ev.After["price"])
				if got != w.after {
					t.Errorf("record %d: after %s, want %s", i, got, w.after)
				}
			}
			hs := fmt.Sprint(m.headers)
			if w.header != "" && !strings.Contains(m.String(), w.header) {
				t.Errorf("record %d: headers %s, want %s…", i, hs, w.header)
			}
			if op, _ := m.header(kafka.HeaderOp); op == "" {
				t.Errorf("record %d: no %s header: %s", i, kafka.HeaderOp, hs)
			}
			tx, _ := payload(t, m.value)["transaction"].(map[string]any)
			id, _ := tx["id"].(string)
			order, _ := tx["total_order"].(float64)
			if id == "" || order != txOrder[id]+1 {
				t.Errorf("record %d: transaction block %v, want total_order %v", i, tx, txOrder[id]+1)
			}
			txOrder[id] = order
			txEvents[id]++
		}

		// The transaction topic: BEGIN and END of both transactions,
		// END counting the events seen.
		txs := franzRead(t, k.Brokers(), "dz.transaction")
		sameAsKcat(t, k.Seeds(), "dz.transaction", txs)
		var statuses []string
		for _, m := range txs {
			p := payload(t, m.value)
			id, _ := p["id"].(string)
			statuses = append(statuses, fmt.Sprint(p["status"]))
			if kp := payload(t, m.key); kp["id"] != id {
				t.Errorf("transaction event %s: key %s", m.value, m.key)
			}
			if p["status"] != "END" {
				continue
			}
			n := txEvents[id]
			colls, _ := p["data_collections"].([]any)
			if p["event_count"] != float64(n) || len(colls) != 1 ||
				fmt.Sprint(colls[0]) != fmt.Sprintf("map[data_collection:shop.t event_count:%d]", n) {
				t.Errorf("END %s, want event_count %d in shop.t", m.value, n)
			}
		}
		if strings.Join(statuses, " ") != "BEGIN END BEGIN END" || len(txEvents) != 2 {
			t.Errorf("transaction topic %v for %d transactions, want BEGIN END BEGIN END for 2", statuses, len(txEvents))
		}
	})

	t.Run("cloudevents binary", func(t *testing.T) {
		stream(t, "&prefix=ce", "cloudevents?mode=binary")
		rows := franzRead(t, k.Brokers(), "ce.shop.t")
		sameAsKcat(t, k.Seeds(), "ce.shop.t", rows)
		// The CREATE TABLE first (on the table's topic, without a key);
		// Sluice JSON's form: a key change is one update.
		wantTypes := []string{"ddl", "insert", "insert", "update", "delete", "update", "insert"}
		if len(rows) != len(wantTypes) {
			t.Fatalf("%d records on ce.shop.t, want %d:\n%v", len(rows), len(wantTypes), rows)
		}
		ids := map[string]bool{}
		for i, m := range rows {
			var names []string
			for _, h := range m.headers {
				names = append(names, h[0])
			}
			wantNames := "ce_specversion ce_id ce_source ce_type ce_subject ce_time content-type op db table position"
			if strings.Join(names, " ") != wantNames {
				t.Errorf("record %d: headers %v, want %s", i, names, wantNames)
			}
			ceType, _ := m.header("ce_type")
			ceID, _ := m.header("ce_id")
			spec, _ := m.header("ce_specversion")
			subject, _ := m.header("ce_subject")
			ct, _ := m.header("content-type")
			position, _ := m.header(kafka.HeaderPosition)
			if spec != "1.0" || ceType != "io.sluice.change."+wantTypes[i] || subject != "shop.t" || ct != "application/json" {
				t.Errorf("record %d: ce_specversion %s, ce_type %s, ce_subject %s, content-type %s", i, spec, ceType, subject, ct)
			}
			if ids[ceID] || !strings.HasSuffix(ceID, "/"+wantTypes[i]) {
				t.Errorf("record %d: ce_id %s repeated or without its op", i, ceID)
			}
			ids[ceID] = true
			// The value is the data: the change in Sluice JSON.
			var data struct {
				Op  string `json:"op"`
				Pos string `json:"pos"`
				Key map[string]any
			}
			if err := json.Unmarshal(m.value, &data); err != nil || data.Op != wantTypes[i] || data.Pos != position {
				t.Errorf("record %d: value %s, want a Sluice JSON %s at %s", i, m.value, wantTypes[i], position)
			}
			if (data.Key == nil && m.key != nil) || (data.Key != nil && string(m.key) != string(mustJSON(t, data.Key))) {
				t.Errorf("record %d: key %s, want the change's key %v", i, m.key, data.Key)
			}
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
