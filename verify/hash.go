package verify

import (
	"context"
	"hash/crc32"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/internal/sqldb"
)

// The per-row hashes of the same-engine checksums. Both sides of a table
// compute the same expression over the same text, so that equal rows hash
// equal; the forms are chosen by measurement (1 M rows of a BIGINT, INT,
// VARCHAR, DECIMAL, DATETIME(6), DOUBLE table, one server):
//
//   - MariaDB 10.8 and later: two CRCs of different polynomials of the
//     row's text, the text built once (a user variable carries it from
//     the first CRC to the second): 1.65 s, where building the text twice
//     took 3.3 s. Whether the server evaluates the assignment first is
//     checked once (hashOrderOK); if not, the text is built twice.
//   - MySQL and older MariaDB: the first 64 bits of the MD5 of the row's
//     text.
//   - PostgreSQL 14 and later: hash_record_extended of the row, every
//     value hashed by its type's own hash function (no text output):
//     0.34 s where hashtextextended of the row's text took 0.80 s. The
//     hash functions whose equality is not byte equality are avoided:
//     decimals and floats are hashed in their binary send form (1.5 and
//     1.50, 0 and -0 differ), text in the "C" collation, and every type
//     not known to hash its exact value (intervals, enums by OID, citext,
//     types without a hash function…) as its text. A column whose type
//     differs between the sides is hashed as its text on both.
//   - PostgreSQL before 14: hashtextextended of the row's text.
//
// Each form tells a changed value, NULL from an empty string, and values
// moved across a column boundary ("ab","c" from "a","bc") apart.

// hashVar is the MariaDB user variable that carries a row's text from
// its first CRC to its second.
const hashVar = "@sluice_verify_row"

// prepareHash builds the row-hash expressions of both sides (same engine).
func (tc *tableCmp) prepareHash(ctx context.Context) error {
	e := tc.src.eng()
	switch {
	case e == sqldb.Postgres && pgMajor(tc.src.conn) >= 14 && pgMajor(tc.tgt.conn) >= 14:
		for _, s := range []*side{tc.src, tc.tgt} {
			cols := make([]string, len(tc.cols))
			for i := range tc.cols {
				cols[i] = pgHashColumn(&tc.cols[i], s)
			}
			s.hash = "hash_record_extended(ROW(" + strings.Join(cols, ", ") + "), 0)"
		}
	case e == sqldb.Postgres:
		for _, s := range []*side{tc.src, tc.tgt} {
			s.hash = "hashtextextended(ROW(" + strings.Join(s.exprs, ", ") + ")::text, 0)"
		}
	case hasCRC32C(tc.src.conn) && hasCRC32C(tc.tgt.conn):
		once := true
		for _, s := range []*side{tc.src, tc.tgt} {
			ok, err := hashOrderOK(ctx, s.conn)
			if err != nil {
				return err
			}
			once = once && ok
		}
		for _, s := range []*side{tc.src, tc.tgt} {
			t := tc.myRowText(s)
			if once {
				s.hash = "((CRC32C(" + hashVar + " := " + t + ") << 32) | CRC32(" + hashVar + "))"
			} else {
				s.hash = "((CRC32C(" + t + ") << 32) | CRC32(" + t + "))"
			}
		}
	default:
		for _, s := range []*side{tc.src, tc.tgt} {
			s.hash = "CAST(CONV(LEFT(MD5(" + tc.myRowText(s) + "), 16), 16, 10) AS UNSIGNED)"
		}
	}
	return nil
}

// myRowText is the MySQL text of a row that its hash hashes: the values
// joined by '#' (pt-table-checksum's form), then a digit per column that
// can be NULL on either side telling whether it is (CONCAT_WS skips
// NULLs, so NULL and ” would otherwise read alike).
func (tc *tableCmp) myRowText(s *side) string {
	var nulls []string
	for i, e := range s.exprs {
		if tc.cols[i].nullable {
			nulls = append(nulls, "ISNULL("+e+")")
		}
	}
	t := "CONCAT_WS('#', " + strings.Join(s.exprs, ", ")
	if len(nulls) > 0 {
		t += ", CONCAT(" + strings.Join(nulls, ", ") + ")"
	}
	return t + ")"
}

// hashOrderOK reports whether the MariaDB server evaluates the assignment
// of hashVar in a row hash before the second CRC reads it: two hashes of
// different texts in one row must each equal what the texts hash to.
func hashOrderOK(ctx context.Context, c *sqldb.Conn) (bool, error) {
	conn, err := c.My.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET "+hashVar+" = NULL"); err != nil {
		return false, err
	}
	h := func(t string) string {
		return "((CRC32C(" + hashVar + " := '" + t + "') << 32) | CRC32(" + hashVar + "))"
	}
	var a, b uint64
	if err := conn.QueryRowContext(ctx, "SELECT "+h("sluice-a")+", "+h("sluice-b")).Scan(&a, &b); err != nil {
		return false, err
	}
	return a == crcPair("sluice-a") && b == crcPair("sluice-b"), nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crcPair is MariaDB's (CRC32C(t) << 32) | CRC32(t).
func crcPair(t string) uint64 {
	return uint64(crc32.Checksum([]byte(t), castagnoli))<<32 | uint64(crc32.ChecksumIEEE([]byte(t)))
}

// pgMajor is a PostgreSQL server's major version (0 when unknown).
func pgMajor(c *sqldb.Conn) int {
	n, _ := leadingInt(c.Version)
	return n
}

// hasCRC32C reports whether c is MariaDB 10.8 or later, which has CRC32C.
func hasCRC32C(c *sqldb.Conn) bool {
	if !c.MariaDB {
		return false
	}
	major, rest := leadingInt(c.Version)
	minor, _ := leadingInt(strings.TrimPrefix(rest, "."))
	return major > 10 || major == 10 && minor >= 8
}

// leadingInt splits the leading decimal number off s.
func leadingInt(s string) (int, string) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n, _ := strconv.Atoi(s[:i])
	return n, s[i:]
}

// pgHashColumn is the expression of column c on s inside the ROW that
// hash_record_extended hashes.
func pgHashColumn(c *column, s *side) string {
	q := s.eng().Quote(c.name)
	st, tt := strings.ToLower(c.srcType.Text), strings.ToLower(c.tgtType.Text)
	if st != tt {
		return q + "::text"
	}
	switch c.srcType.Family {
	case sqldb.FamInt, sqldb.FamBool, sqldb.FamDate, sqldb.FamTime, sqldb.FamDateTime, sqldb.FamTimestamp, sqldb.FamUUID:
		return q
	case sqldb.FamBytes:
		if st == "bytea" {
			return q
		}
	case sqldb.FamDecimal:
		return "numeric_send(" + q + ")"
	case sqldb.FamFloat:
		if c.srcType.Bits == 32 {
			return "float4send(" + q + ")"
		}
		return "float8send(" + q + ")"
	case sqldb.FamText:
		if st == "text" || strings.HasPrefix(st, "character varying") || strings.HasPrefix(st, "varchar") {
			return q + ` COLLATE "C"`
		}
	}
	return q + "::text"
}
