// Command benchrun runs one benchmark and writes its results file with a
// header that the run itself records, so that no header is written or
// edited by hand: when and where it ran (date, CPU model, cores, memory,
// OS, Go version, the peers' versions), the exact command, the commit of
// every tree measured, the load average before and after, how much CPU
// other processes used during the run, and whether the run counts as
// quiet.
//
//	benchrun -out bench/results/NAME.md -title TITLE -command 'bench/NAME.sh ARGS' \
//	    [-peer 'mariadb-binlog --version']... [-tree before=/work/before]... -- PROGRAM ARGS...
//
// PROGRAM runs with BENCH_BODY set to a file: what it writes there (Markdown)
// follows the header; if it writes nothing, its standard output follows
// in a code block. Its standard output and error also go to benchrun's.
// The results file is written also when PROGRAM fails (a gate that fails
// records why), and benchrun exits with PROGRAM's status.
//
// # Quiet
//
// A run is quiet when the 1-minute load average was below QuietLoad
// before it started and the processes outside the benchmark used at most
// QuietOthers cores on average while it ran. The load average after a run
// is recorded but is no criterion: a benchmark that keeps a core busy for
// a minute raises it to about 1 by itself. What other processes used is
// measured exactly: benchrun is a child subreaper (PR_SET_CHILD_SUBREAPER),
// so every process the benchmark starts — daemonised servers included —
// is reaped by it or by one of its descendants, and its RUSAGE_CHILDREN is
// the benchmark's whole CPU time; the machine's CPU time comes from
// /proc/stat; the difference is everybody else's.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// QuietLoad is the 1-minute load average below which the machine counts
// as idle before a run (2 cores).
const QuietLoad = 0.5

// QuietOthers is the CPU, in cores averaged over the run, that processes
// outside the benchmark may use in a quiet run.
const QuietOthers = 0.05

// userHZ is the unit of /proc/stat's times on Linux.
const userHZ = 100

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ", ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var peers, trees listFlag
	out := flag.String("out", "", "results file to write (Markdown)")
	title := flag.String("title", "", "title of the results file")
	command := flag.String("command", "", "the command as the user typed it, for the header")
	flag.Var(&peers, "peer", "a command printing a peer's version (repeatable)")
	flag.Var(&trees, "tree", "NAME=DIR: another source tree measured, whose commit the header names (repeatable)")
	flag.Parse()
	if *out == "" || *title == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: benchrun -out FILE -title TITLE [-command CMD] [-peer CMD]... [-tree NAME=DIR]... -- PROGRAM ARGS...")
		os.Exit(2)
	}
	code, err := run(*out, *title, *command, peers, trees, flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// sample is the machine's state at one moment.
type sample struct {
	at   time.Time
	load string  // 1, 5 and 15-minute load averages
	busy float64 // CPU seconds the machine spent outside idle and iowait
}

func takeSample() (sample, error) {
	s := sample{at: time.Now()}
	la, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return s, err
	}
	f := strings.Fields(string(la))
	if len(f) < 3 {
		return s, fmt.Errorf("/proc/loadavg: %q", la)
	}
	s.load = strings.Join(f[:3], " ")
	st, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s, err
	}
	line, _, _ := strings.Cut(string(st), "\n")
	f = strings.Fields(line) // cpu user nice system idle iowait irq softirq steal guest guest_nice
	if len(f) < 8 || f[0] != "cpu" {
		return s, fmt.Errorf("/proc/stat: first line %q", line)
	}
	for _, i := range []int{1, 2, 3, 6, 7} { // guest time is inside user already
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return s, fmt.Errorf("/proc/stat: %q: %w", line, err)
		}
		s.busy += v / userHZ
	}
	return s, nil
}

func (s sample) load1() float64 {
	f, _, _ := strings.Cut(s.load, " ")
	v, _ := strconv.ParseFloat(f, 64)
	return v
}

