package nats

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-cdc/sluice/change"
)

// tokenChar reports whether a subject token may hold c as it is: anything
// printable but the separator '.', the wildcards '*' and '>', and spaces.
func tokenChar(c byte) bool {
	return c > ' ' && c != 0x7f && c != '.' && c != '*' && c != '>'
}

// validToken reports whether s is a subject token without wildcards.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenChar(s[i]) {
			return false
		}
	}
	return true
}

// token returns s as one subject token: the characters a token may not
// hold become '_', and an empty s is "_".
func token(s string) string {
	if validToken(s) {
		return s
	}
	if s == "" {
		return "_"
	}
	b := []byte(s)
	for i, c := range b {
		if !tokenChar(c) {
			b[i] = '_'
		}
	}
	return string(b)
}

// expandSubject replaces {prefix}, {db} and {table} in tmpl, each a token
// of its own.
func expandSubject(tmpl, prefix, db, table string) string {
	return strings.NewReplacer("{prefix}", prefix, "{db}", token(db), "{table}", token(table)).Replace(tmpl)
}

// checkSubject reports whether s is a subject a message may be published
// to: tokens separated by '.', none empty, no wildcards, no spaces.
func checkSubject(s string) error {
	if s == "" {
		return errors.New("empty subject")
	}
	for _, t := range strings.Split(s, ".") {
		if !validToken(t) {
			return fmt.Errorf("subject %q: its tokens must be non-empty, without spaces or the wildcards '*' and '>'", s)
		}
	}
	return nil
}

// subjectMatch reports whether the subject s matches the filter f, which
// may hold the wildcards '*' (one token) and '>' (one or more tokens, at
// the end).
func subjectMatch(f, s string) bool {
	ft, st := strings.Split(f, "."), strings.Split(s, ".")
	for i, t := range ft {
		if t == ">" {
			return len(st) > i
		}
		if i >= len(st) || t != "*" && t != st[i] {
			return false
		}
	}
	return len(ft) == len(st)
}

// streamSubjects are the subjects of a stream the sink creates: the
// template with its {db} and {table} tokens as wildcards, {prefix} (DDL
// without a table) and {prefix}.transaction (begin and commit events),
// the last two unless the first covers them.
func streamSubjects(tmpl, prefix string) []string {
	var wild []string
	for _, t := range strings.Split(strings.ReplaceAll(tmpl, "{prefix}", prefix), ".") {
		if strings.Contains(t, "{") {
			t = "*"
		}
		wild = append(wild, t)
	}
	out := []string{strings.Join(wild, ".")}
	for _, s := range []string{prefix, prefix + ".transaction"} {
		if !subjectMatch(out[0], s) {
			out = append(out, s)
		}
	}
	return out
}

// subjectOf returns the subject of c: begin and commit events go to
// {prefix}.transaction, a DDL without a table to {prefix}.
func subjectOf(cfg *Config, c *change.Change) string {
	switch {
	case c.Op == change.OpBegin || c.Op == change.OpCommit:
		return cfg.Prefix + ".transaction"
	case c.Table == "":
		return cfg.Prefix
	}
	return expandSubject(cfg.Subject, cfg.Prefix, c.Database, c.Table)
}

// msgID appends the Nats-Msg-Id of the n-th message (0-based) of the
// change at p: where p is in the log (its text without the GTID set or
// resume token, which do not tell changes apart and may be long), and
// "/n" for the messages after a change's first.
func msgID(dst []byte, p change.Position, n int) []byte {
	p.GTIDSet, p.Token = "", ""
	dst = p.Append(dst)
	if n > 0 {
		dst = append(dst, '/')
		dst = fmt.Appendf(dst, "%d", n)
	}
	return dst
}
