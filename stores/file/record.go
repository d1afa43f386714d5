package file

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// On-disk record layout, all integers big-endian:
//
//	offset size field
//	0      4    magic "SKF\x00"
//	4      1    format version: 1, or 2 for a record filed under a user
//	5      8    expiry, Unix nanoseconds (int64)
//	13     8    record version for CompareAndSwap (uint64, never zero)
//	21     4    length of the data (uint32)
//	25     4    CRC-32C of the data
//
// then, in format 2 only (a record filed under a user by
// CompareAndSwapUser):
//
//	29     8    until, Unix nanoseconds (int64): the filing ends then
//	37     32   the user's digest (see userDigest)
//
// and the data. The checksum covers the data only, so that Touch can copy
// the data without reading it into memory. A record filed under no user is
// written in format 1, which stores that predate the user index read too.
const (
	headerSize      = 29 // format 1, and the common prefix of format 2
	filedHeaderSize = headerSize + 8 + digestSize
	formatVersion   = 1
	formatFiled     = 2
	offExpiry       = 5
	offVersion      = 13
	offLength       = 21
	offChecksum     = 25
	offUntil        = 29
	offUser         = 37
	maxDataSize     = math.MaxUint32
)

var (
	magic     = [4]byte{'S', 'K', 'F', 0}
	crc32cTab = crc32.MakeTable(crc32.Castagnoli)
)

// header is the decoded header of a record file.
type header struct {
	expiry   int64 // Unix nanoseconds
	version  uint64
	length   uint32
	checksum uint32
	filing   filing // the user the record is filed under, if any
}

// filing is the user a record is filed under: filed is false for none.
type filing struct {
	filed bool
	until int64 // Unix nanoseconds
	user  digest
}

// live reports whether the record has not expired at now (Unix nanoseconds).
func (h header) live(now int64) bool { return h.expiry > now }

// size returns the length of h's encoding.
func (h header) size() int {
	if h.filing.filed {
		return filedHeaderSize
	}
	return headerSize
}

// putHeader encodes h into b, which must be at least h.size() long.
func putHeader(b []byte, h header) {
	copy(b, magic[:])
	b[4] = formatVersion
	binary.BigEndian.PutUint64(b[offExpiry:], uint64(h.expiry))
	binary.BigEndian.PutUint64(b[offVersion:], h.version)
	binary.BigEndian.PutUint32(b[offLength:], h.length)
	binary.BigEndian.PutUint32(b[offChecksum:], h.checksum)
	if h.filing.filed {
		b[4] = formatFiled
		binary.BigEndian.PutUint64(b[offUntil:], uint64(h.filing.until))
		copy(b[offUser:], h.filing.user[:])
	}
}

// parseHeader decodes the header at the start of b. It checks everything
// that can be checked without the data.
func parseHeader(b []byte) (header, error) {
	if len(b) < headerSize {
		return header{}, fmt.Errorf("short header (%d bytes): %w", len(b), core.ErrCorrupt)
	}
	if [4]byte(b[:4]) != magic {
		return header{}, fmt.Errorf("bad magic: %w", core.ErrCorrupt)
	}
	if b[4] != formatVersion && b[4] != formatFiled {
		return header{}, fmt.Errorf("unknown format version %d: %w", b[4], core.ErrCorrupt)
	}
	h := header{
		expiry:   int64(binary.BigEndian.Uint64(b[offExpiry:])),
		version:  binary.BigEndian.Uint64(b[offVersion:]),
		length:   binary.BigEndian.Uint32(b[offLength:]),
		checksum: binary.BigEndian.Uint32(b[offChecksum:]),
	}
	if h.version == 0 {
		return header{}, fmt.Errorf("zero version: %w", core.ErrCorrupt)
	}
	if b[4] == formatFiled {
		if len(b) < filedHeaderSize {
			return header{}, fmt.Errorf("short header (%d bytes): %w", len(b), core.ErrCorrupt)
		}
		h.filing = filing{filed: true, until: int64(binary.BigEndian.Uint64(b[offUntil:]))}
		copy(h.filing.user[:], b[offUser:filedHeaderSize])
	}
	return h, nil
}

// readHeaderFrom reads and decodes a record header from the start of r,
// leaving r positioned at the data.
func readHeaderFrom(r io.Reader) (header, error) {
	var b [filedHeaderSize]byte
	n, err := io.ReadFull(r, b[:headerSize])
	if err == nil && b[4] == formatFiled {
		var m int
		m, err = io.ReadFull(r, b[headerSize:])
		n += m
	}
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return header{}, scrub(err)
	}
	return parseHeader(b[:n])
}

// parseRecord decodes a whole record file and verifies its length and
// checksum. The returned data aliases b.
func parseRecord(b []byte) (header, []byte, error) {
	h, err := parseHeader(b)
	if err != nil {
		return header{}, nil, err
	}
	data := b[h.size():]
	if uint64(len(data)) != uint64(h.length) {
		return header{}, nil, fmt.Errorf("data length %d, header says %d: %w", len(data), h.length, core.ErrCorrupt)
	}
	if crc32.Checksum(data, crc32cTab) != h.checksum {
		return header{}, nil, fmt.Errorf("checksum mismatch: %w", core.ErrCorrupt)
	}
	return h, data, nil
}

// unixNanos converts t to Unix nanoseconds, rounding times beyond the
// int64 range down to the largest representable instant (the contract
// allows rounding an expiry down, never up).
func unixNanos(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)
