package canal

import (
	"time"

	"github.com/sluice-cdc/sluice/change"
)

// Canal's MQ mode (canal.mq.flatMessage=true) builds its flat messages
// from the same entries this server sends: each column's sqlType and text,
// the event type and isDdl of the RowChange. These functions give them to
// package format, whose canal-json format writes flat messages, so that a
// consumer reads the same values from both.

// eventNames are Canal's EventType names by number.
var eventNames = [...]string{eventInsert: "INSERT", eventUpdate: "UPDATE", eventDelete: "DELETE", eventCreate: "CREATE",
	eventAlter: "ALTER", eventErase: "ERASE", eventQuery: "QUERY", eventTruncate: "TRUNCATE", eventRename: "RENAME",
	eventCIndex: "CINDEX", eventDIndex: "DINDEX"}

// ColumnText appends the text Canal gives a non-NULL value of a change
// from source (Change.Source): Canal's own forms for MySQL and MariaDB,
// the source's text for PostgreSQL and MongoDB, bytes as ISO-8859-1 text.
// zone shows MySQL TIMESTAMP values (Canal's JVM time zone).
func ColumnText(dst []byte, source string, v *change.Value, zone *time.Location) []byte {
	return valueText(dst, familyOf(source), v, zone)
}

// ColumnSQLType returns the java.sql.Types code Canal gives the value v
// (possibly NULL) of column col in a change from source.
func ColumnSQLType(source string, col *change.Column, v *change.Value) int32 {
	base, _ := typeBase(col.Type)
	switch fam := familyOf(source); {
	case fam == familyPostgres:
		return postgresType(base, v.Kind)
	case fam == familyMongo:
		return kindSQLType(v.Kind)
	case v.Kind == change.KindNull:
		return mysqlNullType(base, v.Kind)
	default:
		return mysqlType(base, v)
	}
}

// EventType returns the name of the Canal event type of a row change,
// DDL, truncate or statement change ("INSERT", "ALTER", "TRUNCATE",
// "QUERY", …), whether Canal marks it isDdl, and the SQL its RowChange
// carries (a truncate without SQL gets a TRUNCATE TABLE statement).
func EventType(c *change.Change) (name string, isDDL bool, sql string) {
	var ev int32
	sql = c.SQL
	switch c.Op {
	case change.OpInsert:
		ev = eventInsert
	case change.OpUpdate:
		ev = eventUpdate
	case change.OpDelete:
		ev = eventDelete
	case change.OpDDL:
		ev, isDDL = ddlEventType(c.SQL), true
	case change.OpTruncate:
		ev, isDDL = eventTruncate, true
		if sql == "" {
			sql = truncateSQL(c)
		}
	default:
		ev = statementEventType(c.SQL)
		isDDL = ev == eventQuery
	}
	return eventNames[ev], isDDL, sql
}
