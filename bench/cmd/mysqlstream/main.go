// Command mysqlstream benchmarks reading a live MariaDB binlog backlog:
// "sluice stream" against a go-mysql v1.13.0 BinlogSyncer reader (this
// program's "gomysql" mode: every row decoded and written as JSON with
// encoding/json) and "mariadb-binlog --read-from-remote-server -v". Each
// reader runs as its own process; the report gives wall time, rows/s, CPU
// seconds per million rows and peak RSS (getrusage of the child).
//
// Usage:
//
//	mysqlstream -sluice PATH [-rows N] [-width BYTES] [-update] [-sluice-flags FLAGS] [-readers sluice,gomysql,mariadb-binlog]
//	mysqlstream gomysql ADDR USER PASSWORD FILE POS ENDFILE ENDPOS
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "gomysql" {
		if err := goMySQLReader(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "mysqlstream gomysql:", err)
			os.Exit(1)
		}
		return
	}
	if err := bench(); err != nil {
		fmt.Fprintln(os.Stderr, "mysqlstream:", err)
		os.Exit(1)
	}
}

// result is one reader's measurement.
type result struct {
	name      string
	wall, cpu time.Duration
	maxRSSKB  int64
	lines     int64
}

func bench() error {
	sluiceBin := flag.String("sluice", "", "path of the sluice binary")
	rows := flag.Int("rows", 1000000, "rows inserted (and, with -update, updated) in one transaction each")
	width := flag.Int("width", 0, "bytes of a VARCHAR payload column per row (0: none)")
	update := flag.Bool("update", false, "also update every row (a second transaction)")
	sluiceFlags := flag.String("sluice-flags", "", "extra flags for sluice stream, space-separated (e.g. \"--queue-bytes 4194304\")")
	readers := flag.String("readers", "sluice,gomysql,mariadb-binlog", "readers to run, in order")
	flag.Parse()
	ctx := context.Background()

	srv, err := testenv.StartMariaDB(ctx, testenv.MariaDBOptions{ExtraConfig: []string{
		"max_binlog_size=1073741824", "innodb_buffer_pool_size=256M", "max_allowed_packet=1G",
		"binlog_cache_size=1M", "max_binlog_cache_size=16G"}})
	if err != nil {
		return err
	}
	defer srv.Close()
	start, err := binlogPos(ctx, srv)
	if err != nil {
		return err
	}
	payload := "''"
	if *width > 0 {
		payload = fmt.Sprintf("REPEAT(CHAR(97 + seq %% 26), %d)", *width)
	}
	began := time.Now()
	stmts := []string{
		"CREATE DATABASE b", "USE b",
		fmt.Sprintf("CREATE TABLE b.t (id INT PRIMARY KEY, n BIGINT NOT NULL, name VARCHAR(64) NOT NULL, price DECIMAL(12,2) NOT NULL, p VARCHAR(%d) NOT NULL)", max(*width, 1)),
		fmt.Sprintf("INSERT INTO b.t SELECT seq, seq * 7, CONCAT('name-', seq), seq / 100, %s FROM seq_1_to_%d", payload, *rows),
	}
	if *update {
		stmts = append(stmts, "UPDATE b.t SET n = n + 1")
	}
	if err := srv.Exec(ctx, stmts...); err != nil {
		return err
	}
	end, err := binlogPos(ctx, srv)
	if err != nil {
		return err
	}
	changes := int64(*rows)
	if *update {
		changes *= 2
	}
	fmt.Printf("backlog: %d row changes (%d rows, width %d, update %v) written in %s, binlog %s:%d .. %s:%d\n",
		changes, *rows, *width, *update, time.Since(began).Round(time.Millisecond), start.Name, start.Pos, end.Name, end.Pos)

	host, port, _ := net.SplitHostPort(srv.Addr())
	for _, r := range strings.Split(*readers, ",") {
		var cmd *exec.Cmd
		var stop func(line []byte) bool // for readers that never end on their own
		switch r {
		case "sluice":
			state, err := os.MkdirTemp("", "mysqlstream")
			if err != nil {
				return err
			}
			defer os.RemoveAll(state)
			url := fmt.Sprintf("mysql://%s:%s@%s/?server-id=7001", testenv.MariaDBReplUser, testenv.MariaDBReplPassword, srv.Addr())
			cmd = exec.Command(*sluiceBin, "stream", url, "--to", "stdout://", "--state", state+"/state.db",
				"--from", fmt.Sprintf("binlog:%s:%d", start.Name, start.Pos), "--log-level", "warn")
			cmd.Args = append(cmd.Args, strings.Fields(*sluiceFlags)...)
			seen := int64(0)
			stop = func(line []byte) bool { seen++; return seen >= changes }
		case "gomysql":
			cmd = exec.Command(os.Args[0], "gomysql", srv.Addr(), testenv.MariaDBReplUser, testenv.MariaDBReplPassword,
				start.Name, strconv.Itoa(int(start.Pos)), end.Name, strconv.Itoa(int(end.Pos)))
		case "mariadb-binlog":
			cmd = exec.Command("mariadb-binlog", "--read-from-remote-server", "--host=127.0.0.1", "--port="+port,
				"--user="+testenv.MariaDBReplUser, "--password="+testenv.MariaDBReplPassword, "-v",
				fmt.Sprintf("--start-position=%d", start.Pos), start.Name)
			_ = host
		default:
			return fmt.Errorf("unknown reader %q", r)
		}
		res, err := measure(cmd, stop)
		if err != nil {
			return fmt.Errorf("%s: %w", r, err)
		}
		res.name = r
		secs := res.wall.Seconds()
		fmt.Printf("%-15s wall %8.2fs  rows/s %10.0f  cpu %7.2fs  cpu-s/M rows %6.2f  peak RSS %7.1f MB  output lines %d\n",
			r, secs, float64(changes)/secs, res.cpu.Seconds(), res.cpu.Seconds()/(float64(changes)/1e6),
			float64(res.maxRSSKB)/1024, res.lines)
	}
	return nil
}

