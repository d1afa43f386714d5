package memcachestore

import (
	"sync"
	"time"
)

// casIDs remembers, for keys loaded moments ago, memcached's CAS id of the
// item together with the version, expiry and filing in its header, so that a
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
	// filed and owner are the header's filing under a user, which a swap
	// on the remembered CAS id writes again (see CompareAndSwapUser).
	filed bool
	owner [ownerLen]byte
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

// remember records that key's item had casID when its header was h.
func (c *casIDs) remember(key string, h header, casID uint64) {
	s := c.slot(key)
	s.mu.Lock()
	s.key, s.version, s.casID, s.expiry = key, h.version, casID, h.expiry.UnixNano()
	s.filed, s.owner = h.filed, h.owner
	s.mu.Unlock()
}

// take returns the CAS id remembered for key at version, if any and if the
// header's expiry has not passed at now, with the header's expiry and
// filing (the caller sets version), and forgets it.
func (c *casIDs) take(key string, version uint64, now time.Time) (uint64, header, bool) {
	s := c.slot(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key != key || s.version != version {
		return 0, header{}, false
	}
	id, live := s.casID, now.UnixNano() < s.expiry
	h := header{expiry: time.Unix(0, s.expiry), filed: s.filed, owner: s.owner}
	s.key, s.casID = "", 0
	return id, h, live
}
