package binlog

import (
	"fmt"
	"strconv"
)

// EventType is the type code in a binlog event header.
type EventType uint8

// Event type codes of MySQL (0-42) and MariaDB (160-174).
const (
	UnknownEvent            EventType = 0
	StartEventV3            EventType = 1
	QueryEvent              EventType = 2
	StopEvent               EventType = 3
	RotateEvent             EventType = 4
	IntvarEvent             EventType = 5
	LoadEvent               EventType = 6
	SlaveEvent              EventType = 7
	CreateFileEvent         EventType = 8
	AppendBlockEvent        EventType = 9
	ExecLoadEvent           EventType = 10
	DeleteFileEvent         EventType = 11
	NewLoadEvent            EventType = 12
	RandEvent               EventType = 13
	UserVarEvent            EventType = 14
	FormatDescriptionEvent  EventType = 15
	XIDEvent                EventType = 16
	BeginLoadQueryEvent     EventType = 17
	ExecuteLoadQueryEvent   EventType = 18
	TableMapEvent           EventType = 19
	PreGAWriteRowsEvent     EventType = 20
	PreGAUpdateRowsEvent    EventType = 21
	PreGADeleteRowsEvent    EventType = 22
	WriteRowsEventV1        EventType = 23
	UpdateRowsEventV1       EventType = 24
	DeleteRowsEventV1       EventType = 25
	IncidentEvent           EventType = 26
	HeartbeatEvent          EventType = 27
	IgnorableEvent          EventType = 28
	RowsQueryEvent          EventType = 29
	WriteRowsEventV2        EventType = 30
	UpdateRowsEventV2       EventType = 31
	DeleteRowsEventV2       EventType = 32
	GTIDEvent               EventType = 33
	AnonymousGTIDEvent      EventType = 34
	PreviousGTIDsEvent      EventType = 35
	TransactionContextEvent EventType = 36
	ViewChangeEvent         EventType = 37
	XAPrepareLogEvent       EventType = 38
	PartialUpdateRowsEvent  EventType = 39
	TransactionPayloadEvent EventType = 40
	HeartbeatLogEventV2     EventType = 41
	GTIDTaggedLogEvent      EventType = 42

	MariaAnnotateRowsEvent           EventType = 160
	MariaBinlogCheckpointEvent       EventType = 161
	MariaGTIDEvent                   EventType = 162
	MariaGTIDListEvent               EventType = 163
	MariaStartEncryptionEvent        EventType = 164
	MariaQueryCompressedEvent        EventType = 165
	MariaWriteRowsCompressedEventV1  EventType = 166
	MariaUpdateRowsCompressedEventV1 EventType = 167
	MariaDeleteRowsCompressedEventV1 EventType = 168
	MariaWriteRowsCompressedEvent    EventType = 169
	MariaUpdateRowsCompressedEvent   EventType = 170
	MariaDeleteRowsCompressedEvent   EventType = 171
	MariaPartialRowDataEvent         EventType = 172
)

