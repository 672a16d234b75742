package binlog

import (
	"fmt"
)

// Flags of MariaDB GTID_EVENT (flags2).
const (
	MariaGTIDStandalone    uint8 = 1   // no COMMIT/XID follows: a DDL or non-transactional statement alone
	MariaGTIDGroupCommitID uint8 = 2   // commit_id is present
	MariaGTIDTransactional uint8 = 4   // the group can be rolled back
	MariaGTIDAllowParallel uint8 = 8   // may be applied in parallel
	MariaGTIDWaited        uint8 = 16  // the transaction waited for a row lock
	MariaGTIDDDL           uint8 = 32  // the group is a DDL
	MariaGTIDPreparedXA    uint8 = 64  // XA PREPARE: an XID follows
	MariaGTIDCompletedXA   uint8 = 128 // XA COMMIT/ROLLBACK: an XID follows
)

// Extra flags of MariaDB GTID_EVENT (flags_extra, 10.5+).
const (
	MariaGTIDExtraMultiEngine   uint8 = 1  // extra_engines follows
	MariaGTIDExtraStartAlter    uint8 = 2  // first half of a two-phase ALTER
	MariaGTIDExtraCommitAlter   uint8 = 4  // commit of a two-phase ALTER: sa_seq_no follows
	MariaGTIDExtraRollbackAlter uint8 = 8  // rollback of a two-phase ALTER: sa_seq_no follows
	MariaGTIDExtraThreadID      uint8 = 16 // 11.5+: thread_id follows
)

// XID is an X/Open XA transaction id (MariaDB GTID_EVENT with XA flags,
// MySQL XA_PREPARE_LOG_EVENT).
type XID struct {
	FormatID int32
	GTRID    []byte // global transaction id
	BQual    []byte // branch qualifier
}

// MariaGTIDStart is a decoded MariaDB GTID_EVENT (162): it opens an event
// group. The server id of the GTID is the event header's server id.
type MariaGTIDStart struct {
	Seq      uint64
	Domain   uint32
	Flags    uint8 // MariaGTIDStandalone, ...
	CommitID uint64
	XID      *XID // with MariaGTIDPreparedXA or MariaGTIDCompletedXA

	FlagsExtra    uint8 // MariaGTIDExtra... (10.5+)
	ExtraEngines  uint8
	StartAlterSeq uint64
	ThreadID      uint64
}

// GTID returns domain-server-seq with the server id from the header.
func (g *MariaGTIDStart) GTID(serverID uint32) MariaGTID {
	return MariaGTID{Domain: g.Domain, Server: serverID, Seq: g.Seq}
}

// Decode decodes a MariaDB GTID_EVENT body.
func (g *MariaGTIDStart) Decode(body []byte, _ *FormatDescription) error {
	*g = MariaGTIDStart{}
	c := cursor{b: body}
	g.Seq = c.u64("seq_no")
	g.Domain = c.u32("domain_id")
	g.Flags = c.u8("flags2")
	if c.err != nil {
		return c.err
	}
	switch {
	case g.Flags&MariaGTIDGroupCommitID != 0:
		g.CommitID = c.u64("commit_id")
	case g.Flags&(MariaGTIDPreparedXA|MariaGTIDCompletedXA) != 0:
		x := &XID{FormatID: int32(c.u32("xid format_id"))}
		gl := int(c.u8("xid gtrid_length"))
		bl := int(c.u8("xid bqual_length"))
		if gl > 64 || bl > 64 {
			return fmt.Errorf("%w: XID lengths %d+%d exceed 64", ErrMalformed, gl, bl)
		}
		x.GTRID = c.take(gl, "xid gtrid")
		x.BQual = c.take(bl, "xid bqual")
		g.XID = x
	default:
		c.skip(6, "reserved")
	}
	if c.err != nil {
		return c.err
	}
	if c.left() > 0 {
		g.FlagsExtra = c.u8("flags_extra")
		if g.FlagsExtra&MariaGTIDExtraMultiEngine != 0 {
			g.ExtraEngines = c.u8("extra_engines")
		}
		if g.FlagsExtra&(MariaGTIDExtraCommitAlter|MariaGTIDExtraRollbackAlter) != 0 {
			g.StartAlterSeq = c.u64("sa_seq_no")
		}
		if g.FlagsExtra&MariaGTIDExtraThreadID != 0 {
			g.ThreadID = c.u64("thread_id")
		}
		if c.err != nil {
			return fmt.Errorf("%w (flags_extra %#x)", c.err, g.FlagsExtra)
		}
	}
	// The rest is zero padding up to the post-header length.
	for _, b := range c.rest() {
		if b != 0 {
			return fmt.Errorf("%w: non-zero byte in the GTID_EVENT padding", ErrMalformed)
		}
	}
	return nil
}

