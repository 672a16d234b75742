package binlog

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Header lengths of the binlog formats.
const (
	// HeaderLenV4 is the common header length of binlog v3 and v4 events
	// (MySQL 4.0.2 and later, all MariaDB versions).
	HeaderLenV4 = 19
	// HeaderLenV1 is the common header length of binlog v1 events (MySQL 3.23):
	// timestamp, type, server_id and event_size, without log_pos and flags.
	HeaderLenV1 = 13
	// ChecksumLen is the length of a CRC32 checksum trailer.
	ChecksumLen = 4
)

// Event header flags (the 16-bit flags field of a v3/v4 header).
const (
	FlagBinlogInUse    uint16 = 0x0001 // FDE only: the file was not closed cleanly
	FlagThreadSpecific uint16 = 0x0004 // the query depends on the thread (temporary tables)
	FlagSuppressUse    uint16 = 0x0008 // do not issue USE db before the query
	FlagArtificial     uint16 = 0x0020 // event made up by the replica, not logged by the source
	FlagRelayLog       uint16 = 0x0040 // event was written by a replica's I/O thread
	FlagIgnorable      uint16 = 0x0080 // a reader that does not know the type may skip it
	FlagNoFilter       uint16 = 0x0100 // never filter this event out
	FlagMTSIsolate     uint16 = 0x0200 // multi-threaded replica must run it alone
	FlagMariaSkipRepl  uint16 = 0x8000 // MariaDB: @@skip_replication was set
)

// ErrShortHeader is returned when fewer bytes than a header are available.
var ErrShortHeader = errors.New("event header truncated")

// Header is the common header every binlog event starts with.
type Header struct {
	Timestamp uint32    // seconds since the epoch when the statement started
	Type      EventType // event type code
	ServerID  uint32    // server_id of the server that wrote the event first
	EventSize uint32    // size of the whole event: header, body and checksum
	LogPos    uint32    // end_log_pos as written by the server; do not trust it (0 inside payloads, MariaDB 11.4+)
	Flags     uint16    // FlagBinlogInUse, FlagArtificial, ...
}

// DecodeHeader decodes the v4 (and v3) 19-byte event header at the start of b.
func DecodeHeader(b []byte) (Header, error) {
	if len(b) < HeaderLenV4 {
		return Header{}, fmt.Errorf("%w: %d bytes, need %d", ErrShortHeader, len(b), HeaderLenV4)
	}
	return Header{
		Timestamp: binary.LittleEndian.Uint32(b[0:]),
		Type:      EventType(b[4]),
		ServerID:  binary.LittleEndian.Uint32(b[5:]),
		EventSize: binary.LittleEndian.Uint32(b[9:]),
		LogPos:    binary.LittleEndian.Uint32(b[13:]),
		Flags:     binary.LittleEndian.Uint16(b[17:]),
	}, nil
}

// decodeHeaderLen decodes a header of the given common-header length:
// HeaderLenV1 (no log_pos, no flags) or at least HeaderLenV4 (extra bytes
// of a longer header are ignored, as the server does).
func decodeHeaderLen(b []byte, headerLen int) (Header, error) {
	if headerLen >= HeaderLenV4 {
		if len(b) < headerLen {
			return Header{}, fmt.Errorf("%w: %d bytes, need %d", ErrShortHeader, len(b), headerLen)
		}
		return DecodeHeader(b)
	}
	if len(b) < HeaderLenV1 {
		return Header{}, fmt.Errorf("%w: %d bytes, need %d", ErrShortHeader, len(b), HeaderLenV1)
	}
	return Header{
		Timestamp: binary.LittleEndian.Uint32(b[0:]),
		Type:      EventType(b[4]),
		ServerID:  binary.LittleEndian.Uint32(b[5:]),
		EventSize: binary.LittleEndian.Uint32(b[9:]),
	}, nil
}

// Append appends the 19-byte v4 encoding of h to dst.
func (h Header) Append(dst []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, h.Timestamp)
	dst = append(dst, byte(h.Type))
	dst = binary.LittleEndian.AppendUint32(dst, h.ServerID)
	dst = binary.LittleEndian.AppendUint32(dst, h.EventSize)
	dst = binary.LittleEndian.AppendUint32(dst, h.LogPos)
	return binary.LittleEndian.AppendUint16(dst, h.Flags)
}
