// Package changes turns binlog events into change.Change values: the
// layer between package binlog (bytes in, events and row values out) and
// everything that wants changes from a binlog file or stream (the sluice
// CLI, sources, tools).
//
// A Decoder is fed events in order and calls an emit function for each
// change. The change passed to emit, its images and the bytes of its
// values are reused for the next change: copy what must outlive the call
// (change.Value.Clone). Decoding allocates nothing per row once warm.
//
//	d := changes.NewDecoder(changes.Filter{})
//	err := changes.DecodeFiles(ctx, []string{"mariadb-bin.000001"}, d, func(c *change.Change) error {
//		out = change.AppendJSON(out[:0], c)
//		...
//	}, nil)
//
// Decoder.Event works on events from any binlog.Reader, so a replication
// stream can use the same Decoder (StartFile names the file on rotation).
package changes
