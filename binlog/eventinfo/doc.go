// Package eventinfo describes binlog events the way the server's SHOW
// BINLOG EVENTS does: the event type name (MariaDB's or MySQL's, after the
// file's flavor) and the Info column text.
package eventinfo
