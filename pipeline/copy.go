package pipeline

import (
	"unsafe"

	"github.com/sluice-cdc/sluice/change"
)

// Sizes used by EstimateSize.
const (
	changeSize = int64(unsafe.Sizeof(change.Change{}))
	valueSize  = int64(unsafe.Sizeof(change.Value{}))
	stringSize = int64(unsafe.Sizeof(""))
)

// EstimateSize returns the number of bytes a copy of c holds in a
// pipeline queue: the Change struct, its strings, and every value of its
// row images with their bytes (Columns are shared and not counted). It is
// what the pipeline's byte bounds are measured in.
func EstimateSize(c *change.Change) int64 {
	n := changeSize + int64(len(c.Database)+len(c.Table)+len(c.SQL)+len(c.Source)+
		len(c.Tx.ID)+len(c.Pos.File)+len(c.Pos.GTIDSet)+len(c.Pos.Token)+len(c.Pos.Snapshot))
	return n + valuesSize(c.Before) + valuesSize(c.After)
}

func valuesSize(vs []change.Value) int64 {
	n := int64(len(vs)) * valueSize
	for i := range vs {
		v := &vs[i]
		n += int64(len(v.B))
		if v.Elems != nil {
			n += valuesSize(v.Elems)
		}
		if v.Names != nil {
			n += int64(len(v.Names)) * stringSize
			for _, s := range v.Names {
				n += int64(len(s))
			}
		}
	}
	return n
}

// arena holds the values and bytes of the changes copied into one Batch,
// so that copying a batch costs a few allocations rather than several per
// change. When a block is full a larger one is started; earlier blocks
// stay alive as long as the changes that point into them.
type arena struct {
	vals []change.Value
	buf  []byte
}

func (a *arena) reset() {
	a.vals = a.vals[:0]
	a.buf = a.buf[:0]
}

func (a *arena) allocValues(n int) []change.Value {
	if len(a.vals)+n > cap(a.vals) {
		a.vals = make([]change.Value, 0, max(2*cap(a.vals), n, 32))
	}
	s := a.vals[len(a.vals) : len(a.vals)+n : len(a.vals)+n]
	a.vals = a.vals[:len(a.vals)+n]
	return s
}

func (a *arena) copyBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	s := a.allocBytes(len(b))
	copy(s, b)
	return s
}

// allocBytes returns n bytes of the arena (not zeroed).
func (a *arena) allocBytes(n int) []byte {
	if len(a.buf)+n > cap(a.buf) {
		a.buf = make([]byte, 0, max(2*cap(a.buf), n, 4096))
	}
	s := a.buf[len(a.buf) : len(a.buf)+n : len(a.buf)+n]
	a.buf = a.buf[:len(a.buf)+n]
	return s
}

// copyImage copies the values of one row image, keeping only the indexes
// in keep (all when keep is nil).
func (a *arena) copyImage(src []change.Value, keep []int) []change.Value {
	if src == nil {
		return nil
	}
	if keep == nil {
		dst := a.allocValues(len(src))
		for i := range src {
			a.copyValue(&dst[i], &src[i])
		}
		return dst
	}
	dst := a.allocValues(len(keep))
	for i, k := range keep {
		if k < len(src) {
			a.copyValue(&dst[i], &src[k])
		}
	}
	return dst
}

func (a *arena) copyValue(dst, src *change.Value) {
	*dst = *src
	dst.B = a.copyBytes(src.B)
	if src.Elems != nil {
		dst.Elems = a.copyImage(src.Elems, nil)
	}
	if src.Names != nil {
		dst.Names = append([]string(nil), src.Names...)
	}
}
