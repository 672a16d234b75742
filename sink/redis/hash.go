package redis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/sluice-cdc/sluice/change"
)

// Boxed constants of the hash mode commands.
var (
	argDEL     any = "DEL"
	argHSET    any = "HSET"
	argHDEL    any = "HDEL"
	argSET     any = "SET"
	argCOPY    any = "COPY"
	argREPLACE any = "REPLACE"
)

// hashWriter writes hash mode: a key per row, rewritten by every change
// of the row.
type hashWriter struct {
	cfg  *Config
	keys map[change.Namespace]*keyTemplate
	tmp  []byte
	// JSON rows (Value json).
	jenc    change.Encoder
	line    []byte
	latest  map[string][]byte // JSON rows written by the running batch (nil: deleted)
	fetched map[string][]byte // JSON rows read for partial updates
	// anon are the names of unnamed columns, "@1", "@2", …
	anon []string
	// checked are the keys the running call checks.
	checked map[string]bool
}

func newHashWriter(cfg *Config) *hashWriter {
	return &hashWriter{cfg: cfg, keys: map[change.Namespace]*keyTemplate{},
		latest: map[string][]byte{}, fetched: map[string][]byte{}, checked: map[string]bool{}}
}

// keyOf returns the key template of c's table.
func (w *hashWriter) keyOf(c *change.Change) *keyTemplate {
	if k, ok := w.keys[c.Namespace]; ok {
		return k
	}
	k := splitKey(w.cfg.Key, w.cfg.Prefix, c.Namespace)
	w.keys[c.Namespace] = &k
	return &k
}

// complete reports whether img holds every column (none absent or
// unchanged).
func complete(img []change.Value, n int) bool {
	if len(img) < n {
		return false
	}
	for i := range img {
		if !present(img[i]) {
			return false
		}
	}
	return true
}

// hasKey reports whether the columns have a key.
func hasKey(cols []change.Column) bool {
	for i := range cols {
		if cols[i].Key {
			return true
		}
	}
	return false
}

// build adds the commands of batch[from:] up to the first truncate.
func (w *hashWriter) build(ctx context.Context, s *Sink, batch []change.Change, from int) (int, error) {
	clear(w.latest)
	clear(w.fetched)
	clear(w.checked)
	end := from
	for end < len(batch) && batch[end].Op != change.OpTruncate {
		end++
	}
	if w.cfg.Value == ValueJSON {
		if err := w.fetchPartial(ctx, s, batch[from:end]); err != nil {
			return 0, err
		}
	}
	for i := from; i < end; i++ {
		if err := w.add(s, &batch[i]); err != nil {
			return 0, err
		}
	}
	return end, nil
}

// add adds the commands of one change.
func (w *hashWriter) add(s *Sink, c *change.Change) error {
	switch c.Op {
	case change.OpInsert, change.OpUpdate, change.OpDelete, change.OpRead:
	case change.OpStatement:
		return fmt.Errorf("redis: %s.%s at %s: hash mode cannot apply a statement-logged change (binlog_format=STATEMENT or MIXED logs no rows): log rows (binlog_format=ROW) or leave the table out (--exclude)", c.Database, c.Table, c.Pos)
	default:
		return nil // DDL, begin, commit, heartbeat: no row
	}
	if !hasKey(c.Columns) {
		return fmt.Errorf("redis: %s %s.%s at %s: the table has no primary key, so hash mode cannot name its rows: give it one, or leave the table out (--exclude)", c.Op, c.Database, c.Table, c.Pos)
	}
	kt := w.keyOf(c)
	a := &s.cmd
	var oldKey, newKey []byte
	var ok bool
	if c.Before != nil {
		oldKey, w.tmp, ok = kt.appendKey(nil, c.Columns, c.Before, nil, w.tmp)
		if !ok {
			return fmt.Errorf("redis: %s %s.%s at %s: the before image lacks a key column", c.Op, c.Database, c.Table, c.Pos)
		}
	}
	if c.After != nil {
		newKey, w.tmp, ok = kt.appendKey(nil, c.Columns, c.After, c.Before, w.tmp)
		if !ok {
			return fmt.Errorf("redis: %s %s.%s at %s: the after image lacks a key column", c.Op, c.Database, c.Table, c.Pos)
		}
	}
	if c.Op == change.OpDelete {
		w.del(a, oldKey)
		return nil
	}
	// A snapshot's row (OpRead) is written like an insert: whole, over
	// whatever the key held.
	insert := c.Op == change.OpInsert || c.Op == change.OpRead
	full := complete(c.After, len(c.Columns))
	moved := oldKey != nil && !bytes.Equal(oldKey, newKey)
	if w.cfg.Value == ValueJSON {
		row, err := w.rowJSON(c, full, oldKey, newKey)
		if err != nil {
			return err
		}
		if moved {
			w.del(a, oldKey)
		}
		a.open()
		a.lit(argSET)
		a.bytes(newKey)
		a.bytes(row)
		a.close()
		w.latest[string(newKey)] = row
		return nil
	}
	switch {
	case full || insert:
		if moved {
			w.del(a, oldKey)
		}
		w.del(a, newKey)
	case moved:
		// A partial image under a new key: the old row's other columns
		// move along.
		w.checkHash(s, oldKey)
		a.open()
		a.lit(argCOPY)
		a.bytes(oldKey)
		a.bytes(newKey)
		a.lit(argREPLACE)
		a.close()
		w.del(a, oldKey)
		w.checkHash(s, newKey)
	default:
		w.checkHash(s, newKey)
	}
	w.setFields(a, c, newKey)
	return nil
}

