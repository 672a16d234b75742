package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/snapshot"
	"github.com/sluice-cdc/sluice/source/mysql"
	"github.com/sluice-cdc/sluice/source/postgres"
)

const snapshotSynopsis = "sluice snapshot SOURCE-URL --table DB.TABLE [--table …] [--state ./sluice.db] [--id stream] [--wait]"

const snapshotHelp = `Ask the streams that follow a database to read tables again while they
run (an incremental snapshot, with Netflix DBLog's watermarks): the rows
arrive in their output as "read" changes marked "incremental", interleaved
with the live changes, without pausing the stream and without locks; a row
changed while its chunk was read is left to the stream, so every row's
changes stay in order and a row deleted meanwhile never comes back.

The request is a row this command inserts into the signalling table
(MySQL/MariaDB: sluice.signal, PostgreSQL: public.sluice_signal; the
URL's signal-table=… names another), created when missing; each running
stream reads it from its own log and writes its watermarks there, so the
user needs CREATE (once) and INSERT on it; on PostgreSQL the table must be
in the stream's publication (added when the publication lists its tables).
The signalling table's rows never reach a stream's output.

--state and --id name a stream's state file: when the stream is not
running, the command says where it stands (a stream with no saved position
snapshots everything when it starts). --wait waits until a stream says it
is done (a "done" row in the signalling table).

SOURCE-URL is the stream's source URL (mysql://, mariadb://, postgres://).
MongoDB sources cannot snapshot incrementally.`

func runSnapshot(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "snapshot", snapshotSynopsis, snapshotHelp)
	var tables []string
	fs.Func("table", "a table to read again, DB.TABLE (PostgreSQL: SCHEMA.TABLE); repeatable", func(s string) error {
		tables = append(tables, strings.Split(s, ",")...)
		return nil
	})
	state := fs.String("state", "", "the stream's state file, to say where it stands")
	id := fs.String("id", "stream", "the stream's name in the state file")
	wait := fs.Bool("wait", false, "wait until a stream is done with the request")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("snapshot: want one SOURCE-URL, got %d arguments", len(pos))
	}
	if len(tables) == 0 {
		return usagef("snapshot: name the tables with --table DB.TABLE")
	}
	var names []change.Namespace
	for _, t := range tables {
		db, tb, ok := strings.Cut(strings.TrimSpace(t), ".")
		if !ok || db == "" || tb == "" {
			return usagef("snapshot: --table %q: want DB.TABLE", t)
		}
		names = append(names, change.Namespace{Database: db, Table: tb})
	}
	raw := pos[0]
	err = requestSnapshot(ctx, e, raw, names, *state, *id, *wait)
	return address.RedactError(err, raw)
}

// errNoIncremental marks a source URL whose kind cannot snapshot
// incrementally.
var errNoIncremental = errors.New("cannot snapshot incrementally (MySQL, MariaDB and PostgreSQL can)")

// snapshotRequester returns the function that asks the streams following
// the database of source URL raw for an incremental snapshot of tables
// (returning the request's id), and the one that says whether a stream
// is done with a request. Errors are the URL's, or wrap errNoIncremental.
func snapshotRequester(raw string) (request func(context.Context, []change.Namespace) (string, error), done func(context.Context, string) (bool, error), err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, nil, address.ParseError(err)
	}
	switch u.Scheme {
	case "mysql", "mariadb":
		cfg, err := mysql.ParseURL(raw)
		if err != nil {
			return nil, nil, err
		}
		request = func(ctx context.Context, tables []change.Namespace) (string, error) {
			return mysql.RequestSnapshot(ctx, cfg, tables)
		}
		done = func(ctx context.Context, id string) (bool, error) { return mysql.RequestDone(ctx, cfg, id) }
	case "postgres", "postgresql":
		cfg, err := postgres.ParseURL(raw)
		if err != nil {
			return nil, nil, err
		}
		request = func(ctx context.Context, tables []change.Namespace) (string, error) {
			return postgres.RequestSnapshot(ctx, cfg, tables)
		}
		done = func(ctx context.Context, id string) (bool, error) { return postgres.RequestDone(ctx, cfg, id) }
	default:
		return nil, nil, fmt.Errorf("%s sources %w", u.Scheme, errNoIncremental)
	}
	return request, done, nil
}

func requestSnapshot(ctx context.Context, e *env, raw string, tables []change.Namespace, state, id string, wait bool) error {
	request, done, err := snapshotRequester(raw)
	switch {
	case errors.Is(err, errNoIncremental):
		return usagef("snapshot: %v", err)
	case err != nil:
		return usagef("snapshot: source URL: %v", err)
	}
	if state != "" {
		b, err := checkpoint.OpenBolt(state, 300*time.Millisecond)
		switch {
		case err != nil:
			fmt.Fprintf(e.Stderr, "sluice: snapshot: %s is in use (its stream is running, or %v): the stream takes the request now\n", state, err)
		default:
			p, lerr := b.Load(ctx, id)
			b.Close()
			switch {
			case errors.Is(lerr, checkpoint.ErrNotFound):
				fmt.Fprintf(e.Stderr, "sluice: snapshot: %s holds no position for %q: that stream snapshots every table when it starts\n", state, id)
			case lerr != nil:
				return lerr
			default:
				st, _ := snapshot.ParseState(p.Snapshot)
				if st.Incremental != "" {
					fmt.Fprintf(e.Stderr, "sluice: snapshot: stream %q is serving request %s (table %s.%s); a stream serves one request at a time\n",
						id, st.Incremental, st.Table.Database, st.Table.Table)
				}
				fmt.Fprintf(e.Stderr, "sluice: snapshot: stream %q is not running; it takes the request when it resumes at %s\n", id, p)
			}
		}
	}
	rid, err := request(ctx, tables)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "%s\n", rid)
	if !wait {
		return nil
	}
	for {
		ok, err := done(ctx, rid)
		if err != nil {
			return err
		}
		if ok {
			fmt.Fprintf(e.Stderr, "sluice: snapshot: request %s done\n", rid)
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(500 * time.Millisecond):
		}
	}
}
