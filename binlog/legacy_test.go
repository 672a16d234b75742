package binlog

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
)

// legacyFile builds a binlog v1 (MySQL 3.23, 13-byte headers) or v3
// (MySQL 4.0/4.1, 19-byte headers) file: START_EVENT_V3, a QUERY_EVENT
// with the 11-byte pre-5.0 post-header, and a STOP_EVENT.
func legacyFile(version uint16) []byte {
	hl := HeaderLenV4
	if version == 1 {
		hl = HeaderLenV1
	}
	var out []byte
	out = append(out, Magic[:]...)
	event := func(t EventType, body []byte) {
		size := hl + len(body)
		h := binary.LittleEndian.AppendUint32(nil, 1000) // timestamp
		h = append(h, byte(t))
		h = binary.LittleEndian.AppendUint32(h, 1) // server id
		h = binary.LittleEndian.AppendUint32(h, uint32(size))
		if hl == HeaderLenV4 {
			h = binary.LittleEndian.AppendUint32(h, uint32(len(out)+size))
			h = binary.LittleEndian.AppendUint16(h, 0)
		}
		out = append(append(out, h...), body...)
	}
	start := binary.LittleEndian.AppendUint16(nil, version)
	var sv [serverVersionLen]byte
	copy(sv[:], "4.0.27-log")
	start = append(start, sv[:]...)
	start = binary.LittleEndian.AppendUint32(start, 1000)
	event(StartEventV3, start)
	q := binary.LittleEndian.AppendUint32(nil, 5) // thread id
	q = binary.LittleEndian.AppendUint32(q, 0)    // exec time
	q = append(q, 4)                              // db len
	q = binary.LittleEndian.AppendUint16(q, 0)    // error code
	q = append(q, "test\x00CREATE TABLE t (a INT)"...)
	event(QueryEvent, q)
	rot := []byte("old-bin.002")
	if version != 1 {
		rot = append(binary.LittleEndian.AppendUint64(nil, 4), rot...)
	}
	event(RotateEvent, rot)
	return out
}

func TestLegacyFormats(t *testing.T) {
	for _, v := range []uint16{1, 3} {
		data := legacyFile(v)
		r := NewReader(bytes.NewReader(data), "old-bin.001")
		var types []EventType
		for {
			ev, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("v%d: %v", v, err)
			}
			types = append(types, ev.Header.Type)
			if ev.Checksummed || ev.FDE.BinlogVersion != v {
				t.Errorf("v%d: %v checksummed=%v format v%d", v, ev.Header.Type, ev.Checksummed, ev.FDE.BinlogVersion)
			}
			switch ev.Header.Type {
			case QueryEvent:
				var q Query
				if err := q.Decode(ev.Body, ev.FDE); err != nil || q.Schema != "test" || q.SQL != "CREATE TABLE t (a INT)" || q.ThreadID != 5 {
					t.Errorf("v%d query: %+v %v", v, q, err)
				}
			case RotateEvent:
				var rt Rotate
				if err := rt.Decode(ev.Body, ev.FDE); err != nil || rt.NextFile != "old-bin.002" || rt.Position != 4 {
					t.Errorf("v%d rotate: %+v %v", v, rt, err)
				}
			}
		}
		if len(types) != 3 || types[0] != StartEventV3 {
			t.Errorf("v%d: events %v", v, types)
		}
		if r.Format().ServerVersion != "4.0.27-log" || int(r.Format().HeaderLength) != map[uint16]int{1: 13, 3: 19}[v] {
			t.Errorf("v%d: format %+v", v, r.Format())
		}
	}
}
