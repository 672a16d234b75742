package binlog

import "fmt"

// The LOAD DATA INFILE family (MySQL 5.0+): the file content travels in
// BEGIN_LOAD_QUERY and APPEND_BLOCK events, then EXECUTE_LOAD_QUERY runs
// the statement (or DELETE_FILE drops the file).

// LoadBlock is a decoded BEGIN_LOAD_QUERY_EVENT or APPEND_BLOCK_EVENT: a
// block of the file being loaded.
type LoadBlock struct {
	FileID uint32
	Data   []byte // aliases the body
}

// Decode decodes a BEGIN_LOAD_QUERY_EVENT or APPEND_BLOCK_EVENT body.
func (b *LoadBlock) Decode(body []byte, _ *FormatDescription) error {
	c := cursor{b: body}
	b.FileID = c.u32("file_id")
	b.Data = c.rest()
	return c.err
}

// DeleteFile is a decoded DELETE_FILE_EVENT.
type DeleteFile struct {
	FileID uint32
}

// Decode decodes a DELETE_FILE_EVENT body.
func (d *DeleteFile) Decode(body []byte, _ *FormatDescription) error {
	c := cursor{b: body}
	d.FileID = c.u32("file_id")
	if c.err == nil && c.left() != 0 {
		return fmt.Errorf("%w: %d bytes after the file id", ErrMalformed, c.left())
	}
	return c.err
}

// ExecuteLoadQuery is a decoded EXECUTE_LOAD_QUERY_EVENT: a QUERY_EVENT
// with the LOAD DATA statement, plus where the file name sits in it.
type ExecuteLoadQuery struct {
	Query
	FileID      uint32
	FnPosStart  uint32 // the file name is SQL[FnPosStart:FnPosEnd]
	FnPosEnd    uint32
	DupHandling uint8 // 0 error, 1 ignore, 2 replace
}

// executeLoadQueryExtra is file_id, fn_pos_start, fn_pos_end, dup_handling.
const executeLoadQueryExtra = 4 + 4 + 4 + 1

// Decode decodes an EXECUTE_LOAD_QUERY_EVENT body.
func (e *ExecuteLoadQuery) Decode(body []byte, fde *FormatDescription) error {
	phl := queryHeaderLen + executeLoadQueryExtra
	if fde != nil {
		phl = fde.PostHeaderLen(ExecuteLoadQueryEvent)
	}
	if phl < queryHeaderLen+executeLoadQueryExtra {
		return fmt.Errorf("%w: EXECUTE_LOAD_QUERY post-header length %d", ErrMalformed, phl)
	}
	if err := e.Query.decode(body, phl); err != nil {
		return err
	}
	c := cursor{b: body, off: queryHeaderLen}
	e.FileID = c.u32("file_id")
	e.FnPosStart = c.u32("fn_pos_start")
	e.FnPosEnd = c.u32("fn_pos_end")
	e.DupHandling = c.u8("dup_handling")
	if c.err != nil {
		return c.err
	}
	if e.FnPosStart > e.FnPosEnd || int(e.FnPosEnd) > len(e.SQL) {
		return fmt.Errorf("%w: file name position [%d, %d) outside the %d-byte statement", ErrMalformed, e.FnPosStart, e.FnPosEnd, len(e.SQL))
	}
	return nil
}
