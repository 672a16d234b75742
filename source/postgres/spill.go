package postgres

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// streamedTx holds the messages of one streamed, not yet committed
// transaction: in memory while the spill store's budget allows, then in a
// file of its own. Records are [subxid u32][length u32][message].
type streamedTx struct {
	xid     uint32
	mem     []byte
	file    *os.File
	w       *bufio.Writer
	bytes   int64 // record bytes held (memory or file)
	records int
	// aborted holds subtransactions rolled back (ROLLBACK TO SAVEPOINT):
	// their data messages are skipped at replay.
	aborted map[uint32]bool
}

// spillStore owns every streamed transaction and bounds the memory they
// hold together to limit bytes; past it, the transaction being added to
// moves to a file under dir.
type spillStore struct {
	dir    string
	limit  int64
	inMem  int64
	txs    map[uint32]*streamedTx
	spills int // transactions that went to disk, for tests and stats
}

// newSpillStore creates a private directory under parent ("" = os.TempDir()).
func newSpillStore(parent string, limit int64) (*spillStore, error) {
	dir, err := os.MkdirTemp(parent, "sluice-pg-spill-")
	if err != nil {
		return nil, fmt.Errorf("postgres: create spill directory: %w", err)
	}
	return &spillStore{dir: dir, limit: limit, txs: make(map[uint32]*streamedTx)}, nil
}

// close drops every transaction and removes the directory.
func (s *spillStore) close() error {
	for _, tx := range s.txs {
		s.drop(tx)
	}
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("postgres: remove spill directory: %w", err)
	}
	return nil
}

// tx returns the transaction with the given xid, creating it.
func (s *spillStore) tx(xid uint32) *streamedTx {
	tx := s.txs[xid]
	if tx == nil {
		tx = &streamedTx{xid: xid}
		s.txs[xid] = tx
	}
	return tx
}

// add appends one message of subtransaction subxid to tx.
func (s *spillStore) add(tx *streamedTx, subxid uint32, msg []byte) error {
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[:], subxid)
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(msg)))
	n := int64(len(hdr) + len(msg))
	if tx.file == nil && s.inMem+n > s.limit {
		if err := s.spill(tx); err != nil {
			return err
		}
	}
	tx.bytes += n
	tx.records++
	if tx.file == nil {
		tx.mem = append(tx.mem, hdr[:]...)
		tx.mem = append(tx.mem, msg...)
		s.inMem += n
		return nil
	}
	if _, err := tx.w.Write(hdr[:]); err != nil {
		return fmt.Errorf("postgres: spill transaction %d: %w", tx.xid, err)
	}
	if _, err := tx.w.Write(msg); err != nil {
		return fmt.Errorf("postgres: spill transaction %d: %w", tx.xid, err)
	}
	return nil
}

// spill moves tx's records from memory to its file.
func (s *spillStore) spill(tx *streamedTx) error {
	f, err := os.Create(filepath.Join(s.dir, strconv.FormatUint(uint64(tx.xid), 10)))
	if err != nil {
		return fmt.Errorf("postgres: spill transaction %d: %w", tx.xid, err)
	}
	tx.file, tx.w = f, bufio.NewWriterSize(f, 64<<10)
	if _, err := tx.w.Write(tx.mem); err != nil {
		return fmt.Errorf("postgres: spill transaction %d: %w", tx.xid, err)
	}
	s.inMem -= int64(len(tx.mem))
	tx.mem = nil
	s.spills++
	return nil
}

// abortSub marks a subtransaction of tx rolled back.
func (s *spillStore) abortSub(tx *streamedTx, subxid uint32) {
	if tx.aborted == nil {
		tx.aborted = make(map[uint32]bool)
	}
	tx.aborted[subxid] = true
}

// drop forgets tx and frees its memory or file.
func (s *spillStore) drop(tx *streamedTx) {
	if tx.file != nil {
		tx.file.Close()
		os.Remove(tx.file.Name())
		tx.file, tx.w = nil, nil
	}
	s.inMem -= int64(len(tx.mem))
	tx.mem = nil
	delete(s.txs, tx.xid)
}

// replay calls fn with every record of tx in order: the subtransaction
// xid and the message. Skipping aborted subtransactions is left to fn
// (tx.aborted). fn may keep the message slice: it is never reused.
func (s *spillStore) replay(tx *streamedTx, fn func(subxid uint32, msg []byte) error) error {
	if tx.file == nil {
		b := tx.mem
		for len(b) >= 8 {
			sub := binary.BigEndian.Uint32(b)
			n := int(binary.BigEndian.Uint32(b[4:]))
			if len(b) < 8+n {
				return fmt.Errorf("postgres: replay transaction %d: truncated record", tx.xid)
			}
			if err := fn(sub, b[8:8+n:8+n]); err != nil {
				return err
			}
			b = b[8+n:]
		}
		return nil
	}
	if err := tx.w.Flush(); err != nil {
		return fmt.Errorf("postgres: replay transaction %d: flush spill file: %w", tx.xid, err)
	}
	if _, err := tx.file.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("postgres: replay transaction %d: %w", tx.xid, err)
	}
	r := bufio.NewReaderSize(tx.file, 64<<10)
	var hdr [8]byte
	for i := 0; i < tx.records; i++ {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return fmt.Errorf("postgres: replay transaction %d: record %d: %w", tx.xid, i, err)
		}
		msg := make([]byte, binary.BigEndian.Uint32(hdr[4:]))
		if _, err := io.ReadFull(r, msg); err != nil {
			return fmt.Errorf("postgres: replay transaction %d: record %d: %w", tx.xid, i, err)
		}
		if err := fn(binary.BigEndian.Uint32(hdr[:]), msg); err != nil {
			return err
		}
	}
	return nil
}
