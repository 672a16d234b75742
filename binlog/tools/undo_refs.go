package tools

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluice-cdc/sluice/binlog"
)

// refLen is the size of a recRef record: kind, input index, format index,
// offset and size of the rows event.
const refLen = 1 + 4 + 4 + 8 + 4

// refInput is one input file of an undo, whose rows events may be read
// again by offset.
type refInput struct {
	path    string
	regular bool // a regular file: rows events can be read again by offset
	back    backReader
}

// undoRefs spools rows events by reference (recRef: input, format,
// offset, size) and reads them again, last first, when the undo is
// written: the input is not copied to the spill file.
type undoRefs struct {
	inputs  []refInput
	formats []*binlog.FormatDescription // formats the references name
	// maps holds the TABLE_MAPs decoded while reading references back
	// (from the records spooled after them), mapEv the event they come in.
	maps   binlog.TableMaps
	mapEv  binlog.Event
	reread binlog.Event
}

// referable reports whether ev can be spooled as a reference: an event of
// a regular file, not nested in a payload, with a v4 header.
func (u *undoRefs) referable(ev *binlog.Event) bool {
	return !ev.Nested && u.inputs[len(u.inputs)-1].regular && ev.FDE != nil &&
		ev.FDE.HeaderLength == binlog.HeaderLenV4 && !ev.FDE.OldTypeCodes &&
		len(ev.Raw) == int(ev.Header.EventSize) && ev.Header.EventSize >= binlog.HeaderLenV4
}

// record appends to dst the recRef record of ev, an event of the input
// being read.
func (u *undoRefs) record(dst []byte, ev *binlog.Event) []byte {
	fi := len(u.formats) - 1
	if fi < 0 || u.formats[fi] != ev.FDE {
		u.formats = append(u.formats, ev.FDE)
		fi++
	}
	dst = append(dst, recRef)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(u.inputs)-1))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(fi))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(ev.Offset))
	return binary.LittleEndian.AppendUint32(dst, ev.Header.EventSize)
}

// close closes the input files read again.
func (u *undoRefs) close() {
	for i := range u.inputs {
		if b := &u.inputs[i].back; b.f != nil {
			b.f.Close()
			*b = backReader{} // and drop its window
		}
	}
}

// read reads the rows event of a recRef record again, checking its
// checksum, and decodes the TABLE_MAP record spooled after it. The event
// is valid until the next call.
func (u *undoRefs) read(rec, table []byte) (*binlog.Event, *binlog.TableMap, error) {
	if len(rec) != refLen || len(table) < 1+binlog.HeaderLenV4 {
		return nil, nil, fmt.Errorf("tools: flashback: damaged spill record")
	}
	fi := int(binary.LittleEndian.Uint32(rec[1:]))
	di := int(binary.LittleEndian.Uint32(rec[5:]))
	off := int64(binary.LittleEndian.Uint64(rec[9:]))
	size := int(binary.LittleEndian.Uint32(rec[17:]))
	if fi >= len(u.inputs) || di >= len(u.formats) {
		return nil, nil, fmt.Errorf("tools: flashback: damaged spill record")
	}
	in, fde := &u.inputs[fi], u.formats[di]
	if in.back.f == nil {
		u.close() // refs come file by file, last first
		src, err := os.Open(in.path)
		if err != nil {
			return nil, nil, fmt.Errorf("tools: flashback: %w", err)
		}
		in.back = backReader{f: src}
	}
	raw, err := in.back.at(off, size)
	if err != nil {
		return nil, nil, fmt.Errorf("tools: flashback: reading again: %w", err)
	}
	name := filepath.Base(in.path)
	h, err := binlog.DecodeHeader(raw)
	if err != nil || int(h.EventSize) != size || !binlog.IsRowsEvent(h.Type) {
		return nil, nil, &binlog.Error{Source: name, Offset: off, Err: fmt.Errorf("the rows event read in the first pass has changed: %v", err)}
	}
	ev := binlog.Event{Source: name, Offset: off, Header: h, Raw: raw, Body: raw[binlog.HeaderLenV4:], FDE: fde}
	if fde.HasChecksum() {
		n := size - binlog.ChecksumLen
		if n < binlog.HeaderLenV4 || binlog.EventChecksum(raw[:n]) != binary.LittleEndian.Uint32(raw[n:]) {
			return nil, nil, ev.Wrap(fmt.Errorf("%w: the rows event read in the first pass has changed", binlog.ErrChecksum))
		}
		ev.Body, ev.Checksummed = raw[binlog.HeaderLenV4:n], true
	}
	tm, err := u.tableMap(table[1+binlog.HeaderLenV4:], fde)
	if err != nil {
		return nil, nil, ev.Wrap(err)
	}
	u.reread = ev
	return &u.reread, tm, nil
}

// tableMap decodes the TABLE_MAP body b, or returns the one decoded
// before from the same bytes.
func (u *undoRefs) tableMap(b []byte, fde *binlog.FormatDescription) (*binlog.TableMap, error) {
	u.mapEv = binlog.Event{Header: binlog.Header{Type: binlog.TableMapEvent}, Body: b, FDE: fde}
	return u.maps.Add(&u.mapEv)
}

// only returns a table lookup that knows tm alone.
func only(tm *binlog.TableMap) func(uint64) *binlog.TableMap {
	return func(id uint64) *binlog.TableMap {
		if id == tm.TableID {
			return tm
		}
		return nil
	}
}