var eventNames = map[EventType]string{
	UnknownEvent: "UNKNOWN_EVENT", StartEventV3: "START_EVENT_V3", QueryEvent: "QUERY_EVENT",
	StopEvent: "STOP_EVENT", RotateEvent: "ROTATE_EVENT", IntvarEvent: "INTVAR_EVENT",
	LoadEvent: "LOAD_EVENT", SlaveEvent: "SLAVE_EVENT", CreateFileEvent: "CREATE_FILE_EVENT",
	AppendBlockEvent: "APPEND_BLOCK_EVENT", ExecLoadEvent: "EXEC_LOAD_EVENT", DeleteFileEvent: "DELETE_FILE_EVENT",
	NewLoadEvent: "NEW_LOAD_EVENT", RandEvent: "RAND_EVENT", UserVarEvent: "USER_VAR_EVENT",
	FormatDescriptionEvent: "FORMAT_DESCRIPTION_EVENT", XIDEvent: "XID_EVENT",
	BeginLoadQueryEvent: "BEGIN_LOAD_QUERY_EVENT", ExecuteLoadQueryEvent: "EXECUTE_LOAD_QUERY_EVENT",
	TableMapEvent: "TABLE_MAP_EVENT", PreGAWriteRowsEvent: "PRE_GA_WRITE_ROWS_EVENT",
	PreGAUpdateRowsEvent: "PRE_GA_UPDATE_ROWS_EVENT", PreGADeleteRowsEvent: "PRE_GA_DELETE_ROWS_EVENT",
	WriteRowsEventV1: "WRITE_ROWS_EVENT_V1", UpdateRowsEventV1: "UPDATE_ROWS_EVENT_V1", DeleteRowsEventV1: "DELETE_ROWS_EVENT_V1",
	IncidentEvent: "INCIDENT_EVENT", HeartbeatEvent: "HEARTBEAT_LOG_EVENT", IgnorableEvent: "IGNORABLE_LOG_EVENT",
	RowsQueryEvent: "ROWS_QUERY_LOG_EVENT", WriteRowsEventV2: "WRITE_ROWS_EVENT", UpdateRowsEventV2: "UPDATE_ROWS_EVENT",
	DeleteRowsEventV2: "DELETE_ROWS_EVENT", GTIDEvent: "GTID_LOG_EVENT", AnonymousGTIDEvent: "ANONYMOUS_GTID_LOG_EVENT",
	PreviousGTIDsEvent: "PREVIOUS_GTIDS_LOG_EVENT", TransactionContextEvent: "TRANSACTION_CONTEXT_EVENT",
	ViewChangeEvent: "VIEW_CHANGE_EVENT", XAPrepareLogEvent: "XA_PREPARE_LOG_EVENT",
	PartialUpdateRowsEvent: "PARTIAL_UPDATE_ROWS_EVENT", TransactionPayloadEvent: "TRANSACTION_PAYLOAD_EVENT",
	HeartbeatLogEventV2: "HEARTBEAT_LOG_EVENT_V2", GTIDTaggedLogEvent: "GTID_TAGGED_LOG_EVENT",
	MariaAnnotateRowsEvent: "ANNOTATE_ROWS_EVENT", MariaBinlogCheckpointEvent: "BINLOG_CHECKPOINT_EVENT",
	MariaGTIDEvent: "GTID_EVENT", MariaGTIDListEvent: "GTID_LIST_EVENT", MariaStartEncryptionEvent: "START_ENCRYPTION_EVENT",
	MariaQueryCompressedEvent:       "QUERY_COMPRESSED_EVENT",
	MariaWriteRowsCompressedEventV1: "WRITE_ROWS_COMPRESSED_EVENT_V1", MariaUpdateRowsCompressedEventV1: "UPDATE_ROWS_COMPRESSED_EVENT_V1",
	MariaDeleteRowsCompressedEventV1: "DELETE_ROWS_COMPRESSED_EVENT_V1", MariaWriteRowsCompressedEvent: "WRITE_ROWS_COMPRESSED_EVENT",
	MariaUpdateRowsCompressedEvent: "UPDATE_ROWS_COMPRESSED_EVENT", MariaDeleteRowsCompressedEvent: "DELETE_ROWS_COMPRESSED_EVENT",
	MariaPartialRowDataEvent: "PARTIAL_ROW_DATA_EVENT",
}

// String returns the server's name for the event type, e.g. "UPDATE_ROWS_EVENT".
func (t EventType) String() string {
	if n, ok := eventNames[t]; ok {
		return n
	}
	return "EVENT_TYPE_" + strconv.Itoa(int(t))
}

// Error is a decoding error that says where it happened: the file or
// stream name, the event's offset and type, and for rows the row and column.
type Error struct {
	Source  string    // file name or stream name
	Offset  int64     // offset of the event start in the file or stream
	Type    EventType // event type, when known
	Row     int       // 1-based row number inside a rows event; 0 when not in a row
	Col     int       // 1-based column number; 0 when not in a column
	ColType string    // column type text, e.g. "DECIMAL(12,2)"
	Err     error
}

// Error formats as "binlog: bin.000003@1234 UPDATE_ROWS_EVENT row 17 col 4 DECIMAL(12,2): truncated".
func (e *Error) Error() string {
	s := "binlog: " + e.Source + "@" + strconv.FormatInt(e.Offset, 10)
	if e.Type != UnknownEvent {
		s += " " + e.Type.String()
	}
	if e.Row > 0 {
		s += " row " + strconv.Itoa(e.Row)
	}
	if e.Col > 0 {
		s += " col " + strconv.Itoa(e.Col)
		if e.ColType != "" {
			s += " " + e.ColType
		}
	}
	return fmt.Sprintf("%s: %v", s, e.Err)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }
