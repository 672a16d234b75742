package tools

import (
	"context"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// benchBinlog returns the binlog the benchmarks read: the file named by
// SLUICE_BENCH_BINLOG (bench/binlog-tools.sh builds a 1 GB one into
// bench/.data), or else one of about 20 MB that a private MariaDB writes
// (inserts, updates and deletes over a narrow and a wide mixed-type table).
func benchBinlog(b *testing.B) string {
	b.Helper()
	if p := os.Getenv("SLUICE_BENCH_BINLOG"); p != "" {
		return p
	}
	srv := testenv.NewMariaDB(b, testenv.MariaDBOptions{ExtraConfig: []string{"max_allowed_packet=64M"}})
	ctx := context.Background()
	stmts := []string{
		"CREATE DATABASE bench",
		`CREATE TABLE bench.sb (id INT PRIMARY KEY, k INT NOT NULL, c CHAR(120) NOT NULL, pad CHAR(60) NOT NULL)`,
		`CREATE TABLE bench.wide (id INT PRIMARY KEY, u64 BIGINT UNSIGNED, dec12 DECIMAL(12,2), dbl DOUBLE,
			dt DATETIME(6), d DATE, vc VARCHAR(64) CHARACTER SET utf8mb4, tx TEXT, bl BLOB, js JSON, e ENUM('a','b'), b BIT(8))`,
	}
	for i := 0; i < 5; i++ {
		lo, hi := i*20000+1, i*20000+20000
		stmts = append(stmts,
			fmt.Sprintf(`INSERT INTO bench.sb SELECT seq, seq %% 1000, REPEAT(CONCAT(seq, '-'), 12), REPEAT('p', 60) FROM bench.seq_%d_to_%d`, lo, hi),
			fmt.Sprintf(`INSERT INTO bench.wide SELECT seq, seq*1000003, seq/7, seq/3.0, '2024-01-01' + INTERVAL seq SECOND,
				'2000-01-01' + INTERVAL seq %% 9000 DAY, CONCAT('name-', seq, '-é中'), REPEAT('t', seq %% 100), UNHEX(MD5(seq)),
				CONCAT('{"id":', seq, '}'), ELT(1 + seq %% 2, 'a', 'b'), seq %% 256 FROM bench.seq_%d_to_%d`, lo, hi),
			fmt.Sprintf(`UPDATE bench.sb SET k = k + 1 WHERE id BETWEEN %d AND %d`, lo, hi),
			fmt.Sprintf(`UPDATE bench.wide SET dbl = dbl + 1 WHERE id BETWEEN %d AND %d`, lo, hi),
			fmt.Sprintf(`DELETE FROM bench.wide WHERE id BETWEEN %d AND %d AND id %% 4 = 0`, lo, hi),
		)
	}
	if err := srv.Exec(ctx, stmts...); err != nil {
		b.Fatal(err)
	}
	logs, err := srv.FlushBinaryLogs(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return logs[len(logs)-2].Path
}

// benchRun runs fn once per iteration over the binlog at path, reporting
// MB/s of input.
func benchRun(b *testing.B, path string, fn func() error) {
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ReportAllocs()
	for b.Loop() {
		if err := fn(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFlashback times Flashback writing the undo binlog to a
// discarding writer (the spill files go to a temporary directory).
func BenchmarkFlashback(b *testing.B) {
	path := benchBinlog(b)
	dir := b.TempDir()
	var rows int64
	benchRun(b, path, func() error {
		res, err := Flashback(context.Background(), []string{path}, FlashbackOptions{TempDir: dir}, io.Discard)
		if err == nil && res.Rows == 0 {
			err = fmt.Errorf("flashback of %s undid no rows", path)
		}
		rows = res.Rows
		return err
	})
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkFlashbackSQL times FlashbackSQL to a discarding writer.
func BenchmarkFlashbackSQL(b *testing.B) {
	path := benchBinlog(b)
	dir := b.TempDir()
	benchRun(b, path, func() error {
		_, err := FlashbackSQL(context.Background(), []string{path}, SQLOptions{TempDir: dir}, io.Discard)
		return err
	})
}

// BenchmarkSplit times Split into pieces of at most 1000 rows to a
// discarding writer.
func BenchmarkSplit(b *testing.B) {
	path := benchBinlog(b)
	benchRun(b, path, func() error {
		_, err := Split(context.Background(), []string{path}, SplitOptions{MaxRows: 1000}, io.Discard)
		return err
	})
}
