package binlog

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Rotate is a decoded ROTATE_EVENT: the next binlog file and the position
// to continue at.
type Rotate struct {
	Position uint64 // 4 (after the magic) unless the rotation is artificial
	NextFile string
}

// Decode decodes a ROTATE_EVENT body.
func (r *Rotate) Decode(body []byte, fde *FormatDescription) error {
	*r = Rotate{Position: 4}
	phl := rotateHeaderLen
	if fde != nil {
		phl = fde.PostHeaderLen(RotateEvent)
	}
	c := cursor{b: body}
	if phl >= rotateHeaderLen {
		r.Position = c.u64("position")
		c.skip(phl-rotateHeaderLen, "post-header")
	}
	r.NextFile = string(c.rest())
	if c.err == nil && r.NextFile == "" {
		return fmt.Errorf("%w: ROTATE without a file name", ErrMalformed)
	}
	return c.err
}

// AppendBody appends a v4 ROTATE_EVENT body.
func (r *Rotate) AppendBody(dst []byte) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, r.Position)
	return append(dst, r.NextFile...)
}

// XIDCommit is a decoded XID_EVENT: the commit of an XA-capable (InnoDB)
// transaction.
type XIDCommit struct {
	XID uint64
}

// Decode decodes an XID_EVENT body.
func (x *XIDCommit) Decode(body []byte, _ *FormatDescription) error {
	if len(body) != 8 {
		return fmt.Errorf("%w: XID body is %d bytes, want 8", ErrMalformed, len(body))
	}
	x.XID = binary.LittleEndian.Uint64(body)
	return nil
}

// XAPrepare is a decoded XA_PREPARE_LOG_EVENT (MySQL 5.7.7+): the end of
// an XA PREPARE (or XA COMMIT ... ONE PHASE) group.
type XAPrepare struct {
	OnePhase bool
	XID      XID
}

// Decode decodes an XA_PREPARE_LOG_EVENT body.
func (x *XAPrepare) Decode(body []byte, _ *FormatDescription) error {
	*x = XAPrepare{}
	c := cursor{b: body}
	x.OnePhase = c.u8("one_phase") != 0
	x.XID.FormatID = int32(c.u32("format_id"))
	gl := c.u32("gtrid_length")
	bl := c.u32("bqual_length")
	if c.err != nil {
		return c.err
	}
	if gl > 64 || bl > 64 {
		return fmt.Errorf("%w: XID lengths %d+%d exceed 64", ErrMalformed, gl, bl)
	}
	x.XID.GTRID = c.take(int(gl), "gtrid")
	x.XID.BQual = c.take(int(bl), "bqual")
	return c.err
}

// Incident is a decoded INCIDENT_EVENT: the source lost events (for
// example after a crash in a non-transactional update).
type Incident struct {
	Type    uint16 // 1 = LOST_EVENTS
	Message string
}

// Decode decodes an INCIDENT_EVENT body.
func (in *Incident) Decode(body []byte, fde *FormatDescription) error {
	*in = Incident{}
	c := cursor{b: body}
	in.Type = c.u16("incident type")
	if fde != nil {
		c.skip(fde.PostHeaderLen(IncidentEvent)-2, "post-header")
	}
	if c.err != nil {
		return c.err
	}
	if in.Type == 0 || in.Type > 1 {
		return fmt.Errorf("%w: incident type %d", ErrMalformed, in.Type)
	}
	n := int(c.u8("message length"))
	if c.err == nil && n > c.left() {
		return fmt.Errorf("%w: incident message length %d points past the event (%d bytes left)", ErrMalformed, n, c.left())
	}
	in.Message = string(c.take(n, "message"))
	return c.err
}

// Heartbeat is a decoded HEARTBEAT_LOG_EVENT or HEARTBEAT_LOG_EVENT_V2,
// sent by a source on an idle replication stream.
type Heartbeat struct {
	File     string
	Position uint64 // v2 only; for v1 use the header's LogPos
}

// Decode decodes a HEARTBEAT_LOG_EVENT (v1) body: the current file name.
func (h *Heartbeat) Decode(body []byte, _ *FormatDescription) error {
	*h = Heartbeat{File: string(body)}
	return nil
}

// Field types of HEARTBEAT_LOG_EVENT_V2.
const (
	hbEndMark  = 0
	hbFile     = 1
	hbPosition = 2
)

