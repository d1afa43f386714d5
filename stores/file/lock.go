package file

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// shards is the number of in-process mutexes a Store spreads its keys over.
const shards = 256

// shardedMutex serialises the writers of one key inside one Store without a
// lock shared by every key (or by every Store in the process). Each shard
// is a one-slot channel rather than a sync.Mutex so that a waiter can give
// up when its context ends.
type shardedMutex [shards]chan struct{}

func (m *shardedMutex) init() {
	for i := range m {
		m[i] = make(chan struct{}, 1)
	}
}

// forKey returns the shard for key, which must be a valid store key (64
// lowercase hex characters): its first two hex digits pick the shard.
func (m *shardedMutex) forKey(key string) chan struct{} {
	return m[hexVal(key[0])<<4|hexVal(key[1])]
}

func hexVal(c byte) byte {
	if c >= 'a' {
		return c - 'a' + 10
	}
	return c - '0'
}

// keyLock is a held lock on one key: the in-process shard mutex plus an
// exclusive flock(2) on the sibling "<record>.lock" file, which makes the
// lock hold across Store values and processes sharing the directory.
//
// The record itself cannot carry the lock, because every write replaces it
// by rename and a lock on the old inode would no longer exclude anyone. The
// lock file is never renamed; it is only removed while locked (see
// removeLockFile), and lock re-checks after flock that the path still names
// the inode it locked, so a removal can never give two holders.
type keyLock struct {
	mu   chan struct{} // nil when another keyLock holds the shard (see lockPair)
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
	mu := s.mu.forKey(key)
	select {
	case mu <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for lock: %w", ctx.Err())
	}
	l, err := s.lockFile(ctx, key)
	if err != nil {
		<-mu
		return nil, err
	}
	l.mu = mu
	return l, nil
}

// lockFile takes the cross-process lock of key's lock file, honouring ctx
// while it waits. The caller holds key's shard mutex; the returned lock
// releases none (its mu is nil).
func (s *Store) lockFile(ctx context.Context, key string) (*keyLock, error) {
	path := s.lockPath(key)
	for {
		f, err := s.lockOnce(ctx, path)
		if err != nil {
			return nil, err
		}
		if f != nil {
			return &keyLock{f: f, path: path}, nil
		}
	}
}

// lockPair acquires the locks of two different keys a and b, as Renew
// needs, and returns them in that order. Every holder of two locks takes
// them in the order of their keys, the shard mutex before the lock file of
// each, and the shards are picked by the keys' first digits, so the locks
// are always taken in one global order (shard, then lock file, then the
// next key's shard, and so on) by every Store and process: two renews
// cannot deadlock, whatever keys they hold. When both keys fall in one
// shard its mutex is taken once, by the first key's lock.
func (s *Store) lockPair(ctx context.Context, a, b string) (la, lb *keyLock, err error) {
	first, second := a, b
	if second < first {
		first, second = second, first
	}
	l1, err := s.lock(ctx, first)
	if err != nil {
		return nil, nil, err
	}
	var l2 *keyLock
	if s.mu.forKey(first) == s.mu.forKey(second) {
		l2, err = s.lockFile(ctx, second) // the shard is held through l1
	} else {
		l2, err = s.lock(ctx, second)
	}
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

// unlock releases the file lock and the shard mutex, if l holds it.
func (l *keyLock) unlock() {
	unlockFile(l.f)
	l.f.Close()
	if l.mu != nil {
		<-l.mu
	}
}
