package canal

import (
	"math"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	pbe "github.com/withlin/canal-go/protocol/entry"
	pbp "github.com/withlin/canal-go/protocol/packet"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sluice-cdc/sluice/change"
)

// TestJavaFloat: Java's Float.toString and Double.toString forms.
func TestJavaFloat(t *testing.T) {
	for _, c := range []struct {
		f      float64
		single bool
		want   string
	}{
		{0, false, "0.0"}, {math.Copysign(0, -1), false, "-0.0"}, {1, false, "1.0"}, {100, false, "100.0"},
		{1.5, false, "1.5"}, {-0.1, false, "-0.1"}, {0.001, false, "0.001"}, {0.0001, false, "1.0E-4"},
		{1234567, false, "1234567.0"}, {1e7, false, "1.0E7"}, {12345678.9, false, "1.23456789E7"},
		{-1.7976931348623157e308, false, "-1.7976931348623157E308"}, {5e-324, false, "4.9E-324"},
		{2.2250738585072014e-308, false, "2.2250738585072014E-308"}, {math.NaN(), false, "NaN"},
		{math.Inf(1), false, "Infinity"}, {math.Inf(-1), false, "-Infinity"},
		{float64(float32(-3.40282e38)), true, "-3.40282E38"}, {float64(float32(1.17549e-38)), true, "1.17549E-38"},
		{float64(float32(0.1)), true, "0.1"}, {float64(float32(3.4028235e38)), true, "3.4028235E38"},
		{float64(float32(123.25)), true, "123.25"},
	} {
		if got := string(appendJavaFloat(nil, c.f, c.single)); got != c.want {
			t.Errorf("%v (single %v): %q, want %q", c.f, c.single, got, c.want)
		}
	}
}

// TestMySQLText: Canal's texts of MySQL values that the live test does
// not reach (time zones, fractions of zero dates).
func TestMySQLText(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Skip("no time zone data")
	}
	for _, c := range []struct {
		v    change.Value
		zone *time.Location
		want string
	}{
		{change.Timestamp(1, 0, 0), time.UTC, "1970-01-01 00:00:01"},
		{change.Timestamp(1, 0, 0), shanghai, "1970-01-01 08:00:01"},
		{change.Timestamp(0, 0, 3), time.UTC, "0000-00-00 00:00:00.000"},
		{change.Timestamp(1700000000, 123456000, 6), shanghai, "2023-11-15 06:13:20.123456"},
		{change.DateTime(0, 0, 0, 0, 0, 0, 0, 2), time.UTC, "0000-00-00 00:00:00.00"},
		{change.Time(true, 0, 0, 0, 1000, 6), time.UTC, "-00:00:00.000001"},
		{change.Time(false, 838, 59, 59, 0, 0), time.UTC, "838:59:59"},
		{change.Date(0, 0, 0), time.UTC, "0000-00-00"},
		{change.Year(0), time.UTC, "0000"},
		{change.Enum([]byte("b"), 2), time.UTC, "2"},
		{change.Set([]byte("x,z"), 5), time.UTC, "5"},
		{change.Bytes([]byte{0, 0x7f, 0x80, 0xff}), time.UTC, "\x00\x7f\u0080\u00ff"},
		{change.Geometry(4326, []byte{1}), time.UTC, "\u00e6\u0010\x00\x00\x01"},
	} {
		if got := string(valueText(nil, familyMySQL, &c.v, c.zone)); got != c.want {
			t.Errorf("%v in %v: %q, want %q", c.v, c.zone, got, c.want)
		}
	}
}

// TestTypeBase: column type texts to base names.
func TestTypeBase(t *testing.T) {
	for _, c := range []struct {
		in, base string
		unsigned bool
	}{
		{"int(10) unsigned", "int", true}, {"TINYINT UNSIGNED", "tinyint", true}, {"bigint unsigned zerofill", "bigint", true},
		{"varchar(64)", "varchar", false}, {"timestamp(6) with time zone", "timestamp", false},
		{"double precision", "double precision", false}, {"numeric(12,2)[]", "numeric[]", false}, {"enum('a','b')", "enum", false},
	} {
		if b, u := typeBase(c.in); b != c.base || u != c.unsigned {
			t.Errorf("%q: %q %v, want %q %v", c.in, b, u, c.base, c.unsigned)
		}
	}
}

