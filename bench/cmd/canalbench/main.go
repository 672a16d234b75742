// Command canalbench measures "sluice canal serve" draining a MariaDB
// backlog to a canal-go v1.1.2 client that asks get(1000) and acks every
// batch, beside "sluice stream" reading the same backlog to /dev/null, in
// the same run, interleaved for -rounds rounds. Each sluice runs as its
// own process; the canal-go client runs in this program. The client runs
// twice per round: counting the rows of the entries canal-go decodes (the
// header's rowsCount), and parsing every entry's RowChange as
// applications do. And it runs against a stand-in server in this program
// that answers every GET at once with a batch recorded from sluice (the
// client's own ceiling: no server work, no acknowledgement to save).
//
// Per run: wall time, row changes per second, the sluice process's CPU
// seconds (user+sys) per million rows, its core use (CPU/wall) and its
// peak RSS, and the client's CPU. It writes the report to -out
// (bench/results/canal.md), with a header naming the date, the machine,
// the commit and the load.
//
//	canalbench -sluice PATH [-rows N] [-rounds N] [-commit HASH] [-out FILE] [-cpuprofile DIR]
//	           [-baseline PATH -baseline-commit HASH]
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	canalclient "github.com/withlin/canal-go/client"
	pbe "github.com/withlin/canal-go/protocol/entry"
	pbp "github.com/withlin/canal-go/protocol/packet"
	"google.golang.org/protobuf/proto"

	"github.com/sluice-cdc/sluice/bench/internal/machine"
	"github.com/sluice-cdc/sluice/internal/procstat"
	"github.com/sluice-cdc/sluice/internal/servers"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "canalbench:", err)
		os.Exit(1)
	}
}

// stateDir is where the state files go (-state-dir); profDir, when set,
// gets CPU profiles of the server and of the client (-cpuprofile).
var stateDir, profDir string

// result is one run.
type result struct {
	wall, cpu time.Duration
	rssKB     int64
	client    time.Duration // CPU of the canal-go client (this process)
	batches   int           // answers with entries (round trips)
	readBytes int64         // bytes the client read (this process's rchar)
	reads     int64         // read syscalls of the client (syscr)
}

// selfIO is this process's rchar and syscr (/proc/self/io).
func selfIO() (rchar, syscr int64) {
	b, _ := os.ReadFile("/proc/self/io")
	for _, l := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(l, ": ")
		n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch k {
		case "rchar":
			rchar = n
		case "syscr":
			syscr = n
		}
	}
	return rchar, syscr
}

