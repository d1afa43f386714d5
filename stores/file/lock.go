package file

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/sessionkit/sessionkit/internal/keylock"
)

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
	km   *keylock.Lock[struct{}]
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
	km, err := s.keys.Lock(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("waiting for lock: %w", err)
	}
	path := s.lockPath(key)
	for {
		f, err := s.lockOnce(ctx, path)
		if err != nil {
			s.keys.Unlock(key, km)
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
	l.s.keys.Unlock(l.key, l.km)
}
