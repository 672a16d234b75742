package postgres

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
)

// Encoders for pgoutput messages, written from the protocol documentation,
// so the decoder can be tested without a server.

func enc(typ byte, parts ...any) []byte {
	b := []byte{typ}
	for _, p := range parts {
		switch v := p.(type) {
		case uint8:
			b = append(b, v)
		case uint16:
			b = binary.BigEndian.AppendUint16(b, v)
		case uint32:
			b = binary.BigEndian.AppendUint32(b, v)
		case uint64:
			b = binary.BigEndian.AppendUint64(b, v)
		case string: // NUL-terminated
			b = append(append(b, v...), 0)
		case []byte: // raw
			b = append(b, v...)
		default:
			panic("enc: unsupported part")
		}
	}
	return b
}

// tuple encodes text columns; nil is NULL, "\x00u" is unchanged TOAST.
func tuple(cols ...*string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(cols)))
	for _, c := range cols {
		switch {
		case c == nil:
			b = append(b, 'n')
		case *c == "\x00u":
			b = append(b, 'u')
		default:
			b = append(b, 't')
			b = binary.BigEndian.AppendUint32(b, uint32(len(*c)))
			b = append(b, *c...)
		}
	}
	return b
}

func s(v string) *string { return &v }

// streamed prefixes the xid that data messages carry inside a stream block.
func withXid(msg []byte, xid uint32) []byte {
	out := []byte{msg[0]}
	out = binary.BigEndian.AppendUint32(out, xid)
	return append(out, msg[1:]...)
}

func begin(lsn uint64, xid uint32) []byte {
	return enc('B', lsn, uint64(0), xid)
}

func commit(lsn, end uint64) []byte { return enc('C', uint8(0), lsn, end, uint64(0)) }

func insert(rel uint32, cols ...*string) []byte {
	return enc('I', rel, uint8('N'), tuple(cols...))
}

func relationMsg(id uint32) []byte {
	return enc('R', id, "public", "t", uint8('d'), uint16(2),
		uint8(1), "id", uint32(23), uint32(0xffffffff),
		uint8(0), "v", uint32(25), uint32(0xffffffff))
}

func TestDecodeMessage(t *testing.T) {
	tests := []struct {
		name     string
		msg      []byte
		streamed bool
		check    func(t *testing.T, m *message)
		err      string
	}{
		{"begin", begin(0x1_0000_0010, 77), false, func(t *testing.T, m *message) {
			if m.FinalLSN != 0x1_0000_0010 || m.Xid != 77 {
				t.Errorf("%+v", m)
			}
		}, ""},
		{"commit", commit(5, 9), false, func(t *testing.T, m *message) {
			if m.CommitLSN != 5 || m.EndLSN != 9 {
				t.Errorf("%+v", m)
			}
		}, ""},
		{"relation", relationMsg(16384), false, func(t *testing.T, m *message) {
			if m.RelID != 16384 || m.Namespace != "public" || m.Name != "t" || len(m.Columns) != 2 ||
				!m.Columns[0].Key || m.Columns[1].Key || m.Columns[1].OID != 25 || m.Columns[1].TypMod != -1 {
				t.Errorf("%+v", m)
			}
		}, ""},
		{"streamed insert", withXid(insert(1, s("1"), nil), 901), true, func(t *testing.T, m *message) {
			if m.Xid != 901 || m.RelID != 1 || len(m.New) != 2 || string(m.New[0].Data) != "1" || m.New[1].Kind != 'n' {
				t.Errorf("%+v", m)
			}
		}, ""},
		{"update with old key", enc('U', uint32(1), uint8('K'), tuple(s("1"), nil), uint8('N'), tuple(s("2"), s("\x00u"))), false,
			func(t *testing.T, m *message) {
				if m.OldKind != 'K' || len(m.Old) != 2 || string(m.New[0].Data) != "2" || m.New[1].Kind != 'u' {
					t.Errorf("%+v", m)
				}
			}, ""},
		{"delete full", enc('D', uint32(1), uint8('O'), tuple(s("1"), s("x"))), false, func(t *testing.T, m *message) {
			if m.OldKind != 'O' || string(m.Old[1].Data) != "x" {
				t.Errorf("%+v", m)
			}
		}, ""},
		{"truncate", enc('T', uint32(2), uint8(truncateCascade), uint32(10), uint32(11)), false, func(t *testing.T, m *message) {
			if len(m.RelIDs) != 2 || m.RelIDs[1] != 11 || m.Flags != truncateCascade {
				t.Errorf("%+v", m)
			}
		}, ""},
		{"message", enc('M', uint8(1), uint64(42), "pfx", uint32(3), []byte("abc")), false, func(t *testing.T, m *message) {
			if !m.Transactional || m.LSN != 42 || m.Prefix != "pfx" || string(m.Content) != "abc" {
				t.Errorf("%+v", m)
			}
		}, ""},
		{"stream abort proto 4 parallel extra fields", enc('A', uint32(5), uint32(6), uint64(1), uint64(2)), false, func(t *testing.T, m *message) {
			if m.Xid != 5 || m.SubXid != 6 {
				t.Errorf("%+v", m)
			}
		}, ""},
		{"empty", nil, false, nil, "empty message"},
		{"unknown type", []byte{'Z'}, false, nil, "unknown message type"},
		{"truncated begin", begin(1, 2)[:10], false, nil, "truncated commit time"},
		{"unterminated name", []byte{'R', 0, 0, 0, 1, 'p'}, false, nil, "unterminated namespace"},
		{"insert without N", enc('I', uint32(1), uint8('X')), false, nil, "expected new tuple marker"},
		{"bad tuple kind", enc('I', uint32(1), uint8('N'), uint16(1), uint8('q')), false, nil, "unknown tuple column kind"},
		{"negative length", enc('I', uint32(1), uint8('N'), uint16(1), uint8('t'), uint32(0xffffffff)), false, nil, "truncated tuple column data"},
		{"huge truncate count", enc('T', uint32(1<<30), uint8(0)), false, nil, "truncated relation ids"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m message
			err := decodeMessage(tc.msg, tc.streamed, &m)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, &m)
		})
	}
}

