package binlog

import (
	"fmt"
)

// GTID flags (gtid_flags of GTID_LOG_EVENT).
const (
	GTIDFlagMayHaveSBR uint8 = 1 // the transaction may contain statement-based events
)

// Post-header lengths of GTID_LOG_EVENT: MySQL 5.6 (flags, sid, gno) and
// 5.7+ (adds the logical clock).
const (
	gtidPostHeader56 = 1 + 16 + 8
	gtidPostHeader57 = gtidPostHeader56 + 1 + 8 + 8
	logicalClockType = 2
)

// GTID is a decoded MySQL GTID_LOG_EVENT (33), ANONYMOUS_GTID_LOG_EVENT (34)
// or GTID_TAGGED_LOG_EVENT (42): it opens a transaction.
type GTID struct {
	Flags          uint8 // GTIDFlagMayHaveSBR
	UUID           UUID  // zero for anonymous transactions
	Tag            string
	GNO            int64 // 0 for anonymous transactions
	LastCommitted  int64 // logical clock for parallel apply (5.7+)
	SequenceNumber int64
	// ImmediateCommitTS and OriginalCommitTS are microseconds since the
	// epoch on this server and on the originating server (8.0.1+; 0 when
	// absent).
	ImmediateCommitTS uint64
	OriginalCommitTS  uint64
	// TransactionLength is the size in bytes of the whole transaction from
	// the start of this event to the end of its commit event (8.0.2+).
	TransactionLength      uint64
	ImmediateServerVersion uint32 // e.g. 80040; 0 when absent
	OriginalServerVersion  uint32
	CommitGroupTicket      uint64 // group replication ticket; 0 when absent
}

// Anonymous reports whether the transaction has no GTID.
func (g *GTID) Anonymous() bool { return g.UUID == UUID{} && g.GNO == 0 }

// GTID returns the transaction's GTID (meaningless when Anonymous).
func (g *GTID) GTID() MySQLGTID { return MySQLGTID{UUID: g.UUID, Tag: g.Tag, GNO: g.GNO} }

// maxGNO is the largest valid transaction number.
const maxGNO = 1<<63 - 1

// Decode decodes a GTID_LOG_EVENT or ANONYMOUS_GTID_LOG_EVENT body.
func (g *GTID) Decode(body []byte, fde *FormatDescription) error {
	*g = GTID{}
	phl := gtidPostHeader57
	if fde != nil {
		if n := fde.PostHeaderLen(GTIDEvent); n != 0 {
			phl = n
		}
	}
	if phl < gtidPostHeader56 {
		return fmt.Errorf("%w: GTID post-header length %d", ErrMalformed, phl)
	}
	c := cursor{b: body}
	g.Flags = c.u8("gtid_flags")
	copy(g.UUID[:], c.take(16, "sid"))
	g.GNO = int64(c.u64("gno"))
	if phl >= gtidPostHeader57 {
		if lt := c.u8("lt_type"); lt == logicalClockType {
			g.LastCommitted = int64(c.u64("last_committed"))
			g.SequenceNumber = int64(c.u64("sequence_number"))
		} else if c.err == nil {
			return fmt.Errorf("%w: logical clock type %d", ErrMalformed, lt)
		}
	}
	c.skip(phl-c.off, "post-header")
	if c.err != nil {
		return c.err
	}
	if g.GNO < 0 || (g.UUID != UUID{} && g.GNO == 0) {
		return fmt.Errorf("%w: gno %d", ErrMalformed, g.GNO)
	}
	if c.left() >= 7 {
		ts := c.u56("immediate_commit_timestamp")
		if ts&(1<<55) != 0 {
			ts &^= 1 << 55
			g.OriginalCommitTS = c.u56("original_commit_timestamp")
		} else {
			g.OriginalCommitTS = ts
		}
		g.ImmediateCommitTS = ts
		if c.left() > 0 {
			g.TransactionLength = c.lenenc("transaction_length")
		}
		if c.left() >= 4 {
			v := c.u32("immediate_server_version")
			if v&(1<<31) != 0 {
				v &^= 1 << 31
				g.OriginalServerVersion = c.u32("original_server_version")
			} else {
				g.OriginalServerVersion = v
			}
			g.ImmediateServerVersion = v
			if c.left() >= 8 {
				g.CommitGroupTicket = c.u64("commit_group_ticket")
			}
		}
	}
	return c.err
}

// Field ids of GTID_TAGGED_LOG_EVENT in MySQL's serialization format.
const (
	tgFlags = iota
	tgUUID
	tgGNO
	tgTag
	tgLastCommitted
	tgSequenceNumber
	tgImmediateCommitTS
	tgOriginalCommitTS
	tgTransactionLength
	tgImmediateServerVersion
	tgOriginalServerVersion
	tgCommitGroupTicket
)