// selfCPU is this process's user+sys CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func run() error {
	bin := flag.String("sluice", "", "path of the sluice binary")
	rows := flag.Int("rows", 1_000_000, "rows in the backlog (one INSERT … SELECT)")
	rounds := flag.Int("rounds", 3, "rounds of (canal, canal parsing rows, client ceiling twice, stream)")
	commit := flag.String("commit", "", "commit the sluice binary was built from (for the report)")
	out := flag.String("out", "bench/results/canal.md", "report file")
	baseline := flag.String("baseline", "", "path of another sluice binary whose canal server runs too, interleaved (before/after at the same load)")
	baselineCommit := flag.String("baseline-commit", "", "commit the -baseline binary was built from (for the report)")
	flag.StringVar(&stateDir, "state-dir", "", "directory of the servers' state files (default the system's temporary directory)")
	flag.StringVar(&profDir, "cpuprofile", "", "directory to write CPU profiles to: server-N.pprof (sluice canal serve --cpuprofile) and client-N.pprof (the canal-go client) per round")
	flag.Parse()
	if *bin == "" {
		return fmt.Errorf("-sluice is required")
	}
	ctx := context.Background()
	loadStart := machine.Loadavg()
	srv, err := servers.StartMariaDB(ctx, servers.MariaDBOptions{ExtraConfig: []string{
		"max_binlog_size=1073741824", "innodb_buffer_pool_size=256M", "max_allowed_packet=1G",
		"binlog_cache_size=1M", "max_binlog_cache_size=16G"}})
	if err != nil {
		return err
	}
	defer srv.Close()
	began := time.Now()
	if err := srv.Exec(ctx, "CREATE DATABASE b",
		"CREATE TABLE b.t (id INT PRIMARY KEY, n BIGINT NOT NULL, name VARCHAR(64) NOT NULL, price DECIMAL(12,2) NOT NULL, at DATETIME(6) NOT NULL)",
		fmt.Sprintf("INSERT INTO b.t SELECT seq, seq * 7, CONCAT('name-', seq), seq / 100, '2024-01-02 03:04:05.123456' FROM b.seq_1_to_%d", *rows)); err != nil {
		return err
	}
	end, err := masterStatus(ctx, srv)
	if err != nil {
		return err
	}
	fmt.Printf("backlog of %d rows written in %v; binlog ends at %s\n", *rows, time.Since(began).Round(time.Millisecond), end)
	url := fmt.Sprintf("mysql://%s:%s@%s/?server-id=%%d&from=earliest", servers.MariaDBReplUser, servers.MariaDBReplPassword, srv.Addr())
	frame, err := capture(*bin, fmt.Sprintf(url, 7300))
	if err != nil {
		return fmt.Errorf("recording a batch: %w", err)
	}
	fmt.Printf("recorded a MESSAGES packet of %d bytes for the stand-in server\n", len(frame))
	if *baseline != "" {
		series = slices.Concat(series[:2], []seriesRun{{"baseline canal serve", kindCanal, false, true},
			{"baseline canal serve, rows parsed", kindCanal, true, true}}, series[2:])
	}
	runs := make([][]result, len(series))
	for r := 1; r <= *rounds; r++ {
		for i, sr := range series {
			var res result
			var err error
			switch sr.kind {
			case kindCanal:
				b := *bin
				if sr.baseline {
					b = *baseline
				}
				res, err = runCanal(b, fmt.Sprintf(url, 7000+100*i+r), *rows, r, sr.parse, sr.baseline)
			case kindCeiling:
				res, err = runCeiling(frame, *rows, sr.parse)
			default:
				res, err = runStream(*bin, fmt.Sprintf(url, 7000+100*i+r), end)
			}
			if err != nil {
				return fmt.Errorf("round %d %s: %w", r, sr.name, err)
			}
			runs[i] = append(runs[i], res)
			report(sr.name, r, res, *rows)
		}
	}
	return writeReport(*out, *commit, *baselineCommit, loadStart, machine.Loadavg(), *rows, *rounds, runs)
}

// The kinds of run.
const (
	kindCanal   = iota // sluice canal serve and the canal-go client
	kindCeiling        // the canal-go client against the stand-in server
	kindStream         // sluice stream to /dev/null
)

// seriesRun is one run of every round.
type seriesRun struct {
	name     string
	kind     int
	parse    bool // the client parses every RowChange
	baseline bool // the -baseline binary's server
}

// series are the runs of a round, in order; run adds the baseline's.
var series = []seriesRun{
	{"canal serve", kindCanal, false, false},
	{"canal serve, rows parsed", kindCanal, true, false},
	{"client ceiling", kindCeiling, false, false},
	{"client ceiling, rows parsed", kindCeiling, true, false},
	{"stream", kindStream, false, false},
}

func report(name string, round int, r result, rows int) {
	fmt.Printf("round %d %-28s wall %6.2fs  rows/s %8.0f  cpu %6.2fs  cpu-s/M rows %5.2f  cores %4.2f  peak RSS %5.1f MB  client cpu %5.2fs  load %s\n",
		round, name, r.wall.Seconds(), float64(rows)/r.wall.Seconds(), r.cpu.Seconds(), r.cpu.Seconds()/(float64(rows)/1e6),
		r.cpu.Seconds()/r.wall.Seconds(), float64(r.rssKB)/1024, r.client.Seconds(), machine.Loadavg())
	if r.batches > 0 {
		fmt.Printf("        %d batches: %.0f µs per round trip, %.1f KB and %.1f read syscalls per batch at the client\n",
			r.batches, r.wall.Seconds()*1e6/float64(r.batches), float64(r.readBytes)/float64(r.batches)/1024, float64(r.reads)/float64(r.batches))
	}
}

