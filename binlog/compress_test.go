package binlog

import (
	"bytes"
	"errors"
	"testing"
)

func TestDecompressMariaDB(t *testing.T) {
	long := bytes.Repeat([]byte("INSERT INTO t VALUES (1,'abc');"), 3000)
	for _, in := range [][]byte{{}, []byte("BEGIN"), long} {
		rec, err := AppendMariaDBCompressed(nil, in)
		if err != nil {
			t.Fatal(err)
		}
		out, err := DecompressMariaDB([]byte("pre"), rec)
		if err != nil {
			t.Fatalf("len %d: %v", len(in), err)
		}
		if !bytes.Equal(out, append([]byte("pre"), in...)) {
			t.Fatalf("len %d: round trip mismatch", len(in))
		}
	}
	good, _ := AppendMariaDBCompressed(nil, []byte("hello world"))
	wrongLen := bytes.Clone(good)
	wrongLen[1]++
	shortLen := bytes.Clone(good)
	shortLen[1]--
	bad := map[string][]byte{
		"empty":       {},
		"no flag":     {0x01, 0x05},
		"algorithm":   {0x91, 0x05},
		"zero lenlen": {0x80},
		"lenlen 5":    {0x85, 1, 2, 3, 4, 5},
		"len cut":     {0x82, 0x01},
		"too big":     {0x84, 0x7f, 0xff, 0xff, 0xff},
		"not zlib":    {0x81, 0x03, 'a', 'b', 'c'},
		"truncated":   good[:len(good)-3],
		"length +1":   wrongLen,
		"length -1":   shortLen,
	}
	for name, in := range bad {
		if _, err := DecompressMariaDB(nil, in); !errors.Is(err, ErrCompressed) {
			t.Errorf("%s: got %v, want ErrCompressed", name, err)
		}
	}
}
