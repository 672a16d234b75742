package binlog

import "bytes"

// TableMaps holds the TABLE_MAPs in force, by table id, as a reader of
// rows events needs them. A TABLE_MAP whose bytes repeat the one held for
// its table id keeps the decoding it had (the same *TableMap): servers log
// the same map before every statement, and decoding it again would
// allocate. The zero TableMaps is ready.
type TableMaps struct {
	m map[uint64]*heldMap
}

// heldMap is one TABLE_MAP with the bytes it was decoded from.
type heldMap struct {
	body    []byte
	idLen   int
	mariaDB bool
	tm      *TableMap
}

// Add decodes the TABLE_MAP_EVENT ev (or finds its earlier decoding) and
// holds it for its table id. Errors are located at ev.
func (t *TableMaps) Add(ev *Event) (*TableMap, error) {
	idLen, mariaDB := 6, false
	if ev.FDE != nil {
		idLen, mariaDB = ev.FDE.TableIDLen(), ev.FDE.MariaDB
	}
	var id uint64
	if len(ev.Body) >= idLen {
		for i := idLen - 1; i >= 0; i-- {
			id = id<<8 | uint64(ev.Body[i])
		}
		if h := t.m[id]; h != nil && h.idLen == idLen && h.mariaDB == mariaDB && bytes.Equal(h.body, ev.Body) {
			return h.tm, nil
		}
	}
	tm, err := DecodeTableMapEvent(ev)
	if err != nil {
		return nil, err
	}
	if t.m == nil {
		t.m = map[uint64]*heldMap{}
	}
	h := t.m[tm.TableID]
	if h == nil {
		h = &heldMap{}
		t.m[tm.TableID] = h
	}
	h.body = append(h.body[:0], ev.Body...)
	h.idLen, h.mariaDB, h.tm = idLen, mariaDB, tm
	return tm, nil
}

// Table returns the TABLE_MAP held for table id, or nil.
func (t *TableMaps) Table(id uint64) *TableMap {
	if h := t.m[id]; h != nil {
		return h.tm
	}
	return nil
}

// Clear forgets every TABLE_MAP (a new file: table ids may be reused).
func (t *TableMaps) Clear() { clear(t.m) }
