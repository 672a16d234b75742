// Command sluice is the Sluice change-data-capture tool.
//
// Usage:
//
//	sluice <command> [arguments]
//
// Each command is one entry in the table returned by commands; a new command
// is one line there plus its own file. Exit codes: 0 success, 1 a runtime or
// decoding error, 2 a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// Exit codes scripts can rely on.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// env is what a command may touch of the outside world, so tests can run
// commands in-process with their own streams.
type env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// StderrTerminal reports whether Stderr is an interactive terminal
	// (progress lines are written only then).
	StderrTerminal bool
}

// command is one entry of the command table.
type command struct {
	Name    string
	Summary string
	Run     func(ctx context.Context, e *env, args []string) error
}

// commands is the command table. Add a command with one line here.
func commands() []command {
	return []command{
		{"binlog", "read MySQL/MariaDB binlog files (events, decode)", runBinlog},
		{"canal", "serve changes to Canal clients (canal serve)", runCanal},
		{"demo", "start a throwaway MariaDB with a workload and stream its changes", runDemo},
		{"pg", "PostgreSQL replication slots (slots, drop-slot)", runPg},
		{"run", "run the pipelines of a YAML config with an HTTP API, metrics and a dashboard", runRun},
		{"snapshot", "ask running streams to read tables again (an incremental snapshot)", runSnapshot},
		{"stream", "stream changes from a source URL to a sink, checkpointing", runStream},
		{"verify", "compare the tables of two databases by primary-key chunk checksums", runVerify},
		{"version", "print the version", runVersion},
	}
}

// usageError is an error in how the command was called; it exits with 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// exitError ends a command with its own exit code, printing err unless it
// is nil (a command that reported its outcome itself: sluice verify
// finding differences exits 1 without an error line).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usagef returns a usage error.
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	e := &env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, StderrTerminal: isTerminal(os.Stderr)}
	code := run(ctx, e, os.Args[1:])
	stop()
	os.Exit(code)
}

// run dispatches args to a command and maps its error to an exit code.
func run(ctx context.Context, e *env, args []string) int {
	err := dispatch(ctx, e, "sluice", commands(), args)
	return exitCode(e, err)
}

// exitCode prints err (if any) and returns the exit code for it.
func exitCode(e *env, err error) int {
	var ue *usageError
	var ee *exitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ee):
		if ee.err != nil {
			fmt.Fprintf(e.Stderr, "sluice: %v\n", ee.err)
		}
		return ee.code
	case errors.As(err, &ue):
		fmt.Fprintf(e.Stderr, "sluice: %s\n", ue.msg)
		return exitUsage
	default:
		fmt.Fprintf(e.Stderr, "sluice: %v\n", err)
		return exitFailure
	}
}

// dispatch runs the command of table named by args[0]. prog is the command
// path so far, used in help texts ("sluice", "sluice binlog").
func dispatch(ctx context.Context, e *env, prog string, table []command, args []string) error {
	if len(args) == 0 {
		printCommands(e.Stderr, prog, table)
		return usagef("%smissing command", cmdPrefix(prog))
	}
	name := args[0]
	if name == "help" || name == "-h" || name == "--help" || name == "-help" {
		if len(args) > 1 {
			// "sluice help binlog" is "sluice binlog --help".
			return dispatch(ctx, &env{Stdin: e.Stdin, Stdout: e.Stdout, Stderr: e.Stdout}, prog, table, []string{args[1], "--help"})
		}
		printCommands(e.Stdout, prog, table)
		return nil
	}
	for _, c := range table {
		if c.Name == name {
			return c.Run(ctx, e, args[1:])
		}
	}
	printCommands(e.Stderr, prog, table)
	return usagef("%sunknown command %q", cmdPrefix(prog), name)
}

// cmdPrefix is the prefix of an error message of command path prog
// ("sluice binlog" → "binlog: "; the top level has none).
func cmdPrefix(prog string) string {
	if p := strings.TrimPrefix(prog, "sluice"); p != "" {
		return strings.TrimSpace(p) + ": "
	}
	return ""
}

// printCommands writes the command list of a table.
func printCommands(w io.Writer, prog string, table []command) {
	fmt.Fprintf(w, "Usage: %s <command> [arguments]\n\nCommands:\n", prog)
	sorted := append([]command(nil), table...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, c := range sorted {
		fmt.Fprintf(w, "  %-10s %s\n", c.Name, c.Summary)
	}
	fmt.Fprintf(w, "\nRun '%s <command> --help' for a command's options.\n", prog)
}

// newFlagSet returns a flag set whose --help prints usage, synopsis and the
// flags to e.Stdout, and whose errors are returned (exit 2), not printed twice.
func newFlagSet(e *env, name, synopsis, description string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		w := e.Stdout
		fmt.Fprintf(w, "Usage: %s\n\n%s\n", synopsis, strings.TrimSpace(description))
		var any bool
		fs.VisitAll(func(*flag.Flag) { any = true })
		if any {
			fmt.Fprintf(w, "\nOptions:\n")
			fs.SetOutput(w)
			fs.PrintDefaults()
			fs.SetOutput(io.Discard)
		}
	}
	return fs
}

// parseFlags parses args with fs, accepting flags after positional
// arguments too (mysqlbinlog style: "FILE --start-position=4"). It returns
// flag.ErrHelp after printing usage for -h/--help, and a usage error otherwise.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	// The flag package prints usage on every parse error; print it only
	// for -h/--help (to stdout), and a one-line error otherwise.
	usage := fs.Usage
	fs.Usage = func() {}
	defer func() { fs.Usage = usage }()
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				usage()
				return nil, flag.ErrHelp
			}
			return nil, usagef("%s: %v (see --help)", fs.Name(), err)
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			// Everything after "--" is positional.
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// runVersion prints the version.
func runVersion(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "version", "sluice version", "Print the version of sluice.")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(e.Stdout, "sluice", version())
	return nil
}
