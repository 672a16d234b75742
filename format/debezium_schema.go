package format

import (
	"strconv"

	"github.com/sluice-cdc/sluice/change"
)

// The Kafka Connect schemas of the parts of Debezium's events that do not
// depend on a table, as the JSON converter writes them (schemas=true).
const (
	snapshotSchema = `{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},"default":"false","field":"snapshot"}`
	commonSource   = `{"type":"string","optional":false,"field":"version"},{"type":"string","optional":false,"field":"connector"},{"type":"string","optional":false,"field":"name"},{"type":"int64","optional":false,"field":"ts_ms"},{"type":"int64","optional":true,"field":"ts_us"},{"type":"int64","optional":true,"field":"ts_ns"},` + snapshotSchema + `,{"type":"string","optional":false,"field":"db"},{"type":"string","optional":true,"field":"sequence"},`

	mysqlSourceFields    = commonSource + `{"type":"string","optional":true,"field":"table"},{"type":"int64","optional":false,"field":"server_id"},{"type":"string","optional":true,"field":"gtid"},{"type":"string","optional":false,"field":"file"},{"type":"int64","optional":false,"field":"pos"},{"type":"int32","optional":false,"field":"row"},{"type":"int64","optional":true,"field":"thread"},{"type":"string","optional":true,"field":"query"}`
	postgresSourceFields = commonSource + `{"type":"string","optional":false,"field":"schema"},{"type":"string","optional":false,"field":"table"},{"type":"int64","optional":true,"field":"txId"},{"type":"int64","optional":true,"field":"lsn"},{"type":"int64","optional":true,"field":"xmin"}`
	mongoSourceFields    = commonSource + `{"type":"string","optional":false,"field":"collection"},{"type":"int32","optional":false,"field":"ord"},{"type":"string","optional":true,"field":"lsid"},{"type":"int64","optional":true,"field":"txnNumber"}`

	txBlockSchema = `{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"},{"type":"int64","optional":false,"field":"total_order"},{"type":"int64","optional":false,"field":"data_collection_order"}],"optional":true,"name":"event.block","version":1,"field":"transaction"}`
	envelopeTail  = `,{"type":"string","optional":false,"field":"op"},{"type":"int64","optional":true,"field":"ts_ms"},{"type":"int64","optional":true,"field":"ts_us"},{"type":"int64","optional":true,"field":"ts_ns"}`

	txKeySchema   = `{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"}],"optional":false,"name":"io.debezium.connector.common.TransactionMetadataKey","version":1}`
	txValueSchema = `{"type":"struct","fields":[{"type":"string","optional":false,"field":"status"},{"type":"string","optional":false,"field":"id"},{"type":"int64","optional":true,"field":"event_count"},{"type":"array","items":{"type":"struct","fields":[{"type":"string","optional":false,"field":"data_collection"},{"type":"int64","optional":false,"field":"event_count"}],"optional":false,"name":"event.collection","version":1},"optional":true,"field":"data_collections"},{"type":"int64","optional":false,"field":"ts_ms"}],"optional":false,"name":"io.debezium.connector.common.TransactionMetadataValue","version":1}`

	schemaChangeKeySchema = `{"type":"struct","fields":[{"type":"string","optional":false,"field":"databaseName"}],"optional":false,"name":"io.debezium.connector.mysql.SchemaChangeKey","version":1}`
)

// appendSourceSchema appends the schema of conn's source block as the
// envelope's "source" field.
func appendSourceSchema(dst []byte, conn string) []byte {
	dst = append(dst, `{"type":"struct","fields":[`...)
	var name string
	switch conn {
	case "postgresql":
		dst = append(dst, postgresSourceFields...)
		name = "io.debezium.connector.postgresql.Source"
	case "mongodb":
		dst = append(dst, mongoSourceFields...)
		name = "io.debezium.connector.mongo.Source"
	case "mariadb":
		dst = append(dst, mysqlSourceFields...)
		name = "io.debezium.connector.mariadb.Source"
	default:
		dst = append(dst, mysqlSourceFields...)
		name = "io.debezium.connector.mysql.Source"
	}
	dst = append(dst, `],"optional":false,"name":"`...)
	dst = append(dst, name...)
	return append(dst, `","field":"source"}`...)
}

// appendSchemaChangeValueSchema appends the schema of a schema change
// event's value. Its tableChanges are always empty (see docs/formats.md), so
// their item schema is abbreviated to the fields every change has.
func (e *debeziumEncoder) appendSchemaChangeValueSchema(dst []byte, c *change.Change) []byte {
	dst = append(dst, `{"type":"struct","fields":[`...)
	dst = appendSourceSchema(dst, connector(c))
	dst = append(dst, `,{"type":"int64","optional":false,"field":"ts_ms"},{"type":"string","optional":true,"field":"databaseName"},{"type":"string","optional":true,"field":"schemaName"},{"type":"string","optional":true,"field":"ddl"},{"type":"array","items":{"type":"struct","fields":[{"type":"string","optional":false,"field":"type"},{"type":"string","optional":false,"field":"id"}],"optional":false,"name":"io.debezium.connector.schema.Change","version":1},"optional":false,"field":"tableChanges"}],"optional":false,"name":"io.debezium.connector.mysql.SchemaChangeValue","version":1}`...)
	return dst
}

