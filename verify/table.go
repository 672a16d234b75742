package verify

import (
	"bytes"
	"context"
	gosql "database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-cdc/sluice/internal/sqldb"
)

// side is one of the two tables compared.
type side struct {
	conn   *sqldb.Conn
	ns     sqldb.Namespace
	t      *sqldb.Table
	quoted string
	exprs  []string // compare expressions, one per tableCmp.cols
	geo    []bool   // the column holds MySQL's internal geometry form
	keys   []string // quoted key columns, in key order
	hash   string   // the per-row hash expression (same engine)
}

func (s *side) eng() sqldb.Engine { return s.conn.Engine }

// tableCmp compares one table.
type tableCmp struct {
	cfg            *Config
	srcCfg, tgtCfg sqldb.Config
	index, tables  int
	src, tgt       *side
	cols           []column
	keyIdx         []int // indexes in cols of the key columns, in key order
	res            *TableResult
	pending        []pend
	seen           map[string]bool // keys in pending
	estimate       int64
	lastProgress   time.Time
	offs           []int  // canonRow's scratch (merge and recheck run on one goroutine)
	ca, cb         []byte // rowsEqual's scratch
}

// pend is a differing key waiting for its recheck.
type pend struct {
	key string   // canonical key
	raw [][]byte // raw key values read from srcRaw (true) or the target
	src bool
}

func (tc *tableCmp) run(ctx context.Context) *TableResult {
	began := time.Now()
	tc.res = &TableResult{Source: tc.src.ns.String(), Target: tc.tgt.ns.String()}
	defer func() { tc.res.Elapsed = time.Since(began) }()
	if err := tc.prepare(ctx); err != nil {
		tc.res.Err = err
		return tc.res
	}
	if tc.tgt.t == nil {
		return tc.res
	}
	tc.estimate = tc.src.conn.RowEstimate(ctx, tc.src.ns.Schema, tc.src.ns.Name)
	tc.seen = map[string]bool{}
	var err error
	if tc.src.eng() == tc.tgt.eng() {
		tc.res.Mode = "checksum"
		err = tc.checksums(ctx)
	} else {
		tc.res.Mode = "rows"
		err = tc.merge(ctx)
	}
	if err == nil {
		err = tc.recheck(ctx)
	}
	if err != nil {
		tc.res.Err = err
	}
	return tc.res
}

// prepare reads both tables and pairs their columns.
func (tc *tableCmp) prepare(ctx context.Context) error {
	var err error
	if tc.src.t, err = tc.src.conn.Table(ctx, tc.src.ns.Schema, tc.src.ns.Name); err != nil {
		return fmt.Errorf("source: %w", err)
	}
	if len(tc.src.t.Key) == 0 {
		return errors.New("the source table has no primary key: its rows cannot be matched")
	}
	tc.tgt.t, err = tc.tgt.conn.Table(ctx, tc.tgt.ns.Schema, tc.tgt.ns.Name)
	if errors.Is(err, sqldb.ErrNoTable) {
		tc.tgt.t = nil
		tc.res.Problems = append(tc.res.Problems, "the target table does not exist")
		n, cerr := tc.count(ctx, tc.src)
		tc.res.SourceRows, tc.res.Missing = n, n
		return cerr
	}
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	for _, s := range []*side{tc.src, tc.tgt} {
		s.quoted = s.eng().QuoteTable(s.ns.Schema, s.ns.Name)
	}
	for _, sc := range tc.src.t.Columns {
		j := tc.tgt.t.Column(sc.Name)
		if j < 0 {
			tc.res.Problems = append(tc.res.Problems, fmt.Sprintf("column %s is not in the target", sc.Name))
			continue
		}
		tcol := tc.tgt.t.Columns[j]
		c := column{name: sc.Name, srcType: sc.Type, tgtType: tcol.Type, nullable: sc.Nullable || tcol.Nullable}
		if tc.src.eng() == tc.tgt.eng() {
			c.cls = clsText
			if sc.Type.Family == sqldb.FamFloat {
				c.cls = clsFloat64
				if sc.Type.Bits == 32 {
					c.cls = clsFloat32
				}
			}
		} else {
			c.cls = pairClass(sc.Type, tcol.Type)
		}
		var geo bool
		c.src, geo = sameOrCross(tc, tc.src.eng(), sc.Name, sc.Type, c.cls)
		tc.src.geo = append(tc.src.geo, geo)
		c.tgt, geo = sameOrCross(tc, tc.tgt.eng(), tcol.Name, tcol.Type, c.cls)
		tc.tgt.geo = append(tc.tgt.geo, geo)
		tc.src.exprs = append(tc.src.exprs, c.src)
		tc.tgt.exprs = append(tc.tgt.exprs, c.tgt)
		tc.cols = append(tc.cols, c)
	}
	for _, col := range tc.tgt.t.Columns {
		if tc.src.t.Column(col.Name) < 0 {
			tc.res.Problems = append(tc.res.Problems, fmt.Sprintf("column %s is only in the target", col.Name))
		}
	}
	for _, k := range tc.src.t.Key {
		name := tc.src.t.Columns[k].Name
		i := -1
		for n := range tc.cols {
			if tc.cols[n].name == name {
				i = n
			}
		}
		if i < 0 {
			return fmt.Errorf("key column %s is not in the target", name)
		}
		tc.keyIdx = append(tc.keyIdx, i)
		tc.src.keys = append(tc.src.keys, tc.src.eng().Quote(name))
		tc.tgt.keys = append(tc.tgt.keys, tc.tgt.eng().Quote(name))
	}
	if tc.src.eng() == tc.tgt.eng() {
		return tc.prepareHash(ctx)
	}
	return nil
}