// del adds DEL key.
func (w *hashWriter) del(a *argv, key []byte) {
	a.open()
	a.lit(argDEL)
	a.bytes(key)
	a.close()
	if w.cfg.Value == ValueJSON {
		w.latest[string(key)] = nil
	}
}

// checkHash makes the call check that key holds a hash (or nothing).
func (w *hashWriter) checkHash(s *Sink, key []byte) {
	if !w.checked[string(key)] {
		w.checked[string(key)] = true
		s.check(string(key), "hash")
	}
}

// setFields adds HSET of the after image's values (NULL ones left out)
// and, on updates, HDEL of its NULL columns; none of the two when it would
// name no field (a command without fields is an error).
func (w *hashWriter) setFields(a *argv, c *change.Change, key []byte) {
	values, nulls := 0, 0
	for i := range c.Columns {
		switch v := valueAt(c.After, i); {
		case v.Kind == change.KindNull:
			nulls++
		case present(v):
			values++
		}
	}
	if values > 0 {
		a.open()
		a.lit(argHSET)
		a.bytes(key)
		for i := range c.Columns {
			v := valueAt(c.After, i)
			if v.Kind == change.KindNull || !present(v) {
				continue
			}
			a.str(w.name(c, i))
			off := len(a.buf)
			a.buf = change.AppendText(a.buf, v)
			a.list = append(a.list, arg{off: off, end: len(a.buf)})
		}
		a.close()
	}
	if nulls == 0 || c.Op == change.OpInsert || c.Op == change.OpRead {
		return
	}
	a.open()
	a.lit(argHDEL)
	a.bytes(key)
	for i := range c.Columns {
		if valueAt(c.After, i).Kind == change.KindNull {
			a.str(w.name(c, i))
		}
	}
	a.close()
}

// name returns the field name of column i: its name, or "@<i+1>" when it
// has none (Sluice JSON's rule).
func (w *hashWriter) name(c *change.Change, i int) string {
	if n := c.Columns[i].Name; n != "" {
		return n
	}
	for len(w.anon) <= i {
		w.anon = append(w.anon, "@"+strconv.Itoa(len(w.anon)+1))
	}
	return w.anon[i]
}

// alone applies a truncate: every key of the table goes (SCAN and UNLINK,
// not atomic; a crash in the middle repeats the truncate on restart,
// since the position before it is the one stored).
func (w *hashWriter) alone(ctx context.Context, s *Sink, c *change.Change) error {
	kt := w.keyOf(c)
	pattern := globEscape(kt.head) + "*" + globEscape(kt.tail)
	var cursor uint64
	for {
		var keys []string
		var err error
		keys, cursor, err = s.cl.Scan(ctx, cursor, pattern, 1000).Result()
		if err != nil {
			return fmt.Errorf("redis: truncate of %s.%s at %s: scan %s: %w", c.Database, c.Table, c.Pos, pattern, err)
		}
		var mine []string
		for _, k := range keys {
			if keyOfTable(k, kt) {
				mine = append(mine, k)
			}
		}
		if len(mine) > 0 {
			if err := s.cl.Unlink(ctx, mine...).Err(); err != nil {
				return fmt.Errorf("redis: truncate of %s.%s at %s: unlink: %w", c.Database, c.Table, c.Pos, err)
			}
		}
		if cursor == 0 {
			return nil
		}
	}
}