// DecodeV2 decodes a HEARTBEAT_LOG_EVENT_V2 body: (type, length, value)
// fields with length-encoded integers, up to an end mark.
func (h *Heartbeat) DecodeV2(body []byte, _ *FormatDescription) error {
	*h = Heartbeat{}
	c := cursor{b: body}
	for c.left() > 0 {
		t := c.lenenc("field type")
		if c.err != nil || t == hbEndMark {
			break
		}
		n := c.lenenc("field length")
		if c.err == nil && n > uint64(c.left()) {
			return fmt.Errorf("%w: heartbeat field %d length %d points past the event", ErrMalformed, t, n)
		}
		switch t {
		case hbFile:
			h.File = string(c.take(int(n), "log file name"))
		case hbPosition:
			h.Position = c.lenenc("log position")
		default:
			c.skip(int(n), "unknown heartbeat field")
		}
	}
	return c.err
}

// RowsQuery is a decoded ROWS_QUERY_LOG_EVENT: the statement text that
// produced the following rows events (binlog_rows_query_log_events=ON).
type RowsQuery struct {
	SQL string
}

// Decode decodes a ROWS_QUERY_LOG_EVENT body: a length byte (the server
// truncates it to 255 and ignores it) then the whole statement.
func (q *RowsQuery) Decode(body []byte, _ *FormatDescription) error {
	if len(body) < 1 {
		return fmt.Errorf("%w: empty ROWS_QUERY body", ErrTruncated)
	}
	q.SQL = string(body[1:])
	return nil
}

// Intvar types.
const (
	IntvarLastInsertID uint8 = 1
	IntvarInsertID     uint8 = 2
)

// Intvar is a decoded INTVAR_EVENT: LAST_INSERT_ID() or the next
// AUTO_INCREMENT value for the statement that follows.
type Intvar struct {
	Type  uint8 // IntvarLastInsertID or IntvarInsertID
	Value uint64
}

// Decode decodes an INTVAR_EVENT body.
func (v *Intvar) Decode(body []byte, _ *FormatDescription) error {
	c := cursor{b: body}
	v.Type = c.u8("type")
	v.Value = c.u64("value")
	if c.err == nil && (v.Type < IntvarLastInsertID || v.Type > IntvarInsertID) {
		return fmt.Errorf("%w: INTVAR type %d", ErrMalformed, v.Type)
	}
	return c.err
}

// Rand is a decoded RAND_EVENT: the RAND() seeds of the next statement.
type Rand struct {
	Seed1, Seed2 uint64
}

// Decode decodes a RAND_EVENT body.
func (r *Rand) Decode(body []byte, _ *FormatDescription) error {
	c := cursor{b: body}
	r.Seed1 = c.u64("seed1")
	r.Seed2 = c.u64("seed2")
	return c.err
}

// User variable value types.
const (
	UserVarString  uint8 = 0
	UserVarReal    uint8 = 1
	UserVarInt     uint8 = 2
	UserVarRow     uint8 = 3
	UserVarDecimal uint8 = 4
)

// UserVar is a decoded USER_VAR_EVENT: a user variable the next statement
// reads.
type UserVar struct {
	Name     string
	IsNull   bool
	Type     uint8  // UserVarString, UserVarReal, UserVarInt, UserVarDecimal
	Charset  uint32 // collation id of a string value
	Value    []byte // raw value: 8-byte LE for int/real, precision+scale+binary for decimal
	Flags    uint8  // 1 = unsigned
	HasFlags bool
}

// Decode decodes a USER_VAR_EVENT body.
func (u *UserVar) Decode(body []byte, _ *FormatDescription) error {
	*u = UserVar{}
	c := cursor{b: body}
	n := c.u32("name length")
	if c.err == nil && (n == 0 || uint64(n) > uint64(c.left())) {
		return fmt.Errorf("%w: user variable name length %d (%d bytes left)", ErrMalformed, n, c.left())
	}
	u.Name = string(c.take(int(n), "name"))
	u.IsNull = c.u8("is_null") != 0
	if c.err != nil || u.IsNull {
		u.Charset = 63
		return c.err
	}
	u.Type = c.u8("type")
	u.Charset = c.u32("charset")
	vl := c.u32("value length")
	if c.err == nil && uint64(vl) > uint64(c.left()) {
		return fmt.Errorf("%w: user variable value length %d points past the event (%d bytes left)", ErrMalformed, vl, c.left())
	}
	u.Value = c.take(int(vl), "value")
	if c.err != nil {
		return c.err
	}
	switch u.Type {
	case UserVarString, UserVarReal, UserVarInt, UserVarDecimal:
	default:
		return fmt.Errorf("%w: user variable type %d", ErrMalformed, u.Type)
	}
	if c.left() > 0 {
		u.Flags = c.u8("flags")
		u.HasFlags = true
	}
	return c.err
}