// sameOrCross is the compare expression of a column: between servers of
// one engine the column itself (floats as doubles on MySQL, whose FLOAT
// text is rounded), across engines the class's expression.
func sameOrCross(tc *tableCmp, e sqldb.Engine, name string, ty sqldb.Type, c class) (string, bool) {
	if tc.src.eng() == tc.tgt.eng() {
		q := e.Quote(name)
		if e == sqldb.MySQL && ty.Family == sqldb.FamFloat && ty.Bits == 32 {
			return "CAST(" + q + " AS DOUBLE)", false // FLOAT's text has 6 digits
		}
		if e == sqldb.Postgres {
			return q + "::text", false
		}
		return q, false
	}
	return expr(e, name, ty, c)
}

// count returns the rows of a table.
func (tc *tableCmp) count(ctx context.Context, s *side) (int64, error) {
	var n int64
	q := "SELECT COUNT(*) FROM " + s.eng().QuoteTable(s.ns.Schema, s.ns.Name)
	var err error
	if s.eng() == sqldb.Postgres {
		err = s.conn.PG.QueryRow(ctx, q).Scan(&n)
	} else {
		err = s.conn.My.QueryRowContext(ctx, q).Scan(&n)
	}
	return n, err
}

// rowIter iterates the rows of a query as text (NULL is nil).
type rowIter interface {
	Next() bool
	Values() [][]byte
	Err() error
	Close()
}

type myRows struct {
	rs   *gosql.Rows
	raw  []gosql.RawBytes
	ptrs []any
	vals [][]byte
	err  error
}

func (r *myRows) Next() bool {
	if !r.rs.Next() {
		return false
	}
	if r.raw == nil {
		cols, _ := r.rs.Columns()
		r.raw = make([]gosql.RawBytes, len(cols))
		r.ptrs = make([]any, len(cols))
		r.vals = make([][]byte, len(cols))
		for i := range r.raw {
			r.ptrs[i] = &r.raw[i]
		}
	}
	if err := r.rs.Scan(r.ptrs...); err != nil {
		r.err = err
		return false
	}
	for i, b := range r.raw {
		r.vals[i] = b
	}
	return true
}
func (r *myRows) Values() [][]byte { return r.vals }
func (r *myRows) Err() error {
	if r.err != nil {
		return r.err
	}
	return r.rs.Err()
}
func (r *myRows) Close() { r.rs.Close() }

type pgRows struct{ rs pgx.Rows }

