package binlog

import (
	"encoding/binary"
	"hash/crc32"
)

// flagsOffset is the offset of the flags field in a v4 header.
const flagsOffset = 17

// EventChecksum computes the CRC32 (IEEE) a server stores in the trailer of
// an event whose bytes without the trailer are ev. For a
// FORMAT_DESCRIPTION_EVENT the LOG_EVENT_BINLOG_IN_USE_F flag is taken as
// cleared, as the server computes it before it sets the flag.
func EventChecksum(ev []byte) uint32 {
	if len(ev) >= HeaderLenV4 && EventType(ev[4]) == FormatDescriptionEvent && ev[flagsOffset]&byte(FlagBinlogInUse) != 0 {
		c := crc32.Update(0, crc32.IEEETable, ev[:flagsOffset])
		c = crc32.Update(c, crc32.IEEETable, []byte{ev[flagsOffset] &^ byte(FlagBinlogInUse)})
		return crc32.Update(c, crc32.IEEETable, ev[flagsOffset+1:])
	}
	return crc32.ChecksumIEEE(ev)
}

// checksumOK reports whether the last 4 bytes of raw are the CRC32 of the
// rest, and returns the stored and computed values.
func checksumOK(raw []byte) (stored, computed uint32, ok bool) {
	n := len(raw) - ChecksumLen
	stored = binary.LittleEndian.Uint32(raw[n:])
	computed = EventChecksum(raw[:n])
	return stored, computed, stored == computed
}
