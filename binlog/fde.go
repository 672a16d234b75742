package binlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Checksum algorithms announced by a FORMAT_DESCRIPTION_EVENT.
const (
	ChecksumOff       uint8 = 0   // events carry no checksum trailer
	ChecksumCRC32     uint8 = 1   // events end with a 4-byte CRC32 (IEEE)
	ChecksumUndefined uint8 = 255 // the server predates checksums (MySQL < 5.6.1, MariaDB < 5.3)
)

// serverVersionLen is the fixed, NUL-padded width of the server version
// field of START_EVENT_V3 and FORMAT_DESCRIPTION_EVENT.
const serverVersionLen = 50

// fdeFixedLen is binlog_version(2) + server_version(50) + create_timestamp(4) + header_length(1).
const fdeFixedLen = 2 + serverVersionLen + 4 + 1

// FormatDescription is a decoded FORMAT_DESCRIPTION_EVENT (or the format
// implied by a START_EVENT_V3 or assumed for a stream): it says how every
// following event is framed.
type FormatDescription struct {
	BinlogVersion     uint16 // 4 for every server since MySQL 5.0; 1 or 3 for START_EVENT_V3 files
	ServerVersion     string // e.g. "8.0.40" or "10.5.15-MariaDB-log"
	CreateTimestamp   uint32 // when the file was created (0 on rotation)
	HeaderLength      uint8  // common header length: 19 (13 for binlog v1)
	PostHeaderLengths []byte // post-header length of type t is at index t-1
	ChecksumAlg       uint8  // ChecksumOff, ChecksumCRC32 or ChecksumUndefined
	MariaDB           bool   // written by a MariaDB server
	// OldTypeCodes is set for the pre-GA 5.1/5.2 "a_drop" trees that
	// numbered TABLE_MAP..EXECUTE_LOAD_QUERY 16..22: the Reader maps their
	// type codes to today's in Header.Type (Raw keeps the original byte),
	// and PostHeaderLengths is already permuted.
	OldTypeCodes bool

	version [3]int // parsed ServerVersion, major.minor.patch
}

// PostHeaderLen returns the post-header length this format declares for
// event type t, or 0 when the format does not know the type.
func (f *FormatDescription) PostHeaderLen(t EventType) int {
	i := int(t) - 1
	if i < 0 || i >= len(f.PostHeaderLengths) {
		return 0
	}
	return int(f.PostHeaderLengths[i])
}

// HasChecksum reports whether events under this format end with a CRC32
// trailer.
func (f *FormatDescription) HasChecksum() bool { return f.ChecksumAlg == ChecksumCRC32 }

// Version returns the major, minor and patch numbers of ServerVersion.
func (f *FormatDescription) Version() (major, minor, patch int) {
	return f.version[0], f.version[1], f.version[2]
}

// AtLeast reports whether the server version is at least major.minor.patch.
// It compares numbers only; check MariaDB for the flavor.
func (f *FormatDescription) AtLeast(major, minor, patch int) bool {
	return versionAtLeast(f.version, major, minor, patch)
}

// MySQLAtLeast reports whether the file was written by MySQL (not MariaDB)
// at version major.minor.patch or later.
func (f *FormatDescription) MySQLAtLeast(major, minor, patch int) bool {
	return !f.MariaDB && f.AtLeast(major, minor, patch)
}

// MariaDBAtLeast reports whether the file was written by MariaDB at version
// major.minor.patch or later.
func (f *FormatDescription) MariaDBAtLeast(major, minor, patch int) bool {
	return f.MariaDB && f.AtLeast(major, minor, patch)
}

// TableIDLen returns the width in bytes of the table id in TABLE_MAP and
// rows events under this format: 4 for old 5.1 servers whose post-header
// is 6 bytes, 6 otherwise.
func (f *FormatDescription) TableIDLen() int {
	if f.PostHeaderLen(TableMapEvent) == 6 {
		return 4
	}
	return 6
}

func versionAtLeast(v [3]int, major, minor, patch int) bool {
	if v[0] != major {
		return v[0] > major
	}
	if v[1] != minor {
		return v[1] > minor
	}
	return v[2] >= patch
}