// startServer starts "sluice canal serve" over url with its state in dir
// and a CPU profile to prof (unless ""), and returns it and its port.
func startServer(bin, url, dir, prof string) (*exec.Cmd, int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, 0, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	args := []string{"canal", "serve", "--listen", "127.0.0.1:" + strconv.Itoa(port), "--destination", "example=" + url,
		"--filter", `example=b\..*`, "--state", dir + "/state.db", "--log-level", "warn"}
	if prof != "" {
		args = append(args, "--cpuprofile", prof)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	return cmd, port, nil
}

// stopServer stops a server startServer started.
func stopServer(cmd *exec.Cmd) {
	if cmd.ProcessState == nil {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}
}

// connect connects a canal-go client to port and subscribes, retrying
// while the server starts.
func connect(port int) (*canalclient.SimpleCanalConnector, error) {
	for deadline := time.Now().Add(30 * time.Second); ; {
		c := canalclient.NewSimpleCanalConnector("127.0.0.1", port, "", "", "example", 60000, 60*60*1000)
		err := c.Connect()
		if err == nil {
			return c, c.Subscribe("")
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// drain loops GetWithOutAck(1000, 1 s) + Ack until rows rows came (or
// maxBatches batches, when positive, or the backlog ends before) and
// returns the batches. It counts
// the rows of each ROWDATA entry by its header's rowsCount, or, with
// parse, by parsing its RowChange as an application does.
func drain(c *canalclient.SimpleCanalConnector, rows, maxBatches int, parse bool) (int, error) {
	seen, batches := 0, 0
	rc := &pbe.RowChange{}
	for seen < rows && (maxBatches <= 0 || batches < maxBatches) {
		wait, unit := int64(1000), int32(2)
		msg, err := c.GetWithOutAck(1000, &wait, &unit)
		if err != nil {
			return batches, err
		}
		for i := range msg.Entries {
			e := &msg.Entries[i]
			if e.GetEntryType() != pbe.EntryType_ROWDATA {
				continue
			}
			if parse {
				if err := proto.Unmarshal(e.GetStoreValue(), rc); err != nil {
					return batches, err
				}
				if !rc.GetIsDdl() {
					seen += len(rc.GetRowDatas())
				}
				continue
			}
			for _, p := range e.GetHeader().GetProps() {
				if p.GetKey() == "rowsCount" {
					n, _ := strconv.Atoi(p.GetValue())
					seen += n
				}
			}
		}
		if msg.Id > 0 {
			batches++
			if err := c.Ack(msg.Id); err != nil {
				return batches, err
			}
		} else if maxBatches > 0 {
			break // a GET that waited in vain: the backlog is drained
		}
	}
	return batches, nil
}

// runCanal starts the server, drains rows row changes with canal-go
// (GetWithOutAck(1000) then Ack, as Get does), and stops the server.
func runCanal(bin, url string, rows, round int, parse, baseline bool) (result, error) {
	dir, err := os.MkdirTemp(stateDir, "canalbench")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	suffix := ""
	if baseline {
		suffix = "-baseline"
	}
	if parse {
		suffix += "-parse"
	}
	prof := ""
	if profDir != "" {
		prof = filepath.Join(profDir, fmt.Sprintf("server-%d%s.pprof", round, suffix))
	}
	cmd, port, err := startServer(bin, url, dir, prof)
	if err != nil {
		return result{}, err
	}
	defer stopServer(cmd)
	c, err := connect(port)
	if err != nil {
		return result{}, err
	}
	if profDir != "" {
		f, err := os.Create(filepath.Join(profDir, fmt.Sprintf("client-%d%s.pprof", round, suffix)))
		if err != nil {
			return result{}, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return result{}, err
		}
		defer pprof.StopCPUProfile()
	}
	cpu0, self0 := procstat.CPU(cmd.Process.Pid), selfCPU()
	rchar0, syscr0 := selfIO()
	began := time.Now()
	batches, err := drain(c, rows, 0, parse)
	if err != nil {
		return result{}, err
	}
	rchar1, syscr1 := selfIO()
	peak, _ := procstat.PeakRSS(cmd.Process.Pid)
	res := result{wall: time.Since(began), cpu: procstat.CPU(cmd.Process.Pid) - cpu0, rssKB: peak >> 10, client: selfCPU() - self0,
		batches: batches, readBytes: rchar1 - rchar0, reads: syscr1 - syscr0}
	c.DisConnection()
	stopServer(cmd)
	return res, nil
}

// capture runs the server over url with a recording proxy between it and
// a canal-go client that takes 20 batches, and returns the largest
// MESSAGES frame (length prefix included) the server sent.
func capture(bin, url string) ([]byte, error) {
	dir, err := os.MkdirTemp(stateDir, "canalbench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cmd, port, err := startServer(bin, url, dir, "")
	if err != nil {
		return nil, err
	}
	defer stopServer(cmd)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	var mu sync.Mutex
	var biggest []byte
	go func() {
		for {
			front, err := ln.Accept()
			if err != nil {
				return
			}
			back, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
			if err != nil {
				front.Close()
				continue
			}
			go func() { io.Copy(back, front); back.Close() }()
			go func() {
				defer front.Close()
				for {
					var hdr [4]byte
					if _, err := io.ReadFull(back, hdr[:]); err != nil {
						return
					}
					frame := make([]byte, 4+binary.BigEndian.Uint32(hdr[:]))
					copy(frame, hdr[:])
					if _, err := io.ReadFull(back, frame[4:]); err != nil {
						return
					}
					mu.Lock()
					if len(frame) > len(biggest) {
						biggest = frame
					}
					mu.Unlock()
					if _, err := front.Write(frame); err != nil {
						return
					}
				}
			}()
		}
	}()
	c, err := connect(ln.Addr().(*net.TCPAddr).Port)
	if err != nil {
		return nil, err
	}
	_, err = drain(c, 1<<62, 20, false)
	c.DisConnection()
	mu.Lock()
	defer mu.Unlock()
	return biggest, err
}

// runCeiling drains rows rows with the canal-go client from a stand-in
// server in this process that answers every GET at once with frame, and
// every other request as Canal does: the client's own ceiling. Its CPU is
// this process's, stand-in included (a write of the same bytes per batch).
func runCeiling(frame []byte, rows int, parse bool) (result, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return result{}, err
	}
	defer ln.Close()
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		standIn(nc, frame)
	}()
	c, err := connect(ln.Addr().(*net.TCPAddr).Port)
	if err != nil {
		return result{}, err
	}
	self0 := selfCPU()
	rchar0, syscr0 := selfIO()
	began := time.Now()
	batches, err := drain(c, rows, 0, parse)
	if err != nil {
		return result{}, err
	}
	rchar1, syscr1 := selfIO()
	res := result{wall: time.Since(began), client: selfCPU() - self0, batches: batches, readBytes: rchar1 - rchar0, reads: syscr1 - syscr0}
	c.DisConnection()
	return res, nil
}

// standIn serves one canal-go connection: the handshake, an ACK to the
// authentication and to subscriptions, frame to every GET, nothing to
// acks and rollbacks.
func standIn(nc net.Conn, frame []byte) {
	send := func(typ pbp.PacketType, body []byte) error {
		b, _ := proto.Marshal(&pbp.Packet{VersionPresent: &pbp.Packet_Version{Version: 1}, Type: typ, Body: body})
		_, err := nc.Write(binary.BigEndian.AppendUint32(nil, uint32(len(b))))
		if err == nil {
			_, err = nc.Write(b)
		}
		return err
	}
	hs, _ := proto.Marshal(&pbp.Handshake{Seeds: []byte("12345678")})
	if send(pbp.PacketType_HANDSHAKE, hs) != nil {
		return
	}
	r := bufio.NewReader(nc)
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		b := make([]byte, binary.BigEndian.Uint32(hdr[:]))
		if _, err := io.ReadFull(r, b); err != nil {
			return
		}
		var p pbp.Packet
		if proto.Unmarshal(b, &p) != nil {
			return
		}
		var err error
		switch p.GetType() {
		case pbp.PacketType_CLIENTAUTHENTICATION, pbp.PacketType_SUBSCRIPTION, pbp.PacketType_UNSUBSCRIPTION:
			err = send(pbp.PacketType_ACK, nil)
		case pbp.PacketType_GET:
			_, err = nc.Write(frame)
		}
		if err != nil {
			return
		}
	}
}

// runStream runs "sluice stream" over the backlog to /dev/null, ending
// at the backlog's end (--stop-at).
func runStream(bin, url, end string) (result, error) {
	dir, err := os.MkdirTemp(stateDir, "canalbench")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command(bin, "stream", url, "--to", "stdout://", "--state", dir+"/state.db",
		"--include", `b\..*`, "--stop-at", end, "--log-level", "warn")
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return result{}, err
	}
	defer devnull.Close()
	cmd.Stdout, cmd.Stderr = devnull, os.Stderr
	peakKB, err := machine.UnderTime(cmd) // sluice's own peak RSS
	if err != nil {
		return result{}, err
	}
	began := time.Now()
	if err := cmd.Run(); err != nil {
		peakKB()
		return result{}, err
	}
	res := result{wall: time.Since(began), cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	if res.rssKB, err = peakKB(); err != nil {
		return result{}, err
	}
	return res, nil
}

func writeReport(path, commit, baseCommit, load0, load1 string, rows, rounds int, runs [][]result) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Canal server: canal-go draining a MariaDB backlog\n\n")
	fmt.Fprintf(&b, "Written by `bench/canal.sh` (bench/cmd/canalbench) on %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- Machine: %d CPUs (%s), %s, shared with other engineers' builds and tests.\n", runtime.NumCPU(), machine.CPUModel(), machine.MemTotal())
	fmt.Fprintf(&b, "- Commit: %s.\n", commit)
	if baseCommit != "" {
		fmt.Fprintf(&b, "- Baseline: the canal server of commit %s, run the same way in the same rounds (\"baseline\" rows).\n", baseCommit)
	}
	fmt.Fprintf(&b, "- Load average (1, 5, 15 min): %s at the start, %s at the end.\n", load0, load1)
	fmt.Fprintf(&b, "- Backlog: %d rows inserted in one transaction into `b.t (id INT PRIMARY KEY, n BIGINT, name VARCHAR(64), price DECIMAL(12,2), at DATETIME(6))` of a private MariaDB (internal/servers: ROW, FULL row image and metadata, CRC32).\n", rows)
	fmt.Fprintf(&b, "- canal serve: `sluice canal serve --destination example=mysql://…&from=earliest --filter 'example=b\\..*'` in its own process; a canal-go v1.1.2 client in the bench process subscribes and loops `GetWithOutAck(1000, 1 s)` + `Ack(batchId)` (what `Get(1000)` does) until it has counted every row: by the `rowsCount` of the entries canal-go decodes, or (\"rows parsed\") by parsing every entry's `RowChange`, as applications do. Wall time from the first GET to the last row; CPU (user+sys, /proc) and peak RSS (VmHWM) of the server process; the client's CPU apart.\n")
	fmt.Fprintf(&b, "- client ceiling: the same client against a stand-in server in the bench process that answers every GET at once with one full batch recorded from `sluice canal serve` (%s): what the client alone allows; its CPU column is the bench process's.\n", "no server work, no acknowledgement saved")
	fmt.Fprintf(&b, "- stream: `sluice stream mysql://… --to stdout:// --include 'b\\..*' --stop-at END` with standard output on /dev/null, in its own process; CPU and peak RSS (its own, under GNU time) of the sluice process.\n")
	if stateDir != "" {
		fmt.Fprintf(&b, "- State files in %s.\n", stateDir)
	}
	fmt.Fprintf(&b, "- %d rounds, each running the rows below in turn; medians below.\n\n", rounds)
	fmt.Fprintf(&b, "| run | round | wall s | rows/s | server CPU s | CPU s per M rows | cores | peak RSS MB | client CPU s | batches | KB per batch |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	row := func(name string, i int, r result) {
		client, server, perM, cores, rss, batches, kb := "-", "-", "-", "-", "-", "-", "-"
		if r.client > 0 {
			client = fmt.Sprintf("%.2f", r.client.Seconds())
		}
		if r.cpu > 0 {
			server = fmt.Sprintf("%.2f", r.cpu.Seconds())
			perM = fmt.Sprintf("%.2f", r.cpu.Seconds()/(float64(rows)/1e6))
			cores = fmt.Sprintf("%.2f", r.cpu.Seconds()/r.wall.Seconds())
		}
		if r.rssKB > 0 {
			rss = fmt.Sprintf("%.1f", float64(r.rssKB)/1024)
		}
		if r.batches > 0 {
			batches = strconv.Itoa(r.batches)
			kb = fmt.Sprintf("%.0f", float64(r.readBytes)/float64(r.batches)/1024)
		}
		fmt.Fprintf(&b, "| %s | %d | %.2f | %.0f | %s | %s | %s | %s | %s | %s | %s |\n", name, i+1, r.wall.Seconds(),
			float64(rows)/r.wall.Seconds(), server, perM, cores, rss, client, batches, kb)
	}
	for i := range rounds {
		for k, sr := range series {
			row(sr.name, i, runs[k][i])
		}
	}
	med := func(rs []result, f func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	rate := func(r result) float64 { return float64(rows) / r.wall.Seconds() }
	cores := func(r result) float64 { return r.cpu.Seconds() / r.wall.Seconds() }
	fmt.Fprintf(&b, "\n| median | rows/s | server CPU s per M rows | cores | peak RSS MB | client CPU s per M rows |\n|---|---|---|---|---|---|\n")
	for k, sr := range series {
		rs := runs[k]
		fmt.Fprintf(&b, "| %s | %.0f | %.2f | %.2f | %.1f | %.2f |\n", sr.name, med(rs, rate),
			med(rs, func(r result) float64 { return r.cpu.Seconds() / (float64(rows) / 1e6) }), med(rs, cores),
			med(rs, func(r result) float64 { return float64(r.rssKB) / 1024 }),
			med(rs, func(r result) float64 { return r.client.Seconds() / (float64(rows) / 1e6) }))
	}
	verdict := func(rs []result) string {
		if med(rs, rate) < 100_000 || med(rs, cores) >= 1 {
			return "not met"
		}
		return "met"
	}
	fmt.Fprintf(&b, "\nGoal (issue 15): at least 100,000 rows/s at under one core for the server: **%s** in this run (median %.0f rows/s at %.2f cores); with the client parsing every RowChange: %s (median %.0f rows/s at %.2f cores).\n",
		verdict(runs[0]), med(runs[0], rate), med(runs[0], cores), verdict(runs[1]), med(runs[1], rate), med(runs[1], cores))
	fmt.Print(b.String())
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// masterStatus is SHOW MASTER STATUS as FILE:POS.
func masterStatus(ctx context.Context, srv *servers.MariaDB) (string, error) {
	db, err := srv.DB()
	if err != nil {
		return "", err
	}
	rows, err := db.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]any, len(cols))
	var file string
	var pos uint64
	vals[0], vals[1] = &file, &pos
	for i := 2; i < len(vals); i++ {
		vals[i] = new(any)
	}
	if !rows.Next() {
		return "", fmt.Errorf("SHOW MASTER STATUS: no row")
	}
	if err := rows.Scan(vals...); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s:%d", file, pos), nil
}