func (r pgRows) Next() bool       { return r.rs.Next() }
func (r pgRows) Values() [][]byte { return r.rs.RawValues() }
func (r pgRows) Err() error       { return r.rs.Err() }
func (r pgRows) Close()           { r.rs.Close() }
func (s *side) ph(n int) string {
	if s.eng() == sqldb.Postgres {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

// query runs q with args (raw values) on s.
func (s *side) query(ctx context.Context, q string, args [][]byte) (rowIter, error) {
	if s.eng() == sqldb.Postgres {
		a := make([]any, 0, len(args)+1)
		a = append(a, pgx.QueryResultFormats{pgx.TextFormatCode})
		for _, v := range args {
			a = append(a, string(v))
		}
		rs, err := s.conn.PG.Query(ctx, q, a...)
		if err != nil {
			return nil, err
		}
		return pgRows{rs}, nil
	}
	a := make([]any, len(args))
	for i, v := range args {
		a[i] = v
	}
	rs, err := s.conn.My.QueryContext(ctx, q, a...)
	if err != nil {
		return nil, err
	}
	return &myRows{rs: rs}, nil
}

// rangeWhere returns the condition lower < key <= upper (either bound may
// be nil: open) and its arguments.
func (s *side) rangeWhere(lower, upper [][]byte) (string, [][]byte) {
	var parts []string
	var args [][]byte
	n := 0
	bound := func(vals [][]byte, last string) string {
		var ors []string
		for i := range s.keys {
			var ands []string
			for j := 0; j < i; j++ {
				n++
				ands = append(ands, s.keys[j]+" = "+s.ph(n))
				args = append(args, vals[j])
			}
			op := last[:1]
			if i == len(s.keys)-1 {
				op = last
			}
			n++
			ands = append(ands, s.keys[i]+" "+op+" "+s.ph(n))
			args = append(args, vals[i])
			ors = append(ors, "("+strings.Join(ands, " AND ")+")")
		}
		return "(" + strings.Join(ors, " OR ") + ")"
	}
	if lower != nil {
		parts = append(parts, bound(lower, ">"))
	}
	if upper != nil {
		parts = append(parts, bound(upper, "<="))
	}
	if len(parts) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(parts, " AND "), args
}

// rowHash is the same-engine per-row hash expression (see hash.go).
func (s *side) rowHash() string { return s.hash }

// sum is a chunk's row count and checksum.
type sum struct {
	rows int64
	hash string
	err  error
}

// chunkSum computes a chunk's sum on s.
func (s *side) chunkSum(ctx context.Context, lower, upper [][]byte) sum {
	where, args := s.rangeWhere(lower, upper)
	var q string
	if s.eng() == sqldb.Postgres {
		q = "SELECT count(*), COALESCE(bit_xor(" + s.rowHash() + "), 0) FROM " + s.quoted + where
	} else {
		q = "SELECT COUNT(*), COALESCE(BIT_XOR(" + s.rowHash() + "), 0) FROM " + s.quoted + where
	}
	it, err := s.query(ctx, q, args)
	if err != nil {
		return sum{err: err}
	}
	defer it.Close()
	var r sum
	if it.Next() {
		v := it.Values()
		r.rows, _ = strconv.ParseInt(string(v[0]), 10, 64)
		r.hash = string(v[1])
	}
	if err := it.Err(); err != nil {
		return sum{err: err}
	}
	return r
}

// boundary returns the key of the chunkRows-th row after lower (and not
// after upper) on s, or nil when fewer rows are left.
func (tc *tableCmp) boundary(ctx context.Context, s *side, lower, upper [][]byte) ([][]byte, error) {
	where, args := s.rangeWhere(lower, upper)
	q := "SELECT " + strings.Join(s.keys, ", ") + " FROM " + s.quoted + where + " ORDER BY " + strings.Join(s.keys, ", ") +
		" LIMIT 1 OFFSET " + strconv.Itoa(tc.cfg.ChunkRows-1)
	it, err := s.query(ctx, q, args)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	if !it.Next() {
		return nil, it.Err()
	}
	var out [][]byte
	for _, v := range it.Values() {
		out = append(out, bytes.Clone(v))
	}
	return out, it.Err()
}

// keyRanges cuts the source's key range into chunks of about
// Config.ChunkRows rows without reading them, when the key is one
// integer column: MIN and MAX of the key (read from its index) and the
// server's estimate of the rows (COUNT when it has none) give the width
// of a chunk in key values. It returns the chunks' upper bounds (the
// last chunk is open), and ok false when the key is of another kind and
// the boundaries must be walked. Keys spread unevenly make chunks of
// other sizes; a chunk that differs and holds more than twice
// Config.ChunkRows rows is cut again by walking it (compareChunk), so
// that narrowing stays bounded.
func (tc *tableCmp) keyRanges(ctx context.Context) (cuts [][][]byte, ok bool, err error) {
	if len(tc.keyIdx) != 1 {
		return nil, false, nil
	}
	if f := tc.cols[tc.keyIdx[0]].srcType.Family; f != sqldb.FamInt && f != sqldb.FamUint {
		return nil, false, nil
	}
	s := tc.src
	it, err := s.query(ctx, "SELECT MIN("+s.keys[0]+"), MAX("+s.keys[0]+") FROM "+s.quoted, nil)
	if err != nil {
		return nil, false, err
	}
	var lo, hi int64
	var loErr, hiErr error
	empty := true
	if it.Next() {
		v := it.Values()
		empty = v[0] == nil || v[1] == nil
		if !empty {
			lo, loErr = strconv.ParseInt(string(v[0]), 10, 64)
			hi, hiErr = strconv.ParseInt(string(v[1]), 10, 64)
		}
	}
	err = it.Err()
	it.Close()
	switch {
	case err != nil:
		return nil, false, err
	case empty:
		return nil, true, nil
	case loErr != nil || hiErr != nil || hi < lo:
		return nil, false, nil // past int64 (BIGINT UNSIGNED): walked
	}
	rows := tc.estimate
	if rows <= 0 {
		if rows, err = tc.count(ctx, s); err != nil {
			return nil, false, err
		}
	}
	chunks := (rows + int64(tc.cfg.ChunkRows) - 1) / int64(tc.cfg.ChunkRows)
	span := uint64(hi) - uint64(lo) // hi ≥ lo: no overflow in uint64
	if chunks <= 1 {
		return nil, true, nil
	}
	width := span/uint64(chunks) + 1
	for off := width; off <= span; off += width {
		cuts = append(cuts, [][]byte{strconv.AppendInt(nil, int64(uint64(lo)+off-1), 10)})
		if off > span-width {
			break
		}
	}
	return cuts, true, nil
}

// checksums compares the table chunk by chunk (same engine): the chunks
// are cut by key range (keyRanges) or, for other keys, by walking the
// boundaries on the source's connection, and Config.Workers workers,
// each with connections of their own, sum chunks on both sides at once
// and narrow those that differ.
func (tc *tableCmp) checksums(ctx context.Context) error {
	type chunk struct {
		lower, upper [][]byte
		split        bool // cut by key range: a large differing chunk is walked
	}
	cuts, ranged, err := tc.keyRanges(ctx)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	chunks := make(chan chunk, tc.cfg.Workers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex // tc.res, tc.pending, progress
	errs := make(chan error, tc.cfg.Workers+1)
	var wg sync.WaitGroup
	for w := 0; w < tc.cfg.Workers; w++ {
		src, tgt, closeAll, err := tc.workerSides(ctx, w)
		if err != nil {
			cancel()
			wg.Wait()
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer closeAll()
			for c := range chunks {
				if err := tc.compareChunk(ctx, src, tgt, c.lower, c.upper, c.split, &mu); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}()
	}
	send := func(c chunk) bool {
		select {
		case chunks <- c:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var walkErr error
	if ranged {
		var lower [][]byte
		for _, upper := range append(cuts, nil) {
			if !send(chunk{lower, upper, true}) {
				break
			}
			lower = upper
		}
	} else {
		var lower [][]byte
		for {
			upper, err := tc.boundary(ctx, tc.src, lower, nil)
			if err != nil {
				walkErr = fmt.Errorf("source: %w", err)
				break
			}
			if !send(chunk{lower, upper, false}) || upper == nil {
				break
			}
			lower = upper
		}
	}
	close(chunks)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	if walkErr != nil {
		return walkErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	tc.progress(true)
	return nil
}

// compareChunk sums the chunk lower < key <= upper on both sides and
// narrows it when the sums differ. A differing chunk cut by key range
// (split) that holds more than twice Config.ChunkRows rows is first cut
// by walking it on the source.
func (tc *tableCmp) compareChunk(ctx context.Context, src, tgt *side, lower, upper [][]byte, split bool, mu *sync.Mutex) error {
	tch := make(chan sum, 1)
	go func() { tch <- tgt.chunkSum(ctx, lower, upper) }()
	ss := src.chunkSum(ctx, lower, upper)
	ts := <-tch
	switch {
	case ss.err != nil:
		return fmt.Errorf("source: %w", ss.err)
	case ts.err != nil:
		return fmt.Errorf("target: %w", ts.err)
	}
	if ss != ts {
		if split && max(ss.rows, ts.rows) > 2*int64(tc.cfg.ChunkRows) {
			lo := lower
			for {
				up, err := tc.boundary(ctx, src, lo, upper)
				if err != nil {
					return fmt.Errorf("source: %w", err)
				}
				last := up == nil
				if last {
					up = upper
				}
				if err := tc.compareChunk(ctx, src, tgt, lo, up, false, mu); err != nil {
					return err
				}
				if last {
					return nil
				}
				lo = up
			}
		}
		if err := tc.narrow(ctx, src, tgt, lower, upper, mu); err != nil {
			return err
		}
	}
	mu.Lock()
	tc.res.SourceRows += ss.rows
	tc.res.TargetRows += ts.rows
	tc.progress(false)
	mu.Unlock()
	return nil
}

// workerSides returns the two sides for checksum worker w: on MySQL the
// pools are shared, on PostgreSQL every worker has connections of its
// own (worker 0 too: the source's is walking the boundaries).
func (tc *tableCmp) workerSides(ctx context.Context, w int) (src, tgt *side, closeAll func(), err error) {
	var opened []*sqldb.Conn
	clone := func(s *side, cfg sqldb.Config) (*side, error) {
		c := *s
		if s.eng() == sqldb.Postgres {
			conn, err := sqldb.Open(ctx, cfg)
			if err != nil {
				return nil, err
			}
			opened = append(opened, conn)
			c.conn = conn
		}
		return &c, nil
	}
	closeAll = func() {
		for _, c := range opened {
			c.Close()
		}
	}
	if src, err = clone(tc.src, tc.srcCfg); err != nil {
		closeAll()
		return nil, nil, nil, fmt.Errorf("source: %w", err)
	}
	if tgt, err = clone(tc.tgt, tc.tgtCfg); err != nil {
		closeAll()
		return nil, nil, nil, fmt.Errorf("target: %w", err)
	}
	return src, tgt, closeAll, nil
}

// narrow reads the keys and row hashes of a differing chunk on both sides
// and notes the keys that differ.
func (tc *tableCmp) narrow(ctx context.Context, srcSide, tgtSide *side, lower, upper [][]byte, mu *sync.Mutex) error {
	type entry struct {
		hash string
		raw  [][]byte
	}
	read := func(s *side, fn func(key string, raw [][]byte, hash string)) error {
		where, args := s.rangeWhere(lower, upper)
		q := "SELECT " + strings.Join(s.keys, ", ") + ", " + s.rowHash() + " FROM " + s.quoted + where
		it, err := s.query(ctx, q, args)
		if err != nil {
			return err
		}
		defer it.Close()
		for it.Next() {
			v := it.Values()
			raw := v[:len(s.keys)]
			fn(joinKey(raw), raw, string(v[len(s.keys)]))
		}
		return it.Err()
	}
	src := map[string]entry{}
	if err := read(srcSide, func(key string, raw [][]byte, hash string) {
		src[key] = entry{hash: hash, raw: cloneAll(raw)}
	}); err != nil {
		return fmt.Errorf("source: %w", err)
	}
	mu.Lock()
	defer mu.Unlock()
	tc.res.narrowPeak = max(tc.res.narrowPeak, len(src))
	if err := read(tgtSide, func(key string, raw [][]byte, hash string) {
		e, ok := src[key]
		if !ok {
			tc.note(key, raw, false)
			return
		}
		delete(src, key)
		if e.hash != hash {
			tc.note(key, e.raw, true)
		}
	}); err != nil {
		return fmt.Errorf("target: %w", err)
	}
	for key, e := range src {
		tc.note(key, e.raw, true)
	}
	return nil
}

func cloneAll(vs [][]byte) [][]byte {
	out := make([][]byte, len(vs))
	for i, v := range vs {
		out[i] = bytes.Clone(v)
	}
	return out
}

// joinKey joins key values into a map key.
func joinKey(vs [][]byte) string {
	var b []byte
	for _, v := range vs {
		if v == nil {
			b = append(b, 0, 'N')
			continue
		}
		b = append(b, 1)
		b = append(b, v...)
		b = append(b, 0)
	}
	return string(b)
}

// note keeps a differing key for the recheck (raw values from the source
// when src).
func (tc *tableCmp) note(key string, raw [][]byte, src bool) {
	if tc.seen[key] {
		return
	}
	if len(tc.pending) >= maxPending {
		// Past the bound the key is counted as it was found.
		tc.res.Changed++
		return
	}
	tc.seen[key] = true
	tc.pending = append(tc.pending, pend{key: key, raw: cloneAll(raw), src: src})
}

// progress reports progress at most every 200 ms (or when final).
func (tc *tableCmp) progress(final bool) {
	if tc.cfg.Progress == nil || (!final && time.Since(tc.lastProgress) < 200*time.Millisecond) {
		return
	}
	tc.lastProgress = time.Now()
	tc.cfg.Progress(Progress{Table: tc.src.ns.String(), Index: tc.index, Tables: tc.tables,
		Rows: tc.res.SourceRows, Estimate: max(tc.estimate, tc.res.SourceRows)})
}

// canonRow appends the canonical form of a row's compared values (as
// read by s) and returns it with the canonical key.
func (tc *tableCmp) canonRow(dst []byte, s *side, vals [][]byte) (row []byte, key string) {
	start := len(dst)
	if cap(tc.offs) < len(tc.cols)+1 {
		tc.offs = make([]int, len(tc.cols)+1)
	}
	offs := tc.offs[:len(tc.cols)+1]
	for i := range tc.cols {
		offs[i] = len(dst) - start
		dst = tc.canonCol(dst, s, i, vals[i])
	}
	offs[len(tc.cols)] = len(dst) - start
	row = dst[start:]
	var k []byte
	for _, i := range tc.keyIdx {
		k = append(k, row[offs[i]:offs[i+1]]...)
	}
	return row, string(k)
}

// canonKey appends the canonical key of a row (as read by s): its key
// columns' part of canonRow's form.
func (tc *tableCmp) canonKey(dst []byte, s *side, vals [][]byte) []byte {
	for _, i := range tc.keyIdx {
		dst = tc.canonCol(dst, s, i, vals[i])
	}
	return dst
}

// canonCol appends column i's value v (as read by s; nil for NULL) in
// the form canonRow gives it: a NULL mark, or the canonical text between
// a presence byte and a terminator.
func (tc *tableCmp) canonCol(dst []byte, s *side, i int, v []byte) []byte {
	if v == nil {
		return append(dst, 0, 'N')
	}
	dst = append(dst, 1)
	dst = canon(dst, tc.cols[i].cls, v, s.geo[i])
	return append(dst, 0)
}

// rowsEqual reports whether a source row and a target row (as merge
// reads them) have equal compared values: the same text, or the same
// canonical form (built only when the texts differ; a geometry's depends
// on the side).
func (tc *tableCmp) rowsEqual(sv, tv [][]byte) bool {
	for i := range tc.cols {
		a, b := sv[i], tv[i]
		if a == nil || b == nil {
			if (a == nil) != (b == nil) {
				return false
			}
			continue
		}
		c := &tc.cols[i]
		if c.cls != clsGeometry && bytes.Equal(a, b) {
			continue
		}
		tc.ca = canon(tc.ca[:0], c.cls, a, tc.src.geo[i])
		tc.cb = canon(tc.cb[:0], c.cls, b, tc.tgt.geo[i])
		if !bytes.Equal(tc.ca, tc.cb) {
			return false
		}
	}
	return true
}

// rawText reports whether column i's compared value on s is the text a
// query of the column itself reads (so that merge need not read the key
// twice): the column itself, MySQL integers as CHAR, PostgreSQL types
// whose cast to text is their output text.
func rawText(s *side, i int, name string, ty sqldb.Type) bool {
	q := s.eng().Quote(name)
	switch e := s.exprs[i]; {
	case e == q:
		return true
	case s.eng() == sqldb.MySQL:
		return e == "CAST("+q+" AS CHAR)" && (ty.Family == sqldb.FamInt || ty.Family == sqldb.FamUint)
	default:
		switch ty.Family {
		case sqldb.FamInt, sqldb.FamDecimal, sqldb.FamDate, sqldb.FamDateTime, sqldb.FamTimestamp, sqldb.FamUUID:
			return e == q+"::text"
		}
	}
	return false
}

// merge compares two servers of different engines: each streams its rows
// in key order, and rows are matched by key and compared value by value
// in their canonical forms.
func (tc *tableCmp) merge(ctx context.Context) error {
	// rawAt[s][n] is where key column n's raw value is in s's rows: its
	// compared value when that is its text (rawText), else a column of
	// its own after them.
	rawAt := map[*side][]int{}
	for _, s := range []*side{tc.src, tc.tgt} {
		rawAt[s] = slices.Clone(tc.keyIdx)
	}
	open := func(s *side) (rowIter, error) {
		var order []string
		for n, i := range tc.keyIdx {
			c := &tc.cols[i]
			k := s.quoted + "." + s.keys[n] // the select list has a column of that name too
			switch c.cls {
			case clsText, clsChar, clsUUID, clsInet, clsJSON, clsTemporal, clsZonedTime:
				if c.cls == clsTemporal {
					order = append(order, k)
					continue
				}
				if s.eng() == sqldb.Postgres {
					order = append(order, k+` COLLATE "C"`)
				} else {
					order = append(order, "CAST("+k+" AS BINARY)")
				}
			default:
				order = append(order, k)
			}
		}
		sel := slices.Clone(s.exprs)
		for n, i := range tc.keyIdx {
			ty := tc.cols[i].srcType
			if s == tc.tgt {
				ty = tc.cols[i].tgtType
			}
			if !rawText(s, i, tc.cols[i].name, ty) {
				sel = append(sel, s.keys[n])
				rawAt[s][n] = len(sel) - 1
			}
		}
		q := "SELECT " + strings.Join(sel, ", ") + " FROM " + s.quoted + " ORDER BY " + strings.Join(order, ", ")
		return s.query(ctx, q, nil)
	}
	raw := func(s *side, v [][]byte, dst [][]byte) [][]byte {
		dst = dst[:0]
		for _, i := range rawAt[s] {
			dst = append(dst, v[i])
		}
		return dst
	}
	var rawBuf [][]byte
	si, err := open(tc.src)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer si.Close()
	ti, err := open(tc.tgt)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	defer ti.Close()
	// A side's current row: its values (valid until its iterator moves
	// on: only the side that is behind moves) and its canonical key.
	var sv, tv [][]byte
	var skey, tkey []byte
	sok, tok := false, false
	advS := func() {
		if sok = si.Next(); sok {
			sv = si.Values()
			skey = tc.canonKey(skey[:0], tc.src, sv)
			tc.res.SourceRows++
		}
	}
	advT := func() {
		if tok = ti.Next(); tok {
			tv = ti.Values()
			tkey = tc.canonKey(tkey[:0], tc.tgt, tv)
			tc.res.TargetRows++
		}
	}
	advS()
	advT()
	for sok || tok {
		d := 0
		switch {
		case !tok:
			d = -1
		case !sok:
			d = 1
		default:
			d = tc.compareKeys(skey, tkey)
		}
		switch {
		case d < 0:
			rawBuf = raw(tc.src, sv, rawBuf)
			tc.note(string(skey), rawBuf, true)
			advS()
		case d > 0:
			rawBuf = raw(tc.tgt, tv, rawBuf)
			tc.note(string(tkey), rawBuf, false)
			advT()
		default:
			if !tc.rowsEqual(sv, tv) {
				rawBuf = raw(tc.src, sv, rawBuf)
				tc.note(string(skey), rawBuf, true)
			}
			advS()
			advT()
		}
		if tc.res.SourceRows%4096 == 0 {
			tc.progress(false)
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	if err := si.Err(); err != nil {
		return fmt.Errorf("source: %w", err)
	}
	if err := ti.Err(); err != nil {
		return fmt.Errorf("target: %w", err)
	}
	tc.progress(true)
	return nil
}

// compareKeys orders two canonical keys as the servers ordered the rows
// (see merge): numbers by value, everything else byte by byte.
func (tc *tableCmp) compareKeys(a, b []byte) int {
	for _, i := range tc.keyIdx {
		va, ra := cutValue(a)
		vb, rb := cutValue(b)
		a, b = ra, rb
		var d int
		switch tc.cols[i].cls {
		case clsInt, clsDecimal:
			d = compareDecimal(va, vb)
		case clsFloat32, clsFloat64:
			fa, _ := strconv.ParseFloat(string(va), 64)
			fb, _ := strconv.ParseFloat(string(vb), 64)
			switch {
			case fa < fb:
				d = -1
			case fa > fb:
				d = 1
			}
		default:
			d = bytes.Compare(va, vb)
		}
		if d != 0 {
			return d
		}
	}
	return 0
}

// cutValue splits the first value off a canonical key.
func cutValue[T string | []byte](k T) (T, T) {
	if len(k) >= 2 && k[0] == 0 {
		return k[:0], k[2:] // NULL sorts first
	}
	if len(k) == 0 {
		return k, k
	}
	for i := 1; i < len(k); i++ {
		if k[i] == 0 {
			return k[1:i], k[i+1:]
		}
	}
	return k[1:], k[:0]
}

// compareDecimal orders two normalized decimal texts by value.
func compareDecimal(a, b []byte) int {
	na, nb := len(a) > 0 && a[0] == '-', len(b) > 0 && b[0] == '-'
	if na != nb {
		if na {
			return -1
		}
		return 1
	}
	if na {
		a, b = a[1:], b[1:]
	}
	ia, fa, _ := bytes.Cut(a, []byte{'.'})
	ib, fb, _ := bytes.Cut(b, []byte{'.'})
	d := 0
	switch {
	case len(ia) != len(ib):
		d = len(ia) - len(ib)
	case !bytes.Equal(ia, ib):
		d = bytes.Compare(ia, ib)
	default:
		d = bytes.Compare(fa, fb)
	}
	if d > 0 {
		d = 1
	} else if d < 0 {
		d = -1
	}
	if na {
		return -d
	}
	return d
}

// recheck reads the differing keys again from both sides, up to
// Config.Recheck times, and reports those that still differ.
func (tc *tableCmp) recheck(ctx context.Context) error {
	rounds := max(tc.cfg.Recheck, 0)
	for round := 0; len(tc.pending) > 0; round++ {
		if round > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(tc.cfg.RecheckWait):
			}
		}
		final := round >= rounds
		var still []pend
		for start := 0; start < len(tc.pending); start += 200 {
			batch := tc.pending[start:min(start+200, len(tc.pending))]
			srows, err := tc.fetch(ctx, tc.src, batch)
			if err != nil {
				return fmt.Errorf("source: %w", err)
			}
			trows, err := tc.fetch(ctx, tc.tgt, batch)
			if err != nil {
				return fmt.Errorf("target: %w", err)
			}
			for _, p := range batch {
				s, sok := srows[p.key]
				t, tok := trows[p.key]
				var kind DiffKind
				switch {
				case sok && !tok:
					kind = Missing
				case tok && !sok:
					kind = Extra
				case sok && tok && !bytes.Equal(s.canon, t.canon):
					kind = Changed
				default:
					continue // equal now: it was changing
				}
				if !final {
					still = append(still, p)
					continue
				}
				tc.record(kind, p, s, t)
			}
		}
		if final {
			tc.pending = nil
			break
		}
		tc.pending = still
	}
	return nil
}

// fetched is a row read again by key.
type fetched struct {
	canon []byte
	vals  []string // canonical values, for the report
}

// fetch reads the rows of keys from s.
func (tc *tableCmp) fetch(ctx context.Context, s *side, keys []pend) (map[string]fetched, error) {
	var ors []string
	var args [][]byte
	n := 0
	for _, p := range keys {
		var ands []string
		for i, k := range s.keys {
			n++
			ands = append(ands, k+" = "+s.ph(n))
			args = append(args, tc.keyArg(s, p, i))
		}
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	q := "SELECT " + strings.Join(s.exprs, ", ") + " FROM " + s.quoted + " WHERE " + strings.Join(ors, " OR ")
	it, err := s.query(ctx, q, args)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := map[string]fetched{}
	for it.Next() {
		v := it.Values()
		row, key := tc.canonRow(nil, s, v)
		f := fetched{canon: row}
		for i := range tc.cols {
			if v[i] == nil {
				f.vals = append(f.vals, "NULL")
			} else {
				f.vals = append(f.vals, string(canon(nil, tc.cols[i].cls, v[i], s.geo[i])))
			}
		}
		out[key] = f
	}
	return out, it.Err()
}

// keyArg is the value of key column i of p as an argument for s: the raw
// value when p was read from s's engine, else its canonical text (bytes
// decoded from hex).
func (tc *tableCmp) keyArg(s *side, p pend, i int) []byte {
	rawEng := tc.tgt.eng()
	if p.src {
		rawEng = tc.src.eng()
	}
	if rawEng == s.eng() && i < len(p.raw) {
		return p.raw[i]
	}
	k := p.key
	var v string
	for n := 0; n <= i; n++ {
		v, k = cutValue(k)
	}
	if tc.cols[tc.keyIdx[i]].cls == clsBytes {
		b, err := hex.DecodeString(v)
		if err == nil {
			if s.eng() == sqldb.Postgres {
				return []byte(`\x` + v)
			}
			return b
		}
	}
	return []byte(v)
}

// record counts a difference and keeps it for the report.
func (tc *tableCmp) record(kind DiffKind, p pend, s, t fetched) {
	switch kind {
	case Missing:
		tc.res.Missing++
	case Extra:
		tc.res.Extra++
	case Changed:
		tc.res.Changed++
	}
	if len(tc.res.Diffs) >= tc.cfg.MaxDiffs {
		return
	}
	d := Diff{Kind: kind, Key: tc.keyText(p.key)}
	if kind == Changed {
		for i := range tc.cols {
			if s.vals[i] != t.vals[i] {
				d.Columns = append(d.Columns, ColumnDiff{Name: tc.cols[i].name, Source: s.vals[i], Target: t.vals[i]})
			}
		}
	}
	tc.res.Diffs = append(tc.res.Diffs, d)
}

// keyText renders a canonical key as "a=1, b=x".
func (tc *tableCmp) keyText(k string) string {
	var parts []string
	for _, i := range tc.keyIdx {
		var v string
		wasNull := len(k) >= 2 && k[0] == 0
		v, k = cutValue(k)
		if wasNull {
			v = "NULL"
		}
		parts = append(parts, tc.cols[i].name+"="+v)
	}
	return strings.Join(parts, ", ")
}
