package binlog

// RowsData returns the rows data of the event the reader is on: every row
// image, back to back, after the column bitmaps. For a MariaDB compressed
// rows event it is the decompressed data, held by the reader (valid until
// the next Reset). The spans of RowSpan and ImageSpan are offsets into it.
func (r *RowsReader) RowsData() []byte { return r.data }

// RowsOffset returns the body offset where the rows data starts: the
// body before it holds the post-header, the extra data, the column count
// and the column bitmaps. For a compressed rows event it is where the
// compressed data starts.
func (r *RowsReader) RowsOffset() int { return r.dataOff }

// Images returns the number of images per row: 2 for updates, 1 for
// inserts and deletes.
func (r *RowsReader) Images() int { return r.images }

// RowSpan returns where the current row lies in RowsData: its bytes are
// [start, end), and for an update the after image starts at mid (the
// before image is [start, mid)). For a one-image row mid equals end. It
// is found by Next, which walks the row once sizing each value without
// decoding it, and costs nothing more; before the first Next it returns
// zeros.
func (r *RowsReader) RowSpan() (start, mid, end int) {
	if r.row == 0 {
		return 0, 0, 0
	}
	start, end = r.span[0][0], r.span[0][1]
	mid = end
	if r.images == 2 {
		end = r.span[1][1]
	}
	return start, mid, end
}

// ImageSpan returns where image i (0-based, in the order the row holds
// them: the before image first for updates) of the current row lies in
// RowsData, or ok=false when the row has no such image.
func (r *RowsReader) ImageSpan(i int) (start, end int, ok bool) {
	if r.row == 0 || i < 0 || i >= r.images {
		return 0, 0, false
	}
	return r.span[i][0], r.span[i][1], true
}

// NextSpan advances to the next row like Next, for callers that need only
// where the row's images lie (RowSpan, ImageSpan): it sizes the values
// from a compact per-table size table and records nothing per column, so
// it is faster than Next. Before and After still work after it (they
// locate the values first). A malformed row stops it with the same error
// as Next.
func (r *RowsReader) NextSpan() bool {
	if r.err != nil || r.Table == nil || r.pos >= len(r.data) {
		return false
	}
	if r.sizesOf != r.Table {
		r.sizes = r.sizes[:0]
		for i := range r.Table.cols {
			c := &r.Table.cols[i]
			if c.fixed >= 0 {
				r.sizes = append(r.sizes, int32(c.fixed))
			} else {
				r.sizes = append(r.sizes, int32(-c.prefix))
			}
		}
		r.sizesOf = r.Table
	}
	p := r.pos
	var spans [2][2]int
	for img := 0; img < r.images; img++ {
		bitmap := img
		if r.Kind == RowsInsert {
			bitmap = 1
		}
		end, ok := r.spanImage(p, bitmap, img)
		if !ok {
			// Malformed, or a partial JSON image: Next walks the row
			// again and says exactly what is wrong.
			return r.Next()
		}
		spans[img] = [2]int{p, end}
		p = end
	}
	if p == r.pos {
		return r.Next() // no column present: Next reports it
	}
	if cap(r.arena) > maxKeptScratch {
		r.arena = nil
	}
	r.arena = r.arena[:0]
	r.row++
	r.stale = true
	r.span = spans
	r.pos = p
	return true
}

// spanImage returns where the image that starts at p ends, or ok=false
// when it is malformed.
func (r *RowsReader) spanImage(p, img, sp int) (end int, ok bool) {
	if r.partial && img == 1 {
		return 0, false // value options and partial JSON: Next handles them
	}
	d := r.data
	nulls := r.nulls[img]
	if len(d)-p < nulls {
		return 0, false
	}
	nb := d[p : p+nulls]
	p += nulls
	present := r.present[img]
	sizes := r.sizes
	k := 0
	for i, sz := range sizes {
		if present[i>>3]&(1<<(uint(i)&7)) == 0 {
			continue
		}
		null := nb[k>>3]&(1<<(uint(k)&7)) != 0
		k++
		if null {
			continue
		}
		if sz >= 0 {
			p += int(sz)
			continue
		}
		pl := int(-sz)
		if p < 0 || len(d)-p < pl {
			return 0, false
		}
		var l int
		switch pl {
		case 1:
			l = int(d[p])
		case 2:
			l = int(d[p]) | int(d[p+1])<<8
		case 3:
			l = int(d[p]) | int(d[p+1])<<8 | int(d[p+2])<<16
		case 4:
			l = int(d[p]) | int(d[p+1])<<8 | int(d[p+2])<<16 | int(d[p+3])<<24
		default:
			for j := pl - 1; j >= 0; j-- {
				l = l<<8 | int(d[p+j])
			}
		}
		p += pl + l
	}
	if p > len(d) || p < 0 {
		return 0, false
	}
	return p, true
}

// recordVals records where each value of the current row lies when
// NextSpan found the row.
func (r *RowsReader) recordVals() error {
	if !r.stale {
		return nil
	}
	for img := 0; img < r.images; img++ {
		bitmap := img
		if r.Kind == RowsInsert {
			bitmap = 1
		}
		if _, col, err := r.skipImage(r.span[img][0], bitmap, img); err != nil {
			if col >= 0 {
				return r.colErr(col, err)
			}
			return r.colErr(-1, err)
		}
	}
	r.stale = false
	return nil
}