// measure runs cmd with its standard output piped here and counted (lines
// discarded). If stop is set, the child gets SIGINT once stop reports the
// wanted line, and the wall time ends at that line.
func measure(cmd *exec.Cmd, stop func([]byte) bool) (result, error) {
	var res result
	out, err := cmd.StdoutPipe()
	if err != nil {
		return res, err
	}
	cmd.Stderr = os.Stderr
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return res, err
	}
	br := bufio.NewReaderSize(out, 1<<20)
	signalled := false
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
		}
		if err != nil {
			if err != io.EOF {
				return res, err
			}
			break
		}
		res.lines++
		if stop != nil && !signalled && bytesHasOp(line) && stop(line) {
			res.wall = time.Since(began)
			cmd.Process.Signal(os.Interrupt)
			signalled = true
		}
	}
	waitErr := cmd.Wait()
	if !signalled {
		res.wall = time.Since(began)
		if waitErr != nil {
			return res, waitErr
		}
	}
	res.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.maxRSSKB = ru.Maxrss
	}
	return res, nil
}

// bytesHasOp reports whether a sluice JSON line is a row change.
func bytesHasOp(line []byte) bool {
	s := string(line[:min(len(line), 20)])
	return strings.HasPrefix(s, `{"op":"insert"`) || strings.HasPrefix(s, `{"op":"update"`) || strings.HasPrefix(s, `{"op":"delete"`)
}

// binlogPos is the server's current binlog file and position.
func binlogPos(ctx context.Context, srv *testenv.MariaDB) (gmysql.Position, error) {
	db, err := srv.DB()
	if err != nil {
		return gmysql.Position{}, err
	}
	rows, err := db.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		return gmysql.Position{}, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]any, len(cols))
	var file string
	var pos uint32
	vals[0], vals[1] = &file, &pos
	for i := 2; i < len(vals); i++ {
		vals[i] = new(any)
	}
	if !rows.Next() {
		return gmysql.Position{}, fmt.Errorf("SHOW MASTER STATUS: no row")
	}
	if err := rows.Scan(vals...); err != nil {
		return gmysql.Position{}, err
	}
	return gmysql.Position{Name: file, Pos: pos}, nil
}

// goMySQLReader reads the binlog from FILE:POS to ENDFILE:ENDPOS with
// go-mysql's BinlogSyncer, decodes every row and writes one JSON object per
// row change with encoding/json.
func goMySQLReader(args []string) error {
	if len(args) != 7 {
		return fmt.Errorf("want ADDR USER PASSWORD FILE POS ENDFILE ENDPOS")
	}
	host, portS, err := net.SplitHostPort(args[0])
	if err != nil {
		return err
	}
	port, _ := strconv.Atoi(portS)
	pos, _ := strconv.Atoi(args[4])
	endPos, _ := strconv.Atoi(args[6])
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: 7002, Flavor: "mariadb", Host: host, Port: uint16(port), User: args[1], Password: args[2],
		Logger: nil,
	})
	defer syncer.Close()
	st, err := syncer.StartSync(gmysql.Position{Name: args[3], Pos: uint32(pos)})
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer w.Flush()
	enc := json.NewEncoder(w)
	type rowChange struct {
		Op     string         `json:"op"`
		DB     string         `json:"db"`
		Table  string         `json:"table"`
		Before map[string]any `json:"before,omitempty"`
		After  map[string]any `json:"after,omitempty"`
	}
	file := args[3]
	ctx := context.Background()
	for {
		ev, err := st.GetEvent(ctx)
		if err != nil {
			return err
		}
		switch e := ev.Event.(type) {
		case *replication.RotateEvent:
			file = string(e.NextLogName)
		case *replication.RowsEvent:
			names := e.Table.ColumnNameString()
			asMap := func(row []any) map[string]any {
				m := make(map[string]any, len(row))
				for i, v := range row {
					name := strconv.Itoa(i)
					if i < len(names) {
						name = names[i]
					}
					m[name] = v
				}
				return m
			}
			rc := rowChange{DB: string(e.Table.Schema), Table: string(e.Table.Table)}
			switch ev.Header.EventType {
			case replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2:
				rc.Op = "insert"
				for _, r := range e.Rows {
					rc.After = asMap(r)
					if err := enc.Encode(&rc); err != nil {
						return err
					}
				}
			case replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2:
				rc.Op = "delete"
				for _, r := range e.Rows {
					rc.Before = asMap(r)
					if err := enc.Encode(&rc); err != nil {
						return err
					}
				}
			default:
				rc.Op = "update"
				for i := 0; i+1 < len(e.Rows); i += 2 {
					rc.Before, rc.After = asMap(e.Rows[i]), asMap(e.Rows[i+1])
					if err := enc.Encode(&rc); err != nil {
						return err
					}
				}
			}
		}
		if file == args[5] && ev.Header.LogPos >= uint32(endPos) {
			return nil
		}
	}
}
