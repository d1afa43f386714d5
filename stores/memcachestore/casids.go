package memcachestore

import (
	"sync"
	"time"
)

// casIDs remembers, for keys loaded moments ago, memcached's CAS id of the
// item together with the version and expiry in its header, so that a
// CompareAndSwap of that version (the commit that follows a request's
// Load) can send cas at once instead of first fetching the CAS id again:
// an update costs two round trips (gets, cas) rather than three.
//
// It is a fixed table of slots indexed by the key's first hexadecimal
// digits (the keys are hashes), each holding the last key loaded into it:
// a key whose slot another key took since, or a second writer of the same
// version, simply takes the two-round-trip path. An entry is used at most
// once. The table never grows.
type casIDs struct {
	slots [casSlots]casSlot
}

const casSlots = 4096 // a power of two; 16 hex digits' worth of bits are plenty

type casSlot struct {
	mu      sync.Mutex
	key     string // "" when empty
	version uint64
	casID   uint64
	expiry  int64 // Unix nanoseconds of the header's expiry
}

// slot returns the slot of key, a valid store key (64 hex digits).
func (c *casIDs) slot(key string) *casSlot {
	var i uint32
	for j := 0; j < 4; j++ {
		i = i<<4 | uint32(unhex(key[j]))
	}
	return &c.slots[i&(casSlots-1)]
}

// unhex returns the value of a lowercase hexadecimal digit.
func unhex(b byte) byte {
	if b >= 'a' {
		return b - 'a' + 10
	}
	return b - '0'
}

// remember records that key's item had casID when its header held version
// and expiry.
func (c *casIDs) remember(key string, version, casID uint64, expiry time.Time) {
	s := c.slot(key)
	s.mu.Lock()
	s.key, s.version, s.casID, s.expiry = key, version, casID, expiry.UnixNano()
	s.mu.Unlock()
}

// take returns the CAS id remembered for key at version, if any and if the
// header's expiry has not passed at now, and forgets it.
func (c *casIDs) take(key string, version uint64, now time.Time) (uint64, bool) {
	s := c.slot(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key != key || s.version != version {
		return 0, false
	}
	id, live := s.casID, now.UnixNano() < s.expiry
	s.key, s.casID = "", 0
	return id, live
}
