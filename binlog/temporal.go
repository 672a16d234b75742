package binlog

import (
	"github.com/sluice-cdc/sluice/change"
)

// Offsets MySQL adds to the packed temporal formats so that they sort as
// unsigned bytes (my_time.cc).
const (
	datetimefIntOfs = 0x8000000000
	timefIntOfs     = 0x800000
	timefOfs        = 0x800000000000
)

// fracBytes returns the bytes of the fractional part for fsp 0-6.
func fracBytes(fsp int) int { return (fsp + 1) / 2 }

func be24(b []byte) uint32 { return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]) }
func be40(b []byte) uint64 {
	return uint64(b[0])<<32 | uint64(b[1])<<24 | uint64(b[2])<<16 | uint64(b[3])<<8 | uint64(b[4])
}
func be48(b []byte) uint64 { return be40(b)<<8 | uint64(b[5]) }

// readFracMicros reads the fractional part of DATETIME2/TIMESTAMP2 as microseconds.
func readFracMicros(b []byte, fsp int) uint32 {
	switch fsp {
	case 1, 2:
		return uint32(b[0]) * 10000
	case 3, 4:
		return (uint32(b[0])<<8 | uint32(b[1])) * 100
	case 5, 6:
		return be24(b)
	}
	return 0
}

// decodeTime2 decodes a TIME2 value (my_time_packed_from_binary) of len 3+fracBytes(fsp).
func decodeTime2(b []byte, fsp int) change.Value {
	var packed int64
	switch fsp {
	case 1, 2:
		intpart := int64(be24(b)) - timefIntOfs
		frac := int64(b[3])
		if intpart < 0 && frac != 0 {
			intpart++
			frac -= 0x100
		}
		packed = intpart<<24 + frac*10000
	case 3, 4:
		intpart := int64(be24(b)) - timefIntOfs
		frac := int64(b[3])<<8 | int64(b[4])
		if intpart < 0 && frac != 0 {
			intpart++
			frac -= 0x10000
		}
		packed = intpart<<24 + frac*100
	case 5, 6:
		packed = int64(be48(b)) - timefOfs
	default:
		packed = (int64(be24(b)) - timefIntOfs) << 24
	}
	return packedTimeValue(packed, uint8(fsp))
}

// packedTimeValue turns MySQL's packed TIME (hms<<24 | micros, signed) into a Value.
func packedTimeValue(packed int64, fsp uint8) change.Value {
	neg := packed < 0
	if neg {
		packed = -packed
	}
	hms := packed >> 24
	micros := packed % (1 << 24)
	hour := (hms >> 12) % (1 << 10)
	minute := (hms >> 6) % (1 << 6)
	second := hms % (1 << 6)
	return change.Time(neg, int(hour), int(minute), int(second), uint32(micros)*1000, fsp)
}

// decodeDateTime2 decodes a DATETIME2 value of len 5+fracBytes(fsp).
func decodeDateTime2(b []byte, fsp int) change.Value {
	intpart := int64(be40(b)) - datetimefIntOfs
	frac := int64(readFracMicros(b[5:], fsp))
	return packedDateTimeValue(intpart<<24+frac, uint8(fsp))
}

// packedDateTimeValue turns MySQL's packed DATETIME (ymdhms<<24 | micros) into a Value.
func packedDateTimeValue(packed int64, fsp uint8) change.Value {
	y, mo, d, h, mi, s, us := unpackDateTime(packed)
	return change.DateTime(y, mo, d, h, mi, s, us*1000, fsp)
}

func unpackDateTime(packed int64) (year, month, day, hour, minute, second int, micros uint32) {
	if packed < 0 {
		packed = -packed
	}
	ymdhms := packed >> 24
	micros = uint32(packed % (1 << 24))
	ymd := ymdhms >> 17
	ym := ymd >> 5
	hms := ymdhms % (1 << 17)
	return int(ym / 13), int(ym % 13), int(ymd % (1 << 5)),
		int(hms >> 12), int((hms >> 6) % (1 << 6)), int(hms % (1 << 6)), micros
}

// decodeTimestamp2 decodes a TIMESTAMP2 value of len 4+fracBytes(fsp).
func decodeTimestamp2(b []byte, fsp int) change.Value {
	sec := int64(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
	return change.Timestamp(sec, readFracMicros(b[4:], fsp)*1000, uint8(fsp))
}

// decodeDate decodes a 3-byte DATE (day 5 bits, month 4 bits, year the rest).
func decodeDate(b []byte) change.Value {
	v := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
	return change.Date(int(v>>9), int(v>>5&15), int(v&31))
}

// decodeTimeOld decodes the pre-5.6 3-byte TIME: a signed hhmmss integer.
func decodeTimeOld(b []byte) change.Value {
	v := int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24) >> 8
	neg := v < 0
	if neg {
		v = -v
	}
	return change.Time(neg, int(v/10000), int(v/100%100), int(v%100), 0, 0)
}

// decodeDateTimeOld decodes the pre-5.6 8-byte DATETIME: YYYYMMDDhhmmss as an integer.
func decodeDateTimeOld(b []byte) change.Value {
	v := le64(b)
	d, t := v/1000000, v%1000000
	return change.DateTime(int(d/10000), int(d/100%100), int(d%100), int(t/10000), int(t/100%100), int(t%100), 0, 0)
}

func le64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}