// TestDDLEventType: DDL statements classified as Canal's parser does.
func TestDDLEventType(t *testing.T) {
	for sql, want := range map[string]int32{
		"CREATE TABLE t (a int)": eventCreate, "/* c */ create temporary table t (a int)": eventCreate,
		"ALTER TABLE t ADD b int": eventAlter, "ALTER ONLINE TABLE t ADD b int": eventAlter, "DROP TABLE t": eventErase,
		"TRUNCATE t": eventTruncate, "RENAME TABLE a TO b": eventRename, "CREATE UNIQUE INDEX i ON t (a)": eventCIndex,
		"DROP INDEX i ON t": eventDIndex, "CREATE DATABASE d": eventQuery, "GRANT ALL ON *.* TO u": eventQuery,
	} {
		if got := ddlEventType(sql); got != want {
			t.Errorf("%q: %d, want %d", sql, got, want)
		}
	}
	for sql, want := range map[string]int32{"insert into t values (1)": eventInsert, "REPLACE INTO t VALUES (1)": eventInsert,
		"UPDATE t SET a = 1": eventUpdate, "delete from t": eventDelete, "SET @a = 1": eventQuery} {
		if got := statementEventType(sql); got != want {
			t.Errorf("%q: %d, want %d", sql, got, want)
		}
	}
}

// TestProtoFiles: the field numbers in our .proto files and in wire.go and
// entry.go are those of a third-party client's generated code (canal-go).
func TestProtoFiles(t *testing.T) {
	for _, c := range []struct {
		file string
		fd   protoreflect.FileDescriptor
	}{{"proto/canal_protocol.proto", pbp.File_canal_protocol_proto}, {"proto/entry_protocol.proto", pbe.File_entry_protocol_proto}} {
		text, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		ours := parseProto(string(text))
		theirs := map[string]int{}
		msgs := c.fd.Messages()
		for i := 0; i < msgs.Len(); i++ {
			m := msgs.Get(i)
			fs := m.Fields()
			for j := 0; j < fs.Len(); j++ {
				f := fs.Get(j)
				theirs[string(m.Name())+"."+string(f.Name())] = int(f.Number())
			}
		}
		for k, n := range theirs {
			if ours[k] != n {
				t.Errorf("%s: %s = %d, canal-go %d", c.file, k, ours[k], n)
			}
		}
		for k := range ours {
			if _, ok := theirs[k]; !ok {
				t.Errorf("%s: %s is not in canal-go's descriptor", c.file, k)
			}
		}
	}
	// The constants the encoders use.
	for k, n := range map[string]int{
		"Packet.version": fPacketVersion, "Packet.type": fPacketType, "Packet.body": fPacketBody,
		"Handshake.seeds": fHandshakeSeeds, "ClientAuth.password": fAuthPassword, "ClientAuth.net_read_timeout": fAuthReadTimeout,
		"Ack.error_code": fAckErrorCode, "Get.timeout": fGetTimeout, "Get.auto_ack": fGetAutoAck, "Messages.messages": fMessagesMessages,
		"ClientRollback.batch_id": fClientAckBatchID, "Sub.filter": fSubFilter,
		"Entry.storeValue": fEntryStoreValue, "Header.gtid": fHeaderGtid, "Header.props": fHeaderProps, "Header.eventType": fHeaderEventType,
		"Column.mysqlType": fColumnMySQLType, "Column.isNull": fColumnIsNull, "RowChange.isDdl": fRowChangeIsDdl,
		"RowChange.ddlSchemaName": fRowChangeDdlSchemaName, "RowData.afterColumns": fRowDataAfter,
		"TransactionEnd.transactionId": fEndTransactionID, "TransactionBegin.transactionId": fBeginTransactionID,
	} {
		msg, field, _ := strings.Cut(k, ".")
		var fd protoreflect.FileDescriptor = pbp.File_canal_protocol_proto
		if fd.Messages().ByName(protoreflect.Name(msg)) == nil {
			fd = pbe.File_entry_protocol_proto
		}
		if got := fd.Messages().ByName(protoreflect.Name(msg)).Fields().ByName(protoreflect.Name(field)).Number(); int(got) != n {
			t.Errorf("%s: constant %d, canal-go %d", k, n, got)
		}
	}
}

var (
	protoMessage = regexp.MustCompile(`^message (\w+) \{`)
	protoField   = regexp.MustCompile(`(?:repeated\s+)?[\w.]+\s+(\w+)\s*=\s*(\d+);`)
)

// parseProto reads "Message.field" → number from a .proto file of ours.
func parseProto(text string) map[string]int {
	out := map[string]int{}
	msg := ""
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if m := protoMessage.FindStringSubmatch(line); m != nil {
			msg = m[1]
			continue
		}
		if strings.HasPrefix(line, "enum ") {
			msg = ""
		}
		if msg == "" {
			continue
		}
		for _, m := range protoField.FindAllStringSubmatch(line, -1) {
			n := 0
			for _, d := range m[2] {
				n = n*10 + int(d-'0')
			}
			out[msg+"."+m[1]] = n
		}
	}
	return out
}
