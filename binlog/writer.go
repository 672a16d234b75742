package binlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// AppendEvent appends one v4 event to dst: the 19-byte header h, body and,
// when crc is set, a CRC32 trailer. EventSize is computed from the body;
// h.LogPos is written as given (the offset just past this event in the file
// it goes to, or 0 where the server writes 0). For a
// FORMAT_DESCRIPTION_EVENT the checksum is computed with
// LOG_EVENT_BINLOG_IN_USE_F cleared, as the server does; body must then end
// with the checksum algorithm byte (Event.Body does).
func AppendEvent(dst []byte, h Header, body []byte, crc bool) []byte {
	start := len(dst)
	h.EventSize = uint32(HeaderLenV4 + len(body))
	if crc {
		h.EventSize += ChecksumLen
	}
	dst = h.Append(dst)
	dst = append(dst, body...)
	if crc {
		dst = binary.LittleEndian.AppendUint32(dst, EventChecksum(dst[start:]))
	}
	return dst
}

// ErrWriter is wrapped by errors of a Writer used wrongly.
var ErrWriter = errors.New("binlog writer")

// Writer writes a binlog file: the magic, then events whose log_pos it
// sets to their true end offset and whose CRC32 it recomputes. It follows
// the FORMAT_DESCRIPTION_EVENTs it writes to know whether events carry a
// checksum.
type Writer struct {
	w   io.Writer
	off int64
	fde *FormatDescription
	buf []byte
	err error
}

// NewWriter returns a Writer that writes the binlog magic to w first.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Offset returns the file offset where the next event will start.
func (w *Writer) Offset() int64 {
	if w.off == 0 {
		return int64(len(Magic))
	}
	return w.off
}

// Format returns the format in force: the last FORMAT_DESCRIPTION_EVENT
// written, or nil.
func (w *Writer) Format() *FormatDescription { return w.fde }

// WriteEvent writes one event with header h (its EventSize and LogPos are
// recomputed) and body (without checksum). The first event must be a
// FORMAT_DESCRIPTION_EVENT; a checksum trailer is added when the format in
// force says so.
func (w *Writer) WriteEvent(h Header, body []byte) error {
	if w.err != nil {
		return w.err
	}
	if w.off == 0 {
		if _, err := w.w.Write(Magic[:]); err != nil {
			w.err = fmt.Errorf("binlog: writing magic: %w", err)
			return w.err
		}
		w.off = int64(len(Magic))
	}
	crc := false
	if h.Type == FormatDescriptionEvent {
		f, err := decodeFDEBody(body)
		if err != nil {
			return fmt.Errorf("%w: at %d: %w", ErrWriter, w.off, err)
		}
		w.fde = f
		crc = f.ChecksumAlg != ChecksumUndefined
	} else {
		if w.fde == nil {
			return fmt.Errorf("%w: %v at %d before any FORMAT_DESCRIPTION_EVENT", ErrWriter, h.Type, w.off)
		}
		crc = w.fde.HasChecksum()
	}
	size := int64(HeaderLenV4 + len(body))
	if crc {
		size += ChecksumLen
	}
	if w.off+size > 1<<32-1 {
		return fmt.Errorf("%w: event at %d would end past 4 GiB, which log_pos cannot express", ErrWriter, w.off)
	}
	h.LogPos = uint32(w.off + size)
	w.buf = AppendEvent(w.buf[:0], h, body, crc)
	if _, err := w.w.Write(w.buf); err != nil {
		w.err = fmt.Errorf("binlog: writing %v at %d: %w", h.Type, w.off, err)
		return w.err
	}
	w.off += size
	return nil
}

// decodeFDEBody decodes a FORMAT_DESCRIPTION_EVENT body given without its
// checksum value (as in Event.Body).
func decodeFDEBody(body []byte) (*FormatDescription, error) {
	if len(body) >= fdeFixedLen {
		v := parseServerVersion(cString(body[2 : 2+serverVersionLen]))
		f := FormatDescription{version: v, MariaDB: isMariaDBVersion(cString(body[2 : 2+serverVersionLen]))}
		if f.checksumCapable() {
			tmp := make([]byte, len(body)+ChecksumLen)
			copy(tmp, body)
			return DecodeFormatDescription(tmp)
		}
	}
	return DecodeFormatDescription(body)
}