// buildSchemas makes t's key and value schemas for changes like c.
func (e *debeziumEncoder) buildSchemas(t *dzTable, c *change.Change) {
	base := append(avroName(nil, e.opt.topicPrefix), '.')
	base = avroName(base, c.Database)
	base = append(base, '.')
	base = avroName(base, c.Table)

	k := t.keySchema[:0]
	k = append(k, `{"type":"struct","fields":[`...)
	for n, i := range t.keyCols {
		if n > 0 {
			k = append(k, ',')
		}
		k = e.appendFieldSchema(k, &t.fields[i], false, true)
	}
	k = append(k, `],"optional":false,"name":"`...)
	k = append(k, base...)
	k = append(k, `.Key"}`...)
	t.keySchema = k

	row := make([]byte, 0, 256)
	row = append(row, `{"type":"struct","fields":[`...)
	for i := range t.fields {
		if i > 0 {
			row = append(row, ',')
		}
		row = e.appendFieldSchema(row, &t.fields[i], true, true)
	}
	row = append(row, `],"optional":true,"name":"`...)
	row = append(row, base...)
	row = append(row, `.Value","field":"`...)

	v := t.valueSchema[:0]
	v = append(v, `{"type":"struct","fields":[`...)
	v = append(v, row...)
	v = append(v, `before"},`...)
	v = append(v, row...)
	v = append(v, `after"},`...)
	v = appendSourceSchema(v, t.conn)
	v = append(v, ',')
	v = append(v, txBlockSchema...)
	v = append(v, envelopeTail...)
	v = append(v, `],"optional":false,"name":"`...)
	v = append(v, base...)
	v = append(v, `.Envelope"}`...)
	t.valueSchema = v
	t.schemaOK = true
}

// avroName appends s with every character Avro names do not allow
// replaced by '_' (and a leading digit prefixed by '_'), as Debezium's
// schema name adjuster does.
func avroName(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case c >= '0' && c <= '9':
			if i == 0 {
				dst = append(dst, '_')
			}
		default:
			c = '_'
		}
		dst = append(dst, c)
	}
	return dst
}

// appendFieldSchema appends the schema of f's values. rowField says
// whether it is a field of a row (optional unless the column is NOT NULL);
// named whether it has a "field" name (array items have none).
func (e *debeziumEncoder) appendFieldSchema(dst []byte, f *dzField, rowField, named bool) []byte {
	typ, name, params, fields := e.connectType(f)
	dst = append(dst, `{"type":"`...)
	dst = append(dst, typ...)
	dst = append(dst, '"')
	if typ == "array" {
		dst = append(dst, `,"items":`...)
		if f.kind == change.KindVector {
			dst = append(dst, `{"type":"float","optional":true}`...)
		} else if f.elem != nil {
			dst = e.appendFieldSchema(dst, f.elem, true, false)
		} else {
			dst = append(dst, `{"type":"string","optional":true}`...)
		}
	}
	if typ == "struct" {
		dst = append(dst, `,"fields":[`...)
		dst = append(dst, fields...)
		dst = append(dst, ']')
	}
	// Row fields are optional unless the column is NOT NULL; key fields
	// never are; array items always are.
	optional := (rowField && f.nullable) || !named
	if optional {
		dst = append(dst, `,"optional":true`...)
	} else {
		dst = append(dst, `,"optional":false`...)
	}
	if name != "" {
		dst = append(dst, `,"name":"`...)
		dst = append(dst, name...)
		dst = append(dst, `","version":1`...)
	}
	if params != "" {
		dst = append(dst, `,"parameters":{`...)
		dst = append(dst, params...)
		dst = append(dst, '}')
	}
	if named {
		dst = append(dst, `,"field":`...)
		dst = appendString(dst, f.name)
	}
	return append(dst, '}')
}

