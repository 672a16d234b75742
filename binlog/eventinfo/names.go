package eventinfo

import (
	"strconv"

	"github.com/sluice-cdc/sluice/binlog"
)

// mariaNames are MariaDB's Log_event::get_type_str names.
var mariaNames = map[binlog.EventType]string{
	binlog.StartEventV3: "Start_v3", binlog.StopEvent: "Stop", binlog.QueryEvent: "Query",
	binlog.RotateEvent: "Rotate", binlog.IntvarEvent: "Intvar", binlog.LoadEvent: "Load",
	binlog.NewLoadEvent: "New_load", binlog.SlaveEvent: "Slave", binlog.CreateFileEvent: "Create_file",
	binlog.AppendBlockEvent: "Append_block", binlog.DeleteFileEvent: "Delete_file", binlog.ExecLoadEvent: "Exec_load",
	binlog.RandEvent: "RAND", binlog.XIDEvent: "Xid", binlog.UserVarEvent: "User var",
	binlog.FormatDescriptionEvent: "Format_desc", binlog.TableMapEvent: "Table_map",
	binlog.PreGAWriteRowsEvent: "Write_rows_event_old", binlog.PreGAUpdateRowsEvent: "Update_rows_event_old",
	binlog.PreGADeleteRowsEvent: "Delete_rows_event_old",
	binlog.WriteRowsEventV1:     "Write_rows_v1", binlog.UpdateRowsEventV1: "Update_rows_v1", binlog.DeleteRowsEventV1: "Delete_rows_v1",
	binlog.WriteRowsEventV2: "Write_rows", binlog.UpdateRowsEventV2: "Update_rows", binlog.DeleteRowsEventV2: "Delete_rows",
	binlog.BeginLoadQueryEvent: "Begin_load_query", binlog.ExecuteLoadQueryEvent: "Execute_load_query",
	binlog.IncidentEvent: "Incident", binlog.MariaAnnotateRowsEvent: "Annotate_rows",
	binlog.MariaBinlogCheckpointEvent: "Binlog_checkpoint", binlog.MariaGTIDEvent: "Gtid", binlog.MariaGTIDListEvent: "Gtid_list",
	binlog.MariaStartEncryptionEvent: "Start_encryption", binlog.IgnorableEvent: "Ignorable log event",
	binlog.RowsQueryEvent: "MySQL Rows_query", binlog.GTIDEvent: "MySQL Gtid", binlog.AnonymousGTIDEvent: "MySQL Anonymous_Gtid",
	binlog.PreviousGTIDsEvent: "MySQL Previous_gtids", binlog.HeartbeatEvent: "Heartbeat",
	binlog.TransactionContextEvent: "Transaction_context", binlog.ViewChangeEvent: "View_change",
	binlog.XAPrepareLogEvent: "XA_prepare", binlog.MariaQueryCompressedEvent: "Query_compressed",
	binlog.MariaWriteRowsCompressedEvent: "Write_rows_compressed", binlog.MariaUpdateRowsCompressedEvent: "Update_rows_compressed",
	binlog.MariaDeleteRowsCompressedEvent:  "Delete_rows_compressed",
	binlog.MariaWriteRowsCompressedEventV1: "Write_rows_compressed_v1", binlog.MariaUpdateRowsCompressedEventV1: "Update_rows_compressed_v1",
	binlog.MariaDeleteRowsCompressedEventV1: "Delete_rows_compressed_v1",
}

// mysqlNames are MySQL's Log_event::get_type_str names where they differ
// from MariaDB's.
var mysqlNames = map[binlog.EventType]string{
	binlog.RowsQueryEvent: "Rows_query", binlog.GTIDEvent: "Gtid", binlog.AnonymousGTIDEvent: "Anonymous_Gtid",
	binlog.PreviousGTIDsEvent: "Previous_gtids", binlog.IgnorableEvent: "Ignorable", binlog.HeartbeatEvent: "Heartbeat",
	binlog.PartialUpdateRowsEvent: "Update_rows_partial", binlog.TransactionPayloadEvent: "Transaction_payload",
	binlog.HeartbeatLogEventV2: "Heartbeat_v2", binlog.GTIDTaggedLogEvent: "Gtid_tagged",
	binlog.UserVarEvent: "User var",
}

// TypeName returns the name SHOW BINLOG EVENTS prints for t on a MariaDB
// or a MySQL server; "Unknown" for a type that server does not name.
func TypeName(t binlog.EventType, mariaDB bool) string {
	if !mariaDB {
		if n, ok := mysqlNames[t]; ok {
			return n
		}
	}
	if n, ok := mariaNames[t]; ok {
		return n
	}
	if n, ok := mysqlNames[t]; ok {
		return n
	}
	return "Unknown(" + strconv.Itoa(int(t)) + ")"
}
