package memory

import (
	"encoding/hex"
	"math"
	"sync"
	"time"
)

// shardCount is the number of independently locked maps. It must be a power
// of two no larger than 256: the shard is picked from the first key byte.
const shardCount = 64

// id is a decoded store key. Keys are the hex form of a SHA-256 hash, so 32
// bytes hold them in half the space of the string and need no pointer.
type id [32]byte

// parseKey decodes key, reporting false for anything that is not 64
// lowercase hexadecimal characters (core.ValidKey). It checks and decodes
// in one pass, one table lookup per character and no branch on its value
// (a key's digits are random, so a branch would be mispredicted about
// every other time).
func parseKey(key string) (id, bool) {
	var k id
	if len(key) != 2*len(k) {
		return k, false
	}
	var bad byte
	for i := range k {
		hi, lo := hexDigit[key[2*i]], hexDigit[key[2*i+1]]
		bad |= hi | lo
		k[i] = hi<<4 | lo&0xf
	}
	if bad&notHex != 0 {
		return id{}, false
	}
	return k, true
}

// notHex marks, in hexDigit, a byte that is no lowercase hexadecimal digit.
const notHex = 0xf0

// hexDigit is the value of each lowercase hexadecimal digit, and notHex for
// every other byte.
var hexDigit = func() (t [256]byte) {
	for c := range t {
		switch {
		case c >= '0' && c <= '9':
			t[c] = byte(c - '0')
		case c >= 'a' && c <= 'f':
			t[c] = byte(c - 'a' + 10)
		default:
			t[c] = notHex
		}
	}
	return t
}()

// String returns the key in the form the core uses.
func (k id) String() string { return hex.EncodeToString(k[:]) }

// entry is one stored record: 48 bytes plus the data itself.
type entry struct {
	data    []byte
	expiry  int64 // Unix nanoseconds
	version uint64
	// filed is the set of the user the record is filed under (see
	// CompareAndSwapUser), nil if none. When the filing ends (its until)
	// only the set keeps.
	filed *userSet
}

// live reports whether e has not expired at now (Unix nanoseconds).
func (e *entry) live(now int64) bool { return e.expiry > now }

// shard is one lock-protected part of the store: a table of its records
// (see table.go), which the lock guards.
type shard struct {
	mu sync.RWMutex
	table
	_ [48]byte // keep neighbouring shards' locks off one cache line
}

// unixNano converts t to Unix nanoseconds, clamping times outside the int64
// range instead of overflowing: a far-future expiry is rounded down, as the
// store contract allows, and a far-past one stays in the past.
func unixNano(t time.Time) int64 {
	const maxSec = math.MaxInt64/int64(time.Second) - 1
	switch s := t.Unix(); {
	case s >= maxSec:
		return math.MaxInt64
	case s <= -maxSec:
		return math.MinInt64
	}
	return t.UnixNano()
}

// fill returns a copy of data, reusing buf when it is big enough and not
// wastefully large, so that overwriting a session rarely allocates.
func fill(buf, data []byte) []byte {
	if len(data) == 0 {
		return nil
	}
	if cap(buf) >= len(data) && cap(buf) <= 2*len(data)+64 {
		buf = buf[:len(data)]
		copy(buf, data)
		return buf
	}
	return append([]byte(nil), data...)
}