// MariaGTIDList is a decoded MariaDB GTID_LIST_EVENT (163): the binlog
// state at the start of the file.
type MariaGTIDList struct {
	Flags uint8 // high 4 bits of the count word (1 = FLAG_UNTIL_REACHED, 2 = FLAG_IGN_GTIDS)
	GTIDs []MariaGTID
}

// Decode decodes a GTID_LIST_EVENT body.
func (l *MariaGTIDList) Decode(body []byte, _ *FormatDescription) error {
	*l = MariaGTIDList{}
	c := cursor{b: body}
	w := c.u32("count")
	if c.err != nil {
		return c.err
	}
	n := int(w & 0x0fffffff)
	l.Flags = uint8(w >> 28)
	if n > c.left()/16 {
		return fmt.Errorf("%w: %d GTIDs need %d bytes, %d left", ErrMalformed, n, 16*n, c.left())
	}
	l.GTIDs = make([]MariaGTID, n)
	for i := range l.GTIDs {
		l.GTIDs[i] = MariaGTID{Domain: c.u32("domain_id"), Server: c.u32("server_id"), Seq: c.u64("seq_no")}
	}
	// MariaDB 10.5 pads some GTID_LIST events; the server ignores bytes
	// after the list, and so do we.
	return c.err
}

// Set returns the list as a MariaGTIDSet.
func (l *MariaGTIDList) Set() *MariaGTIDSet {
	s := &MariaGTIDSet{}
	for _, g := range l.GTIDs {
		s.Add(g)
	}
	return s
}

// BinlogCheckpoint is a decoded MariaDB BINLOG_CHECKPOINT_EVENT (161): the
// oldest binlog file crash recovery still needs.
type BinlogCheckpoint struct {
	File string
}

// Decode decodes a BINLOG_CHECKPOINT_EVENT body.
func (b *BinlogCheckpoint) Decode(body []byte, _ *FormatDescription) error {
	c := cursor{b: body}
	n := c.u32("binlog_file_length")
	if c.err == nil && uint64(n) != uint64(c.left()) {
		return fmt.Errorf("%w: file name length %d but %d bytes follow", ErrMalformed, n, c.left())
	}
	b.File = string(c.rest())
	return c.err
}

// AnnotateRows is a decoded MariaDB ANNOTATE_ROWS_EVENT (160): the
// statement that produced the following rows events.
type AnnotateRows struct {
	SQL string
}

// Decode decodes an ANNOTATE_ROWS_EVENT body.
func (a *AnnotateRows) Decode(body []byte, _ *FormatDescription) error {
	a.SQL = string(body)
	return nil
}

// StartEncryption is a decoded MariaDB START_ENCRYPTION_EVENT (164). Every
// event after it is encrypted; the Reader stops there with ErrEncrypted.
type StartEncryption struct {
	Scheme     uint8
	KeyVersion uint32
	Nonce      []byte // 12 bytes
}

// Decode decodes a START_ENCRYPTION_EVENT body.
func (s *StartEncryption) Decode(body []byte, _ *FormatDescription) error {
	c := cursor{b: body}
	s.Scheme = c.u8("scheme")
	s.KeyVersion = c.u32("key_version")
	s.Nonce = c.take(12, "nonce")
	return c.err
}
