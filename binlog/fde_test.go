package binlog

import (
	"errors"
	"testing"
)

func TestFormatDescriptionVersions(t *testing.T) {
	for _, tc := range []struct {
		version          string
		mariadb          bool
		major, min, patc int
		capable          bool
	}{
		{"8.0.40", false, 8, 0, 40, true},
		{"5.6.1-log", false, 5, 6, 1, true},
		{"5.6.0", false, 5, 6, 0, false},
		{"5.5.5-10.6.16-MariaDB", true, 10, 6, 16, true},
		{"5.5.68-MariaDB", true, 5, 5, 68, true},
		{"10.5.15-MariaDB-1:10.5.15+maria~focal-log", true, 10, 5, 15, true},
		{"5.2.2-a_drop6p13-debug-log", false, 5, 2, 2, false},
		{"", false, 0, 0, 0, false},
		{"garbage", false, 0, 0, 0, false},
	} {
		f := NewFormatDescription(tc.version, ChecksumOff)
		ma, mi, pa := f.Version()
		if f.MariaDB != tc.mariadb || ma != tc.major || mi != tc.min || pa != tc.patc || f.checksumCapable() != tc.capable {
			t.Errorf("%q: mariadb=%v %d.%d.%d capable=%v", tc.version, f.MariaDB, ma, mi, pa, f.checksumCapable())
		}
	}
	f := NewFormatDescription("8.0.40", ChecksumCRC32)
	if !f.MySQLAtLeast(8, 0, 2) || f.MySQLAtLeast(8, 0, 41) || f.MariaDBAtLeast(5, 0, 0) || !f.AtLeast(5, 7, 99) {
		t.Error("version comparisons")
	}
	if f.PostHeaderLen(GTIDEvent) != 42 || f.PostHeaderLen(TransactionPayloadEvent) != 40 || f.PostHeaderLen(MariaGTIDEvent) != 0 || f.TableIDLen() != 6 {
		t.Errorf("MySQL 8 post-header lengths: %v", f.PostHeaderLengths)
	}
	m := NewFormatDescription("10.11.6-MariaDB", ChecksumCRC32)
	for typ, want := range map[EventType]int{QueryEvent: 13, MariaGTIDEvent: 19, MariaGTIDListEvent: 4, MariaBinlogCheckpointEvent: 4,
		MariaQueryCompressedEvent: 13, MariaWriteRowsCompressedEvent: 10, FormatDescriptionEvent: fdeFixedLen + int(MariaPartialRowDataEvent)} {
		if got := m.PostHeaderLen(typ); got != want {
			t.Errorf("MariaDB post-header length of %v: %d, want %d", typ, got, want)
		}
	}
	// The default MariaDB format round-trips through its own encoding.
	body := append(m.AppendBody(nil), 0, 0, 0, 0)
	back, err := DecodeFormatDescription(body)
	if err != nil || back.ServerVersion != m.ServerVersion || string(back.PostHeaderLengths) != string(m.PostHeaderLengths) || back.ChecksumAlg != ChecksumCRC32 {
		t.Errorf("MariaDB FDE round trip: %+v %v", back, err)
	}
}

func TestDecodeFormatDescriptionErrors(t *testing.T) {
	good := append(NewFormatDescription("8.0.40", ChecksumCRC32).AppendBody(nil), 0, 0, 0, 0)
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for name, body := range map[string][]byte{
		"short":        good[:40],
		"version 3":    mod(func(b []byte) []byte { b[0] = 3; return b }),
		"header 13":    mod(func(b []byte) []byte { b[56] = 13; return b }),
		"alg 7":        mod(func(b []byte) []byte { b[len(b)-5] = 7; return b }),
		"no alg room":  good[:fdeFixedLen+2],
		"few types":    good[:fdeFixedLen+10],
		"a_drop types": mod(func(b []byte) []byte { copy(b[2:], "5.2.2-a_drop6p13\x00"); return b }),
	} {
		if _, err := DecodeFormatDescription(body); !errors.Is(err, ErrBadFormatDescription) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
