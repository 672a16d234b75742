package sql

import (
	"context"
	"fmt"
	"hash/maphash"
	"strings"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/sqldb"
)

// stmt is one statement of a plan: what it is, its arguments (a range of
// the plan's argument slices), the changes it applies and the rows it
// must affect.
type stmt struct {
	key         stmtKey
	a0, a1      int   // arguments: plan.my[a0:a1] or plan.pg*[a0:a1]
	first, last int   // indexes of the changes it applies in plan.changes
	expect      int64 // rows it must affect; -1: any number
}

// plan turns changes into statements, in order: consecutive inserts (and
// full-image updates) of one table with the same columns become one
// multi-row upsert, consecutive deletes one multi-row delete; updates that
// change the key or carry a partial image (MySQL MINIMAL row images,
// PostgreSQL unchanged TOAST values) and rows of tables without a primary
// key are one statement each. The order of the changes is kept: nothing
// moves past a change of another table or kind.
type plan struct {
	s       *Sink
	single  bool // one row per statement (pinpointing a failed change)
	changes []change.Change
	stmts   []stmt
	my      []any
	pgVals  [][]byte
	pgFmts  []int16
	arena   arena

	run     run
	shape   []byte
	where   []byte
	keyText []byte
}

// run is the statement being gathered: rows of one table, kind and shape.
type run struct {
	t     *table
	op    uint8
	cols  string
	where string
	rows  []runRow
	bytes int
	keys  map[uint64]struct{} // PostgreSQL upserts: a key (its hash) may appear once
}

type runRow struct {
	ci int // change index
	m  *colMap
}

// reset empties the plan for a new batch of changes.
func (p *plan) reset(changes []change.Change) {
	p.changes = changes
	p.stmts = p.stmts[:0]
	clear(p.my)
	p.my = p.my[:0]
	clear(p.pgVals)
	p.pgVals = p.pgVals[:0]
	p.pgFmts = p.pgFmts[:0]
	p.arena.reset()
	p.run.t = nil
	p.run.rows = p.run.rows[:0]
}

// applyError is a change the target refused.
type applyError struct {
	c   *change.Change
	key string
	err error
}

func (e *applyError) Error() string {
	where := e.c.Database + "." + e.c.Table
	s := fmt.Sprintf("sql: %s of %s at %s", e.c.Op, where, e.c.Pos)
	if e.key != "" {
		s += " (" + e.key + ")"
	}
	return s + ": " + e.err.Error()
}

func (e *applyError) Unwrap() error { return e.err }

