package difftest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
)

// decodeMariaDBBinlog runs `mariadb-binlog --base64-output=decode-rows -vv`
// on files and parses its "### " pseudo-SQL into row changes of the tables
// in src (other tables are skipped).
func decodeMariaDBBinlog(ctx context.Context, src rowSource, files []string) ([]rowChange, error) {
	args := append([]string{"--base64-output=decode-rows", "-vv"}, files...)
	cmd := exec.CommandContext(ctx, "mariadb-binlog", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("mariadb-binlog: %w", err)
	}
	rows, perr := parseVerbose(src, out)
	_, _ = io.Copy(io.Discard, out)
	werr := cmd.Wait()
	if perr != nil {
		return nil, perr
	}
	if werr != nil {
		return nil, fmt.Errorf("mariadb-binlog: %w: %s", werr, stderr.String())
	}
	return rows, nil
}

// parseVerbose parses mariadb-binlog -vv output.
func parseVerbose(src rowSource, r io.Reader) ([]rowChange, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var (
		out     []rowChange
		cur     *rowChange
		img     *[]string
		at      string
		lineNum int
	)
	flush := func() {
		if cur != nil {
			out = append(out, *cur)
			cur = nil
			img = nil
		}
	}
	for sc.Scan() {
		lineNum++
		line := sc.Bytes()
		if bytes.HasPrefix(line, []byte("# at ")) {
			at = string(line[5:])
			continue
		}
		if !bytes.HasPrefix(line, []byte("### ")) {
			continue
		}
		body := string(line[4:])
		switch {
		case strings.HasPrefix(body, "INSERT INTO "), strings.HasPrefix(body, "UPDATE "), strings.HasPrefix(body, "DELETE FROM "):
			flush()
			op, name := "insert", strings.TrimPrefix(body, "INSERT INTO ")
			if strings.HasPrefix(body, "UPDATE ") {
				op, name = "update", strings.TrimPrefix(body, "UPDATE ")
			} else if strings.HasPrefix(body, "DELETE FROM ") {
				op, name = "delete", strings.TrimPrefix(body, "DELETE FROM ")
			}
			tbl := strings.ReplaceAll(name, "`", "")
			if _, ok := src.tables[tbl]; !ok {
				continue
			}
			cur = &rowChange{Op: op, Table: tbl, Where: "mariadb-binlog event at " + at}
		case body == "SET" && cur != nil:
			cur.After = absentRow(src.ncols(cur.Table))
			img = &cur.After
		case body == "WHERE" && cur != nil:
			cur.Before = absentRow(src.ncols(cur.Table))
			img = &cur.Before
		case strings.HasPrefix(body, "  @") && cur != nil:
			if img == nil {
				return nil, fmt.Errorf("mariadb-binlog output line %d: value outside an image", lineNum)
			}
			k, v, err := parseVerboseValue(src, cur.Table, body[3:])
			if err != nil {
				return nil, fmt.Errorf("mariadb-binlog output line %d (%s): %w", lineNum, cur.Where, err)
			}
			if k >= len(*img) {
				return nil, fmt.Errorf("mariadb-binlog output line %d: column @%d past the table", lineNum, k+1)
			}
			(*img)[k] = v
		}
	}
	flush()
	return out, sc.Err()
}

func absentRow(n int) []string {
	r := make([]string, n)
	for i := range r {
		r[i] = cellAbsent
	}
	return r
}