// keyOfTable reports whether key has kt's head and tail with a key
// between them.
func keyOfTable(key string, kt *keyTemplate) bool {
	return len(key) > len(kt.head)+len(kt.tail) && key[:len(kt.head)] == kt.head && key[len(key)-len(kt.tail):] == kt.tail
}

// fetchPartial reads the JSON rows that updates with partial images of
// batch need (value json), in one round trip.
func (w *hashWriter) fetchPartial(ctx context.Context, s *Sink, batch []change.Change) error {
	var keys []string
	for i := range batch {
		c := &batch[i]
		if c.Op != change.OpUpdate || complete(c.After, len(c.Columns)) || !hasKey(c.Columns) {
			continue
		}
		kt := w.keyOf(c)
		var key []byte
		var ok bool
		key, w.tmp, ok = kt.appendKey(nil, c.Columns, c.Before, nil, w.tmp)
		if !ok {
			key, w.tmp, ok = kt.appendKey(nil, c.Columns, c.After, nil, w.tmp)
		}
		if ok {
			keys = append(keys, string(key))
		}
	}
	if len(keys) == 0 {
		return nil
	}
	vals, err := s.cl.MGet(ctx, keys...).Result()
	if err != nil {
		return fmt.Errorf("redis: read rows for partial updates: %w", err)
	}
	for i, v := range vals {
		if str, ok := v.(string); ok {
			w.fetched[keys[i]] = []byte(str)
		}
	}
	return nil
}

// rowJSON returns the JSON row of c's after image: the "after" member of
// its Sluice JSON line, merged with the stored row when the image lacks
// columns.
func (w *hashWriter) rowJSON(c *change.Change, full bool, oldKey, newKey []byte) ([]byte, error) {
	img := change.Change{Op: change.OpInsert, Columns: c.Columns, After: c.After}
	w.line = w.jenc.Append(w.line[:0], &img)
	var v struct {
		After json.RawMessage `json:"after"`
	}
	if err := json.Unmarshal(w.line, &v); err != nil {
		return nil, fmt.Errorf("redis: %s %s.%s at %s: row JSON: %w", c.Op, c.Database, c.Table, c.Pos, err)
	}
	if full || c.Op == change.OpInsert || c.Op == change.OpRead {
		return v.After, nil
	}
	from := newKey
	if oldKey != nil {
		from = oldKey
	}
	old, ok := w.latest[string(from)]
	if !ok {
		old = w.fetched[string(from)]
	}
	if old == nil {
		w.cfg.Logger.Warn("partial update of a row the mirror does not hold: only the columns of the change are written",
			"table", c.Database+"."+c.Table, "key", string(from), "position", c.Pos.String())
		return v.After, nil
	}
	merged, err := mergeRows(old, v.After)
	if err != nil {
		return nil, fmt.Errorf("redis: %s %s.%s at %s: merge with the stored row %s: %w", c.Op, c.Database, c.Table, c.Pos, from, err)
	}
	return merged, nil
}

// member is one member of a JSON object.
type member struct {
	name string
	raw  json.RawMessage
}

// members reads a JSON object's members in order.
func members(obj []byte) ([]member, error) {
	d := json.NewDecoder(bytes.NewReader(obj))
	d.UseNumber()
	t, err := d.Token()
	if err != nil {
		return nil, err
	}
	if t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var out []member
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return nil, err
		}
		name, _ := t.(string)
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			return nil, err
		}
		out = append(out, member{name, raw})
	}
	return out, nil
}

// unchangedJSON is how Sluice JSON writes an unchanged (TOAST) value.
var unchangedJSON = []byte(`{"$kind":"unchanged"}`)

// mergeRows returns the row old with the members of partial that hold a
// value (not {"$kind":"unchanged"}) replacing or added to its own.
func mergeRows(old, partial []byte) ([]byte, error) {
	om, err := members(old)
	if err != nil {
		return nil, err
	}
	pm, err := members(partial)
	if err != nil {
		return nil, err
	}
	for _, p := range pm {
		if bytes.Equal(p.raw, unchangedJSON) {
			continue
		}
		found := false
		for i := range om {
			if om[i].name == p.name {
				om[i].raw, found = p.raw, true
				break
			}
		}
		if !found {
			om = append(om, p)
		}
	}
	out := []byte{'{'}
	for i, m := range om {
		if i > 0 {
			out = append(out, ',')
		}
		name, _ := json.Marshal(m.name)
		out = append(out, name...)
		out = append(out, ':')
		out = append(out, m.raw...)
	}
	return append(out, '}'), nil
}
