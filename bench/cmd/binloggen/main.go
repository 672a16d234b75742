// Command binloggen writes a large MariaDB binlog for the binlog tools
// benchmark: a private MariaDB (internal/servers) runs a mix of bulk
// INSERT…SELECT, UPDATE and DELETE statements over three tables of mixed
// column types (ROW format, FULL image, FULL metadata, CRC32) until its
// binlog holds at least -mb MiB, and the closed binlog file is copied to
// -out.
//
//	go run ./bench/cmd/binloggen -mb 1000 -out bench/.data/bench-1gb.000001
//
// The server rotates its binlog at 1 GiB (the largest max_binlog_size), so
// -mb must stay below 1024 minus the largest statement (about 10 MiB).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sluice-cdc/sluice/internal/servers"
)

func main() {
	out := flag.String("out", "bench/.data/bench-1gb.000001", "where the binlog is written")
	mb := flag.Int("mb", 1000, "minimum size of the binlog in MiB (at most 1000)")
	flag.Parse()
	if *mb < 1 || *mb > 1000 {
		fmt.Fprintln(os.Stderr, "binloggen: -mb must be between 1 and 1000")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "binloggen: "+format+"\n", args...)
	}
	if err := build(ctx, *out, int64(*mb)<<20, logf); err != nil {
		fmt.Fprintln(os.Stderr, "binloggen:", err)
		os.Exit(1)
	}
}

// build starts the server, runs the workload and copies the binlog to path.
func build(ctx context.Context, path string, target int64, logf func(string, ...any)) error {
	srv, err := servers.StartMariaDB(ctx, servers.MariaDBOptions{ExtraConfig: []string{
		"max_binlog_size=1073741824", // one file for the whole run
		"innodb_buffer_pool_size=1G",
		"innodb_log_file_size=512M",
		"innodb_flush_log_at_trx_commit=0",
		"sync_binlog=0",
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
	exec := func(q string, args ...any) error {
		q = fmt.Sprintf(q, args...)
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
		`CREATE TABLE orders (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, customer VARCHAR(40) NOT NULL,
			amount DECIMAL(10,2) NOT NULL, qty MEDIUMINT UNSIGNED, placed DATETIME NOT NULL, note VARCHAR(200),
			status SET('paid','packed','sent') NOT NULL DEFAULT '') ENGINE=InnoDB`,
	} {
		if err := exec("%s", q); err != nil {
			return err
		}
	}
	const chunk = 10000
	sb := `INSERT INTO sbtest1 (id, k, c, pad) SELECT seq, seq %% 100000,
		CONCAT_WS('-', LPAD(seq, 11, '0'), LPAD(seq*7, 11, '0'), LPAD(seq*13, 11, '0'), LPAD(seq*17, 11, '0'),
			LPAD(seq*19, 11, '0'), LPAD(seq*23, 11, '0'), LPAD(seq*29, 11, '0'), LPAD(seq*31, 11, '0'),
			LPAD(seq*37, 11, '0'), LPAD(seq*41, 11, '0')),
		CONCAT_WS('-', LPAD(seq*43, 11, '0'), LPAD(seq*47, 11, '0'), LPAD(seq*53, 11, '0'), LPAD(seq*59, 11, '0'), LPAD(seq*61, 11, '0'))
		FROM seq_%d_to_%d`
	wide := `INSERT INTO wide SELECT seq, CAST(seq AS SIGNED)*31-5000000, seq*1000003, seq %% 30000, seq/7, seq/3.0e3, seq/9.0,
		'2024-01-01 00:00:00' + INTERVAL seq SECOND + INTERVAL seq %% 1000000 MICROSECOND,
		FROM_UNIXTIME(1700000000 + seq + (seq %% 1000)/1000), '2000-01-01' + INTERVAL seq %% 9000 DAY,
		SEC_TO_TIME(seq %% 86400), CONCAT('name-', seq, '-é中'), REPEAT(CONCAT('text', seq), 5),
		UNHEX(MD5(seq)), ELT(1 + seq %% 4, 'new','paid','shipped','done'),
		CONCAT('{"id":', seq, ',"tags":["a","b"],"ok":true}'), 1901 + seq %% 200, seq %% 256
		FROM seq_%d_to_%d`
	orders := `INSERT INTO orders (customer, amount, qty, placed, note, status)
		SELECT CONCAT('cust-', seq %% 5000), (seq %% 100000)/100, IF(seq %% 7 = 0, NULL, seq %% 1000),
			'2025-03-01' + INTERVAL seq MINUTE, IF(seq %% 3 = 0, NULL, REPEAT('n', seq %% 150)),
			ELT(1 + seq %% 3, 'paid', 'paid,packed', 'paid,packed,sent')
		FROM seq_%d_to_%d`
	size := func() (int64, error) {
		logs, err := srv.BinaryLogs(ctx)
		if err != nil {
			return 0, err
		}
		if len(logs) != 1 {
			return 0, fmt.Errorf("the server rotated its binlog (%d files): use a smaller -mb", len(logs))
		}
		return logs[0].Size, nil
	}
	start := time.Now()
	// Phase 1: inserts into the three tables (sbtest:wide:orders 3:1:1)
	// until half the target.
	next := 1
	for {
		for i := 0; i < 3; i++ {
			if err := exec(sb, next+i*chunk, next+i*chunk+chunk-1); err != nil {
				return err
			}
		}
		w := next / 3
		if err := exec(wide, w, w+chunk-1); err != nil {
			return err
		}
		if err := exec(orders, w, w+chunk-1); err != nil {
			return err
		}
		next += 3 * chunk
		n, err := size()
		if err != nil {
			return err
		}
		if n >= target/2 {
			break
		}
	}
	logf("phase 1: %d sbtest rows, %d wide and orders rows in %s", next-1, (next-1)/3, time.Since(start).Round(time.Second))
	// Phase 2: updates (two images per row), deletes, and some more
	// inserts, interleaved, until the target.
	for lo := 1; ; lo += chunk {
		if lo+chunk > next {
			lo = 1 // wrap around: update the same rows again
		}
		w := lo / 3
		stmts := []string{
			fmt.Sprintf("UPDATE sbtest1 SET k = k + 1, pad = REVERSE(pad) WHERE id BETWEEN %d AND %d", lo, lo+chunk-1),
			fmt.Sprintf("UPDATE wide SET dbl = dbl + 1, vc = CONCAT(LEFT(vc, 60), '+'), ts = ts + INTERVAL 1 SECOND WHERE id BETWEEN %d AND %d", w, w+chunk/3),
			fmt.Sprintf("UPDATE orders SET status = 'paid,packed,sent', amount = amount + 1 WHERE id BETWEEN %d AND %d", w, w+chunk/2),
			fmt.Sprintf("DELETE FROM orders WHERE id BETWEEN %d AND %d AND id %% 5 = 0", w, w+chunk-1),
			fmt.Sprintf("DELETE FROM wide WHERE id BETWEEN %d AND %d AND id %% 10 = 0", w, w+chunk-1),
			fmt.Sprintf(orders, next, next+chunk/2-1),
		}
		next += chunk / 2
		for _, q := range stmts {
			if err := exec("%s", q); err != nil {
				return err
			}
		}
		n, err := size()
		if err != nil {
			return err
		}
		if n >= target {
			break
		}
	}
	logs, err := srv.FlushBinaryLogs(ctx)
	if err != nil {
		return err
	}
	src := logs[0]
	logf("binlog %s: %d MiB in %s", src.Name, src.Size>>20, time.Since(start).Round(time.Second))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return copyFile(src.Path, path)
}

// copyFile copies from to to through a temporary name.
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