// parseServerVersion reads the leading "major.minor.patch" of a server
// version string; missing or non-numeric parts are 0.
func parseServerVersion(s string) [3]int {
	var v [3]int
	// MariaDB 10+ servers announce "5.5.5-10.x.y-MariaDB" in the protocol
	// handshake; the real version follows the prefix.
	if rest, ok := strings.CutPrefix(s, "5.5.5-"); ok && isMariaDBVersion(s) {
		s = rest
	}
	i := 0
	for part := 0; part < 3; part++ {
		n, digits := 0, 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if n < 1<<20 {
				n = n*10 + int(s[i]-'0')
			}
			i++
			digits++
		}
		if digits == 0 {
			break
		}
		v[part] = n
		if i >= len(s) || s[i] != '.' {
			break
		}
		i++
	}
	return v
}

// isMariaDBVersion reports whether a server version string names MariaDB.
func isMariaDBVersion(s string) bool {
	return strings.Contains(strings.ToLower(s), "mariadb")
}

// ErrBadFormatDescription is wrapped by errors about a malformed
// FORMAT_DESCRIPTION_EVENT or START_EVENT_V3.
var ErrBadFormatDescription = errors.New("malformed format description")

// DecodeFormatDescription decodes the body of a FORMAT_DESCRIPTION_EVENT:
// the bytes after the common header, including the checksum algorithm byte
// and the 4-byte checksum when the server writes them (MySQL >= 5.6.1,
// MariaDB >= 5.3). The returned value does not alias body.
func DecodeFormatDescription(body []byte) (*FormatDescription, error) {
	if len(body) < fdeFixedLen {
		return nil, fmt.Errorf("%w: body is %d bytes, need at least %d", ErrBadFormatDescription, len(body), fdeFixedLen)
	}
	f := &FormatDescription{
		BinlogVersion:   binary.LittleEndian.Uint16(body[0:]),
		ServerVersion:   cString(body[2 : 2+serverVersionLen]),
		CreateTimestamp: binary.LittleEndian.Uint32(body[52:]),
		HeaderLength:    body[56],
	}
	f.version = parseServerVersion(f.ServerVersion)
	f.MariaDB = isMariaDBVersion(f.ServerVersion)
	if f.BinlogVersion != 4 {
		return nil, fmt.Errorf("%w: binlog version %d in a FORMAT_DESCRIPTION_EVENT", ErrBadFormatDescription, f.BinlogVersion)
	}
	if f.HeaderLength < HeaderLenV4 {
		return nil, fmt.Errorf("%w: common header length %d < %d", ErrBadFormatDescription, f.HeaderLength, HeaderLenV4)
	}
	rest := body[fdeFixedLen:]
	f.ChecksumAlg = ChecksumUndefined
	if f.checksumCapable() {
		if len(rest) < 1+ChecksumLen {
			return nil, fmt.Errorf("%w: %s writes a checksum algorithm but the body ends %d bytes after the header length", ErrBadFormatDescription, f.ServerVersion, len(rest))
		}
		f.ChecksumAlg = rest[len(rest)-1-ChecksumLen]
		rest = rest[:len(rest)-1-ChecksumLen]
		if f.ChecksumAlg != ChecksumOff && f.ChecksumAlg != ChecksumCRC32 {
			return nil, fmt.Errorf("%w: unknown checksum algorithm %d", ErrBadFormatDescription, f.ChecksumAlg)
		}
	}
	if len(rest) < int(FormatDescriptionEvent) {
		return nil, fmt.Errorf("%w: only %d post-header lengths", ErrBadFormatDescription, len(rest))
	}
	f.PostHeaderLengths = bytes.Clone(rest)
	if isOldDropVersion(f.ServerVersion) {
		if len(f.PostHeaderLengths) != len(oldTypePermutation)-1 {
			return nil, fmt.Errorf("%w: %s declares %d event types, want %d", ErrBadFormatDescription, f.ServerVersion, len(f.PostHeaderLengths), len(oldTypePermutation)-1)
		}
		p := make([]byte, len(f.PostHeaderLengths))
		for i := 1; i < len(oldTypePermutation); i++ {
			p[oldTypePermutation[i]-1] = f.PostHeaderLengths[i-1]
		}
		f.PostHeaderLengths = p
		f.OldTypeCodes = true
	}
	return f, nil
}