// connectType returns the Kafka Connect type of f's values: the literal
// type, the semantic type's name, its parameters (JSON members) and, for
// structs, its fields' schemas.
func (e *debeziumEncoder) connectType(f *dzField) (typ, name, params, fields string) {
	switch f.kind {
	case change.KindBool:
		return "boolean", "", "", ""
	case change.KindInt:
		switch {
		case f.size != 0 && f.size <= 16:
			return "int16", "", "", ""
		case f.size != 0 && f.size <= 32:
			return "int32", "", "", ""
		}
		return "int64", "", "", ""
	case change.KindUint:
		switch {
		case f.size != 0 && f.size <= 8:
			return "int16", "", "", ""
		case f.size != 0 && f.size <= 24:
			return "int32", "", "", ""
		case f.size != 0 && f.size <= 32:
			return "int64", "", "", ""
		}
		if e.opt.bigintUnsigned == "precise" {
			return "bytes", "org.apache.kafka.connect.data.Decimal", `"scale":"0","connect.decimal.precision":"20"`, ""
		}
		return "int64", "", "", ""
	case change.KindFloat:
		if f.size == 32 {
			return "float", "", "", ""
		}
		return "double", "", "", ""
	case change.KindDecimal:
		return e.decimalType(f.varScale, f.scale, f.typ)
	case change.KindString:
		if typeName(f.typ) == "xml" {
			return "string", "io.debezium.data.Xml", "", ""
		}
		return "string", "", "", ""
	case change.KindJSON:
		return "string", "io.debezium.data.Json", "", ""
	case change.KindBytes:
		if e.opt.binary == "bytes" {
			return "bytes", "", "", ""
		}
		return "string", "", "", ""
	case change.KindDate:
		if e.timeMode() == "connect" {
			return "int32", "org.apache.kafka.connect.data.Date", "", ""
		}
		return "int32", "io.debezium.time.Date", "", ""
	case change.KindTime:
		switch {
		case f.zoned:
			return "string", "io.debezium.time.ZonedTime", "", ""
		case e.timeMode() == "connect":
			return "int32", "org.apache.kafka.connect.data.Time", "", ""
		case e.timeIsMillis(f):
			return "int32", "io.debezium.time.Time", "", ""
		}
		return "int64", "io.debezium.time.MicroTime", "", ""
	case change.KindDateTime:
		switch {
		case e.timeMode() == "connect":
			return "int64", "org.apache.kafka.connect.data.Timestamp", "", ""
		case e.wallIsMillis(f):
			return "int64", "io.debezium.time.Timestamp", "", ""
		}
		return "int64", "io.debezium.time.MicroTimestamp", "", ""
	case change.KindTimestamp:
		return "string", "io.debezium.time.ZonedTimestamp", "", ""
	case change.KindYear:
		return "int32", "io.debezium.time.Year", "", ""
	case change.KindEnum, change.KindSet:
		name = "io.debezium.data.Enum"
		if f.kind == change.KindSet {
			name = "io.debezium.data.EnumSet"
		}
		if members, ok := typeMembers(f.typ); ok {
			params = `"allowed":` + string(appendString(nil, members))
		}
		return "string", name, params, ""
	case change.KindBit:
		if f.size <= 1 {
			return "boolean", "", "", ""
		}
		return "bytes", "io.debezium.data.Bits", `"length":"` + strconv.Itoa(int(f.size)) + `"`, ""
	case change.KindGeometry:
		if f.point {
			return "struct", "io.debezium.data.geometry.Point", "", pointFields
		}
		return "struct", "io.debezium.data.geometry.Geometry", "", `{"type":"bytes","optional":false,"field":"wkb"},{"type":"int32","optional":true,"field":"srid"}`
	case change.KindVector:
		return "array", "io.debezium.data.FloatVector", "", ""
	case change.KindUUID:
		return "string", "io.debezium.data.Uuid", "", ""
	case change.KindArray:
		return "array", "", "", ""
	case change.KindOther:
		switch f.other {
		case "interval":
			if e.opt.interval == "string" {
				return "string", "io.debezium.time.Interval", "", ""
			}
			return "int64", "io.debezium.time.MicroDuration", "", ""
		case "point":
			return "struct", "io.debezium.data.geometry.Point", "", pointFields
		case "money":
			return e.decimalType(false, 2, "")
		}
		return "string", "", "", ""
	case change.KindDocument, change.KindObjectID, change.KindBSONTimestamp, change.KindRegex:
		return "string", "io.debezium.data.Json", "", ""
	}
	return "string", "", "", ""
}

const pointFields = `{"type":"double","optional":false,"field":"x"},{"type":"double","optional":false,"field":"y"},{"type":"bytes","optional":true,"field":"wkb"},{"type":"int32","optional":true,"field":"srid"}`

// decimalType is the Kafka Connect type of decimals per
// decimal.handling.mode.
func (e *debeziumEncoder) decimalType(varScale bool, scale int, typ string) (string, string, string, string) {
	switch e.opt.decimal {
	case "string":
		return "string", "", "", ""
	case "double":
		return "double", "", "", ""
	}
	if varScale {
		return "struct", "io.debezium.data.VariableScaleDecimal", "", `{"type":"int32","optional":false,"field":"scale"},{"type":"bytes","optional":false,"field":"value"}`
	}
	params := `"scale":"` + strconv.Itoa(scale) + `"`
	if p, _, n := typeArgs(typ); n >= 1 {
		params += `,"connect.decimal.precision":"` + strconv.Itoa(p) + `"`
	}
	return "bytes", "org.apache.kafka.connect.data.Decimal", params, ""
}