// FuzzDecodeMessage: no input makes the decoder panic or read out of bounds.
func FuzzDecodeMessage(f *testing.F) {
	f.Add(begin(1, 2), false)
	f.Add(relationMsg(1), false)
	f.Add(withXid(insert(1, s("1"), nil), 3), true)
	f.Add(enc('U', uint32(1), uint8('O'), tuple(s("1"), nil), uint8('N'), tuple(s("2"), s("\x00u"))), false)
	f.Add(enc('T', uint32(1), uint8(0), uint32(10)), false)
	f.Fuzz(func(t *testing.T, b []byte, streamed bool) {
		var m message
		_ = decodeMessage(b, streamed, &m)
	})
}

// offlineDecoder is a decoder over a catalog without a connection: only
// built-in types, relations registered by the test.
func offlineDecoder(t *testing.T, limit int64, from change.Position) (*decoder, *[]change.Change) {
	t.Helper()
	spill, err := newSpillStore(t.TempDir(), limit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { spill.close() })
	var out []change.Change
	cat := &catalog{types: builtinTypes()}
	d := &decoder{
		cat:   cat,
		rels:  make(map[uint32]*relation),
		spill: spill,
		from:  from,
		now:   time.Now,
		out: &batcher{max: 3, last: from, emit: func(b []change.Change) error {
			for _, c := range b {
				c.After = cloneValues(c.After)
				out = append(out, c)
			}
			return nil
		}},
	}
	d.rels[1] = &relation{
		ns:       change.Namespace{Database: "public", Table: "t"},
		identity: identityDefault,
		cols:     []change.Column{{Name: "id", Type: "integer", Key: true}, {Name: "v", Type: "text", Nullable: true}},
		identKey: []bool{true, false},
		types:    []*pgType{cat.types[23], cat.types[25]},
		mods:     []int32{-1, -1},
	}
	return d, &out
}

// ids returns the id column of the inserts, in order.
func ids(cs []change.Change) []int64 {
	var out []int64
	for _, c := range cs {
		if c.Op == change.OpInsert {
			out = append(out, c.After[0].I)
		}
	}
	return out
}

