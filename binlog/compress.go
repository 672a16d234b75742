package binlog

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"slices"
)

// MaxMariaDBUncompressed bounds the uncompressed size DecompressMariaDB
// accepts: MariaDB never logs a record larger than max_allowed_packet (1 GiB).
const MaxMariaDBUncompressed = 1 << 30

// maxDeflateRatio is the largest expansion deflate can achieve.
const maxDeflateRatio = 1032

// ErrCompressed is wrapped by errors about a MariaDB compressed record.
var ErrCompressed = errors.New("bad compressed record")

// DecompressMariaDB expands a MariaDB compressed record (the body part of
// QUERY_COMPRESSED_EVENT and of the compressed rows events 166-171) and
// appends the result to dst.
//
// The record is one header byte (bit 7 set, bits 4-6 the algorithm, 0 for
// zlib, bits 0-2 the number of length bytes, 1 to 4), the uncompressed
// length big-endian in that many bytes, then the zlib stream. The result
// must have exactly the announced length.
func DecompressMariaDB(dst, src []byte) ([]byte, error) {
	if len(src) < 1 {
		return dst, fmt.Errorf("%w: empty", ErrCompressed)
	}
	h := src[0]
	if h&0x80 == 0 {
		return dst, fmt.Errorf("%w: header byte %#x lacks the compressed bit", ErrCompressed, h)
	}
	if alg := (h >> 4) & 0x07; alg != 0 {
		return dst, fmt.Errorf("%w: unknown compression algorithm %d", ErrCompressed, alg)
	}
	lenLen := int(h & 0x07)
	if lenLen < 1 || lenLen > 4 {
		return dst, fmt.Errorf("%w: %d length bytes", ErrCompressed, lenLen)
	}
	if len(src) < 1+lenLen {
		return dst, fmt.Errorf("%w: length field truncated", ErrCompressed)
	}
	n := 0
	for _, b := range src[1 : 1+lenLen] {
		n = n<<8 | int(b)
	}
	if n > MaxMariaDBUncompressed {
		return dst, fmt.Errorf("%w: uncompressed length %d exceeds %d", ErrCompressed, n, MaxMariaDBUncompressed)
	}
	data := src[1+lenLen:]
	// Deflate expands at most 1032:1; a larger announced length is a lie,
	// and must not make us allocate it.
	if n > maxDeflateRatio*len(data)+64 {
		return dst, fmt.Errorf("%w: %d compressed bytes cannot expand to %d", ErrCompressed, len(data), n)
	}
	zr, err := zlib.NewReader(bytes.NewReader(data))
	if err != nil {
		return dst, fmt.Errorf("%w: zlib: %w", ErrCompressed, err)
	}
	defer zr.Close()
	start := len(dst)
	// Grow as the data arrives rather than trusting n up front.
	for got := 0; got < n; {
		chunk := min(n-got, max(got, 64<<10))
		dst = slices.Grow(dst, chunk)[:start+got+chunk]
		k, err := io.ReadFull(zr, dst[start+got:])
		got += k
		if err != nil {
			return dst[:start], fmt.Errorf("%w: zlib data ends after %d of %d bytes: %w", ErrCompressed, got, n, err)
		}
	}
	// The stream must end exactly here: more data means a wrong length.
	var one [1]byte
	if k, err := zr.Read(one[:]); k != 0 || (err != nil && err != io.EOF) {
		if err == nil {
			err = errors.New("more data than announced")
		}
		return dst[:start], fmt.Errorf("%w: zlib data after %d bytes: %w", ErrCompressed, n, err)
	}
	return dst, nil
}

// AppendMariaDBCompressed compresses src with zlib in MariaDB's compressed
// record format and appends the record to dst; DecompressMariaDB reverses it.
func AppendMariaDBCompressed(dst, src []byte) ([]byte, error) {
	n := len(src)
	if n > MaxMariaDBUncompressed {
		return dst, fmt.Errorf("%w: %d bytes exceed %d", ErrCompressed, n, MaxMariaDBUncompressed)
	}
	lenLen := 1
	for lenLen < 4 && n>>(8*lenLen) != 0 {
		lenLen++
	}
	dst = append(dst, 0x80|byte(lenLen))
	for i := lenLen - 1; i >= 0; i-- {
		dst = append(dst, byte(n>>(8*i)))
	}
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	if _, err := zw.Write(src); err != nil {
		return dst, fmt.Errorf("%w: zlib: %w", ErrCompressed, err)
	}
	if err := zw.Close(); err != nil {
		return dst, fmt.Errorf("%w: zlib: %w", ErrCompressed, err)
	}
	return append(dst, buf.Bytes()...), nil
}
