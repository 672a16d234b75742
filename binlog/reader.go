package binlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Magic is the 4-byte signature at the start of every binlog and relay log.
var Magic = [4]byte{0xfe, 'b', 'i', 'n'}

// DefaultMaxEventSize is the largest event a Reader accepts by default:
// 1 GiB (the server's max_allowed_packet ceiling) plus room for headers.
const DefaultMaxEventSize = 1<<30 + 1<<16

// DefaultMaxPayloadWindow is the largest zstd window a Reader accepts in a
// TRANSACTION_PAYLOAD_EVENT by default (zstd level 22 uses 128 MiB).
const DefaultMaxPayloadWindow = 1 << 27

type options struct {
	verify        bool
	maxEvent      int
	maxWindow     uint64
	expand        bool
	format        *FormatDescription
	noMagic       bool
	start         int64
	streamOffsets bool
}

// Option configures a Reader or ParseEvent.
type Option func(*options)

// WithoutChecksums skips CRC32 verification. The trailer is still removed
// from Body when the format says events carry one.
func WithoutChecksums() Option { return func(o *options) { o.verify = false } }

// WithMaxEventSize sets the largest event size accepted; a header that
// announces more is an error. The default is DefaultMaxEventSize.
func WithMaxEventSize(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxEvent = n
		}
	}
}

// WithMaxPayloadWindow bounds the zstd window, and so the memory, used to
// expand TRANSACTION_PAYLOAD_EVENTs. The default is DefaultMaxPayloadWindow.
func WithMaxPayloadWindow(n uint64) Option {
	return func(o *options) {
		if n > 0 {
			o.maxWindow = n
		}
	}
}

// WithoutPayloadExpansion makes the Reader return TRANSACTION_PAYLOAD_EVENTs
// as they are, without the events inside them.
func WithoutPayloadExpansion() Option { return func(o *options) { o.expand = false } }

// WithFormat sets the format in force before the input's first
// FORMAT_DESCRIPTION_EVENT, for input that does not start with one: a file
// read from a position, or events from a replication stream. Without it a
// file must start with a FORMAT_DESCRIPTION_EVENT or START_EVENT_V3.
func WithFormat(f *FormatDescription) Option { return func(o *options) { o.format = f } }

// WithStartOffset says the input starts at byte off of the file, after the
// magic (which the Reader then does not expect). Offsets in events and
// errors count from the file start. Combine with WithFormat.
func WithStartOffset(off int64) Option {
	return func(o *options) {
		o.noMagic = true
		o.start = off
	}
}

// Reader reads the events of a binlog or relay log file in order. It
// switches format at every FORMAT_DESCRIPTION_EVENT, verifies checksums,
// computes offsets from event sizes (never from log_pos) and expands
// TRANSACTION_PAYLOAD_EVENTs into their inner events, streaming.
type Reader struct {
	name string
	opt  options
	f    frame
	fde  *FormatDescription
	ev   Event
	err  error // sticky

	started bool
	pay     expander
}

// NewReaderBytes returns a Reader of a binlog held in memory. Events are
// views into data itself: nothing is copied.
func NewReaderBytes(data []byte, name string, opts ...Option) *Reader {
	rd := NewReader(nil, name, opts...)
	rd.f.buf = data
	rd.f.w = len(data)
	rd.f.err = io.EOF
	return rd
}

// NewReader returns a Reader of the binlog file content r; name (the file
// name) appears in errors.
func NewReader(r io.Reader, name string, opts ...Option) *Reader {
	rd := &Reader{name: name, opt: defaultOptions()}
	for _, o := range opts {
		o(&rd.opt)
	}
	rd.fde = rd.opt.format
	rd.f.reset(r, rd.opt.start)
	return rd
}

func defaultOptions() options {
	return options{verify: true, maxEvent: DefaultMaxEventSize, maxWindow: DefaultMaxPayloadWindow, expand: true}
}

// Format returns the format in force: the last FORMAT_DESCRIPTION_EVENT
// read, or nil before the first.
func (r *Reader) Format() *FormatDescription { return r.fde }

// Offset returns the file offset of the next outer event: the end of the
// last event returned (or of the payload event holding it).
func (r *Reader) Offset() int64 { return r.f.off }

// Next returns the next event, io.EOF after the last one, or an *Error
// naming the file and offset. After an error every call returns it again.
// The event is valid until the next call.
//
// A TRANSACTION_PAYLOAD_EVENT is returned first as itself, then each of
// its inner events with Nested set, before the event that follows it.
func (r *Reader) Next() (*Event, error) {
	if r.err != nil {
		return nil, r.err
	}
	var ev *Event
	var err error
	if r.pay.active {
		ev, err = &r.ev, r.pay.next(&r.ev)
		if err == io.EOF {
			ev, err = r.nextOuter()
		}
	} else {
		ev, err = r.nextOuter()
	}
	if err != nil {
		r.err = err
		return nil, err
	}
	return ev, nil
}

