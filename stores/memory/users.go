package memory

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// userShardCount is the number of independently locked parts of the user
// index, picked by a hash of the user.
const userShardCount = 16

// userIndex maps each user to the keys of the records filed under them,
// each with its until (Unix nanoseconds). It is changed only under the
// lock of the record's shard, and only when a record's filing changes
// (CompareAndSwapUser) or a filed record ends, so that the common write
// never takes its locks. Lock order: record shard, then index shard.
type userIndex struct {
	shards [userShardCount]userShard
}

type userShard struct {
	mu sync.Mutex
	m  map[string]*userSet
	// peak is the most users m has held since it was made: Go maps never
	// give back the room they grew to, so sweep rebuilds m when it falls
	// far below.
	peak int
	_    [24]byte
}

// userSet is the keys filed under one user, each with its until. A record
// filed under the user points to it, to hold the user in 8 bytes; it may
// outlive its filing, and the set its place in the index, so a set that
// leaves the index lets go of its keys (see drop).
type userSet struct {
	user string // never changes
	keys map[id]int64
}

// drop removes the emptied set from sh, whose lock the caller holds.
func (sh *userShard) drop(set *userSet) {
	delete(sh.m, set.user)
	set.keys = nil // a large map that records filed in it may keep alive
}

func (x *userIndex) shard(user string) *userShard {
	var h uint32 = 2166136261 // FNV-1a
	for i := 0; i < len(user); i++ {
		h = (h ^ uint32(user[i])) * 16777619
	}
	return &x.shards[h%userShardCount]
}

// add files k under user until until and returns user's set, for the
// record to point to. The caller holds k's shard lock.
func (x *userIndex) add(user string, k id, until int64) *userSet {
	sh := x.shard(user)
	sh.mu.Lock()
	if sh.m == nil {
		sh.m = make(map[string]*userSet)
	}
	set := sh.m[user]
	if set == nil {
		set = &userSet{user: user, keys: make(map[id]int64, 1)}
		sh.m[user] = set
		sh.peak = max(sh.peak, len(sh.m))
	}
	set.keys[k] = until
	sh.mu.Unlock()
	return set
}

// remove ends the filing of k under user. The caller holds k's shard lock.
func (x *userIndex) remove(user string, k id) {
	sh := x.shard(user)
	sh.mu.Lock()
	if set := sh.m[user]; set != nil {
		delete(set.keys, k)
		if len(set.keys) == 0 {
			sh.drop(set)
		}
	}
	sh.mu.Unlock()
}

// keys returns the keys filed under user whose until is after now.
func (x *userIndex) keys(user string, now int64) []id {
	sh := x.shard(user)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	set := sh.m[user]
	if set == nil {
		return nil
	}
	var out []id
	for k, until := range set.keys {
		if until > now {
			out = append(out, k)
		}
	}
	return out
}

// sweep removes the entries whose until has passed and returns how many
// it removed. It rebuilds an index shard's map that has emptied to a small
// part of its peak, as DeleteExpired does for the records. The records
// keep pointing to their sets; no store operation relies on the index
// holding every filed record past its until.
func (x *userIndex) sweep(now int64) int {
	n := 0
	for i := range x.shards {
		sh := &x.shards[i]
		sh.mu.Lock()
		for _, set := range sh.m {
			for k, until := range set.keys {
				if until <= now {
					delete(set.keys, k)
					n++
				}
			}
			if len(set.keys) == 0 {
				sh.drop(set)
			}
		}
		if sh.peak >= shrinkMin && len(sh.m)*shrinkBelow < sh.peak {
			m := make(map[string]*userSet, len(sh.m))
			for user, set := range sh.m {
				m[user] = set
			}
			sh.m, sh.peak = m, len(m)
		}
		sh.mu.Unlock()
	}
	return n
}

// len returns the number of index entries, for tests.
func (x *userIndex) len() int {
	n := 0
	for i := range x.shards {
		sh := &x.shards[i]
		sh.mu.Lock()
		for _, set := range sh.m {
			n += len(set.keys)
		}
		sh.mu.Unlock()
	}
	return n
}

// unfile ends the filing of the record under k, filed in set (under no
// user if set is nil): the record is leaving the store or is replaced by a
// record filed under no user. The set may have left the index since (its
// entries' until passed); the filing ends in the user's current set. The
// caller holds k's shard lock.
func (s *Store) unfile(k id, set *userSet) {
	if set != nil {
		s.users.remove(set.user, k)
	}
}

// CompareAndSwapUser is CompareAndSwap that also files the record under
// user (under no user when user is ""), until until: UserKeys(user) then
// lists key while the record lives and until has not passed. The filing
// ends with the record (Delete, expiry, a swap with a past expiry) and
// moves with a later CompareAndSwapUser; CompareAndSwap and Touch keep it.
func (s *Store) CompareAndSwapUser(ctx context.Context, key string, version uint64, data []byte, expiry time.Time, user string, until time.Time) (uint64, error) {
	return s.swap(ctx, "compare and swap user", key, version, data, expiry, true, user, until)
}

// UserKeys returns the keys filed under user whose until has not passed,
// in no particular order: a snapshot of the index at one instant, without
// the records that have expired by the time it returns.
func (s *Store) UserKeys(ctx context.Context, user string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sessionkit: memory: user keys: %w", err)
	}
	now := time.Now().UnixNano()
	var out []string
	for _, k := range s.users.keys(user, now) {
		// Only an expired record is left out: one deleted or refiled
		// since the snapshot stays, so that the caller sees that it
		// changed (a renew moves a session from it to a key filed
		// before it ended).
		sh := s.shardOf(k)
		h := hashKey(&k)
		sh.mu.RLock()
		_, p := sh.find(&k, h)
		expired := p >= 0 && !sh.at(p).live(now)
		sh.mu.RUnlock()
		if !expired {
			out = append(out, k.String())
		}
	}
	return out, nil
}
