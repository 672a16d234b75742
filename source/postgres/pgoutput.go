package postgres

import (
	"encoding/binary"
	"fmt"
)

// pgoutput message type bytes (PostgreSQL "Logical Replication Message
// Formats"). Two-phase messages are not listed: Sluice never asks for
// two_phase, so the server never sends them.
const (
	msgBegin        = 'B'
	msgMessage      = 'M'
	msgCommit       = 'C'
	msgOrigin       = 'O'
	msgRelation     = 'R'
	msgType         = 'Y'
	msgInsert       = 'I'
	msgUpdate       = 'U'
	msgDelete       = 'D'
	msgTruncate     = 'T'
	msgStreamStart  = 'S'
	msgStreamStop   = 'E'
	msgStreamCommit = 'c'
	msgStreamAbort  = 'A'
)

// Tuple column kinds in TupleData.
const (
	tupleNull      = 'n'
	tupleUnchanged = 'u'
	tupleText      = 't'
	tupleBinary    = 'b'
)

// Replica identity settings carried by a Relation message.
const (
	identityDefault = 'd'
	identityNothing = 'n'
	identityFull    = 'f'
	identityIndex   = 'i'
)

// Truncate option bits.
const (
	truncateCascade         = 1
	truncateRestartIdentity = 2
)

// relColumn is one column of a Relation message.
type relColumn struct {
	Key    bool // part of the replica identity
	Name   string
	OID    uint32
	TypMod int32
}

// tupleCol is one column of a TupleData: its kind byte and, for text and
// binary columns, the bytes (pointing into the message).
type tupleCol struct {
	Kind byte
	Data []byte
}

// message is one decoded pgoutput message. Only the fields of its Type are
// meaningful. Slices point into the message bytes; the tuple slices are
// reused by the next decode into the same message.
type message struct {
	Type byte
	// Xid is the (sub)transaction id carried by messages inside a stream
	// block, and by Begin, Stream Start/Commit/Abort.
	Xid uint32

	// Begin, Commit, Stream Commit.
	FinalLSN  uint64 // Begin: LSN of the commit record
	CommitLSN uint64 // Commit, Stream Commit
	EndLSN    uint64 // Commit, Stream Commit: end of the commit record
	Time      int64  // microseconds since 2000-01-01 UTC
	Flags     byte

	// Relation.
	RelID     uint32
	Namespace string
	Name      string
	Identity  byte
	Columns   []relColumn

	// Type.
	TypeOID uint32

	// Insert, Update, Delete. OldKind is 'K', 'O' or 0 when no old tuple was sent.
	OldKind byte
	Old     []tupleCol
	New     []tupleCol

	// Truncate.
	RelIDs []uint32

	// Message.
	Transactional bool
	LSN           uint64
	Prefix        string
	Content       []byte

	// Stream Start: first segment of the transaction. Stream Abort: SubXid.
	First  bool
	SubXid uint32

	// Origin: Name holds the origin name, LSN its commit LSN.
}

// decodeError locates a malformed message.
type decodeError struct {
	typ    byte
	offset int
	what   string
}

func (e *decodeError) Error() string {
	return fmt.Sprintf("postgres: pgoutput message %q at byte %d: %s", e.typ, e.offset, e.what)
}

// msgReader reads big-endian fields from one message.
type msgReader struct {
	b   []byte
	off int
	typ byte
	err error
}

func (r *msgReader) fail(what string) {
	if r.err == nil {
		r.err = &decodeError{typ: r.typ, offset: r.off, what: what}
	}
}

func (r *msgReader) need(n int, what string) bool {
	if r.err != nil {
		return false
	}
	if n < 0 || len(r.b)-r.off < n {
		r.fail("truncated " + what)
		return false
	}
	return true
}

func (r *msgReader) u8(what string) byte {
	if !r.need(1, what) {
		return 0
	}
	v := r.b[r.off]
	r.off++
	return v
}

func (r *msgReader) u16(what string) uint16 {
	if !r.need(2, what) {
		return 0
	}
	v := binary.BigEndian.Uint16(r.b[r.off:])
	r.off += 2
	return v
}

func (r *msgReader) u32(what string) uint32 {
	if !r.need(4, what) {
		return 0
	}
	v := binary.BigEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v
}

func (r *msgReader) u64(what string) uint64 {
	if !r.need(8, what) {
		return 0
	}
	v := binary.BigEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v
}

func (r *msgReader) bytes(n int, what string) []byte {
	if !r.need(n, what) {
		return nil
	}
	v := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return v
}

// cstring reads a NUL-terminated string.
func (r *msgReader) cstring(what string) string {
	if r.err != nil {
		return ""
	}
	for i := r.off; i < len(r.b); i++ {
		if r.b[i] == 0 {
			s := string(r.b[r.off:i])
			r.off = i + 1
			return s
		}
	}
	r.fail("unterminated " + what)
	return ""
}

// tuple reads a TupleData into dst (reused) and returns it.
func (r *msgReader) tuple(dst []tupleCol) []tupleCol {
	n := int(r.u16("tuple column count"))
	if r.err != nil {
		return dst[:0]
	}
	if cap(dst) < n {
		dst = make([]tupleCol, n)
	}
	dst = dst[:n]
	for i := 0; i < n; i++ {
		k := r.u8("tuple column kind")
		dst[i] = tupleCol{Kind: k}
		switch k {
		case tupleNull, tupleUnchanged:
		case tupleText, tupleBinary:
			l := r.u32("tuple column length")
			dst[i].Data = r.bytes(int(int32(l)), "tuple column data")
		default:
			if r.err == nil {
				r.fail(fmt.Sprintf("unknown tuple column kind %q in column %d", k, i))
			}
		}
		if r.err != nil {
			return dst[:0]
		}
	}
	return dst
}

