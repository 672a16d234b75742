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
	data    []byte   // the rows
	// images holds, per row, the end offsets in data of its images: one
	// for inserts and deletes, two for updates.
	images []int

	// scratch for image sizing
	rr      binlog.RowsReader
	scratch []byte
	guess   []int
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
	typ, compressed := uncompressedType(ev.Header.Type)
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
	r.data = b[p:]
	if compressed {
		out, err := binlog.DecompressMariaDB(nil, r.data)
		if err != nil {
			return ev.Wrap(err)
		}
		r.data = out
	}
	r.images = r.images[:0]
	tm := tables(r.TableID)
	if tm == nil {
		if len(r.data) == 0 {
			return nil
		}
		return ev.Wrap(fmt.Errorf("%w %d", binlog.ErrNoTableMap, r.TableID))
	}
	lookup := func(uint64) *binlog.TableMap { return tm }
	r.prepare(images)
	for start := 0; start < len(r.data); {
		for img := 0; img < images; img++ {
			end, err := r.imageEnd(start, img, lookup)
			if err != nil {
				return ev.Wrap(fmt.Errorf("row %d: %w", len(r.images)/images+1, err))
			}
			r.images = append(r.images, end)
			start = end
		}
	}
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

// prepare lays out the scratch buffer: room for a one-image DELETE_ROWS
// v1 prefix before a copy of the rows data.
func (r *rawRows) prepare(images int) {
	pre := r.idLen + 2 + len(r.ncols) + len(r.bitmaps[0])
	if need := pre + len(r.data); cap(r.scratch) < need {
		r.scratch = make([]byte, need)
	} else {
		r.scratch = r.scratch[:need]
	}
	copy(r.scratch[pre:], r.data)
	r.guess = append(r.guess[:0], make([]int, images)...)
}

// imageEnd returns where the image that starts at data offset start ends.
// The row codec of package binlog knows every column type's size; it is
// asked through a one-image DELETE_ROWS_EVENT v1 over data[start:start+l],
// which parses if and only if l covers the whole image.
func (r *rawRows) imageEnd(start, img int, tables func(uint64) *binlog.TableMap) (int, error) {
	pre := r.idLen + 2 + len(r.ncols) + len(r.bitmaps[img])
	// The prefix goes just before data[start] in scratch, over bytes of
	// rows already sized.
	at := start
	q := at
	for i := 0; i < r.idLen; i++ {
		r.scratch[q] = byte(r.TableID >> (8 * i))
		q++
	}
	r.scratch[q], r.scratch[q+1] = 0, 0
	q += 2
	q += copy(r.scratch[q:], r.ncols)
	copy(r.scratch[q:], r.bitmaps[img])
	phl := 8
	if r.idLen == 4 {
		phl = 6
	}
	rest := len(r.data) - start
	fits := func(l int) bool {
		if r.rr.ResetPostHeader(binlog.DeleteRowsEventV1, r.scratch[at:at+pre+l], phl, tables) != nil {
			return false
		}
		return r.rr.Next()
	}
	if !fits(rest) {
		// The whole remainder does not hold the image: say why.
		r.rr.ResetPostHeader(binlog.DeleteRowsEventV1, r.scratch[at:at+pre+rest], phl, tables)
		r.rr.Next()
		if err := r.rr.Err(); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("%w: row image", binlog.ErrTruncated)
	}
	if g := r.guess[img]; g > 0 && g <= rest && fits(g) && !fits(g-1) {
		return start + g, nil
	}
	lo, hi := 0, rest // fits(hi) is true, fits(lo) false
	for hi-lo > 1 {
		m := lo + (hi-lo)/2
		if fits(m) {
			hi = m
		} else {
			lo = m
		}
	}
	r.guess[img] = hi
	return start + hi, nil
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
