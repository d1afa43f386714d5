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
	m  map[string]map[id]int64
	// peak is the most users m has held since it was made; sweep rebuilds
	// m when it falls far below (see shard.peak).
	peak int
	_    [24]byte
}

func (x *userIndex) shard(user string) *userShard {
	var h uint32 = 2166136261 // FNV-1a
	for i := 0; i < len(user); i++ {
		h = (h ^ uint32(user[i])) * 16777619
	}
	return &x.shards[h%userShardCount]
}

// add files k under user until until. The caller holds k's shard lock.
func (x *userIndex) add(user string, k id, until int64) {
	sh := x.shard(user)
	sh.mu.Lock()
	if sh.m == nil {
		sh.m = make(map[string]map[id]int64)
	}
	set := sh.m[user]
	if set == nil {
		set = make(map[id]int64, 1)
		sh.m[user] = set
		sh.peak = max(sh.peak, len(sh.m))
	}
	set[k] = until
	sh.mu.Unlock()
}

// remove ends the filing of k under user. The caller holds k's shard lock.
func (x *userIndex) remove(user string, k id) {
	sh := x.shard(user)
	sh.mu.Lock()
	if set := sh.m[user]; set != nil {
		delete(set, k)
		if len(set) == 0 {
			delete(sh.m, user)
		}
	}
	sh.mu.Unlock()
}

// keys returns the keys filed under user whose until is after now.
func (x *userIndex) keys(user string, now int64) []id {
	sh := x.shard(user)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	var out []id
	for k, until := range sh.m[user] {
		if until > now {
			out = append(out, k)
		}
	}
	return out
}

// sweep removes the entries whose until has passed and returns how many
// it removed. It rebuilds an index shard's map that has emptied to a small
// part of its peak, as DeleteExpired does for the records. The records keep their user field; no store operation
// relies on the index holding every filed record past its until.
func (x *userIndex) sweep(now int64) int {
	n := 0
	for i := range x.shards {
		sh := &x.shards[i]
		sh.mu.Lock()
		for user, set := range sh.m {
			for k, until := range set {
				if until <= now {
					delete(set, k)
					n++
				}
			}
			if len(set) == 0 {
				delete(sh.m, user)
			}
		}
		if sh.peak >= shrinkMin && len(sh.m)*shrinkBelow < sh.peak {
			m := make(map[string]map[id]int64, len(sh.m))
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
			n += len(set)
		}
		sh.mu.Unlock()
	}
	return n
}

// unfile ends the filing of the record under k, filed under user (none if
// user is ""): the record is leaving the store or is replaced by a record
// filed under no user. The caller holds k's shard lock.
func (s *Store) unfile(k id, user string) {
	if user != "" {
		s.users.remove(user, k)
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
