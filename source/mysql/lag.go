package mysql

import (
	"context"
	"fmt"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/source"
)

// Lag implements source.Lagger: the binlog bytes between at and the end
// of the server's binlog, from SHOW BINARY LOGS (the sizes of at's file
// and of every file after it). Bytes is -1 when at names no file (a GTID
// set alone) or its file is no longer listed.
func (s *Source) Lag(ctx context.Context, at change.Position) (source.Lag, error) {
	r, err := dial(ctx, &s.cfg)
	if err != nil {
		return source.Lag{}, err
	}
	defer r.Close()
	stop := r.watch(ctx)
	defer stop()
	files, err := r.binaryLogs()
	if err != nil {
		return source.Lag{}, fmt.Errorf("mysql: lag: %w", err)
	}
	return binlogLag(files, at), nil
}

// binlogLag computes Lag from the server's binlog files.
func binlogLag(files []BinlogFile, at change.Position) source.Lag {
	lag := source.Lag{Bytes: -1, Seconds: -1, Retained: -1}
	if len(files) == 0 {
		return lag
	}
	last := files[len(files)-1]
	lag.Head = change.Position{Flavor: change.FlavorBinlog, File: last.Name, Offset: last.Size}
	if at.File == "" {
		return lag
	}
	var total int64
	found := false
	for _, f := range files {
		switch {
		case f.Name == at.File:
			found = true
			total += int64(f.Size) - int64(min(at.Offset, f.Size))
		case found:
			total += int64(f.Size)
		}
	}
	if found {
		lag.Bytes = total
	}
	return lag
}

// Reconnects implements source.Reconnecter.
func (s *Source) Reconnects() int64 { return s.reconnects.Load() }
