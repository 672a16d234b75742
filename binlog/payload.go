package binlog

import (
	"fmt"
)

// Compression types of a TRANSACTION_PAYLOAD_EVENT.
const (
	PayloadZstd uint64 = 0   // the payload is one zstd frame
	PayloadNone uint64 = 255 // the payload is stored as is
)

// Field types of the TRANSACTION_PAYLOAD_EVENT header.
const (
	payloadEndMark          = 0
	payloadSizeField        = 1
	payloadCompressionField = 2
	payloadUncompressedSize = 3
)

// TransactionPayload is a decoded TRANSACTION_PAYLOAD_EVENT (MySQL 8.0.20+,
// binlog_transaction_compression=ON): a transaction's events, compressed.
// The Reader expands Payload into the inner events; use this type to look
// at the header or to expand a payload from a stream yourself.
type TransactionPayload struct {
	CompressionType  uint64 // PayloadZstd or PayloadNone
	PayloadSize      uint64 // bytes of Payload
	UncompressedSize uint64 // bytes of the inner events once expanded; 0 when not given
	Payload          []byte // the (compressed) inner events; aliases the body
}

// Decode decodes the body of a TRANSACTION_PAYLOAD_EVENT: fields as
// (type, length, value) length-encoded integers up to an end mark, then the
// payload. Unknown fields are skipped by their length.
func (p *TransactionPayload) Decode(body []byte, _ *FormatDescription) error {
	*p = TransactionPayload{}
	c := cursor{b: body}
	var haveSize, haveType bool
	for {
		t := c.lenenc("field type")
		if c.err != nil {
			return fmt.Errorf("payload header: %w (no end mark)", c.err)
		}
		if t == payloadEndMark {
			break
		}
		n := c.lenenc("field length")
		if c.err != nil {
			return fmt.Errorf("payload header: %w", c.err)
		}
		if n > uint64(c.left()) {
			return fmt.Errorf("%w: payload header field %d length %d points past the event (%d bytes left)", ErrMalformed, t, n, c.left())
		}
		start := c.off
		switch t {
		case payloadSizeField:
			p.PayloadSize = c.lenenc("payload size")
			haveSize = true
		case payloadCompressionField:
			p.CompressionType = c.lenenc("compression type")
			haveType = true
		case payloadUncompressedSize:
			p.UncompressedSize = c.lenenc("uncompressed size")
		default:
			c.skip(int(n), "unknown payload header field")
		}
		if c.err != nil {
			return fmt.Errorf("payload header: %w", c.err)
		}
		if c.off-start != int(n) {
			return fmt.Errorf("%w: payload header field %d is %d bytes, its length says %d", ErrMalformed, t, c.off-start, n)
		}
	}
	if !haveSize || !haveType {
		return fmt.Errorf("%w: payload header lacks the payload size or compression type", ErrMalformed)
	}
	if p.CompressionType != PayloadZstd && p.CompressionType != PayloadNone {
		return fmt.Errorf("%w: payload compression type %d", ErrUnsupported, p.CompressionType)
	}
	if p.PayloadSize > uint64(c.left()) {
		return fmt.Errorf("%w: payload size %d points past the event (%d bytes follow the payload header)", ErrMalformed, p.PayloadSize, c.left())
	}
	p.Payload = c.take(int(p.PayloadSize), "payload")
	return nil
}

// AppendBody appends a TRANSACTION_PAYLOAD_EVENT body carrying p.Payload,
// with the fields in the order MySQL writes them. PayloadSize is taken
// from len(p.Payload).
func (p *TransactionPayload) AppendBody(dst []byte) []byte {
	field := func(dst []byte, t, v uint64) []byte {
		dst = AppendLenenc(dst, t)
		dst = AppendLenenc(dst, uint64(len(AppendLenenc(nil, v))))
		return AppendLenenc(dst, v)
	}
	dst = field(dst, payloadCompressionField, p.CompressionType)
	if p.CompressionType != PayloadNone {
		dst = field(dst, payloadUncompressedSize, p.UncompressedSize)
	}
	dst = field(dst, payloadSizeField, uint64(len(p.Payload)))
	dst = AppendLenenc(dst, payloadEndMark)
	return append(dst, p.Payload...)
}
