package snapshot

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/change"
)

// Mode says when a source snapshots the tables it streams.
type Mode string

// The modes.
const (
	// ModeDefault leaves the choice to whoever builds the source: a source
	// built from its Config treats it as ModeNever, so that a stream
	// configured by hand reads only the log; `sluice stream` passes
	// ModeInitial unless --from names a start.
	ModeDefault Mode = ""
	// ModeInitial snapshots when the stream has no position to resume
	// from, then streams from the snapshot's consistent point.
	ModeInitial Mode = "initial"
	// ModeNever never snapshots: the stream starts where the source's
	// start says (latest, earliest, a position).
	ModeNever Mode = "never"
	// ModeWhenNeeded is ModeInitial, and also snapshots again when the
	// saved position is no longer in the log (source.ErrPositionLost)
	// instead of failing.
	ModeWhenNeeded Mode = "when-needed"
	// ModeOnly snapshots and stops: Stream returns nil after the last row.
	ModeOnly Mode = "only"
)

// ParseMode reads a Mode as users write it ("" is ModeDefault).
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case ModeDefault, ModeInitial, ModeNever, ModeWhenNeeded, ModeOnly:
		return m, nil
	case "when_needed":
		return ModeWhenNeeded, nil
	}
	return "", fmt.Errorf("snapshot %q: want initial, never, when-needed or only", s)
}

// Snapshots reports whether m snapshots a stream that has no position.
func (m Mode) Snapshots() bool { return m == ModeInitial || m == ModeWhenNeeded || m == ModeOnly }

// Defaults of Options.
const (
	DefaultWorkers = 2
	// DefaultChunkRows is large: every query costs a round trip and a
	// start on the server while the rows wait, and the rows of one query
	// stream with backpressure whatever its LIMIT. On a 2 M-row table,
	// 262144 rows per query took 12-18 % less time than 8192.
	DefaultChunkRows   = 262144
	DefaultMemoryBytes = 4 << 20
	// DefaultProgressEvery is how often a running snapshot reports its
	// progress.
	DefaultProgressEvery = 5 * time.Second
)

// Options configure a source's snapshots. The zero value is ModeDefault
// with the defaults below.
type Options struct {
	// Mode says when to snapshot.
	Mode Mode
	// Workers is how many connections read tables at once, each in the
	// same consistent view (default DefaultWorkers). Rows are delivered
	// table by table in CompareTables order; a worker reads the next
	// table (or key range of a table, see RangeReader) ahead while the one
	// before it is delivered.
	Workers int
	// ChunkRows is how many rows one query reads (keyset pagination on
	// the table's key: WHERE key > last ORDER BY key LIMIT ChunkRows).
	// Default DefaultChunkRows.
	ChunkRows int
	// MemoryBytes bounds the bytes of rows read and not yet delivered,
	// shared by the workers (default DefaultMemoryBytes); a row larger
	// than a worker's share is held alone.
	MemoryBytes int64
	// Tables selects the tables to snapshot (the pipeline's filter: a
	// table whose changes would be dropped is not read). Nil reads every
	// table the source streams.
	Tables func(change.Namespace) bool
	// Progress, when set, is called with the snapshot's progress every
	// ProgressEvery and once when it ends; the source logs it besides.
	Progress func(Progress)
	// ProgressEvery is how often Progress is reported and logged (default
	// DefaultProgressEvery).
	ProgressEvery time.Duration
	// Signal names the signalling table incremental snapshots are asked
	// for through (see the source's documentation); "" is the source's
	// default.
	Signal string
}

// withDefaults returns o with zero fields set to their defaults.
func (o Options) withDefaults() Options {
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.ChunkRows <= 0 {
		o.ChunkRows = DefaultChunkRows
	}
	if o.MemoryBytes <= 0 {
		o.MemoryBytes = DefaultMemoryBytes
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = DefaultProgressEvery
	}
	return o
}

// Validate checks o.
func (o Options) Validate() error {
	if _, err := ParseMode(string(o.Mode)); err != nil {
		return err
	}
	switch {
	case o.Workers < 0 || o.Workers > 64:
		return fmt.Errorf("snapshot workers %d: want 1 to 64", o.Workers)
	case o.ChunkRows < 0:
		return fmt.Errorf("snapshot chunk %d: want a positive row count", o.ChunkRows)
	case o.MemoryBytes < 0:
		return fmt.Errorf("snapshot memory %d: want a positive byte count", o.MemoryBytes)
	}
	return nil
}

// Keep reports whether o selects the table ns.
func (o Options) Keep(ns change.Namespace) bool { return o.Tables == nil || o.Tables(ns) }

// Progress is where a snapshot stands.
type Progress struct {
	// Table is the table being delivered.
	Table change.Namespace
	// TablesDone of Tables are delivered.
	TablesDone, Tables int
	// Rows have been delivered by this run of the snapshot (Resumed by
	// the runs before it); Estimated is the database's estimate of the
	// rows of every table (-1 when it has none).
	Rows, Resumed, Estimated int64
	// Rate is rows per second over the run, and ETA the time left at that
	// rate (0 when unknown).
	Rate    float64
	ETA     time.Duration
	Elapsed time.Duration
	// Done is set on the last report.
	Done bool
}

// LogAttrs returns p as slog attributes.
func (p Progress) LogAttrs() []any {
	attrs := []any{"table", p.Table.Database + "." + p.Table.Table, "tables", fmt.Sprintf("%d/%d", p.TablesDone, p.Tables),
		"rows", p.Rows + p.Resumed}
	if p.Estimated >= 0 {
		attrs = append(attrs, "estimated", p.Estimated)
	}
	attrs = append(attrs, "rate", fmt.Sprintf("%.0f/s", p.Rate), "elapsed", p.Elapsed.Round(time.Millisecond))
	if p.ETA > 0 && !p.Done {
		attrs = append(attrs, "eta", p.ETA.Round(time.Second))
	}
	return attrs
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
