// Package difftest proves Sluice's binlog decoder against two independent
// decoders. Its tests start a private MariaDB, write rows covering every
// column type with edge values under binlog_row_image FULL and MINIMAL, and
// decode the resulting binlog file three ways: with package binlog, with
// go-mysql's BinlogParser, and with `mariadb-binlog --base64-output=decode-rows
// -vv`. Every value is normalised to one text form per column class and the
// three must agree row by row, column by column. Where the two peers disagree
// with each other, a SELECT on the server decides; each such known
// disagreement is listed in knownPeerBugs with its reason.
//
// The package holds tests only.
package difftest