func (r *Reader) errAt(off int64, t EventType, format string, args ...any) error {
	return &Error{Source: r.name, Offset: off, Type: t, Err: fmt.Errorf(format, args...)}
}

func (r *Reader) readMagic() error {
	b, err := r.f.peek(len(Magic))
	if err != nil {
		if len(b) == 0 && err == io.EOF {
			return r.errAt(0, UnknownEvent, "%w: empty file", ErrNotBinlog)
		}
		if err == io.EOF {
			return r.errAt(0, UnknownEvent, "%w: file is %d bytes, shorter than the magic", ErrNotBinlog, len(b))
		}
		return r.errAt(0, UnknownEvent, "reading magic: %w", err)
	}
	if !bytes.Equal(b, Magic[:]) {
		return r.errAt(0, UnknownEvent, "%w: starts with % x, want % x", ErrNotBinlog, b, Magic[:])
	}
	r.f.advance(len(Magic))
	return nil
}

func (r *Reader) nextOuter() (*Event, error) {
	if !r.started {
		r.started = true
		if !r.opt.noMagic {
			if err := r.readMagic(); err != nil {
				return nil, err
			}
		}
	}
	off := r.f.off
	hl := HeaderLenV4
	if r.fde != nil {
		hl = int(r.fde.HeaderLength)
	} else {
		hl = HeaderLenV1 // enough to find type and size of the first event
	}
	b, err := r.f.peek(hl)
	if err != nil {
		if err == io.EOF && len(b) == 0 {
			if r.fde == nil {
				return nil, r.errAt(off, UnknownEvent, "%w: no events after the magic", ErrTruncated)
			}
			return nil, io.EOF
		}
		if err == io.EOF {
			return nil, r.errAt(off, UnknownEvent, "%w: file ends %d bytes into an event header", ErrTruncated, len(b))
		}
		return nil, r.errAt(off, UnknownEvent, "reading event header: %w", err)
	}
	t := EventType(b[4])
	size := int64(binary.LittleEndian.Uint32(b[9:]))
	if size > int64(r.opt.maxEvent) {
		return nil, r.errAt(off, t, "%w: event size %d exceeds the limit %d", ErrEventSize, size, r.opt.maxEvent)
	}
	if size < int64(hl) {
		return nil, r.errAt(off, t, "%w: event size %d is smaller than the %d-byte header", ErrEventSize, size, hl)
	}
	raw, err := r.f.peek(int(size))
	if err != nil {
		if err == io.EOF {
			return nil, r.errAt(off, t, "%w: file ends %d bytes into a %d-byte event", ErrTruncated, len(raw), size)
		}
		return nil, r.errAt(off, t, "reading event: %w", err)
	}
	if r.fde == nil {
		if err := r.firstFormat(raw, off, t); err != nil {
			return nil, err
		}
		hl = int(r.fde.HeaderLength)
		if size < int64(hl) {
			return nil, r.errAt(off, t, "%w: event size %d is smaller than the %d-byte header", ErrEventSize, size, hl)
		}
	}
	ev := &r.ev
	*ev = Event{Source: r.name, Offset: off, Raw: raw, FDE: r.fde}
	if err := r.frameEvent(ev, hl); err != nil {
		return nil, err
	}
	r.f.advance(int(size))
	if ev.Header.Type == TransactionPayloadEvent && r.opt.expand {
		if err := r.pay.start(ev, &r.opt); err != nil {
			return nil, err
		}
	}
	return ev, nil
}

// firstFormat sets the format from the first event of a file that was
// given none: a FORMAT_DESCRIPTION_EVENT is decoded in frameEvent, a
// START_EVENT_V3 implies binlog v1 or v3.
func (r *Reader) firstFormat(raw []byte, off int64, t EventType) error {
	switch t {
	case FormatDescriptionEvent:
		// A placeholder until frameEvent decodes the event itself.
		r.fde = &FormatDescription{BinlogVersion: 4, HeaderLength: HeaderLenV4, ChecksumAlg: ChecksumUndefined}
		return nil
	case StartEventV3:
		// v3 (19-byte header) has binlog_version 3 right after the header;
		// v1 (13-byte header) has 1 there.
		var body []byte
		if len(raw) >= HeaderLenV4+2 && binary.LittleEndian.Uint16(raw[HeaderLenV4:]) == 3 {
			body = raw[HeaderLenV4:]
		} else {
			body = raw[HeaderLenV1:]
		}
		f, err := legacyFormatDescription(body)
		if err != nil {
			return r.errAt(off, t, "%w", err)
		}
		r.fde = f
		return nil
	}
	return r.errAt(off, t, "%w: first event is %v, not FORMAT_DESCRIPTION_EVENT or START_EVENT_V3", ErrNotBinlog, t)
}