// TransactionContext is a decoded TRANSACTION_CONTEXT_EVENT (group
// replication certification data).
type TransactionContext struct {
	ServerUUID      string
	ThreadID        uint32
	GTIDSpecified   bool
	SnapshotVersion []byte // encoded GTID set
	WriteSet        [][]byte
	ReadSet         [][]byte
}

// Decode decodes a TRANSACTION_CONTEXT_EVENT body.
func (t *TransactionContext) Decode(body []byte, fde *FormatDescription) error {
	*t = TransactionContext{}
	c := cursor{b: body}
	ul := int(c.u8("server_uuid length"))
	t.ThreadID = c.u32("thread_id")
	t.GTIDSpecified = c.u8("gtid_specified") != 0
	sl := c.u32("snapshot version length")
	wn := c.u32("write set items")
	rn := c.u32("read set items")
	phl := 18
	if fde != nil {
		phl = max(fde.PostHeaderLen(TransactionContextEvent), 18)
	}
	c.skip(phl-c.off, "post-header")
	t.ServerUUID = string(c.take(ul, "server_uuid"))
	if c.err == nil && uint64(sl) > uint64(c.left()) {
		return fmt.Errorf("%w: snapshot version length %d points past the event", ErrMalformed, sl)
	}
	t.SnapshotVersion = c.take(int(sl), "snapshot version")
	var err error
	if t.WriteSet, err = readItems(&c, wn, "write set"); err != nil {
		return err
	}
	if t.ReadSet, err = readItems(&c, rn, "read set"); err != nil {
		return err
	}
	return c.err
}

func readItems(c *cursor, n uint32, what string) ([][]byte, error) {
	if c.err != nil {
		return nil, c.err
	}
	if uint64(n) > uint64(c.left())/2 {
		return nil, fmt.Errorf("%w: %d %s items cannot fit in %d bytes", ErrMalformed, n, what, c.left())
	}
	items := make([][]byte, 0, n)
	for i := uint32(0); i < n; i++ {
		l := int(c.u16(what + " item length"))
		items = append(items, c.take(l, what+" item"))
	}
	return items, c.err
}

// ViewChange is a decoded VIEW_CHANGE_EVENT (group replication membership
// change).
type ViewChange struct {
	ViewID            string
	SeqNumber         int64
	CertificationInfo map[string][]byte
}

// Decode decodes a VIEW_CHANGE_EVENT body.
func (v *ViewChange) Decode(body []byte, fde *FormatDescription) error {
	*v = ViewChange{}
	c := cursor{b: body}
	id := c.take(40, "view_id")
	if i := bytes.IndexByte(id, 0); i >= 0 {
		id = id[:i]
	}
	v.ViewID = string(id)
	v.SeqNumber = int64(c.u64("seq_number"))
	n := c.u32("cert_info length")
	phl := 52
	if fde != nil {
		phl = max(fde.PostHeaderLen(ViewChangeEvent), 52)
	}
	c.skip(phl-c.off, "post-header")
	if c.err != nil {
		return c.err
	}
	if uint64(n) > uint64(c.left())/6 {
		return fmt.Errorf("%w: %d certification entries cannot fit in %d bytes", ErrMalformed, n, c.left())
	}
	v.CertificationInfo = make(map[string][]byte, n)
	for i := uint32(0); i < n && c.err == nil; i++ {
		k := string(c.take(int(c.u16("cert key length")), "cert key"))
		vl := c.u32("cert value length")
		if c.err == nil && uint64(vl) > uint64(c.left()) {
			return fmt.Errorf("%w: certification value length %d points past the event", ErrMalformed, vl)
		}
		v.CertificationInfo[k] = c.take(int(vl), "cert value")
	}
	return c.err
}