// oldTypePermutation maps the type codes of the pre-GA "a_drop" trees to
// today's codes (MySQL Format_description_event).
var oldTypePermutation = [...]EventType{
	UnknownEvent, StartEventV3, QueryEvent, StopEvent, RotateEvent,
	IntvarEvent, LoadEvent, SlaveEvent, CreateFileEvent,
	AppendBlockEvent, ExecLoadEvent, DeleteFileEvent, NewLoadEvent,
	RandEvent, UserVarEvent, FormatDescriptionEvent,
	TableMapEvent, PreGAWriteRowsEvent, PreGAUpdateRowsEvent, PreGADeleteRowsEvent,
	XIDEvent, BeginLoadQueryEvent, ExecuteLoadQueryEvent,
}

// MapType returns the current type code for on-disk code t under this
// format (different only when OldTypeCodes is set).
func (f *FormatDescription) MapType(t EventType) EventType {
	if f.OldTypeCodes && int(t) < len(oldTypePermutation) {
		return oldTypePermutation[t]
	}
	return t
}

// isOldDropVersion matches the server versions of the trees with the old
// type codes: 5.1.[1-5]-a_drop5*, 5.1.4-a_drop6*, 5.2.[0-2]-a_drop6*.
func isOldDropVersion(v string) bool {
	if len(v) < 13 || v[0] != '5' || v[1] != '.' || v[3] != '.' || v[5:12] != "-a_drop" {
		return false
	}
	minor, patch, drop := v[2], v[4], v[12]
	return (minor == '1' && patch >= '1' && patch <= '5' && drop == '5') ||
		(minor == '1' && patch == '4' && drop == '6') ||
		(minor == '2' && patch >= '0' && patch <= '2' && drop == '6')
}

// checksumCapable reports whether this server version writes the checksum
// algorithm byte and a checksum into its FORMAT_DESCRIPTION_EVENT.
func (f *FormatDescription) checksumCapable() bool {
	if f.MariaDB {
		return f.AtLeast(5, 3, 0)
	}
	return f.AtLeast(5, 6, 1)
}

// AppendBody appends the body of a FORMAT_DESCRIPTION_EVENT describing f,
// without the checksum value (the writer appends it) but with the checksum
// algorithm byte when the server version writes one.
func (f *FormatDescription) AppendBody(dst []byte) []byte {
	dst = binary.LittleEndian.AppendUint16(dst, f.BinlogVersion)
	var sv [serverVersionLen]byte
	copy(sv[:], f.ServerVersion)
	dst = append(dst, sv[:]...)
	dst = binary.LittleEndian.AppendUint32(dst, f.CreateTimestamp)
	dst = append(dst, f.HeaderLength)
	if f.OldTypeCodes && len(f.PostHeaderLengths) == len(oldTypePermutation)-1 {
		// Back to the on-disk order of the old type codes.
		for i := 1; i < len(oldTypePermutation); i++ {
			dst = append(dst, f.PostHeaderLengths[oldTypePermutation[i]-1])
		}
	} else {
		dst = append(dst, f.PostHeaderLengths...)
	}
	if f.ChecksumAlg != ChecksumUndefined {
		dst = append(dst, f.ChecksumAlg)
	}
	return dst
}

// Post-header lengths as written by MySQL 8.0.40 (types 1..42) and MariaDB
// 10.5 (types 1..164 plus the compressed events), used when a stream starts
// without a FORMAT_DESCRIPTION_EVENT.
var (
	mysql8PostHeaders = [...]byte{
		0, 13, 0, 8, 0, 0, 0, 0, 4, 0, 4, 0, 0, 0, 98, 0, 4, 26, 8, 0,
		0, 0, 8, 8, 8, 2, 0, 0, 0, 10, 10, 10, 42, 42, 0, 18, 52, 0, 10, 40,
		0, 0,
	}
	mariaDBPostHeadersLow = [...]byte{
		56, 13, 0, 8, 0, 18, 0, 4, 4, 4, 4, 18, 0, 0, 228, 0, 4, 26, 8, 0,
		0, 0, 8, 8, 8, 2, 0, 0, 0, 10, 10, 10,
	}
	// mariaDBPostHeadersHigh are the post-header lengths of types 160..172.
	mariaDBPostHeadersHigh = [...]byte{0, 4, 19, 4, 0, 13, 8, 8, 8, 10, 10, 10, 0}
)

