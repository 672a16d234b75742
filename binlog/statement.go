package binlog

import "strings"

// IsDML reports whether sql, the statement of a QUERY_EVENT or
// EXECUTE_LOAD_QUERY_EVENT, changes table rows: what a server with
// binlog_format=STATEMENT (or MIXED) logs as text instead of rows events.
// That is INSERT, REPLACE, UPDATE, DELETE, LOAD DATA and LOAD XML, a WITH
// clause followed by one of them, MariaDB's SET STATEMENT … FOR one of
// them, and SELECT, DO and CALL: a statement-based binlog holds these only
// when they call a stored function or procedure that changes data. Leading
// whitespace, comments and parentheses are skipped, and the body of an
// executable comment (/*!50100 … */, /*M!100100 … */) counts as statement
// text. DDL, account management, transaction control and everything else
// is not DML.
func IsDML(sql string) bool {
	return isDML(sqlLexer{s: sql}, 0)
}

// isDML classifies the statement at l; depth bounds the recursion through
// WITH and SET STATEMENT.
func isDML(l sqlLexer, depth int) bool {
	if depth > 4 {
		return false
	}
	for {
		l.space()
		if l.done() || l.peek() != '(' {
			break
		}
		l.pos++ // (SELECT …) UNION (SELECT …)
	}
	switch w := l.word(); {
	case equalFold(w, "INSERT"), equalFold(w, "REPLACE"), equalFold(w, "UPDATE"), equalFold(w, "DELETE"),
		equalFold(w, "SELECT"), equalFold(w, "DO"), equalFold(w, "CALL"):
		return true
	case equalFold(w, "LOAD"):
		l.space()
		next := l.word()
		return equalFold(next, "DATA") || equalFold(next, "XML")
	case equalFold(w, "WITH"):
		return l.skipWith() && isDML(l, depth+1)
	case equalFold(w, "SET"):
		l.space()
		if !equalFold(l.word(), "STATEMENT") || !l.skipTo("FOR") {
			return false
		}
		return isDML(l, depth+1)
	}
	return false
}

// sqlLexer walks SQL text far enough to find statement keywords: it knows
// whitespace, comments, quoted strings and identifiers, and parentheses.
type sqlLexer struct {
	s   string
	pos int
}

func (l *sqlLexer) done() bool { return l.pos >= len(l.s) }
func (l *sqlLexer) peek() byte { return l.s[l.pos] }

// space skips whitespace and comments. The markers of an executable
// comment (/*!, /*M!, their version digits and the closing */) are skipped
// as if they were whitespace, so that its body reads as statement text.
func (l *sqlLexer) space() {
	for !l.done() {
		switch c := l.s[l.pos]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			l.pos++
		case c == '#':
			l.lineComment()
		case c == '-' && l.pos+2 < len(l.s) && l.s[l.pos+1] == '-' && isSpace(l.s[l.pos+2]):
			l.lineComment()
		case c == '-' && l.pos+2 == len(l.s) && l.s[l.pos+1] == '-':
			l.pos = len(l.s)
		case c == '*' && l.pos+1 < len(l.s) && l.s[l.pos+1] == '/':
			l.pos += 2 // the end of an executable comment
		case c == '/' && l.pos+1 < len(l.s) && l.s[l.pos+1] == '*':
			rest := l.s[l.pos+2:]
			switch {
			case len(rest) > 0 && rest[0] == '!':
				l.pos += 3
				l.digits()
			case len(rest) > 1 && (rest[0] == 'M' || rest[0] == 'm') && rest[1] == '!':
				l.pos += 4
				l.digits()
			default:
				end := strings.Index(rest, "*/")
				if end < 0 {
					l.pos = len(l.s)
					return
				}
				l.pos += 2 + end + 2
			}
		default:
			return
		}
	}
}

func (l *sqlLexer) lineComment() {
	for !l.done() && l.s[l.pos] != '\n' {
		l.pos++
	}
}

func (l *sqlLexer) digits() {
	for !l.done() && l.s[l.pos] >= '0' && l.s[l.pos] <= '9' {
		l.pos++
	}
}

// word returns the identifier or keyword at the current position (letters,
// digits, _ and $), or "" when there is none.
func (l *sqlLexer) word() string {
	start := l.pos
	for !l.done() {
		c := l.s[l.pos]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c >= 0x80) {
			break
		}
		l.pos++
	}
	return l.s[start:l.pos]
}

// quoted skips a quoted string or identifier starting at the current
// position; a doubled quote stands for itself, and inside ' and " a
// backslash escapes the next byte.
func (l *sqlLexer) quoted() {
	q := l.s[l.pos]
	l.pos++
	for !l.done() {
		c := l.s[l.pos]
		l.pos++
		switch {
		case c == '\\' && q != '`':
			l.pos = min(l.pos+1, len(l.s))
		case c == q:
			if l.done() || l.s[l.pos] != q {
				return
			}
			l.pos++
		}
	}
}

// token skips one token: a word, a quoted string or identifier, a
// parenthesized group, or any other byte. It returns the word, or "".
func (l *sqlLexer) token() string {
	l.space()
	if l.done() {
		return ""
	}
	switch c := l.s[l.pos]; c {
	case '\'', '"', '`':
		l.quoted()
		return ""
	case '(':
		l.group()
		return ""
	}
	if w := l.word(); w != "" {
		return w
	}
	l.pos++
	return ""
}

// group skips a parenthesized group starting at the current position.
func (l *sqlLexer) group() {
	depth := 0
	for !l.done() {
		switch c := l.s[l.pos]; c {
		case '\'', '"', '`':
			l.quoted()
			continue
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				l.pos++
				return
			}
		case '#', '-', '/':
			before := l.pos
			l.space()
			if l.pos != before {
				continue
			}
		}
		l.pos++
	}
}

// skipWith skips the common table expressions after WITH: [RECURSIVE]
// name [(columns)] AS (query) [, …]. It reports whether they were well
// formed, leaving the lexer before the statement that follows.
func (l *sqlLexer) skipWith() bool {
	l.space()
	save := l.pos
	if !equalFold(l.word(), "RECURSIVE") {
		l.pos = save
	}
	for {
		l.space()
		if l.done() {
			return false
		}
		if c := l.peek(); c == '`' || c == '"' {
			l.quoted()
		} else if l.word() == "" {
			return false
		}
		l.space()
		if !l.done() && l.peek() == '(' {
			l.group()
			l.space()
		}
		if !equalFold(l.word(), "AS") {
			return false
		}
		l.space()
		if l.done() || l.peek() != '(' {
			return false
		}
		l.group()
		l.space()
		if l.done() || l.peek() != ',' {
			return true
		}
		l.pos++
	}
}

// skipTo skips tokens up to and including the keyword kw outside
// parentheses and quotes; it reports whether it found it.
func (l *sqlLexer) skipTo(kw string) bool {
	for !l.done() {
		if equalFold(l.token(), kw) {
			return true
		}
	}
	return false
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// equalFold reports whether the ASCII word w equals the upper-case keyword
// kw, ignoring case.
func equalFold(w, kw string) bool {
	if len(w) != len(kw) {
		return false
	}
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != kw[i] {
			return false
		}
	}
	return true
}
