// Package sqldb is what the SQL sink (sink/sql) and sluice verify (package
// verify) share about the two SQL engines Sluice writes to and compares:
// MySQL/MariaDB and PostgreSQL.
//
//   - Connecting from a URL (ParseURL, Open): mysql:// and mariadb:// URLs
//     open a database/sql pool on github.com/go-sql-driver/mysql,
//     postgres:// and postgresql:// URLs a pgx connection. Every session
//     is set up the same way: UTC, ISO dates, strict SQL modes (MySQL),
//     shortest exact float text (PostgreSQL), so that values written and
//     read have one known form.
//   - Quoting identifiers (Engine.Quote) and reading the catalog: a
//     table's columns, their types, nullability, generated columns and
//     primary key (Conn.Table), and the tables of a database (Conn.Tables).
//   - Types: ParseType reads a column type as either engine spells it
//     (MySQL's COLUMN_TYPE "int(11) unsigned", PostgreSQL's format_type
//     "timestamp(3) with time zone") into a Type, whose Family says how its
//     values are written and compared; Type.In gives the type a column
//     of that type becomes in the other engine (the type map of
//     docs/sql-apply.md) and whether every value crosses exactly.
package sqldb