// keyText describes a change's key for errors: "id=42, region=eu".
func keyText(c *change.Change) string {
	img := c.After
	if c.Op == change.OpDelete || c.After == nil {
		img = c.Before
	}
	var parts []string
	for i, col := range c.Columns {
		if col.Key && i < len(img) && img[i].Present() {
			parts = append(parts, col.Name+"="+string(change.AppendText(nil, img[i])))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "key " + strings.Join(parts, ", ")
}

// failChange wraps err as the failure of change ci.
func (p *plan) failChange(ci int, err error) error {
	c := &p.changes[ci]
	return &applyError{c: c, key: keyText(c), err: err}
}

// build plans every change of p.changes.
func (p *plan) build(ctx context.Context) error {
	for i := range p.changes {
		if err := p.add(ctx, i); err != nil {
			return err
		}
	}
	return p.flush()
}

// full reports whether an image holds a value for every column.
func full(img []change.Value, n int) bool {
	if len(img) < n {
		return false
	}
	for i := 0; i < n; i++ {
		if k := img[i].Kind; k == change.KindAbsent || k == change.KindUnchanged {
			return false
		}
	}
	return true
}

// present reports whether v is a value to write.
func present(v *change.Value) bool {
	return v.Kind != change.KindAbsent && v.Kind != change.KindUnchanged
}

// add plans change i.
func (p *plan) add(ctx context.Context, i int) error {
	c := &p.changes[i]
	switch c.Op {
	case change.OpInsert, change.OpRead, change.OpUpdate, change.OpDelete:
	case change.OpTruncate:
		if err := p.flush(); err != nil {
			return err
		}
		t, err := p.s.tableFor(ctx, c.Namespace, c)
		if err != nil {
			return p.failChange(i, err)
		}
		p.stmts = append(p.stmts, stmt{key: stmtKey{t: t, op: opTruncate}, first: i, last: i, expect: -1,
			a0: p.argLen(), a1: p.argLen()})
		return nil
	default:
		return nil // begin, commit, heartbeat; DDL is handled by the sink
	}
	t, err := p.s.tableFor(ctx, c.Namespace, c)
	if err != nil {
		return p.failChange(i, err)
	}
	m, err := p.s.colMapFor(ctx, t, c)
	if err != nil {
		return p.failChange(i, err)
	}
	n := len(c.Columns)
	keyed := len(m.key) > 0
	if !keyed && p.s.cfg.Keyless == KeylessRefuse {
		return p.failChange(i, fmt.Errorf("table has no primary key and keyless=refuse"))
	}
	switch c.Op {
	case change.OpInsert, change.OpRead: // a snapshot's row may be there already: an upsert
		if len(c.After) < n {
			return p.failChange(i, fmt.Errorf("insert without an after image"))
		}
		op := opInsert
		if keyed && t.pk {
			op = opUpsert
		} else if keyed {
			p.s.note(t, "target table has no primary key: inserts are plain INSERTs, updates and deletes go by the source's key")
		}
		return p.gather(t, op, m, i, c.After, nil)
	case change.OpUpdate:
		if len(c.After) < n {
			return p.failChange(i, fmt.Errorf("update without an after image"))
		}
		if !keyed {
			if !full(c.Before, n) {
				return p.failChange(i, fmt.Errorf("table has no primary key and the source sent no full before image to find the row by (MySQL: binlog_row_image=FULL; PostgreSQL: ALTER TABLE … REPLICA IDENTITY FULL)"))
			}
			return p.single1(t, opMatchUpdate, m, i, c.After, c.Before, false)
		}
		keyChanged := false
		if c.Before != nil {
			for _, k := range m.key {
				if k < len(c.Before) && present(&c.Before[k]) && !change.Equal(c.Before[k], c.After[k]) {
					keyChanged = true
				}
			}
		}
		if !keyChanged && t.pk && full(c.After, n) {
			return p.gather(t, opUpsert, m, i, c.After, nil)
		}
		where := c.After
		if c.Before != nil && keyPresent(c.Before, m) {
			where = c.Before
		}
		if !keyPresent(where, m) {
			return p.failChange(i, fmt.Errorf("update without the key's values"))
		}
		return p.single1(t, opUpdate, m, i, c.After, where, !keyChanged)
	case change.OpDelete:
		if !keyed {
			if !full(c.Before, n) {
				return p.failChange(i, fmt.Errorf("table has no primary key and the source sent no full before image to find the row by (MySQL: binlog_row_image=FULL; PostgreSQL: ALTER TABLE … REPLICA IDENTITY FULL)"))
			}
			return p.single1(t, opMatchDelete, m, i, nil, c.Before, false)
		}
		if !keyPresent(c.Before, m) {
			return p.failChange(i, fmt.Errorf("delete without the key's values"))
		}
		return p.gather(t, opDelete, m, i, nil, c.Before)
	}
	return nil
}

// keyPresent reports whether img holds every key column.
func keyPresent(img []change.Value, m *colMap) bool {
	for _, k := range m.key {
		if k >= len(img) || !present(&img[k]) || img[k].Kind == change.KindNull {
			return false
		}
	}
	return len(m.key) > 0
}

// gather adds change i to the run of multi-row statements, starting a new
// run when the table, kind or shape differs.
func (p *plan) gather(t *table, op uint8, m *colMap, i int, set, where []change.Value) error {
	p.shape = p.shape[:0]
	var whereList string
	bytes := 0
	if set != nil {
		for j, si := range m.src {
			if si >= 0 && present(&set[si]) {
				p.shape = colList(p.shape, j)
				bytes += 16 + len(set[si].B)
			}
		}
		if op == opUpsert {
			for _, k := range t.meta.Key {
				if m.src[k] < 0 || !present(&set[m.src[k]]) {
					// No primary key value to match on: update by the
					// source's key instead.
					if !keyPresent(set, m) {
						return p.failChange(i, fmt.Errorf("target primary key column %s is not in the change", t.meta.Columns[k].Name))
					}
					return p.single1(t, opUpdate, m, i, set, set, true)
				}
			}
		}
	} else {
		whereList = m.keyTgt
		for _, k := range m.key {
			bytes += 16 + len(where[k].B)
		}
	}
	r := &p.run
	same := r.t == t && r.op == op && r.where == whereList && string(p.shape) == r.cols && !p.single
	var keyHash uint64
	if p.s.eng == sqldb.Postgres && op == opUpsert {
		// ON CONFLICT DO UPDATE cannot touch a row twice in one
		// statement. Keys are told apart by a hash: two keys of one
		// hash only cut the run in two, which is harmless.
		p.keyText = p.keyText[:0]
		for _, k := range t.meta.Key {
			p.keyText = change.AppendText(p.keyText, set[m.src[k]])
			p.keyText = append(p.keyText, 0, byte(set[m.src[k]].Kind))
		}
		keyHash = maphash.Bytes(keySeed, p.keyText)
		if _, dup := r.keys[keyHash]; dup && same {
			same = false
		}
	}
	perRow := max(len(p.shape), len(whereList)) / 2
	if !same || len(r.rows) >= p.s.cfg.BatchRows || r.bytes+bytes > maxStatementBytes || (len(r.rows)+1)*perRow > maxParams {
		if err := p.flush(); err != nil {
			return err
		}
		r.t, r.op, r.cols, r.where = t, op, string(p.shape), whereList
		if r.keys == nil {
			r.keys = map[uint64]struct{}{}
		}
		clear(r.keys)
	}
	if p.s.eng == sqldb.Postgres && op == opUpsert {
		r.keys[keyHash] = struct{}{}
	}
	r.rows = append(r.rows, runRow{ci: i, m: m})
	r.bytes += bytes
	return nil
}

// keySeed seeds the hashes of keys in PostgreSQL upsert runs.
var keySeed = maphash.MakeSeed()

// maxStatementBytes bounds the values of one multi-row statement, well
// under MySQL's default max_allowed_packet (16 MiB).
const maxStatementBytes = 4 << 20

// maxParams bounds the parameters of one statement (both servers allow
// 65535).
const maxParams = 32000

// argLen is the number of arguments planned so far.
func (p *plan) argLen() int {
	if p.s.eng == sqldb.Postgres {
		return len(p.pgVals)
	}
	return len(p.my)
}

// arg renders value v for target column j of t.
func (p *plan) arg(t *table, j int, v *change.Value) error {
	ty := &t.meta.Columns[j].Type
	if p.s.eng == sqldb.Postgres {
		b, bin, err := pgParam(&p.arena, v, ty)
		if err != nil {
			return fmt.Errorf("column %s: %w", t.meta.Columns[j].Name, err)
		}
		f := int16(0)
		if bin {
			f = 1
		}
		p.pgVals = append(p.pgVals, b)
		p.pgFmts = append(p.pgFmts, f)
		return nil
	}
	a, err := mysqlArg(&p.arena, v, ty)
	if err != nil {
		return fmt.Errorf("column %s: %w", t.meta.Columns[j].Name, err)
	}
	p.my = append(p.my, a)
	return nil
}

// single1 plans a one-row statement: SET the present values of set
// (without the key columns when keepKey), WHERE the key (opUpdate) or
// the full image (opMatch*) of where.
func (p *plan) single1(t *table, op uint8, m *colMap, i int, set, where []change.Value, keepKey bool) error {
	if err := p.flush(); err != nil {
		return err
	}
	var cl, wl []byte
	var setIdx, whereIdx []int
	if set != nil {
		for j, si := range m.src {
			if si < 0 || !present(&set[si]) || keepKey && isKey(t.meta, j) && isSourceKey(m, si) {
				continue
			}
			cl = colList(cl, j)
			setIdx = append(setIdx, si)
		}
		if len(setIdx) == 0 {
			return nil // nothing to write: only the key was sent, unchanged
		}
	}
	switch op {
	case opUpdate:
		wl = []byte(m.keyTgt)
		whereIdx = m.key
	default: // match on every column of the before image the target has
		for j, si := range m.src {
			if si >= 0 {
				wl = colList(wl, j)
				whereIdx = append(whereIdx, si)
			}
		}
	}
	a0 := p.argLen()
	for n, si := range setIdx {
		if err := p.arg(t, cols(string(cl))[n], &set[si]); err != nil {
			return p.failChange(i, err)
		}
	}
	wc := cols(string(wl))
	for n, si := range whereIdx {
		if err := p.arg(t, wc[n], &where[si]); err != nil {
			return p.failChange(i, err)
		}
	}
	p.stmts = append(p.stmts, stmt{key: stmtKey{t: t, op: op, cols: string(cl), where: string(wl), rows: 1},
		a0: a0, a1: p.argLen(), first: i, last: i, expect: 1})
	return nil
}

// isSourceKey reports whether source column si is a key column of the change.
func isSourceKey(m *colMap, si int) bool {
	for _, k := range m.key {
		if k == si {
			return true
		}
	}
	return false
}

// flush turns the gathered run into statements of 1, 2, 4, … rows (so
// that few statement texts cover every run length) and empties it.
func (p *plan) flush() error {
	r := &p.run
	if r.t == nil || len(r.rows) == 0 {
		r.t = nil
		r.rows = r.rows[:0]
		r.bytes = 0
		return nil
	}
	cs := cols(r.cols)
	ws := cols(r.where)
	rows := r.rows
	for len(rows) > 0 {
		n := len(rows)
		if n != p.s.cfg.BatchRows {
			n = 1 << (bitsLen(n) - 1) // largest power of two ≤ n
		}
		a0 := p.argLen()
		for _, rr := range rows[:n] {
			c := &p.changes[rr.ci]
			var err error
			if r.op == opDelete {
				for x, k := range rr.m.key {
					if err = p.arg(r.t, ws[x], &c.Before[k]); err != nil {
						break
					}
				}
			} else {
				for _, j := range cs {
					if err = p.arg(r.t, j, &c.After[rr.m.src[j]]); err != nil {
						break
					}
				}
			}
			if err != nil {
				return p.failChange(rr.ci, err)
			}
		}
		p.stmts = append(p.stmts, stmt{key: stmtKey{t: r.t, op: r.op, cols: r.cols, where: r.where, rows: n},
			a0: a0, a1: p.argLen(), first: rows[0].ci, last: rows[n-1].ci, expect: -1})
		rows = rows[n:]
	}
	r.t = nil
	r.rows = r.rows[:0]
	r.bytes = 0
	return nil
}

// bitsLen is the number of bits needed for n > 0.
func bitsLen(n int) int {
	b := 0
	for ; n > 0; n >>= 1 {
		b++
	}
	return b
}