// usage is CPU time from getrusage.
func usage(who int) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func run(out, title, command string, peers, trees []string, argv []string) (int, error) {
	// Every orphaned descendant is reparented to this process, which
	// reaps it below, so its CPU time lands in RUSAGE_CHILDREN.
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, 36 /* PR_SET_CHILD_SUBREAPER */, 1, 0); e != 0 {
		return 1, fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", e)
	}
	body, err := os.CreateTemp("", "benchrun-body-*.md")
	if err != nil {
		return 1, err
	}
	defer os.Remove(body.Name())
	body.Close()

	machine := describeMachine(peers, trees)
	before, err := takeSample()
	if err != nil {
		return 1, err
	}
	self0 := usage(syscall.RUSAGE_SELF)
	code, stdout, stragglers, err := runReaped(argv, "BENCH_BODY="+body.Name())
	if err != nil {
		return 1, err
	}
	after, err := takeSample()
	if err != nil {
		return 1, err
	}
	ours := usage(syscall.RUSAGE_CHILDREN) + usage(syscall.RUSAGE_SELF) - self0

	text, err := os.ReadFile(body.Name())
	if err != nil {
		return 1, err
	}
	if len(bytes.TrimSpace(text)) == 0 {
		text = []byte("```\n" + strings.TrimRight(stdout, "\n") + "\n```\n")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", title)
	fmt.Fprintf(&b, "<!-- Written by bench/cmd/benchrun; do not edit by hand: run the command again. -->\n\n")
	fmt.Fprintf(&b, "| run | |\n|---|---|\n")
	if command == "" {
		command = strings.Join(argv, " ")
	}
	fmt.Fprintf(&b, "| command | `%s` |\n", command)
	for _, m := range machine {
		fmt.Fprintf(&b, "| %s | %s |\n", m[0], m[1])
	}
	wall := after.at.Sub(before.at).Seconds()
	fmt.Fprintf(&b, "| ran | %s – %s UTC (%s) |\n", before.at.UTC().Format("2006-01-02 15:04:05"),
		after.at.UTC().Format("15:04:05"), after.at.Sub(before.at).Round(time.Second))
	fmt.Fprintf(&b, "| load average (1, 5, 15 min) | %s before, %s after |\n", before.load, after.load)
	machineCores := (after.busy - before.busy) / wall
	oursCores := ours / wall
	others := max(machineCores-oursCores, 0)
	fmt.Fprintf(&b, "| CPU in use during the run, on average | %.2f cores: this benchmark's processes %.2f, other processes %.2f |\n",
		machineCores, oursCores, others)
	if stragglers > 0 {
		fmt.Fprintf(&b, "| processes left running | %d started by the benchmark were still running at its end; their CPU counts as other processes' |\n", stragglers)
	}
	quiet := before.load1() < QuietLoad && others <= QuietOthers
	verdict := "no"
	if quiet {
		verdict = "**yes**"
	}
	fmt.Fprintf(&b, "| quiet | %s (quiet: 1-minute load average below %.2f before the run and other processes using at most %.2f cores during it) |\n",
		verdict, QuietLoad, QuietOthers)
	status := "0 (success)"
	if code != 0 {
		status = fmt.Sprintf("**%d (failed)**", code)
	}
	fmt.Fprintf(&b, "| exit status | %s |\n\n", status)
	b.Write(text)
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		return 1, err
	}
	fmt.Fprintf(os.Stderr, "benchrun: wrote %s (quiet: %v; other processes %.2f cores, load before %s)\n", out, quiet, others, before.load)
	return code, nil
}

