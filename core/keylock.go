package core

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// keyLocks serialises, within one Manager, the writes to one store key:
// the load, rebase and compare-and-swap of a commit, and the claim of
// Flashes. Commits to one session from one process therefore never race
// each other; only other processes can make a compare-and-swap conflict.
// It is a table of per-key locks, sharded so that commits to different
// sessions do not contend on one mutex, and each entry lives only while
// some commit holds or waits for it. No lock is held while a handler runs.
type keyLocks struct {
	shards [keyLockShards]keyLockShard
}

const keyLockShards = 64

type keyLockShard struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

// keyLock is the lock of one key.
type keyLock struct {
	ch   chan struct{} // holding the lock is having sent into it (capacity 1)
	refs int           // holders and waiters; guarded by the shard's mu
	// version is the record version this Manager last wrote or loaded
	// under the lock, or zero: a commit whose request loaded another
	// version rebases before its compare-and-swap instead of after a
	// conflict. Guarded by the lock itself.
	version uint64
}

var keyLockPool = sync.Pool{New: func() any { return &keyLock{ch: make(chan struct{}, 1)} }}

// shard returns the shard of key.
func (t *keyLocks) shard(key string) *keyLockShard {
	var h uint32 = 2166136261 // FNV-1a over the first bytes: keys are hashes already
	for i := 0; i < len(key) && i < 8; i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	return &t.shards[h%keyLockShards]
}

// lock locks key, waiting at most until ctx is done.
func (t *keyLocks) lock(ctx context.Context, key string) (*keyLock, error) {
	sh := t.shard(key)
	sh.mu.Lock()
	l := sh.m[key]
	if l == nil {
		if sh.m == nil {
			sh.m = make(map[string]*keyLock)
		}
		l = keyLockPool.Get().(*keyLock)
		l.version = 0
		sh.m[key] = l
	}
	l.refs++
	sh.mu.Unlock()
	select {
	case l.ch <- struct{}{}:
		return l, nil
	default:
	}
	select {
	case l.ch <- struct{}{}:
		return l, nil
	case <-ctx.Done():
		t.release(sh, key, l)
		return nil, ctx.Err()
	}
}

// unlock unlocks key, locked as l.
func (t *keyLocks) unlock(key string, l *keyLock) {
	<-l.ch
	t.release(t.shard(key), key, l)
}

func (t *keyLocks) release(sh *keyLockShard, key string, l *keyLock) {
	sh.mu.Lock()
	l.refs--
	if l.refs == 0 {
		delete(sh.m, key)
		keyLockPool.Put(l)
	}
	sh.mu.Unlock()
}

// Backoff between compare-and-swap attempts that lost against another
// process: full jitter, exponential from backoffBase up to backoffMax.
const (
	backoffBase = time.Millisecond
	backoffMax  = 100 * time.Millisecond
)

// backoff waits before attempt n (n >= 1 after the first conflict) or
// until ctx is done. The first retry after a conflict is immediate: the
// rebase already took a round trip.
func backoff(ctx context.Context, n int) error {
	if n <= 1 {
		return ctx.Err()
	}
	ceil := backoffMax
	if n-2 < 16 {
		ceil = min(backoffMax, backoffBase<<(n-2))
	}
	t := time.NewTimer(rand.N(ceil) + 1)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