// parseVerboseValue parses "N=value /* TYPE meta=… nullable=… is_null=… */"
// into the 0-based column index and the canonical value.
func parseVerboseValue(src rowSource, tbl, s string) (int, string, error) {
	eq := strings.IndexByte(s, '=')
	if eq < 0 {
		return 0, "", fmt.Errorf("no '=' in %q", abbrev(s))
	}
	n, err := strconv.Atoi(s[:eq])
	if err != nil || n < 1 {
		return 0, "", fmt.Errorf("bad column number in %q", abbrev(s))
	}
	k := n - 1
	rest := s[eq+1:]
	cm := strings.LastIndex(rest, " /* ")
	if cm < 0 {
		return 0, "", fmt.Errorf("no type comment in %q", abbrev(s))
	}
	val, comment := strings.TrimSpace(rest[:cm]), rest[cm:]
	if strings.Contains(comment, "is_null=1") {
		return k, cellNull, nil
	}
	col, ok := src.columnOf(tbl, k)
	if !ok {
		return 0, "", fmt.Errorf("column @%d unknown in %s", n, tbl)
	}
	v, err := canonVerbose(col, val)
	if err != nil {
		return 0, "", fmt.Errorf("column @%d %s (%s): %w", n, col.name, col.def, err)
	}
	return k, v, nil
}

// canonVerbose turns one mariadb-binlog value text into the canonical form.
func canonVerbose(col column, val string) (string, error) {
	switch col.cls {
	case clsInt:
		// Integers print as "signed (unsigned)" when the two differ.
		signed, unsigned, hasU := strings.Cut(val, " (")
		if col.unsigned && hasU {
			return canonUintText(strings.TrimSuffix(unsigned, ")"))
		}
		return canonUintText(signed)
	case clsDecimal:
		return canonDecimal(val)
	case clsFloat:
		// Printed with %g: 6 significant digits. Compared through floatAs6.
		f, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return "", err
		}
		return cG6(f), nil
	case clsDouble:
		f, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return "", err
		}
		return canonFloat64(f), nil
	case clsTime, clsDateTime:
		b, err := unquoteVerbose(val)
		if err != nil {
			return "", err
		}
		return string(b), nil
	case clsDate:
		b, err := unquoteVerbose(val)
		if err != nil {
			return "", err
		}
		// mariadb-binlog prints dates as 'YYYY:MM:DD'.
		return strings.ReplaceAll(string(b), ":", "-"), nil
	case clsTimestamp:
		sec, frac, _ := strings.Cut(val, ".")
		if _, err := strconv.ParseInt(sec, 10, 64); err != nil {
			return "", err
		}
		return sec + fixFrac(frac, col.fsp), nil
	case clsYear:
		return canonUintText(val)
	case clsText:
		b, err := unquoteVerbose(val)
		if err != nil {
			return "", err
		}
		return textFromCharset(col.charset, b)
	case clsBinary:
		b, err := unquoteVerbose(val)
		if err != nil {
			return "", err
		}
		return canonBinary(b, col.size), nil
	case clsBytes, clsGeometry:
		b, err := unquoteVerbose(val)
		if err != nil {
			return "", err
		}
		return hex.EncodeToString(b), nil
	case clsEnum:
		return canonUintText(val)
	case clsSet, clsBit:
		if !strings.HasPrefix(val, "b'") || !strings.HasSuffix(val, "'") {
			return "", fmt.Errorf("not a bit string: %q", val)
		}
		u, err := strconv.ParseUint(val[2:len(val)-1], 2, 64)
		if err != nil {
			return "", err
		}
		return strconv.FormatUint(u, 10), nil
	}
	return "", fmt.Errorf("class %d not handled", col.cls)
}

// unquoteVerbose undoes mariadb-binlog's quoting: '…' with bytes below
// 0x20 written as \xHH and every other byte raw, the quote and the
// backslash included. A raw backslash followed by "x" and two hex digits
// is therefore ambiguous; the test data contains no such text.
func unquoteVerbose(s string) ([]byte, error) {
	if len(s) < 2 || s[0] != '\'' || s[len(s)-1] != '\'' {
		return nil, fmt.Errorf("not quoted: %q", abbrev(s))
	}
	s = s[1 : len(s)-1]
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+4 <= len(s) && s[i+1] == 'x' {
			if b, err := hex.DecodeString(s[i+2 : i+4]); err == nil && b[0] < 0x20 {
				out = append(out, b[0])
				i += 3
				continue
			}
		}
		out = append(out, c)
	}
	return out, nil
}

func abbrev(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