// TestStreamedReplay drives the decoder with streamed blocks: interleaved
// subtransactions, an aborted subtransaction, an aborted transaction, a
// normal transaction between blocks, with memory bounds that keep
// everything in memory or force the spill file.
func TestStreamedReplay(t *testing.T) {
	for _, limit := range []int64{1 << 20, 64} {
		d, out := offlineDecoder(t, limit, change.Position{})
		ctx := context.Background()
		feed := func(msgs ...[]byte) {
			t.Helper()
			for _, m := range msgs {
				if err := d.handle(ctx, m); err != nil {
					t.Fatal(err)
				}
			}
		}
		const top, sub1, sub2, other = 100, 101, 102, 200
		feed(
			enc('S', uint32(top), uint8(1)),
			withXid(insert(1, s("1"), s("a")), top),
			withXid(insert(1, s("2"), nil), sub1),
			enc('E'),
			enc('S', uint32(other), uint8(1)),
			withXid(insert(1, s("99"), nil), other),
			enc('E'),
			begin(50, 300), insert(1, s("7"), s("small")), commit(50, 58),
			enc('S', uint32(top), uint8(0)),
			withXid(insert(1, s("3"), nil), sub2),
			withXid(insert(1, s("4"), s("\x00u")), top),
			enc('E'),
			enc('A', uint32(top), uint32(sub1)), // ROLLBACK TO SAVEPOINT: row 2 goes
			enc('A', uint32(other), uint32(other)),
			enc('c', uint32(top), uint8(0), uint64(80), uint64(88), uint64(0)),
		)
		if err := d.out.flush(); err != nil {
			t.Fatal(err)
		}
		if got := ids(*out); len(got) != 4 || got[0] != 7 || got[1] != 1 || got[2] != 3 || got[3] != 4 {
			t.Fatalf("limit %d: inserted ids %v, want [7 1 3 4]", limit, got)
		}
		last := (*out)[len(*out)-1]
		if last.Op != change.OpCommit || last.Pos.Offset != 88 || last.Pos.Index != 0 || (*out)[len(*out)-2].After[1].Kind != change.KindUnchanged {
			t.Fatalf("limit %d: tail %+v", limit, (*out)[len(*out)-2:])
		}
		if len(d.spill.txs) != 0 || d.spill.inMem != 0 {
			t.Fatalf("limit %d: %d transactions and %d bytes left", limit, len(d.spill.txs), d.spill.inMem)
		}
		if (limit < 100) != (d.spill.spills > 0) {
			t.Fatalf("limit %d: %d spills", limit, d.spill.spills)
		}
	}
}

// TestDecoderErrors: protocol violations are errors that say what happened.
func TestDecoderErrors(t *testing.T) {
	tests := []struct {
		name string
		msgs [][]byte
		err  string
	}{
		{"insert outside transaction", [][]byte{insert(1, s("1"), nil)}, "outside a transaction"},
		{"unknown relation", [][]byte{begin(1, 1), insert(9, s("1"))}, "relation 9 before its Relation message"},
		{"column count", [][]byte{begin(1, 1), insert(1, s("1"))}, "tuple has 1 columns, relation has 2"},
		{"bad integer", [][]byte{begin(1, 1), insert(1, s("x1"), nil)}, `column "id" (integer): integer value "x1"`},
		{"nested begin", [][]byte{begin(1, 1), begin(2, 2)}, "inside open transaction"},
		{"commit without begin", [][]byte{commit(1, 2)}, "outside a transaction"},
		{"begin in stream", [][]byte{enc('S', uint32(1), uint8(1)), begin(1, 1)}, "inside stream block"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := offlineDecoder(t, 1<<20, change.Position{})
			var err error
			for _, m := range tc.msgs {
				if err = d.handle(context.Background(), m); err != nil {
					break
				}
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
		})
	}
}

// TestResumeFilter: changes at or before the resume position are dropped,
// Last is set on the last row even when it is the only one delivered.
func TestResumeFilter(t *testing.T) {
	d, out := offlineDecoder(t, 1<<20, change.Position{Flavor: change.FlavorLSN, Offset: 50, Index: 3}) // begin, rows 2 and 3 delivered
	for _, m := range [][]byte{
		begin(40, 1), insert(1, s("1"), nil), commit(40, 48),
		begin(50, 2), insert(1, s("2"), nil), insert(1, s("3"), nil), insert(1, s("4"), nil), commit(50, 58),
	} {
		if err := d.handle(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.out.flush(); err != nil {
		t.Fatal(err)
	}
	got := *out
	if len(got) != 2 || got[0].After[0].I != 4 || !got[0].Tx.Last || got[0].Pos.Index != 4 || got[1].Op != change.OpCommit {
		t.Fatalf("got %+v", got)
	}
}