// DecodeTagged decodes a GTID_TAGGED_LOG_EVENT body (MySQL 8.3+), written
// in MySQL's serialization format: a message header (format version, size,
// last non-ignorable field id) then (field id, value) pairs with varlen
// integers. Fields left out take their defaults (original values equal the
// immediate ones).
func (g *GTID) DecodeTagged(body []byte, _ *FormatDescription) error {
	*g = GTID{}
	c := cursor{b: body}
	c.varUint("serialization version")
	size := c.varUint("message size")
	lastRequired := c.varUint("last non-ignorable field")
	if c.err != nil {
		return c.err
	}
	if size > uint64(len(body)) {
		return fmt.Errorf("%w: message size %d points past the event (%d bytes)", ErrMalformed, size, len(body))
	}
	c.b = body[:size]
	var haveOrigTS, haveOrigVer bool
	next := uint64(0)
	for c.left() > 0 && c.err == nil {
		id := c.varUint("field id")
		if c.err != nil {
			break
		}
		if id < next {
			return fmt.Errorf("%w: field id %d after %d", ErrMalformed, id, next-1)
		}
		next = id + 1
		switch id {
		case tgFlags:
			g.Flags = uint8(c.varUint("gtid_flags"))
		case tgUUID:
			for i := range g.UUID {
				v := c.varUint("uuid")
				if v > 0xff {
					return fmt.Errorf("%w: uuid byte %d is %d", ErrMalformed, i, v)
				}
				g.UUID[i] = byte(v)
			}
		case tgGNO:
			g.GNO = c.varInt("gno")
		case tgTag:
			n := c.varUint("tag length")
			if n > 32 {
				return fmt.Errorf("%w: tag length %d", ErrMalformed, n)
			}
			g.Tag = string(c.take(int(n), "tag"))
		case tgLastCommitted:
			g.LastCommitted = c.varInt("last_committed")
		case tgSequenceNumber:
			g.SequenceNumber = c.varInt("sequence_number")
		case tgImmediateCommitTS:
			g.ImmediateCommitTS = c.varUint("immediate_commit_timestamp")
		case tgOriginalCommitTS:
			g.OriginalCommitTS = c.varUint("original_commit_timestamp")
			haveOrigTS = true
		case tgTransactionLength:
			g.TransactionLength = c.varUint("transaction_length")
		case tgImmediateServerVersion:
			g.ImmediateServerVersion = uint32(c.varUint("immediate_server_version"))
		case tgOriginalServerVersion:
			g.OriginalServerVersion = uint32(c.varUint("original_server_version"))
			haveOrigVer = true
		case tgCommitGroupTicket:
			g.CommitGroupTicket = c.varUint("commit_group_ticket")
		default:
			if id <= lastRequired {
				return fmt.Errorf("%w: required field %d of GTID_TAGGED_LOG_EVENT", ErrUnsupported, id)
			}
			// An ignorable field of a newer server: its size is unknown,
			// and fields come in id order, so nothing after it is known.
			c.off = len(c.b)
		}
	}
	if c.err != nil {
		return c.err
	}
	if !haveOrigTS {
		g.OriginalCommitTS = g.ImmediateCommitTS
	}
	if !haveOrigVer {
		g.OriginalServerVersion = g.ImmediateServerVersion
	}
	if g.GNO < 1 {
		return fmt.Errorf("%w: gno %d", ErrMalformed, g.GNO)
	}
	return nil
}

// AppendTaggedBody appends g as a GTID_TAGGED_LOG_EVENT body.
func (g *GTID) AppendTaggedBody(dst []byte) []byte {
	var f []byte
	f = appendVarUint(f, tgFlags)
	f = appendVarUint(f, uint64(g.Flags))
	f = appendVarUint(f, tgUUID)
	for _, b := range g.UUID {
		f = appendVarUint(f, uint64(b))
	}
	f = appendVarUint(f, tgGNO)
	f = appendVarInt(f, g.GNO)
	f = appendVarUint(f, tgTag)
	f = appendVarUint(f, uint64(len(g.Tag)))
	f = append(f, g.Tag...)
	f = appendVarUint(f, tgLastCommitted)
	f = appendVarInt(f, g.LastCommitted)
	f = appendVarUint(f, tgSequenceNumber)
	f = appendVarInt(f, g.SequenceNumber)
	f = appendVarUint(f, tgImmediateCommitTS)
	f = appendVarUint(f, g.ImmediateCommitTS)
	if g.OriginalCommitTS != g.ImmediateCommitTS {
		f = appendVarUint(f, tgOriginalCommitTS)
		f = appendVarUint(f, g.OriginalCommitTS)
	}
	f = appendVarUint(f, tgTransactionLength)
	f = appendVarUint(f, g.TransactionLength)
	f = appendVarUint(f, tgImmediateServerVersion)
	f = appendVarUint(f, uint64(g.ImmediateServerVersion))
	if g.OriginalServerVersion != g.ImmediateServerVersion {
		f = appendVarUint(f, tgOriginalServerVersion)
		f = appendVarUint(f, uint64(g.OriginalServerVersion))
	}
	if g.CommitGroupTicket != 0 {
		f = appendVarUint(f, tgCommitGroupTicket)
		f = appendVarUint(f, g.CommitGroupTicket)
	}
	// Header: version 1, total size (which counts the header itself), last
	// non-ignorable field 0. The size's own width depends on the size.
	hdr := func(total uint64) []byte {
		h := appendVarUint(nil, 1)
		h = appendVarUint(h, total)
		return appendVarUint(h, 0)
	}
	total := uint64(len(f) + 3)
	for uint64(len(hdr(total))+len(f)) != total {
		total = uint64(len(hdr(total)) + len(f))
	}
	dst = append(dst, hdr(total)...)
	return append(dst, f...)
}

// PreviousGTIDs is a decoded PREVIOUS_GTIDS_LOG_EVENT: the GTIDs executed
// before this binlog file.
type PreviousGTIDs struct {
	Set *MySQLGTIDSet
}

// Decode decodes a PREVIOUS_GTIDS_LOG_EVENT body (untagged or tagged).
func (p *PreviousGTIDs) Decode(body []byte, _ *FormatDescription) error {
	s, n, err := DecodeMySQLGTIDSet(body)
	if err != nil {
		return err
	}
	if n != len(body) {
		return fmt.Errorf("%w: %d bytes after the GTID set", ErrMalformed, len(body)-n)
	}
	p.Set = s
	return nil
}
