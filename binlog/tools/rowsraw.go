package tools

import (
	"errors"
	"fmt"

	"github.com/sluice-cdc/sluice/binlog"
)

// ErrUnsupportedRows is wrapped for rows events the binary tools cannot
// rewrite (PARTIAL_UPDATE_ROWS_EVENT, pre-GA rows events).
var ErrUnsupportedRows = errors.New("rows event type not supported")

// rawRows is the byte layout of one rows event: the parts before the rows,
// kept verbatim, and where each row image lies in the rows data.
type rawRows struct {
	Type    binlog.EventType // the uncompressed type
	Kind    binlog.RowsKind
	TableID uint64
	idLen   int
	post    []byte   // table id, flags and (v2) extra data, verbatim
	ncols   []byte   // the packed column count
	n       int      // column count
	bitmaps [][]byte // column-present bitmaps: 1, or 2 for updates
	prefix  []byte   // the body before the rows data (post, ncols, bitmaps)
	data    []byte   // the rows
	// images holds, per row, the end offsets in data of its images: one
	// for inserts and deletes, two for updates.
	images []int

	// rr walks the rows: binlog's row codec sizes every value of every
	// image once, without decoding it.
	rr binlog.RowsReader
}

// uncompressedType maps a MariaDB compressed rows type to its plain twin.
func uncompressedType(t binlog.EventType) (binlog.EventType, bool) {
	switch {
	case t >= binlog.MariaWriteRowsCompressedEventV1 && t <= binlog.MariaDeleteRowsCompressedEventV1:
		return t - binlog.MariaWriteRowsCompressedEventV1 + binlog.WriteRowsEventV1, true
	case t >= binlog.MariaWriteRowsCompressedEvent && t <= binlog.MariaDeleteRowsCompressedEvent:
		return t - binlog.MariaWriteRowsCompressedEvent + binlog.WriteRowsEventV2, true
	}
	return t, false
}

// parse splits the rows event ev into its parts and its rows into images.
// tables resolves table ids.
func (r *rawRows) parse(ev *binlog.Event, tables func(uint64) *binlog.TableMap) error {
	if err := r.header(ev); err != nil {
		return err
	}
	r.images = r.images[:0]
	rr := &r.rr
	if err := rr.ResetEvent(ev, tables); err != nil {
		return err
	}
	r.data = rr.RowsData()
	if rr.RowsOffset() != len(r.prefix) {
		return ev.Wrap(fmt.Errorf("%w: rows data at body offset %d, expected %d", binlog.ErrMalformed, rr.RowsOffset(), len(r.prefix)))
	}
	if len(r.bitmaps) == 2 {
		for rr.NextSpan() {
			_, mid, end := rr.RowSpan()
			r.images = append(r.images, mid, end)
		}
	} else {
		for rr.NextSpan() {
			_, _, end := rr.RowSpan()
			r.images = append(r.images, end)
		}
	}
	return rr.Err()
}

// header parses the parts of ev's body before the rows data.
func (r *rawRows) header(ev *binlog.Event) error {
	typ, _ := uncompressedType(ev.Header.Type)
	version := 1
	switch typ {
	case binlog.WriteRowsEventV1:
		r.Kind = binlog.RowsInsert
	case binlog.UpdateRowsEventV1:
		r.Kind = binlog.RowsUpdate
	case binlog.DeleteRowsEventV1:
		r.Kind = binlog.RowsDelete
	case binlog.WriteRowsEventV2:
		r.Kind, version = binlog.RowsInsert, 2
	case binlog.UpdateRowsEventV2:
		r.Kind, version = binlog.RowsUpdate, 2
	case binlog.DeleteRowsEventV2:
		r.Kind, version = binlog.RowsDelete, 2
	default:
		return ev.Wrap(fmt.Errorf("%w: %v", ErrUnsupportedRows, ev.Header.Type))
	}
	r.Type = typ
	b := ev.Body
	r.idLen = 6
	if ev.FDE != nil && ev.FDE.PostHeaderLen(ev.Header.Type) == 6 {
		r.idLen = 4
	}
	p := r.idLen + 2
	if len(b) < p {
		return ev.Wrap(fmt.Errorf("%w: post-header", binlog.ErrTruncated))
	}
	r.TableID = 0
	for i := r.idLen - 1; i >= 0; i-- {
		r.TableID = r.TableID<<8 | uint64(b[i])
	}
	if version == 2 {
		if len(b) < p+2 {
			return ev.Wrap(fmt.Errorf("%w: extra data length", binlog.ErrTruncated))
		}
		l := int(b[p]) | int(b[p+1])<<8
		if l < 2 || len(b) < p+l {
			return ev.Wrap(fmt.Errorf("%w: extra data length %d", binlog.ErrMalformed, l))
		}
		p += l
	}
	r.post = b[:p]
	n, w := packedInt(b[p:])
	if w == 0 || n > uint64(len(b))*8 {
		return ev.Wrap(fmt.Errorf("%w: column count", binlog.ErrMalformed))
	}
	r.ncols = b[p : p+w]
	r.n = int(n)
	p += w
	bm := (r.n + 7) / 8
	r.bitmaps = r.bitmaps[:0]
	images := 1
	if r.Kind == binlog.RowsUpdate {
		images = 2
	}
	for i := 0; i < images; i++ {
		if len(b) < p+bm {
			return ev.Wrap(fmt.Errorf("%w: column bitmap", binlog.ErrTruncated))
		}
		r.bitmaps = append(r.bitmaps, b[p:p+bm])
		p += bm
	}
	r.prefix = b[:p]
	return nil
}

// full reports whether every column is in every image.
func (r *rawRows) full() bool {
	for _, bm := range r.bitmaps {
		for i := 0; i < r.n; i++ {
			if bm[i>>3]&(1<<(uint(i)&7)) == 0 {
				return false
			}
		}
	}
	return true
}

// rows returns the number of rows.
func (r *rawRows) rows() int { return len(r.images) / len(r.bitmaps) }

// row returns the byte range of row i and, for updates, where its after image starts.
func (r *rawRows) row(i int) (start, mid, end int) {
	k := len(r.bitmaps)
	if i > 0 {
		start = r.images[i*k-1]
	}
	end = r.images[i*k+k-1]
	mid = end
	if k == 2 {
		mid = r.images[i*k]
	}
	return start, mid, end
}

// packedInt reads a length-encoded integer; w is 0 when b is too short.
func packedInt(b []byte) (v uint64, w int) {
	if len(b) == 0 {
		return 0, 0
	}
	switch c := b[0]; {
	case c < 0xfb:
		return uint64(c), 1
	case c == 0xfc && len(b) >= 3:
		return uint64(b[1]) | uint64(b[2])<<8, 3
	case c == 0xfd && len(b) >= 4:
		return uint64(b[1]) | uint64(b[2])<<8 | uint64(b[3])<<16, 4
	case c == 0xfe && len(b) >= 9:
		var v uint64
		for i := 8; i >= 1; i-- {
			v = v<<8 | uint64(b[i])
		}
		return v, 9
	}
	return 0, 0
}
