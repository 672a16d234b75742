package binlog

import (
	"bytes"
	"fmt"
)

// StatusVar is the code of a QUERY_EVENT status variable.
type StatusVar uint8

// Status variable codes (MySQL statement_events.h, MariaDB log_event.h).
const (
	QFlags2                     StatusVar = 0
	QSQLMode                    StatusVar = 1
	QCatalog                    StatusVar = 2 // 5.0.0-5.0.3 only, NUL-terminated
	QAutoIncrement              StatusVar = 3
	QCharset                    StatusVar = 4
	QTimeZone                   StatusVar = 5
	QCatalogNZ                  StatusVar = 6
	QLCTimeNames                StatusVar = 7
	QCharsetDatabase            StatusVar = 8
	QTableMapForUpdate          StatusVar = 9
	QMasterDataWritten          StatusVar = 10
	QInvoker                    StatusVar = 11
	QUpdatedDBNames             StatusVar = 12
	QMicroseconds               StatusVar = 13
	QCommitTS                   StatusVar = 14 // reserved, never written
	QCommitTS2                  StatusVar = 15 // reserved, never written
	QExplicitDefaultsForTS      StatusVar = 16
	QDDLLoggedWithXID           StatusVar = 17
	QDefaultCollationForUTF8MB4 StatusVar = 18
	QSQLRequirePrimaryKey       StatusVar = 19
	QDefaultTableEncryption     StatusVar = 20
	QMariaHRNow                 StatusVar = 128 // MariaDB: microseconds of the timestamp
	QMariaXID                   StatusVar = 129 // MariaDB: XID of a DDL
	QMariaGTIDFlags3            StatusVar = 130 // MariaDB: GTID extra flags (+ start-alter seq_no)
	overMaxDBsInEventMTS                  = 254 // Q_UPDATED_DB_NAMES count meaning "too many to list"
	maxDBsInEventMTS                      = 16
)

// Query is a decoded QUERY_EVENT (also the body layout of
// QUERY_COMPRESSED_EVENT and EXECUTE_LOAD_QUERY_EVENT): a statement, its
// default database, and the session state it ran with.
type Query struct {
	ThreadID  uint32
	ExecTime  uint32 // seconds the statement ran
	ErrorCode uint16
	Schema    string // default database; "" when none
	SQL       string // the statement text

	// Seen records which status variables the event carried; the fields
	// below are meaningful only when their bit is set (see Has).
	Seen uint64

	Flags2                       uint32
	SQLMode                      uint64
	Catalog                      string
	AutoIncrementIncrement       uint16
	AutoIncrementOffset          uint16
	CharsetClient                uint16 // character_set_client collation id
	CollationConnection          uint16
	CollationServer              uint16
	TimeZone                     string
	LCTimeNames                  uint16
	CharsetDatabase              uint16
	TableMapForUpdate            uint64
	MasterDataWritten            uint32
	InvokerUser, InvokerHost     string
	UpdatedDBs                   []string // nil with UpdatedDBsOverflow when more than 16
	UpdatedDBsOverflow           bool
	Microseconds                 uint32
	ExplicitDefaultsForTimestamp uint8
	DDLXID                       uint64
	DefaultCollationForUTF8MB4   uint16
	SQLRequirePrimaryKey         uint8
	DefaultTableEncryption       uint8
	MariaHRNow                   uint32 // microseconds, MariaDB Q_HRNOW
	MariaXID                     uint64
	MariaGTIDFlags3              uint8
	MariaStartAlterSeqNo         uint64 // with FL_COMMIT_ALTER/FL_ROLLBACK_ALTER in MariaGTIDFlags3

	// UnknownStatus holds the status variables from the first code this
	// package does not know to the end of the block. The server itself
	// stops there (codes are written in increasing order), so the rest of
	// the event is still decoded.
	UnknownStatus []byte
}

// Has reports whether the event carried status variable v.
func (q *Query) Has(v StatusVar) bool {
	if v >= 128 {
		v = v - 128 + 48
	}
	return v < 64 && q.Seen&(1<<v) != 0
}

func (q *Query) mark(v StatusVar) {
	if v >= 128 {
		v = v - 128 + 48
	}
	if v < 64 {
		q.Seen |= 1 << v
	}
}

// queryHeaderLen is the QUERY_EVENT post-header: thread_id, exec_time,
// db_len, error_code, status_vars_len.
const queryHeaderLen = 13

// Decode decodes a QUERY_EVENT body.
func (q *Query) Decode(body []byte, fde *FormatDescription) error {
	phl := queryHeaderLen
	if fde != nil {
		phl = fde.PostHeaderLen(QueryEvent)
	}
	return q.decode(body, phl)
}

// DecodeCompressed decodes a MariaDB QUERY_COMPRESSED_EVENT body: a
// QUERY_EVENT whose statement is a compressed record (see
// DecompressMariaDB).
func (q *Query) DecodeCompressed(body []byte, fde *FormatDescription) error {
	phl := queryHeaderLen
	if fde != nil {
		if n := fde.PostHeaderLen(MariaQueryCompressedEvent); n != 0 {
			phl = n
		}
	}
	if err := q.decode(body, phl); err != nil {
		return err
	}
	sql, err := DecompressMariaDB(nil, []byte(q.SQL))
	if err != nil {
		return fmt.Errorf("statement: %w", err)
	}
	q.SQL = string(sql)
	return nil
}