// NewFormatDescription returns the v4 format a server of the given version
// uses, with the given checksum algorithm, for events that arrive without a
// FORMAT_DESCRIPTION_EVENT before them (for example from the middle of a
// replication stream). The post-header lengths are those of MySQL 8.0 or
// MariaDB 10.5; every v4 server agrees with them on the types it writes.
func NewFormatDescription(serverVersion string, checksumAlg uint8) *FormatDescription {
	f := &FormatDescription{
		BinlogVersion: 4,
		ServerVersion: serverVersion,
		HeaderLength:  HeaderLenV4,
		ChecksumAlg:   checksumAlg,
		MariaDB:       isMariaDBVersion(serverVersion),
		version:       parseServerVersion(serverVersion),
	}
	if f.MariaDB {
		p := make([]byte, int(MariaPartialRowDataEvent))
		copy(p, mariaDBPostHeadersLow[:])
		copy(p[int(MariaAnnotateRowsEvent)-1:], mariaDBPostHeadersHigh[:])
		p[int(FormatDescriptionEvent)-1] = byte(fdeFixedLen + len(p))
		f.PostHeaderLengths = p
	} else {
		f.PostHeaderLengths = bytes.Clone(mysql8PostHeaders[:])
	}
	return f
}

// DefaultFormatDescription returns the format of a MySQL 8 server with
// CRC32 checksums, the default for a v4 stream that starts without a
// FORMAT_DESCRIPTION_EVENT.
func DefaultFormatDescription() *FormatDescription {
	return NewFormatDescription("8.0.40", ChecksumCRC32)
}

// Legacy post-header sizes (binlog v1 and v3).
const (
	startV3HeaderLen    = 2 + serverVersionLen + 4 // START_EVENT_V3 body
	queryHeaderMinLen   = 4 + 4 + 1 + 2            // QUERY without status_vars_len
	loadHeaderLen       = 4 + 4 + 4 + 1 + 1 + 4
	createFileHeaderLen = 4
	blockHeaderLen      = 4 // APPEND_BLOCK, EXEC_LOAD, DELETE_FILE
	rotateHeaderLen     = 8
)

// legacyFormatDescription returns the format implied by a START_EVENT_V3
// of binlog version 1 (MySQL 3.23, 13-byte headers) or 3 (MySQL 4.0/4.1,
// 19-byte headers), built from its body.
func legacyFormatDescription(body []byte) (*FormatDescription, error) {
	if len(body) < startV3HeaderLen {
		return nil, fmt.Errorf("%w: START_EVENT_V3 body is %d bytes, need %d", ErrBadFormatDescription, len(body), startV3HeaderLen)
	}
	f := &FormatDescription{
		BinlogVersion:   binary.LittleEndian.Uint16(body[0:]),
		ServerVersion:   cString(body[2 : 2+serverVersionLen]),
		CreateTimestamp: binary.LittleEndian.Uint32(body[52:]),
		ChecksumAlg:     ChecksumUndefined,
	}
	f.version = parseServerVersion(f.ServerVersion)
	f.MariaDB = isMariaDBVersion(f.ServerVersion)
	switch f.BinlogVersion {
	case 1:
		f.HeaderLength = HeaderLenV1
	case 3, 4:
		f.HeaderLength = HeaderLenV4
	default:
		return nil, fmt.Errorf("%w: START_EVENT_V3 with binlog version %d", ErrBadFormatDescription, f.BinlogVersion)
	}
	p := make([]byte, int(UserVarEvent))
	p[StartEventV3-1] = startV3HeaderLen
	p[QueryEvent-1] = queryHeaderMinLen
	p[LoadEvent-1] = loadHeaderLen
	p[NewLoadEvent-1] = loadHeaderLen
	p[CreateFileEvent-1] = createFileHeaderLen
	p[AppendBlockEvent-1] = blockHeaderLen
	p[ExecLoadEvent-1] = blockHeaderLen
	p[DeleteFileEvent-1] = blockHeaderLen
	if f.BinlogVersion != 1 {
		p[RotateEvent-1] = rotateHeaderLen
	}
	f.PostHeaderLengths = p
	return f, nil
}

// cString returns b up to its first NUL byte as a string.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
