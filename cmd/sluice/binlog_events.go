package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluice-cdc/sluice/binlog"
	"github.com/sluice-cdc/sluice/binlog/eventinfo"
)

const eventsHelp = `
List the events of binlog or relay log files, one line per event, with the
columns of SHOW BINLOG EVENTS: Log_name, Pos, Event_type, Server_id,
End_log_pos, Info. Text output is tab-separated with a header line and
escapes tabs, newlines and backslashes in Info (\t, \n, \\) as the mariadb
client's batch mode does; --format json prints one JSON object per event
with the fields log_name, pos, event_type, server_id, end_log_pos, info.

FILE "-" reads a binlog from standard input (Log_name "stdin").

Events inside a MySQL TRANSACTION_PAYLOAD_EVENT are not listed (as on the
server). Checksums are verified; a damaged event ends the listing with an
error naming the file and offset (exit status 1).`

type eventsOptions struct {
	format  string
	start   int64
	stop    int64
	limit   int64
	noCheck bool
}

func runBinlogEvents(ctx context.Context, e *env, args []string) error {
	var o eventsOptions
	fs := newFlagSet(e, "binlog events", "sluice binlog events [options] FILE...", eventsHelp)
	fs.StringVar(&o.format, "format", "text", "output format: text or json")
	fs.Int64Var(&o.start, "start-position", 0, "list events starting at this offset of the first file")
	fs.Int64Var(&o.stop, "stop-position", 0, "stop at the first event at or after this offset of the last file")
	fs.Int64Var(&o.limit, "limit", 0, "list at most this many events (0: all)")
	fs.BoolVar(&o.noCheck, "skip-checksums", false, "do not verify CRC32 checksums")
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("binlog events: no FILE given")
	}
	if o.format != "text" && o.format != "json" {
		return usagef("binlog events: --format must be text or json, not %q", o.format)
	}
	w := bufio.NewWriterSize(e.Stdout, 64<<10)
	if o.format == "text" {
		w.WriteString("Log_name\tPos\tEvent_type\tServer_id\tEnd_log_pos\tInfo\n")
	}
	var n int64
	for i, path := range files {
		err := listEvents(ctx, e, w, path, i == 0, i == len(files)-1, &o, &n)
		if errors.Is(err, errLimit) {
			break
		}
		if err != nil {
			w.Flush()
			return err
		}
	}
	return w.Flush()
}

var errLimit = errors.New("limit reached")

func listEvents(ctx context.Context, e *env, w *bufio.Writer, path string, first, last bool, o *eventsOptions, n *int64) error {
	var src io.Reader = e.Stdin
	name := "stdin"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		src, name = f, filepath.Base(path)
	}
	opts := []binlog.Option{binlog.WithoutPayloadExpansion()}
	if o.noCheck {
		opts = append(opts, binlog.WithoutChecksums())
	}
	r := binlog.NewReader(src, name, opts...)
	defer r.Close()
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i := 0; ; i++ {
		if i&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		ev, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if first && ev.Offset < o.start {
			continue
		}
		if last && o.stop > 0 && ev.Offset >= o.stop {
			return nil
		}
		row, err := eventinfo.Describe(name, ev)
		if err != nil {
			return err
		}
		if o.format == "json" {
			if err := enc.Encode(row); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(w, "%s\t%d\t%s\t%d\t%d\t%s\n", batchEscape(row.LogName), row.Pos, row.EventType,
				row.ServerID, row.EndLogPos, batchEscape(row.Info))
		}
		*n++
		if o.limit > 0 && *n >= o.limit {
			return errLimit
		}
	}
}

// batchEscape escapes a field as the mariadb client's batch mode (-B) does.
func batchEscape(s string) string {
	if !strings.ContainsAny(s, "\\\t\n\x00") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case 0:
			b.WriteString(`\0`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
