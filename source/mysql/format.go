package mysql

import (
	"fmt"
	"strings"
)

// binlogFormat is what the server logs: binlog_format and binlog_row_image
// ("" when the server lacks the variable: binlog_row_image is MySQL 5.6+ and
// MariaDB 10.1.6+).
type binlogFormat struct {
	format   string // ROW, STATEMENT or MIXED
	rowImage string // FULL, MINIMAL or NOBLOB
}

// binlogFormat reads the server's global binlog_format and binlog_row_image.
func (r *replica) binlogFormat() (binlogFormat, error) {
	rows, err := r.queryRows("SHOW GLOBAL VARIABLES WHERE Variable_name IN ('binlog_format', 'binlog_row_image')")
	if err != nil {
		return binlogFormat{}, fmt.Errorf("mysql: reading binlog_format: %w", err)
	}
	var f binlogFormat
	for _, row := range rows {
		if len(row) < 2 {
			continue
		}
		switch strings.ToLower(row[0]) {
		case "binlog_format":
			f.format = strings.ToUpper(row[1])
		case "binlog_row_image":
			f.rowImage = strings.ToUpper(row[1])
		}
	}
	return f, nil
}

// checkBinlogFormat refuses a server that logs DML as statements unless
// Config.AllowStatement is set, and warns (once per Source) about what
// it lets through: statement logging that was allowed, and row images
// that are not FULL.
//
// A row image other than FULL is a warning, not an error: no change is
// lost, only columns, and the ones missing are delivered as absent values
// ("$kind":"absent"), never as NULL, so a consumer can tell. Consumers that
// need whole rows (flashback, replaying updates as whole-row writes) need
// FULL.
func (s *Source) checkBinlogFormat(r *replica) error {
	f, err := r.binlogFormat()
	if err != nil {
		return err
	}
	if f.format != "" && f.format != "ROW" {
		if !s.cfg.AllowStatement {
			return fmt.Errorf("mysql: %s: %w: it is %s, so the server logs INSERT, UPDATE and DELETE as SQL text "+
				"without their rows; run SET GLOBAL binlog_format=ROW on the server and set binlog_format=ROW in its "+
				"configuration (sessions connected before keep their format until they reconnect), and "+
				"binlog_row_image=FULL; or add allow-statement=on to the source URL to receive such DML as "+
				"\"statement\" changes (SQL text, no rows)", s.cfg.Addr, ErrBinlogFormat, f.format)
		}
		if !s.warnedFormat {
			s.warnedFormat = true
			s.cfg.Logger.Warn("binlog_format is not ROW (allow-statement=on): DML the server logs as SQL text "+
				"arrives as \"statement\" changes, without rows", "binlog_format", f.format)
		}
	}
	if f.rowImage != "" && f.rowImage != "FULL" && !s.warnedImage {
		s.warnedImage = true
		what := "before images hold only the primary key and the after images of updates only the changed columns"
		if f.rowImage == "NOBLOB" {
			what = "BLOB and TEXT columns that a change does not touch are left out of its images"
		}
		s.cfg.Logger.Warn("binlog_row_image is not FULL: "+what+"; missing columns are delivered as absent values, "+
			"not NULL; set binlog_row_image=FULL for whole rows", "binlog_row_image", f.rowImage)
	}
	return nil
}
