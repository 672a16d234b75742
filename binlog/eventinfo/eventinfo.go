package eventinfo

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/binlog"
)

// Row is one line of SHOW BINLOG EVENTS.
type Row struct {
	LogName   string `json:"log_name"`
	Pos       int64  `json:"pos"`
	EventType string `json:"event_type"`
	ServerID  uint32 `json:"server_id"`
	EndLogPos uint32 `json:"end_log_pos"`
	Info      string `json:"info"`
}

// Describe returns the SHOW BINLOG EVENTS row of ev from the file logName.
// A body that does not decode is an error located at the event.
func Describe(logName string, ev *binlog.Event) (Row, error) {
	mariaDB := ev.FDE != nil && ev.FDE.MariaDB
	r := Row{
		LogName:   logName,
		Pos:       ev.Offset,
		EventType: TypeName(ev.Header.Type, mariaDB),
		ServerID:  ev.Header.ServerID,
		EndLogPos: ev.Header.LogPos,
	}
	info, err := Info(ev)
	if err != nil {
		var be *binlog.Error
		if errors.As(err, &be) && be.Source == "" && be.Offset == 0 {
			c := *be
			c.Source, c.Offset, c.Type = ev.Source, ev.Offset, ev.Header.Type
			return r, &c
		}
		return r, ev.Wrap(err)
	}
	r.Info = info
	return r, nil
}

// Info returns the Info column text of ev.
func Info(ev *binlog.Event) (string, error) {
	t := ev.Header.Type
	switch {
	case t == binlog.TableMapEvent:
		tm, err := binlog.DecodeTableMap(ev.Body, ev.FDE)
		if err != nil {
			return "", err
		}
		return "table_id: " + strconv.FormatUint(tm.TableID, 10) + " (" + tm.Database + "." + tm.Table + ")", nil
	case binlog.IsRowsEvent(t):
		return rowsInfo(ev)
	}
	body, err := binlog.DecodeBody(ev)
	if err != nil {
		return "", err
	}
	switch b := body.(type) {
	case *binlog.FormatDescription:
		return fmt.Sprintf("Server ver: %s, Binlog ver: %d", b.ServerVersion, b.BinlogVersion), nil
	case *binlog.Query:
		if ev.Header.Flags&binlog.FlagSuppressUse == 0 && b.Schema != "" {
			return "use " + quoteIdent(b.Schema) + "; " + b.SQL, nil
		}
		return b.SQL, nil
	case *binlog.Rotate:
		return b.NextFile + ";pos=" + strconv.FormatUint(b.Position, 10), nil
	case *binlog.XIDCommit:
		return "COMMIT /* xid=" + strconv.FormatUint(b.XID, 10) + " */", nil
	case *binlog.MariaGTIDStart:
		return mariaGTIDInfo(b, ev.Header.ServerID), nil
	case *binlog.MariaGTIDList:
		parts := make([]string, len(b.GTIDs))
		for i, g := range b.GTIDs {
			parts[i] = g.String()
		}
		return "[" + strings.Join(parts, ",") + "]", nil
	case *binlog.BinlogCheckpoint:
		return b.File, nil
	case *binlog.AnnotateRows:
		return b.SQL, nil
	case *binlog.GTID:
		if b.Anonymous() {
			return "SET @@SESSION.GTID_NEXT= 'ANONYMOUS'", nil
		}
		return "SET @@SESSION.GTID_NEXT= '" + b.GTID().String() + "'", nil
	case *binlog.PreviousGTIDs:
		return b.Set.String(), nil
	case *binlog.RowsQuery:
		return "# " + b.SQL, nil
	case *binlog.Intvar:
		return intvarInfo(b), nil
	case *binlog.Rand:
		return fmt.Sprintf("rand_seed1=%d,rand_seed2=%d", b.Seed1, b.Seed2), nil
	case *binlog.TransactionPayload:
		return payloadInfo(b), nil
	}
	return "", nil
}

// rowsInfo reads the table id and flags from the rows post-header.
func rowsInfo(ev *binlog.Event) (string, error) {
	idLen := 6
	if ev.FDE != nil {
		idLen = ev.FDE.TableIDLen()
	}
	if len(ev.Body) < idLen+2 {
		return "", fmt.Errorf("%w: rows post-header of %d bytes", binlog.ErrTruncated, len(ev.Body))
	}
	var id uint64
	for i := idLen - 1; i >= 0; i-- {
		id = id<<8 | uint64(ev.Body[i])
	}
	flags := binary.LittleEndian.Uint16(ev.Body[idLen:])
	s := "table_id: " + strconv.FormatUint(id, 10)
	if flags&binlog.RowsFlagStmtEnd != 0 {
		s += " flags: STMT_END_F"
	}
	return s, nil
}

func mariaGTIDInfo(g *binlog.MariaGTIDStart, serverID uint32) string {
	var b strings.Builder
	switch {
	case g.XID != nil && g.Flags&binlog.MariaGTIDPreparedXA != 0:
		b.WriteString("XA START " + xidText(g.XID) + " GTID ")
	case g.Flags&binlog.MariaGTIDStandalone != 0:
		b.WriteString("GTID ")
	default:
		b.WriteString("BEGIN GTID ")
	}
	b.WriteString(g.GTID(serverID).String())
	if g.Flags&binlog.MariaGTIDGroupCommitID != 0 {
		b.WriteString(" cid=" + strconv.FormatUint(g.CommitID, 10))
	}
	return b.String()
}

func xidText(x *binlog.XID) string {
	return fmt.Sprintf("X'%x',X'%x',%d", x.GTRID, x.BQual, x.FormatID)
}

// quoteIdent quotes a name with backticks as the server does.
func quoteIdent(s string) string {
	return "`" + strings.ReplaceAll(s, "`", "``") + "`"
}

func intvarInfo(v *binlog.Intvar) string {
	name := "INVALID_INT"
	switch v.Type {
	case binlog.IntvarLastInsertID:
		name = "LAST_INSERT_ID"
	case binlog.IntvarInsertID:
		name = "INSERT_ID"
	}
	return name + "=" + strconv.FormatUint(v.Value, 10)
}

func payloadInfo(p *binlog.TransactionPayload) string {
	alg := "NONE"
	if p.CompressionType == binlog.PayloadZstd {
		alg = "ZSTD"
	}
	return fmt.Sprintf("compression='%s', decompressed_size=%d bytes", alg, p.UncompressedSize)
}
