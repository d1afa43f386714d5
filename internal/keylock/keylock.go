// Package keylock is a table of per-key locks for one process: a caller
// waits only for the holder of the key it locks, never for another key's,
// and gives up when its context ends. The core serialises one Manager's
// writes to a store key with it, and the file store one Store's writers
// of a key before they take the key's lock file.
package keylock

import (
	"context"
	"sync"
)

// shards is the number of maps a Table spreads its keys over, so that
// callers locking different keys rarely meet on one map's mutex.
const shards = 64

// Table holds the locks of the keys in use: a key's entry is created by
// its first caller and dropped by its last, so the table holds only the
// keys someone holds or waits for. The zero Table is ready to use; it
// must not be copied after first use.
type Table[V any] struct {
	shards [shards]shard[V]
	pool   sync.Pool // of *Lock[V] no one refers to
}

type shard[V any] struct {
	mu sync.Mutex
	m  map[string]*Lock[V]
}

// Lock is the lock of one key, held from Table.Lock to Table.Unlock.
// Value belongs to the holder (the lock guards it); it is V's zero value
// whenever the key's entry is new, that is when no one held or waited for
// the key since its last holder unlocked it.
type Lock[V any] struct {
	ch    chan struct{} // holding the lock is having sent into it (capacity 1)
	refs  int           // holders and waiters, guarded by the shard's mu
	Value V
}

// shard returns the map of key. Store keys are hashes already, so a hash
// of their first bytes spreads them.
func (t *Table[V]) shard(key string) *shard[V] {
	var h uint32 = 2166136261 // FNV-1a
	for i := 0; i < len(key) && i < 8; i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	return &t.shards[h%shards]
}

// Lock locks key, waiting at most until ctx is done; it then returns
// ctx.Err() as it is.
func (t *Table[V]) Lock(ctx context.Context, key string) (*Lock[V], error) {
	sh := t.shard(key)
	sh.mu.Lock()
	l := sh.m[key]
	if l == nil {
		if sh.m == nil {
			sh.m = make(map[string]*Lock[V])
		}
		if p, _ := t.pool.Get().(*Lock[V]); p != nil {
			l = p
		} else {
			l = &Lock[V]{ch: make(chan struct{}, 1)}
		}
		sh.m[key] = l
	}
	l.refs++
	sh.mu.Unlock()
	select {
	case l.ch <- struct{}{}: // free: no need to look at ctx
		return l, nil
	default:
	}
	select {
	case l.ch <- struct{}{}:
		return l, nil
	case <-ctx.Done():
		t.drop(sh, key, l)
		return nil, ctx.Err()
	}
}

// Unlock unlocks key, locked as l.
func (t *Table[V]) Unlock(key string, l *Lock[V]) {
	<-l.ch
	t.drop(t.shard(key), key, l)
}

// InUse reports whether someone holds or waits for key's lock. Tests use
// it to see whether a caller held a lock at some point.
func (t *Table[V]) InUse(key string) bool {
	sh := t.shard(key)
	sh.mu.Lock()
	_, ok := sh.m[key]
	sh.mu.Unlock()
	return ok
}

// drop ends one caller's use of l, and l's entry with its last caller.
func (t *Table[V]) drop(sh *shard[V], key string, l *Lock[V]) {
	sh.mu.Lock()
	if l.refs--; l.refs == 0 {
		delete(sh.m, key)
		var zero V
		l.Value = zero
		t.pool.Put(l)
	}
	sh.mu.Unlock()
}
