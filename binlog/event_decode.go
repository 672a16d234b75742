package binlog

// DecodeBody decodes the body of a non-row event into its struct (for
// example *Query for QUERY_EVENT, *GTID for GTID_LOG_EVENT,
// *TransactionPayload for TRANSACTION_PAYLOAD_EVENT). It returns (nil, nil)
// for event types this file does not decode: TABLE_MAP and rows events
// (decoded by the rows decoders), STOP, IGNORABLE and unknown types, which
// carry nothing beyond their header and raw bytes. Errors are *Error
// values located at the event.
func DecodeBody(ev *Event) (any, error) {
	var v interface {
		Decode([]byte, *FormatDescription) error
	}
	switch ev.Header.Type {
	case FormatDescriptionEvent:
		return ev.FDE, nil
	case QueryEvent:
		v = &Query{}
	case MariaQueryCompressedEvent:
		q := &Query{}
		return q, ev.Wrap(q.DecodeCompressed(ev.Body, ev.FDE))
	case RotateEvent:
		v = &Rotate{}
	case XIDEvent:
		v = &XIDCommit{}
	case IntvarEvent:
		v = &Intvar{}
	case RandEvent:
		v = &Rand{}
	case UserVarEvent:
		v = &UserVar{}
	case RowsQueryEvent:
		v = &RowsQuery{}
	case GTIDEvent, AnonymousGTIDEvent:
		v = &GTID{}
	case GTIDTaggedLogEvent:
		g := &GTID{}
		return g, ev.Wrap(g.DecodeTagged(ev.Body, ev.FDE))
	case PreviousGTIDsEvent:
		v = &PreviousGTIDs{}
	case HeartbeatEvent:
		v = &Heartbeat{}
	case HeartbeatLogEventV2:
		h := &Heartbeat{}
		return h, ev.Wrap(h.DecodeV2(ev.Body, ev.FDE))
	case IncidentEvent:
		v = &Incident{}
	case TransactionContextEvent:
		v = &TransactionContext{}
	case ViewChangeEvent:
		v = &ViewChange{}
	case XAPrepareLogEvent:
		v = &XAPrepare{}
	case TransactionPayloadEvent:
		v = &TransactionPayload{}
	case BeginLoadQueryEvent, AppendBlockEvent:
		v = &LoadBlock{}
	case DeleteFileEvent:
		v = &DeleteFile{}
	case ExecuteLoadQueryEvent:
		v = &ExecuteLoadQuery{}
	case MariaAnnotateRowsEvent:
		v = &AnnotateRows{}
	case MariaBinlogCheckpointEvent:
		v = &BinlogCheckpoint{}
	case MariaGTIDEvent:
		v = &MariaGTIDStart{}
	case MariaGTIDListEvent:
		v = &MariaGTIDList{}
	case MariaStartEncryptionEvent:
		v = &StartEncryption{}
	default:
		return nil, nil
	}
	if err := v.Decode(ev.Body, ev.FDE); err != nil {
		return v, ev.Wrap(err)
	}
	return v, nil
}