// runReaped runs argv with env added, its output passed through (standard
// output also kept), and reaps every descendant that ends up as this
// process's child until none is left or, after argv's process exited, 10 s
// passed. It returns argv's exit status and how many children were still
// running then.
func runReaped(argv []string, env ...string) (code int, stdout string, stragglers int, err error) {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return 0, "", 0, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return 0, "", 0, err
	}
	p, err := os.StartProcess(path, argv, &os.ProcAttr{
		Env:   append(os.Environ(), env...),
		Files: []*os.File{os.Stdin, pw, os.Stderr},
	})
	pw.Close()
	if err != nil {
		pr.Close()
		return 0, "", 0, err
	}
	var kept bytes.Buffer
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		io.Copy(io.MultiWriter(os.Stdout, &kept), bufio.NewReader(pr))
		pr.Close()
	}()
	// Ctrl-C reaches the whole process group; the benchmark decides what
	// to do with it, and this process keeps reaping.
	signal.Notify(make(chan os.Signal, 1), os.Interrupt, syscall.SIGTERM)

	code = -1
	var deadline time.Time
	for {
		var ws syscall.WaitStatus
		opts := 0
		if code >= 0 {
			opts = syscall.WNOHANG
		}
		pid, err := syscall.Wait4(-1, &ws, opts, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if errors.Is(err, syscall.ECHILD) {
			break
		}
		if err != nil {
			return code, "", 0, fmt.Errorf("wait: %w", err)
		}
		if pid == p.Pid {
			code = ws.ExitStatus()
			if ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
			deadline = time.Now().Add(10 * time.Second)
			continue
		}
		if pid == 0 { // children left, none exited yet
			if time.Now().After(deadline) {
				stragglers = countChildren()
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	<-copied
	return code, kept.String(), stragglers, nil
}

// countChildren counts the processes whose parent is this one.
func countChildren() int {
	self := strconv.Itoa(os.Getpid())
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	n := 0
	for _, d := range dirs {
		st, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		_, rest, ok := bytes.Cut(st, []byte(") "))
		if f := strings.Fields(string(rest)); ok && len(f) > 1 && f[1] == self {
			n++
		}
	}
	return n
}

// describeMachine returns the header's rows about the code and the machine.
func describeMachine(peers, trees []string) [][2]string {
	var rows [][2]string
	rows = append(rows, [2]string{"code measured", "commit " + commit(".")})
	for _, t := range trees {
		name, dir, _ := strings.Cut(t, "=")
		rows = append(rows, [2]string{name, fmt.Sprintf("commit %s (%s)", commit(dir), dir)})
	}
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		if f := strings.Fields(string(data)); len(f) > 1 && f[0] == "MemTotal:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			mem = fmt.Sprintf(", %.1f GiB", kb/(1<<20))
		}
	}
	osName := runtime.GOOS
	if data, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
				osName = strings.Trim(v, `"`)
			}
		}
	}
	kernel := firstLine("uname", "-r")
	host, _ := os.Hostname()
	rows = append(rows, [2]string{"machine", fmt.Sprintf("%s, %d CPUs%s; %s, Linux %s; host %s", cpu, runtime.NumCPU(), mem, osName, kernel, host)})
	rows = append(rows, [2]string{"Go", firstLine("go", "env", "GOVERSION")})
	var vs []string
	for _, p := range peers {
		vs = append(vs, firstLine("sh", "-c", p))
	}
	if len(vs) > 0 {
		rows = append(rows, [2]string{"peers", strings.Join(vs, "; ")})
	}
	return rows
}

// commit names the commit checked out in dir, and says so when tracked
// files differ from it.
func commit(dir string) string {
	c := firstLine("git", "-C", dir, "log", "-1", "--format=%h (%cd) %s", "--date=format:%Y-%m-%d %H:%M")
	if c == "?" {
		return "? (not a git tree)"
	}
	c = strings.ReplaceAll(c, "|", "/")
	if len(c) > 110 {
		c = c[:110] + "…"
	}
	if out, err := exec.Command("git", "-C", dir, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(out)) > 0 {
		var files []string
		// Not TrimSpace: the first line's status may begin with a space.
		for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
			if len(l) > 3 {
				files = append(files, l[3:])
			}
		}
		more := ""
		if len(files) > 4 {
			files, more = files[:4], fmt.Sprintf(" and %d more", len(files)-4)
		}
		c += fmt.Sprintf(", **with uncommitted changes** to %s%s", strings.Join(files, ", "), more)
	}
	return c
}

func firstLine(name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil && len(out) == 0 {
		return "?"
	}
	l, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return l
}
