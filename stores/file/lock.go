package file

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// keyShards is the number of maps a Store spreads its key mutexes over,
// so that goroutines taking the locks of different keys rarely meet on
// one map's mutex.
const keyShards = 64

// keyMutexes serialises the holders of one key's lock inside one Store:
// a goroutine waits only for the holder of the key it locks, never for
// another key's, so a lock held for long (by a process paused while it
// holds it, say, which the goroutines of this Store then wait on) holds up
// that key's callers alone. Each key in use has a keyMutex, created by its
// first caller and dropped by its last.
type keyMutexes struct {
	shards [keyShards]keyShard
}

type keyShard struct {
	mu sync.Mutex
	m  map[string]*keyMutex
}

// keyMutex is one key's in-process lock: a one-slot channel rather than a
// sync.Mutex, so that a waiter can give up when its context ends.
type keyMutex struct {
	ch   chan struct{}
	refs int // holders and waiters, guarded by the shard's mu
}

var keyMutexPool = sync.Pool{New: func() any { return &keyMutex{ch: make(chan struct{}, 1)} }}

// shard returns the map for key, which must be a valid store key (64
// lowercase hex characters): its first two hex digits pick the shard.
func (k *keyMutexes) shard(key string) *keyShard {
	return &k.shards[(hexVal(key[0])<<4|hexVal(key[1]))%keyShards]
}

func hexVal(c byte) byte {
	if c >= 'a' {
		return c - 'a' + 10
	}
	return c - '0'
}

// acquire takes key's mutex, honouring ctx while it waits.
func (k *keyMutexes) acquire(ctx context.Context, key string) (*keyMutex, error) {
	sh := k.shard(key)
	sh.mu.Lock()
	km := sh.m[key]
	if km == nil {
		if sh.m == nil {
			sh.m = make(map[string]*keyMutex)
		}
		km = keyMutexPool.Get().(*keyMutex)
		sh.m[key] = km
	}
	km.refs++
	sh.mu.Unlock()
	select {
	case km.ch <- struct{}{}:
		return km, nil
	case <-ctx.Done():
		k.drop(key, km)
		return nil, fmt.Errorf("waiting for lock: %w", ctx.Err())
	}
}

// release gives back key's mutex, taken as km by acquire.
func (k *keyMutexes) release(key string, km *keyMutex) {
	<-km.ch
	k.drop(key, km)
}

// drop ends one caller's use of km, and km itself with its last caller.
func (k *keyMutexes) drop(key string, km *keyMutex) {
	sh := k.shard(key)
	sh.mu.Lock()
	if km.refs--; km.refs == 0 {
		delete(sh.m, key)
		keyMutexPool.Put(km)
	}
	sh.mu.Unlock()
}

// keyLock is a held lock on one key: the in-process key mutex plus an
// exclusive flock(2) on the sibling "<record>.lock" file, which makes the
// lock hold across Store values and processes sharing the directory.
//
// The record itself cannot carry the lock, because every write replaces it
// by rename and a lock on the old inode would no longer exclude anyone. The
// lock file is never renamed; it is only removed while locked (see
// removeLockFile), and lock re-checks after flock that the path still names
// the inode it locked, so a removal can never give two holders.
type keyLock struct {
	s    *Store
	key  string
	km   *keyMutex
	f    *os.File
	path string
}

// lockPollMin and lockPollMax bound the back-off while another process holds
// a key's lock file. Locks are held for the length of one small write.
const (
	lockPollMin = 50 * time.Microsecond
	lockPollMax = 5 * time.Millisecond
)

// lock acquires the lock for key, honouring ctx while it waits.
func (s *Store) lock(ctx context.Context, key string) (*keyLock, error) {
	km, err := s.keys.acquire(ctx, key)
	if err != nil {
		return nil, err
	}
	path := s.lockPath(key)
	for {
		f, err := s.lockOnce(ctx, path)
		if err != nil {
			s.keys.release(key, km)
			return nil, err
		}
		if f != nil {
			return &keyLock{s: s, key: key, km: km, f: f, path: path}, nil
		}
	}
}

// lockPair acquires the locks of two different keys a and b, as Renew
// needs, and returns them in that order. Every holder of two locks takes
// them in the order of their keys, the key mutex before the lock file of
// each, so the locks are always taken in one global order by every Store
// and process (a holder waits only for a lock of a key above all it
// holds): two renews cannot deadlock, whatever keys they hold.
func (s *Store) lockPair(ctx context.Context, a, b string) (la, lb *keyLock, err error) {
	first, second := a, b
	if second < first {
		first, second = second, first
	}
	l1, err := s.lock(ctx, first)
	if err != nil {
		return nil, nil, err
	}
	l2, err := s.lock(ctx, second)
	if err != nil {
		l1.unlock()
		return nil, nil, err
	}
	if first == a {
		return l1, l2, nil
	}
	return l2, l1, nil
}

// lockOnce opens and flocks path. It returns a nil file (and nil error) when
// the lock file was removed or replaced while it waited: the caller retries.
func (s *Store) lockOnce(ctx context.Context, path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, s.mode)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", scrub(err))
	}
	if err := flock(ctx, f); err != nil {
		f.Close()
		return nil, err
	}
	held, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat lock file: %w", scrub(err))
	}
	cur, err := os.Stat(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		f.Close()
		return nil, fmt.Errorf("stat lock file: %w", scrub(err))
	}
	if err != nil || !os.SameFile(held, cur) {
		f.Close() // removed by the previous holder: lock the new file
		return nil, nil
	}
	return f, nil
}

// flock takes the exclusive cross-process lock on f (flock(2) on Unix,
// LockFileEx on Windows), polling with back-off so that ctx can end the
// wait.
func flock(ctx context.Context, f *os.File) error {
	wait := lockPollMin
	for {
		ok, err := tryLockFile(f)
		if err != nil {
			return fmt.Errorf("lock file: %w", err)
		}
		if ok {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for lock: %w", ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, lockPollMax)
	}
}

// removeLockFile unlinks the lock file while it is held, so that the
// directory does not keep one lock file per key ever seen. Waiters that
// opened the old inode notice the change in lockOnce and retry.
func (l *keyLock) removeLockFile() {
	_ = os.Remove(l.path) // best effort: a leftover lock file is harmless
}

// unlock releases the file lock and the key mutex.
func (l *keyLock) unlock() {
	unlockFile(l.f)
	l.f.Close()
	l.s.keys.release(l.key, l.km)
}