func (q *Query) decode(body []byte, phl int) error {
	*q = Query{}
	if phl < queryHeaderLen {
		if phl < queryHeaderLen-2 {
			return fmt.Errorf("%w: QUERY post-header length %d", ErrMalformed, phl)
		}
		// Binlog v1/v3: no status variables.
	}
	c := cursor{b: body}
	q.ThreadID = c.u32("thread_id")
	q.ExecTime = c.u32("exec_time")
	dbLen := int(c.u8("db_len"))
	q.ErrorCode = c.u16("error_code")
	statusLen := 0
	if phl >= queryHeaderLen {
		statusLen = int(c.u16("status_vars_len"))
	}
	c.skip(phl-c.off, "post-header")
	if c.err != nil {
		return c.err
	}
	if statusLen > c.left() {
		return fmt.Errorf("%w: status var length %d points past the event (%d bytes left)", ErrMalformed, statusLen, c.left())
	}
	if err := q.decodeStatus(c.take(statusLen, "status vars")); err != nil {
		return err
	}
	if dbLen+1 > c.left() {
		return fmt.Errorf("%w: database name length %d points past the event (%d bytes left)", ErrMalformed, dbLen, c.left())
	}
	q.Schema = string(c.take(dbLen, "db"))
	if z := c.u8("db terminator"); z != 0 {
		return fmt.Errorf("%w: database name is not NUL-terminated", ErrMalformed)
	}
	q.SQL = string(c.rest())
	return c.err
}

func (q *Query) decodeStatus(b []byte) error {
	c := cursor{b: b}
	for c.left() > 0 {
		start := c.off
		code := StatusVar(c.u8("status var code"))
		switch code {
		case QFlags2:
			q.Flags2 = c.u32("Q_FLAGS2")
		case QSQLMode:
			q.SQLMode = c.u64("Q_SQL_MODE")
		case QCatalog:
			n := int(c.u8("Q_CATALOG"))
			q.Catalog = string(c.take(n, "Q_CATALOG"))
			c.skip(1, "Q_CATALOG terminator")
		case QAutoIncrement:
			q.AutoIncrementIncrement = c.u16("Q_AUTO_INCREMENT")
			q.AutoIncrementOffset = c.u16("Q_AUTO_INCREMENT")
		case QCharset:
			q.CharsetClient = c.u16("Q_CHARSET")
			q.CollationConnection = c.u16("Q_CHARSET")
			q.CollationServer = c.u16("Q_CHARSET")
		case QTimeZone:
			q.TimeZone = c.str1("Q_TIME_ZONE")
		case QCatalogNZ:
			q.Catalog = c.str1("Q_CATALOG_NZ")
		case QLCTimeNames:
			q.LCTimeNames = c.u16("Q_LC_TIME_NAMES")
		case QCharsetDatabase:
			q.CharsetDatabase = c.u16("Q_CHARSET_DATABASE")
		case QTableMapForUpdate:
			q.TableMapForUpdate = c.u64("Q_TABLE_MAP_FOR_UPDATE")
		case QMasterDataWritten:
			q.MasterDataWritten = c.u32("Q_MASTER_DATA_WRITTEN")
		case QInvoker:
			q.InvokerUser = c.str1("Q_INVOKER user")
			q.InvokerHost = c.str1("Q_INVOKER host")
		case QUpdatedDBNames:
			if err := q.decodeUpdatedDBs(&c); err != nil {
				return err
			}
		case QMicroseconds:
			q.Microseconds = c.u24("Q_MICROSECONDS")
		case QExplicitDefaultsForTS:
			q.ExplicitDefaultsForTimestamp = c.u8("Q_EXPLICIT_DEFAULTS_FOR_TIMESTAMP")
		case QDDLLoggedWithXID:
			q.DDLXID = c.u64("Q_DDL_LOGGED_WITH_XID")
		case QDefaultCollationForUTF8MB4:
			q.DefaultCollationForUTF8MB4 = c.u16("Q_DEFAULT_COLLATION_FOR_UTF8MB4")
		case QSQLRequirePrimaryKey:
			q.SQLRequirePrimaryKey = c.u8("Q_SQL_REQUIRE_PRIMARY_KEY")
		case QDefaultTableEncryption:
			q.DefaultTableEncryption = c.u8("Q_DEFAULT_TABLE_ENCRYPTION")
		case QMariaHRNow:
			q.MariaHRNow = c.u24("Q_HRNOW")
		case QMariaXID:
			q.MariaXID = c.u64("Q_XID")
		case QMariaGTIDFlags3:
			q.MariaGTIDFlags3 = c.u8("Q_GTID_FLAGS3")
			if q.MariaGTIDFlags3&(MariaGTIDExtraCommitAlter|MariaGTIDExtraRollbackAlter) != 0 {
				q.MariaStartAlterSeqNo = c.u64("Q_GTID_FLAGS3 sa_seq_no")
			}
		default:
			q.UnknownStatus = b[start:]
			return nil
		}
		if c.err != nil {
			return fmt.Errorf("%w: status var %d at status offset %d runs past the status block", ErrMalformed, code, start)
		}
		q.mark(code)
	}
	return nil
}

func (q *Query) decodeUpdatedDBs(c *cursor) error {
	n := int(c.u8("Q_UPDATED_DB_NAMES"))
	if n > maxDBsInEventMTS {
		q.UpdatedDBsOverflow = true
		return nil
	}
	if n == 0 && c.err == nil {
		return fmt.Errorf("%w: Q_UPDATED_DB_NAMES with 0 databases", ErrMalformed)
	}
	q.UpdatedDBs = make([]string, 0, n)
	for i := 0; i < n && c.err == nil; i++ {
		rest := c.b[c.off:]
		z := bytes.IndexByte(rest, 0)
		if z < 0 {
			return fmt.Errorf("%w: Q_UPDATED_DB_NAMES name %d is not NUL-terminated", ErrMalformed, i+1)
		}
		q.UpdatedDBs = append(q.UpdatedDBs, string(rest[:z]))
		c.skip(z+1, "Q_UPDATED_DB_NAMES")
	}
	return nil
}
