package pipeline

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"regexp"
	"strings"

	"github.com/sluice-cdc/sluice/change"
)

// TransformSpec is the text form of a Transform: what the pipeline changes
// in the changes it delivers, after the Filter and before the sink. Column
// lists use the Filter's `table-regex:col/col,…` syntax.
type TransformSpec struct {
	// Mask replaces the values of the named columns with MaskWith (NULL
	// stays NULL, so the column's nullability is not hidden either way):
	// `shop\.users:email/phone`. While Mask or Hash names any column, the
	// SQL text of statement changes (statement-based DML, which carries
	// values in its text) is withheld.
	Mask string
	// MaskWith is the text masked values get. Default "***".
	MaskWith string
	// Hash replaces the values of the named columns with the hex HMAC-SHA256
	// of their text form under HashKey, so equal values stay equal (joins
	// and keys keep working) without showing them: `crm\..*:email`.
	Hash string
	// HashKey is the HMAC key; required with Hash. Keep it secret: anyone
	// holding it can test guesses against the hashes.
	HashKey []byte
	// Rename renames tables and databases on the way out: comma-separated
	// `regex=replacement` items applied, first match only, to the whole
	// "database.table" name with Go's regexp replacement syntax ($1, ${name}):
	// `shop\.(.*)=archive.$1` puts every shop table under archive. The result
	// must still be "database.table". DDL statement text is not rewritten.
	Rename string
}

// withheldStatement replaces the SQL text of statement changes (op
// "statement": DML a statement-based binlog logged as text) while mask or
// hash rules are on: the text would show the values they hide.
const withheldStatement = "/* statement text withheld: --mask/--hash rules are on */"

// Transform changes delivered changes as a TransformSpec says. It is
// immutable once built and safe for concurrent use.
type Transform struct {
	mask, hash []columnRule
	maskWith   []byte
	hashKey    []byte
	renames    []rename
}

type rename struct {
	from *regexp.Regexp
	to   string
}

// NewTransform compiles spec. An empty spec gives nil: no transform.
func NewTransform(spec TransformSpec) (*Transform, error) {
	if spec.Mask == "" && spec.Hash == "" && spec.Rename == "" {
		return nil, nil
	}
	t := &Transform{maskWith: []byte(spec.MaskWith), hashKey: spec.HashKey}
	if spec.MaskWith == "" {
		t.maskWith = []byte("***")
	}
	var err error
	if t.mask, err = parseColumnRules(spec.Mask); err != nil {
		return nil, fmt.Errorf("mask: %w", err)
	}
	if t.hash, err = parseColumnRules(spec.Hash); err != nil {
		return nil, fmt.Errorf("hash: %w", err)
	}
	if len(t.hash) > 0 && len(spec.HashKey) == 0 {
		return nil, errors.New("hash: a key is required (an HMAC without a secret key is a plain hash anyone can reverse for guessable values)")
	}
	for _, item := range splitList(spec.Rename, ',') {
		i := lastUnescaped(item, '=')
		if i <= 0 || i == len(item)-1 {
			return nil, fmt.Errorf("rename: item %q: want regex=replacement", item)
		}
		re, err := regexp.Compile(`^(?:` + item[:i] + `)$`)
		if err != nil {
			return nil, fmt.Errorf("rename: item %q: %w", item, err)
		}
		t.renames = append(t.renames, rename{from: re, to: item[i+1:]})
	}
	return t, nil
}

// lastUnescaped returns the index of the last c in s not preceded by a
// backslash, or -1.
func lastUnescaped(s string, c byte) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == c && (i == 0 || s[i-1] != '\\') {
			return i
		}
	}
	return -1
}

func (t *Transform) hasColumnRules() bool { return t != nil && (len(t.mask) > 0 || len(t.hash) > 0) }
func (t *Transform) hasRenames() bool     { return t != nil && len(t.renames) > 0 }

// Rename returns the namespace ns is delivered under.
func (t *Transform) Rename(ns change.Namespace) (change.Namespace, error) {
	if t == nil || len(t.renames) == 0 || ns.Table == "" {
		return ns, nil
	}
	name := ns.Database + "." + ns.Table
	for _, r := range t.renames {
		if !r.from.MatchString(name) {
			continue
		}
		out := r.from.ReplaceAllString(name, r.to)
		db, table, ok := strings.Cut(out, ".")
		if !ok || db == "" || table == "" {
			return ns, fmt.Errorf("rename %s: %q is not database.table", name, out)
		}
		return change.Namespace{Database: db, Table: table}, nil
	}
	return ns, nil
}

// columnAction is what a Transform does to one column.
type columnAction uint8

const (
	keepColumn columnAction = iota
	maskColumn
	hashColumn
)

// Actions returns, for the columns of a table, what to do with each, or
// nil when the transform leaves them all alone. Hash wins over Mask.
func (t *Transform) Actions(ns change.Namespace, cols []change.Column) []columnAction {
	if t == nil || (len(t.mask) == 0 && len(t.hash) == 0) {
		return nil
	}
	var out []columnAction
	mark := func(rules []columnRule, a columnAction) {
		for _, r := range rules {
			if !r.table.MatchString(ns.Database + "." + ns.Table) {
				continue
			}
			for i := range cols {
				if columnNamed(r.cols, cols[i].Name, i) {
					if out == nil {
						out = make([]columnAction, len(cols))
					}
					out[i] = max(out[i], a)
				}
			}
		}
	}
	mark(t.mask, maskColumn)
	mark(t.hash, hashColumn)
	return out
}

// columnNamed reports whether a column rule names the column (names
// compare case-insensitively; an unnamed column is "@N", 1-based).
func columnNamed(names []string, name string, i int) bool {
	if name == "" {
		name = fmt.Sprintf("@%d", i+1)
	}
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// masker applies column actions to row images, writing new values into an
// arena. It is owned by one goroutine.
type masker struct {
	t    *Transform
	mac  hash.Hash
	text []byte
	sum  []byte
}

// apply rewrites the values of img whose action is mask or hash.
func (m *masker) apply(a *arena, img []change.Value, actions []columnAction) {
	for i := range img {
		if i >= len(actions) || actions[i] == keepColumn {
			continue
		}
		v := &img[i]
		switch v.Kind {
		case change.KindNull, change.KindAbsent, change.KindUnchanged:
			continue
		}
		if actions[i] == maskColumn {
			img[i] = change.String(a.copyBytes(m.t.maskWith))
			continue
		}
		if m.mac == nil {
			m.mac = hmac.New(sha256.New, m.t.hashKey)
		}
		m.text = change.AppendText(m.text[:0], *v)
		m.mac.Reset()
		m.mac.Write(m.text)
		m.sum = m.mac.Sum(m.sum[:0])
		out := a.allocBytes(hex.EncodedLen(len(m.sum)))
		hex.Encode(out, m.sum)
		img[i] = change.String(out)
	}
}
