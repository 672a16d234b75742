package redis

import (
	"strings"

	"github.com/sluice-cdc/sluice/change"
)

// appendPart appends a name part ({db}, {table}, a key column's text) to
// dst with '%' and ':' written as %25 and %3A, so that the parts of a key
// name are never ambiguous: the table "a:b" of database "x" and the table
// "b" of database "x:a" get different names.
func appendPart(dst, part []byte) []byte {
	for _, c := range part {
		switch c {
		case '%':
			dst = append(dst, "%25"...)
		case ':':
			dst = append(dst, "%3A"...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// expand returns the template with {prefix}, {db} and {table} replaced
// (the database and table escaped by appendPart).
func expand(tmpl, prefix string, ns change.Namespace) string {
	db := string(appendPart(nil, []byte(ns.Database)))
	table := string(appendPart(nil, []byte(ns.Table)))
	return strings.NewReplacer("{prefix}", prefix, "{db}", db, "{table}", table).Replace(tmpl)
}

// keyTemplate is the row key template of hash mode split around {key}: a
// row's key is head + the key columns' texts + tail.
type keyTemplate struct{ head, tail string }

// splitKey expands a key template for one table.
func splitKey(tmpl, prefix string, ns change.Namespace) keyTemplate {
	full := expand(tmpl, prefix, ns)
	head, tail, _ := strings.Cut(full, "{key}")
	return keyTemplate{head, tail}
}

// appendKey appends the row key of the image img (key columns cols) to dst:
// the key columns' texts (change.AppendText, escaped by appendPart) joined
// by ':'. It returns false when a key column has no value in img.
func (k keyTemplate) appendKey(dst []byte, cols []change.Column, img, fallback []change.Value, tmp []byte) ([]byte, []byte, bool) {
	dst = append(dst, k.head...)
	n := 0
	for i := range cols {
		if !cols[i].Key {
			continue
		}
		v := valueAt(img, i)
		if !present(v) {
			v = valueAt(fallback, i)
			if !present(v) {
				return dst, tmp, false
			}
		}
		if n > 0 {
			dst = append(dst, ':')
		}
		tmp = change.AppendText(tmp[:0], v)
		dst = appendPart(dst, tmp)
		n++
	}
	dst = append(dst, k.tail...)
	return dst, tmp, n > 0
}

// valueAt returns img[i], or an absent value past its end.
func valueAt(img []change.Value, i int) change.Value {
	if i < len(img) {
		return img[i]
	}
	return change.Value{}
}

// present reports whether v is a value of the image (not absent, not
// unchanged).
func present(v change.Value) bool {
	return v.Kind != change.KindAbsent && v.Kind != change.KindUnchanged
}

// globEscape escapes the characters SCAN MATCH patterns give a meaning.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