// decodeMessage decodes one pgoutput message into m. streamed says the
// message sits inside a stream block (between Stream Start and Stream
// Stop), where data messages carry the xid of their (sub)transaction.
func decodeMessage(b []byte, streamed bool, m *message) error {
	if len(b) == 0 {
		return &decodeError{what: "empty message"}
	}
	r := msgReader{b: b, off: 1, typ: b[0]}
	m.Type = b[0]
	m.Xid = 0
	m.OldKind = 0
	m.Old = m.Old[:0]
	m.New = m.New[:0]
	xid := func() {
		if streamed {
			m.Xid = r.u32("xid")
		}
	}
	switch m.Type {
	case msgBegin:
		m.FinalLSN = r.u64("final LSN")
		m.Time = int64(r.u64("commit time"))
		m.Xid = r.u32("xid")
	case msgCommit:
		m.Flags = r.u8("flags")
		m.CommitLSN = r.u64("commit LSN")
		m.EndLSN = r.u64("end LSN")
		m.Time = int64(r.u64("commit time"))
	case msgOrigin:
		m.LSN = r.u64("origin LSN")
		m.Name = r.cstring("origin name")
	case msgRelation:
		xid()
		decodeRelation(&r, m)
	case msgType:
		xid()
		m.TypeOID = r.u32("type oid")
		m.Namespace = r.cstring("type namespace")
		m.Name = r.cstring("type name")
	case msgInsert, msgUpdate, msgDelete:
		xid()
		decodeRow(&r, m)
	case msgTruncate:
		xid()
		n := int(r.u32("relation count"))
		m.Flags = r.u8("options")
		if !r.need(4*n, "relation ids") {
			break
		}
		m.RelIDs = m.RelIDs[:0]
		for i := 0; i < n; i++ {
			m.RelIDs = append(m.RelIDs, r.u32("relation id"))
		}
	case msgMessage:
		xid()
		m.Flags = r.u8("flags")
		m.Transactional = m.Flags&1 != 0
		m.LSN = r.u64("message LSN")
		m.Prefix = r.cstring("prefix")
		l := r.u32("content length")
		m.Content = r.bytes(int(int32(l)), "content")
	case msgStreamStart:
		m.Xid = r.u32("xid")
		m.First = r.u8("first segment flag") == 1
	case msgStreamStop:
	case msgStreamCommit:
		m.Xid = r.u32("xid")
		m.Flags = r.u8("flags")
		m.CommitLSN = r.u64("commit LSN")
		m.EndLSN = r.u64("end LSN")
		m.Time = int64(r.u64("commit time"))
	case msgStreamAbort:
		// Protocol 4 with streaming=parallel appends the abort LSN and
		// time; Sluice asks for streaming=on, and ignores them if present.
		m.Xid = r.u32("xid")
		m.SubXid = r.u32("subtransaction xid")
	default:
		return &decodeError{typ: m.Type, what: "unknown message type"}
	}
	return r.err
}

// decodeRelation reads the body of a Relation message.
func decodeRelation(r *msgReader, m *message) {
	m.RelID = r.u32("relation id")
	m.Namespace = r.cstring("namespace")
	m.Name = r.cstring("relation name")
	m.Identity = r.u8("replica identity")
	n := int(r.u16("column count"))
	if r.err != nil {
		return
	}
	cols := make([]relColumn, 0, n)
	for i := 0; i < n && r.err == nil; i++ {
		flags := r.u8("column flags")
		name := r.cstring("column name")
		oid := r.u32("column type")
		mod := int32(r.u32("column type modifier"))
		cols = append(cols, relColumn{Key: flags&1 != 0, Name: name, OID: oid, TypMod: mod})
	}
	m.Columns = cols
}

// decodeRow reads the body of an Insert, Update or Delete message.
func decodeRow(r *msgReader, m *message) {
	switch m.Type {
	case msgInsert:
		m.RelID = r.u32("relation id")
		if k := r.u8("tuple marker"); r.err == nil && k != 'N' {
			r.fail(fmt.Sprintf("insert: expected new tuple marker 'N', got %q", k))
		}
		m.New = r.tuple(m.New)
	case msgUpdate:
		m.RelID = r.u32("relation id")
		k := r.u8("tuple marker")
		if k == 'K' || k == 'O' {
			m.OldKind = k
			m.Old = r.tuple(m.Old)
			k = r.u8("tuple marker")
		}
		if r.err == nil && k != 'N' {
			r.fail(fmt.Sprintf("update: expected new tuple marker 'N', got %q", k))
		}
		m.New = r.tuple(m.New)
	case msgDelete:
		m.RelID = r.u32("relation id")
		k := r.u8("tuple marker")
		if r.err == nil && k != 'K' && k != 'O' {
			r.fail(fmt.Sprintf("delete: expected old tuple marker 'K' or 'O', got %q", k))
		}
		m.OldKind = k
		m.Old = r.tuple(m.Old)
	}
}
