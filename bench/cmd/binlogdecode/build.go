package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sluice-cdc/sluice/internal/servers"
)

// buildBinlog starts a private MariaDB, writes sbtest-shaped rows and a
// wide mixed-type table until the binlog holds at least targetMB, and
// copies the closed binlog file to path.
func buildBinlog(ctx context.Context, path string, targetMB int, logf func(string, ...any)) error {
	srv, err := servers.StartMariaDB(ctx, servers.MariaDBOptions{ExtraConfig: []string{
		"max_binlog_size=1073741824", // one file for the whole run
		"innodb_buffer_pool_size=1G",
		"innodb_log_file_size=512M",
		"innodb_flush_log_at_trx_commit=0",
		"binlog_cache_size=16M",
		"max_allowed_packet=256M",
	}})
	if err != nil {
		return err
	}
	defer srv.Close()
	db, err := srv.DB()
	if err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	exec := func(q string) error {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%.120s: %w", q, err)
		}
		return nil
	}
	for _, q := range []string{
		"SET NAMES utf8mb4",
		"SET time_zone = '+00:00'",
		"CREATE DATABASE bench",
		"USE bench",
		`CREATE TABLE sbtest1 (id INT NOT NULL PRIMARY KEY, k INT NOT NULL DEFAULT 0,
			c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '', KEY k_1 (k)) ENGINE=InnoDB`,
		`CREATE TABLE wide (id INT NOT NULL PRIMARY KEY, i32 INT, u64 BIGINT UNSIGNED, sm SMALLINT,
			dec12 DECIMAL(12,2), dbl DOUBLE, flt FLOAT, dt DATETIME(6), ts TIMESTAMP(3) NULL, d DATE, tm TIME,
			vc VARCHAR(64) CHARACTER SET utf8mb4, tx TEXT, bl BLOB, e ENUM('new','paid','shipped','done'),
			js JSON, yr YEAR, b BIT(8)) ENGINE=InnoDB`,
	} {
		if err := exec(q); err != nil {
			return err
		}
	}
	const chunk = 10000
	sb := func(from int) string {
		return fmt.Sprintf(`INSERT INTO sbtest1 (id, k, c, pad) SELECT seq, seq %% 100000,
			CONCAT_WS('-', LPAD(seq, 11, '0'), LPAD(seq*7, 11, '0'), LPAD(seq*13, 11, '0'), LPAD(seq*17, 11, '0'),
				LPAD(seq*19, 11, '0'), LPAD(seq*23, 11, '0'), LPAD(seq*29, 11, '0'), LPAD(seq*31, 11, '0'),
				LPAD(seq*37, 11, '0'), LPAD(seq*41, 11, '0')),
			CONCAT_WS('-', LPAD(seq*43, 11, '0'), LPAD(seq*47, 11, '0'), LPAD(seq*53, 11, '0'), LPAD(seq*59, 11, '0'), LPAD(seq*61, 11, '0'))
			FROM seq_%d_to_%d`, from, from+chunk-1)
	}
	wide := func(from int) string {
		return fmt.Sprintf(`INSERT INTO wide SELECT seq, CAST(seq AS SIGNED)*31-5000000, seq*1000003, seq %% 30000, seq/7, seq/3.0e3, seq/9.0,
			'2024-01-01 00:00:00' + INTERVAL seq SECOND + INTERVAL seq %% 1000000 MICROSECOND,
			FROM_UNIXTIME(1700000000 + seq + (seq %% 1000)/1000), '2000-01-01' + INTERVAL seq %% 9000 DAY,
			SEC_TO_TIME(seq %% 86400), CONCAT('name-', seq, '-é中'), REPEAT(CONCAT('text', seq), 5),
			UNHEX(MD5(seq)), ELT(1 + seq %% 4, 'new','paid','shipped','done'),
			CONCAT('{"id":', seq, ',"tags":["a","b"],"ok":true}'), 1901 + seq %% 200, seq %% 256
			FROM seq_%d_to_%d`, from, from+chunk-1)
	}
	size := func() (int64, error) {
		logs, err := srv.BinaryLogs(ctx)
		if err != nil {
			return 0, err
		}
		return logs[len(logs)-1].Size, nil
	}
	target := int64(targetMB) << 20
	start := time.Now()
	// Phase 1: inserts into both tables, 3:1 sbtest to wide.
	next := 1
	for {
		for i := 0; i < 3; i++ {
			if err := exec(sb(next + i*chunk)); err != nil {
				return err
			}
		}
		if err := exec(wide(next / 3)); err != nil {
			return err
		}
		next += 3 * chunk
		n, err := size()
		if err != nil {
			return err
		}
		if n >= target*55/100 {
			break
		}
	}
	logf("inserted %d sbtest rows, %d wide rows in %s", next-1, (next-1)/3, time.Since(start).Round(time.Second))
	// Phase 2: bulk UPDATEs (before and after images) and a DELETE.
	for lo := 1; ; lo += chunk {
		if err := exec(fmt.Sprintf("UPDATE sbtest1 SET k = k + 1 WHERE id BETWEEN %d AND %d", lo, lo+chunk-1)); err != nil {
			return err
		}
		if lo%(3*chunk) == 1 {
			if err := exec(fmt.Sprintf("UPDATE wide SET dbl = dbl + 1, vc = CONCAT(vc, '+') WHERE id BETWEEN %d AND %d", lo/3, lo/3+chunk-1)); err != nil {
				return err
			}
		}
		n, err := size()
		if err != nil {
			return err
		}
		if n >= target || lo+chunk > next {
			break
		}
	}
	if err := exec("DELETE FROM wide WHERE id % 10 = 0"); err != nil {
		return err
	}
	logs, err := srv.FlushBinaryLogs(ctx)
	if err != nil {
		return err
	}
	src := logs[len(logs)-2]
	logf("binlog %s: %d MB in %s", src.Name, src.Size>>20, time.Since(start).Round(time.Second))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return copyFile(src.Path, path)
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := to + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, to)
}
