package binlog

import (
	"errors"
	"fmt"
)

// Sentinel errors wrapped by *Error values, for errors.Is.
var (
	// ErrTruncated means the input ended inside an event or a field.
	ErrTruncated = errors.New("truncated")
	// ErrChecksum means an event's CRC32 trailer does not match its bytes.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrEventSize means an event header announces an impossible size.
	ErrEventSize = errors.New("bad event size")
	// ErrNotBinlog means the input does not start with the binlog magic.
	ErrNotBinlog = errors.New("not a binlog file")
	// ErrMalformed means an event body does not follow its format.
	ErrMalformed = errors.New("malformed event")
	// ErrEncrypted means the binlog is encrypted (MariaDB
	// START_ENCRYPTION_EVENT); reading it needs the server's key.
	ErrEncrypted = errors.New("encrypted binlog")
	// ErrUnsupported means a valid event uses a feature this package does
	// not decode.
	ErrUnsupported = errors.New("unsupported")
	// ErrFragmentedRow is returned for MariaDB 12.3's PARTIAL_ROW_DATA_EVENT
	// (a row split over several events): Sluice does not reassemble such
	// rows yet, and skipping them would lose changes. It wraps ErrUnsupported.
	ErrFragmentedRow = fmt.Errorf("%w: row fragmented over PARTIAL_ROW_DATA_EVENTs (MariaDB 12.3 large rows) cannot be reassembled yet", ErrUnsupported)
)

// Event is one binlog event as a view into the reader's buffer. The slices
// are valid until the next call to Next on the Reader that returned it;
// copy what must outlive it (Clone does).
type Event struct {
	Source string // file or stream name, for errors
	// Offset is the offset of the event's first byte in the file. For an
	// event nested in a TRANSACTION_PAYLOAD_EVENT it is the payload event's
	// offset, and PayloadOffset is its offset in the uncompressed payload.
	Offset        int64
	Nested        bool  // the event came out of a TRANSACTION_PAYLOAD_EVENT
	PayloadOffset int64 // offset inside the uncompressed payload when Nested
	Header        Header
	Body          []byte             // after the header, without the checksum trailer
	Raw           []byte             // the whole event: header, body and trailer
	Checksummed   bool               // Raw ends with a 4-byte CRC32 trailer
	FDE           *FormatDescription // format in force for this event (for an FDE: itself)

	payloadEnd int64 // for a nested event: the end of its payload event
}

// End returns the offset just after the event in the file: where the next
// event starts. For a nested event it is the end of its payload event.
func (e *Event) End() int64 {
	if e.Nested {
		return e.payloadEnd
	}
	return e.Offset + int64(e.Header.EventSize)
}

// Clone returns a deep copy of e that does not alias the reader's buffer.
func (e *Event) Clone() *Event {
	c := *e
	c.Raw = append([]byte(nil), e.Raw...)
	hl := len(e.Raw) - len(e.Body)
	if e.Checksummed {
		hl -= ChecksumLen
	}
	c.Body = c.Raw[hl : hl+len(e.Body)]
	return &c
}

// Wrap returns err located at this event as an *Error, unless it is nil or
// already an *Error.
func (e *Event) Wrap(err error) error {
	if err == nil {
		return nil
	}
	var be *Error
	if errors.As(err, &be) {
		if be.Source != "" || be.Offset != 0 {
			return err
		}
		// A decoder that saw only the body (DecodeTableMap, a rows reader
		// without SetLocation) knew the row and column but not the place:
		// fill in this event's.
		located := *be
		located.Source, located.Offset = e.Source, e.Offset
		if located.Type == UnknownEvent {
			located.Type = e.Header.Type
		}
		if e.Nested {
			located.Err = fmt.Errorf("payload byte %d: %w", e.PayloadOffset, located.Err)
		}
		return &located
	}
	if e.Nested {
		err = fmt.Errorf("payload byte %d: %w", e.PayloadOffset, err)
	}
	return &Error{Source: e.Source, Offset: e.Offset, Type: e.Header.Type, Err: err}
}

// Errorf returns a formatted error located at this event.
func (e *Event) Errorf(format string, args ...any) error {
	return e.Wrap(fmt.Errorf(format, args...))
}
