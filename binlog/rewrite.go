package binlog

import (
	"bytes"
	"encoding/binary"
	"slices"
)

// Offsets in a FORMAT_DESCRIPTION_EVENT body.
const (
	fdeCreateTimestampOff = 2 + serverVersionLen // binlog_version, server_version, then the creation timestamp
	fdeCreateTimestampEnd = fdeCreateTimestampOff + 4
)

// SameFormat reports whether two FORMAT_DESCRIPTION_EVENT bodies (as
// Event.Body holds them: without the checksum trailer) describe the same
// format: they are equal but for the creation timestamp, so events after
// either read the same way. Tools that join binlogs write the format once.
func SameFormat(a, b []byte) bool {
	if len(a) != len(b) || len(a) < fdeCreateTimestampEnd {
		return bytes.Equal(a, b)
	}
	return bytes.Equal(a[:fdeCreateTimestampOff], b[:fdeCreateTimestampOff]) &&
		bytes.Equal(a[fdeCreateTimestampEnd:], b[fdeCreateTimestampEnd:])
}

// AppendQueryBody appends a QUERY_EVENT body that runs sql with no current
// database, no error code and no status variables: what a tool that
// rewrites binlogs writes for the BEGIN and COMMIT it adds.
func AppendQueryBody(dst []byte, sql string) []byte {
	dst = slices.Grow(dst, queryHeaderLen+1+len(sql))
	// Thread id, exec time, database name length, error code and status
	// variables length, all 0; then the empty database name's terminator.
	dst = append(dst, make([]byte, queryHeaderLen+1)...)
	return append(dst, sql...)
}

// AppendBody appends an XID_EVENT body.
func (x *XIDCommit) AppendBody(dst []byte) []byte {
	return binary.LittleEndian.AppendUint64(dst, x.XID)
}

// ClosedHeader returns h with FlagBinlogInUse cleared: the header of a
// FORMAT_DESCRIPTION_EVENT in a file written whole (a tool's output).
func ClosedHeader(h Header) Header {
	h.Flags &^= FlagBinlogInUse
	return h
}
