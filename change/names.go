package change

import (
	"fmt"
	"strconv"
	"strings"
)

var opNames = [...]string{
	OpInsert:    "insert",
	OpUpdate:    "update",
	OpDelete:    "delete",
	OpTruncate:  "truncate",
	OpDDL:       "ddl",
	OpBegin:     "begin",
	OpCommit:    "commit",
	OpHeartbeat: "heartbeat",
	OpStatement: "statement",
	OpRead:      "read",
}

// String returns the operation's name ("insert", "update", …). An Op
// outside the defined set is written "op(N)", which ParseOp also accepts.
func (o Op) String() string {
	if int(o) < len(opNames) && opNames[o] != "" {
		return opNames[o]
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// appendOp appends o.String() without allocating.
func appendOp(dst []byte, o Op) []byte {
	if int(o) < len(opNames) && opNames[o] != "" {
		return append(dst, opNames[o]...)
	}
	dst = append(dst, "op("...)
	dst = strconv.AppendUint(dst, uint64(o), 10)
	return append(dst, ')')
}

// ParseOp returns the Op named s, as written by Op.String.
func ParseOp(s string) (Op, error) {
	for i, n := range opNames {
		if n != "" && n == s {
			return Op(i), nil
		}
	}
	if n, ok := parseNumbered(s, "op("); ok {
		return Op(n), nil
	}
	return 0, fmt.Errorf("change: unknown op %q", s)
}

var snapshotNames = [...]string{
	SnapshotNone:        "",
	SnapshotFirst:       "first",
	SnapshotOn:          "true",
	SnapshotLast:        "last",
	SnapshotIncremental: "incremental",
}

// String returns the mark as Debezium's source.snapshot writes it:
// "first", "true", "last", "incremental", or "" for SnapshotNone. A mark
// outside the defined set is written "snapshot(N)", which
// ParseSnapshotMark also accepts.
func (m SnapshotMark) String() string {
	if int(m) < len(snapshotNames) {
		return snapshotNames[m]
	}
	return "snapshot(" + strconv.Itoa(int(m)) + ")"
}

// ParseSnapshotMark returns the mark named s, as written by
// SnapshotMark.String ("" is SnapshotNone).
func ParseSnapshotMark(s string) (SnapshotMark, error) {
	for i, n := range snapshotNames {
		if n == s {
			return SnapshotMark(i), nil
		}
	}
	if n, ok := parseNumbered(s, "snapshot("); ok {
		return SnapshotMark(n), nil
	}
	return 0, fmt.Errorf("change: unknown snapshot mark %q", s)
}

var kindNames = [...]string{
	KindAbsent:        "absent",
	KindUnchanged:     "unchanged",
	KindNull:          "null",
	KindBool:          "bool",
	KindInt:           "int",
	KindUint:          "uint",
	KindFloat:         "float",
	KindDecimal:       "decimal",
	KindString:        "string",
	KindBytes:         "bytes",
	KindJSON:          "json",
	KindDate:          "date",
	KindTime:          "time",
	KindDateTime:      "datetime",
	KindTimestamp:     "timestamp",
	KindYear:          "year",
	KindEnum:          "enum",
	KindSet:           "set",
	KindBit:           "bit",
	KindGeometry:      "geometry",
	KindVector:        "vector",
	KindUUID:          "uuid",
	KindArray:         "array",
	KindDocument:      "document",
	KindObjectID:      "objectid",
	KindBSONTimestamp: "bsontimestamp",
	KindRegex:         "regex",
	KindOther:         "other",
}

// String returns the kind's name ("int", "datetime", …). A Kind outside the
// defined set is written "kind(N)", which ParseKind also accepts.
func (k Kind) String() string {
	if k < kindCount {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// appendKind appends k.String() without allocating.
func appendKind(dst []byte, k Kind) []byte {
	if k < kindCount {
		return append(dst, kindNames[k]...)
	}
	dst = append(dst, "kind("...)
	dst = strconv.AppendUint(dst, uint64(k), 10)
	return append(dst, ')')
}

// ParseKind returns the Kind named s, as written by Kind.String.
func ParseKind(s string) (Kind, error) {
	for i, n := range kindNames {
		if n == s {
			return Kind(i), nil
		}
	}
	if n, ok := parseNumbered(s, "kind("); ok {
		return Kind(n), nil
	}
	return 0, fmt.Errorf("change: unknown kind %q", s)
}

// parseNumbered parses prefix + decimal uint8 + ")" in its canonical form.
func parseNumbered(s, prefix string) (uint8, bool) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return 0, false
	}
	digits, ok := strings.CutSuffix(rest, ")")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 8)
	if err != nil || strconv.FormatUint(n, 10) != digits {
		return 0, false
	}
	return uint8(n), true
}
