package binlog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// expander streams the inner events of one TRANSACTION_PAYLOAD_EVENT at a
// time, for a Reader and for a Stream. It keeps its zstd decoder and
// buffers from one payload to the next.
type expander struct {
	active   bool
	pay      TransactionPayload
	outer    Event // the payload event (source, offset, header)
	inner    frame
	zr       *zstd.Decoder
	payBytes bytes.Reader
	maxEvent int
}

// start prepares streaming the inner events of the payload event ev, whose
// body must stay valid until the last inner event was read.
func (x *expander) start(ev *Event, opt *options) error {
	if err := x.pay.Decode(ev.Body, ev.FDE); err != nil {
		return ev.Wrap(err)
	}
	x.outer = Event{Source: ev.Source, Offset: ev.Offset, Header: ev.Header, FDE: ev.FDE}
	x.maxEvent = opt.maxEvent
	x.payBytes.Reset(x.pay.Payload)
	var src io.Reader = &x.payBytes
	if x.pay.CompressionType == PayloadZstd {
		if x.zr == nil {
			zr, err := zstd.NewReader(nil,
				zstd.WithDecoderConcurrency(1),
				zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxWindow(opt.maxWindow),
				zstd.WithDecodeBuffersBelow(0))
			if err != nil {
				return ev.Wrap(fmt.Errorf("zstd: %w", err))
			}
			x.zr = zr
		}
		if err := x.zr.Reset(&x.payBytes); err != nil {
			return ev.Wrap(fmt.Errorf("zstd: %w", err))
		}
		src = x.zr
	}
	x.inner.reset(src, 0)
	x.active = true
	return nil
}

// next sets *ev to the next inner event of the payload, or returns io.EOF
// after its last one (and is then inactive).
func (x *expander) next(ev *Event) error {
	pe := &x.outer
	poff := x.inner.off
	b, err := x.inner.peek(HeaderLenV4)
	if err != nil {
		if err == io.EOF && len(b) == 0 {
			x.active = false
			if x.pay.UncompressedSize != 0 && uint64(poff) != x.pay.UncompressedSize {
				return x.errAt(poff, UnknownEvent, "%w: payload expands to %d bytes, its header says %d", ErrMalformed, poff, x.pay.UncompressedSize)
			}
			return io.EOF
		}
		if err == io.EOF {
			return x.errAt(poff, UnknownEvent, "%w: payload ends %d bytes into an event header", ErrTruncated, len(b))
		}
		return x.errAt(poff, UnknownEvent, "expanding payload: %w", err)
	}
	t := EventType(b[4])
	size := int64(binary.LittleEndian.Uint32(b[9:]))
	if size < HeaderLenV4 || size > int64(x.maxEvent) {
		return x.errAt(poff, t, "%w: inner event size %d", ErrEventSize, size)
	}
	if x.pay.UncompressedSize != 0 && uint64(poff+size) > x.pay.UncompressedSize {
		return x.errAt(poff, t, "%w: inner event ends at payload byte %d, past the uncompressed size %d", ErrMalformed, poff+size, x.pay.UncompressedSize)
	}
	raw, err := x.inner.peek(int(size))
	if err != nil {
		if err == io.EOF {
			return x.errAt(poff, t, "%w: payload ends %d bytes into a %d-byte event", ErrTruncated, len(raw), size)
		}
		return x.errAt(poff, t, "expanding payload: %w", err)
	}
	switch t {
	case FormatDescriptionEvent, TransactionPayloadEvent, StartEventV3:
		return x.errAt(poff, t, "%w: %v inside a payload", ErrMalformed, t)
	}
	h, _ := DecodeHeader(raw)
	*ev = Event{
		Source: pe.Source, Offset: pe.Offset, Nested: true, PayloadOffset: poff,
		Header: h, Raw: raw, Body: raw[HeaderLenV4:], FDE: pe.FDE,
		payloadEnd: pe.Offset + int64(pe.Header.EventSize),
	}
	x.inner.advance(int(size))
	return nil
}

// errAt returns an error at payload byte poff of the payload event.
func (x *expander) errAt(poff int64, t EventType, format string, args ...any) error {
	e := fmt.Errorf(format, args...)
	if t == UnknownEvent {
		t = TransactionPayloadEvent
	}
	return &Error{Source: x.outer.Source, Offset: x.outer.Offset, Type: t, Err: fmt.Errorf("payload byte %d: %w", poff, e)}
}

// close releases the zstd decoder.
func (x *expander) close() {
	if x.zr != nil {
		x.zr.Close()
		x.zr = nil
	}
	x.active = false
}
