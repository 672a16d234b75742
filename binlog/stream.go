package binlog

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Stream frames the events of a replication stream (a binlog dump), which
// arrive one at a time: Push hands it an event as the server sent it
// (header, body and checksum trailer, without the packet's status byte),
// and Next returns it framed, then the events inside it when it is a
// TRANSACTION_PAYLOAD_EVENT (WithoutPayloadExpansion turns that off),
// then io.EOF until the next Push.
//
// A Stream keeps what a replica needs to place events in their files: the
// format in force (the latest FORMAT_DESCRIPTION_EVENT), the current file
// (ROTATE names the next, and a fake ROTATE the first) and each event's
// offset in it. Offsets come from the events' end positions (log_pos)
// when the server gives them (a GTID dump starts mid-file) and from the
// sizes of the events otherwise (MariaDB 11.4+ and events inside a
// payload log 0). Artificial events, heartbeats, fake ROTATEs and the
// FORMAT_DESCRIPTION_EVENT a server re-sends when a dump starts mid-file
// do not move the offset. A ROTATE forgets the table maps.
//
// The embedded Framer frames the transactions; its Tx, Query, Table and
// InTx describe the event Next returned last. Events and their slices are
// valid until the next Push.
type Stream struct {
	Framer

	opt    options
	fde    *FormatDescription // nil before the first FORMAT_DESCRIPTION_EVENT
	dflt   *FormatDescription // the format a FORMAT_DESCRIPTION_EVENT itself is read with
	file   string
	next   int64 // offset of the next event in file
	rd     Reader
	ev     Event // the event pushed
	inner  Event // the current event of its payload
	pay    expander
	pushed bool // ev is yet to be returned
}

// NewStream returns a Stream whose first event is at offset of file (as
// the dump was asked to start; a fake ROTATE may say otherwise). Options
// WithoutChecksums, WithMaxEventSize, WithMaxPayloadWindow,
// WithoutPayloadExpansion and WithFormat apply.
func NewStream(file string, offset int64, opts ...Option) *Stream {
	s := &Stream{opt: defaultOptions(), file: file, next: offset}
	for _, o := range opts {
		o(&s.opt)
	}
	s.fde = s.opt.format
	s.dflt = DefaultFormatDescription()
	s.WholePayloads = !s.opt.expand
	s.rd.opt = s.opt
	return s
}

// File returns the name of the binlog file the stream is in.
func (s *Stream) File() string { return s.file }

// Offset returns the offset in File of the next event: the end of the
// last event pushed that moved it (for a nested event, of its payload).
func (s *Stream) Offset() int64 { return s.next }

// Format returns the format in force, or nil before the first
// FORMAT_DESCRIPTION_EVENT.
func (s *Stream) Format() *FormatDescription { return s.fde }

// Push frames raw, the next event of the stream: it checks its size and
// checksum and places it. raw must stay unchanged until the next Push.
// The errors name the file and offset.
func (s *Stream) Push(raw []byte) error {
	s.pushed = false
	s.pay.active = false
	if len(raw) < HeaderLenV4 {
		return &Error{Source: s.file, Offset: s.next, Err: fmt.Errorf("%w: event of %d bytes is shorter than a header", ErrTruncated, len(raw))}
	}
	t := EventType(raw[4])
	size := binary.LittleEndian.Uint32(raw[9:])
	logPos := binary.LittleEndian.Uint32(raw[13:])
	flags := binary.LittleEndian.Uint16(raw[17:])
	offset := s.next
	advances := flags&FlagArtificial == 0 && t != HeartbeatEvent && t != HeartbeatLogEventV2 &&
		!(logPos == 0 && t == RotateEvent) &&
		!(t == FormatDescriptionEvent && offset != int64(len(Magic)))
	if advances && logPos != 0 && logPos >= size {
		// The server's end position is authoritative when it has one: a
		// GTID dump starts in the middle of a file after a ROTATE to 4.
		offset = int64(logPos - size)
	}
	fde := s.fde
	if fde == nil || t == FormatDescriptionEvent {
		fde = s.dflt
	}
	rd := &s.rd
	rd.name, rd.fde = s.file, fde
	hl := int(fde.HeaderLength)
	switch {
	case int64(size) != int64(len(raw)):
		return rd.errAt(offset, t, "%w: header says %d bytes, the event has %d", ErrEventSize, size, len(raw))
	case int64(size) > int64(s.opt.maxEvent):
		return rd.errAt(offset, t, "%w: event size %d exceeds the limit %d", ErrEventSize, size, s.opt.maxEvent)
	case len(raw) < hl:
		return rd.errAt(offset, t, "%w: %d bytes, less than the %d-byte header", ErrTruncated, len(raw), hl)
	}
	s.ev = Event{Source: s.file, Offset: offset, Raw: raw, FDE: fde}
	if err := rd.frameEvent(&s.ev, hl); err != nil {
		return err
	}
	if advances {
		s.next = offset + int64(size)
	}
	switch t {
	case FormatDescriptionEvent:
		s.fde = s.ev.FDE
	case RotateEvent:
		var r Rotate
		if err := r.Decode(s.ev.Body, s.fde); err != nil {
			return s.ev.Wrap(err)
		}
		s.file, s.next = r.NextFile, int64(r.Position)
		// Table ids are per file on some servers; maps are re-sent anyway.
		s.Tables().Clear()
	case HeartbeatEvent, HeartbeatLogEventV2, StopEvent:
	default:
		if s.fde == nil {
			return s.ev.Errorf("%s before any FORMAT_DESCRIPTION_EVENT", t)
		}
	}
	s.pushed = true
	return nil
}

// Next returns the event pushed last, then each event inside it when it
// is a TRANSACTION_PAYLOAD_EVENT, each with its framing step; then io.EOF.
func (s *Stream) Next() (*Event, Step, error) {
	if s.pushed {
		s.pushed = false
		st, err := s.Event(&s.ev)
		if err != nil {
			return nil, st, err
		}
		if s.ev.Header.Type == TransactionPayloadEvent && s.opt.expand {
			if err := s.pay.start(&s.ev, &s.opt); err != nil {
				return nil, st, err
			}
		}
		return &s.ev, st, nil
	}
	if !s.pay.active {
		return nil, Step{}, io.EOF
	}
	if err := s.pay.next(&s.inner); err != nil {
		return nil, Step{}, err
	}
	st, err := s.Event(&s.inner)
	if err != nil {
		return nil, st, err
	}
	return &s.inner, st, nil
}

// Close releases the payload decoder.
func (s *Stream) Close() { s.pay.close() }