// frameEvent decodes the header of ev.Raw, handles a format change,
// verifies and strips the checksum and sets ev.Body.
func (r *Reader) frameEvent(ev *Event, hl int) error {
	raw := ev.Raw
	var h Header
	if hl == HeaderLenV4 && len(raw) >= HeaderLenV4 {
		// The common case, inlined.
		h = Header{
			Timestamp: binary.LittleEndian.Uint32(raw[0:]),
			Type:      EventType(raw[4]),
			ServerID:  binary.LittleEndian.Uint32(raw[5:]),
			EventSize: binary.LittleEndian.Uint32(raw[9:]),
			LogPos:    binary.LittleEndian.Uint32(raw[13:]),
			Flags:     binary.LittleEndian.Uint16(raw[17:]),
		}
	} else {
		var err error
		if h, err = decodeHeaderLen(raw, hl); err != nil {
			return r.errAt(ev.Offset, EventType(raw[4]), "%w", err)
		}
	}
	if r.fde.OldTypeCodes {
		h.Type = r.fde.MapType(h.Type)
	}
	ev.Header = h
	end := len(raw)
	switch h.Type {
	case FormatDescriptionEvent:
		f, err := DecodeFormatDescription(raw[hl:])
		if err != nil {
			return r.errAt(ev.Offset, h.Type, "%w", err)
		}
		r.fde = f
		ev.FDE = f
		if f.ChecksumAlg != ChecksumUndefined {
			// The FDE of a checksum-capable server always carries a CRC32,
			// whatever algorithm it announces for the other events.
			end -= ChecksumLen
			ev.Checksummed = true
		}
	default:
		if r.fde.HasChecksum() {
			if end < hl+ChecksumLen {
				return r.errAt(ev.Offset, h.Type, "%w: event size %d leaves no room for the checksum", ErrEventSize, end)
			}
			end -= ChecksumLen
			ev.Checksummed = true
		}
	}
	if ev.Checksummed && r.opt.verify {
		if stored, computed, ok := checksumOK(raw); !ok {
			return r.errAt(ev.Offset, h.Type, "%w: stored %#08x, computed %#08x", ErrChecksum, stored, computed)
		}
	}
	ev.Body = raw[hl:end:end]
	switch h.Type {
	case MariaStartEncryptionEvent:
		return r.errAt(ev.Offset, h.Type, "%w: the events after this one are encrypted; decrypt the binlog with the server's key first", ErrEncrypted)
	}
	return nil
}

// Close releases the payload decoder. The Reader must not be used after.
func (r *Reader) Close() error {
	r.pay.close()
	if r.err == nil {
		r.err = errors.New("binlog: reader closed")
	}
	return nil
}

// ParseEvent frames one whole event from a replication stream (or any
// source that delivers events one by one) under format fde: it checks the
// size, verifies the checksum and splits header, body and trailer. For a
// FORMAT_DESCRIPTION_EVENT the returned event's FDE is the new format.
// The event aliases raw. Options WithoutChecksums and WithMaxEventSize
// apply; use WithStartOffset to give the event's offset for errors.
func ParseEvent(raw []byte, fde *FormatDescription, opts ...Option) (*Event, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if fde == nil {
		fde = DefaultFormatDescription()
	}
	r := &Reader{name: "stream", opt: o, fde: fde}
	off := o.start
	hl := int(fde.HeaderLength)
	if len(raw) < hl {
		return nil, r.errAt(off, UnknownEvent, "%w: %d bytes, less than the %d-byte header", ErrTruncated, len(raw), hl)
	}
	t := EventType(raw[4])
	size := int64(binary.LittleEndian.Uint32(raw[9:]))
	if size != int64(len(raw)) {
		return nil, r.errAt(off, t, "%w: header says %d bytes, the event has %d", ErrEventSize, size, len(raw))
	}
	if size > int64(o.maxEvent) {
		return nil, r.errAt(off, t, "%w: event size %d exceeds the limit %d", ErrEventSize, size, o.maxEvent)
	}
	ev := &Event{Source: r.name, Offset: off, Raw: raw, FDE: fde}
	if err := r.frameEvent(ev, hl); err != nil {
		return nil, err
	}
	return ev, nil
}
