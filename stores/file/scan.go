package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// scanBatch is how many directory entries Iterate and DeleteExpired read at
// a time, so that a large directory is never held in memory at once.
const scanBatch = 256

// staleTemp is the age after which DeleteExpired removes a temporary file
// left behind by a writer that crashed between create and rename. A live
// writer fills and renames its file within milliseconds; should one take
// longer than this (a stalled disk), its rename fails and so does its
// write, leaving the previous record intact.
const staleTemp = time.Minute

// sweepLockWait is how long DeleteExpired waits for the lock of one key
// before it leaves that key for its next pass (see sweep.lock).
const sweepLockWait = 5 * time.Second

// errLockBusy is sweep.lock's error for a lock still held after the
// sweep's wait.
var errLockBusy = errors.New("lock held by another caller")

// sweep is one DeleteExpired pass's way of taking locks: a wait for one
// key ends after wait, so that a lock held for long (by a process paused
// while it holds it) does not stall the pass, and the keys given up on are
// remembered (a key can come up more than once: its record, then its
// user-index entry). A nil *sweep is a request's way: lock as usual, with
// ctx's deadline alone.
type sweep struct {
	wait time.Duration
	busy map[string]struct{}
}

// lock takes key's lock through s. On a sweep whose wait ends first it
// returns errLockBusy (ctx itself still running) and remembers the key; a
// key the pass has already left gets errLockBusy at once, without a
// second wait.
func (w *sweep) lock(ctx context.Context, s *Store, key string) (*keyLock, error) {
	if w == nil {
		return s.lock(ctx, key)
	}
	if _, left := w.busy[key]; left {
		return nil, errLockBusy
	}
	wctx, cancel := context.WithTimeout(ctx, w.wait)
	defer cancel()
	l, err := s.lock(wctx, key)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		if w.busy == nil {
			w.busy = make(map[string]struct{})
		}
		w.busy[key] = struct{}{}
		return nil, errLockBusy
	}
	return l, err
}

// Iterate calls fn with the key of every live record in the directory until
// fn returns false. Files that do not have the store's prefix followed by a
// valid key are ignored, as are expired and corrupt records. Iterate holds
// no lock while fn runs.
func (s *Store) Iterate(ctx context.Context, fn func(key string) bool) error {
	err := s.scan(ctx, func(name string) (bool, error) {
		key, ok := s.keyFromName(name)
		if !ok {
			return true, nil
		}
		h, exists, err := s.readHeader(key)
		if !exists || errors.Is(err, core.ErrCorrupt) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		if !h.live(time.Now().UnixNano()) {
			return true, nil
		}
		return fn(key), nil
	})
	if err != nil {
		return fmt.Errorf("sessionkit: file: iterate: %w", err)
	}
	return nil
}

// DeleteExpired removes every expired record and returns how many it
// removed. It reads only headers: it also removes records whose header is
// corrupt (they can never load), lock files whose record is gone,
// temporary files older than a minute that a crashed writer left behind,
// and user-index entries whose record is gone, expired, filed elsewhere or
// past its until (see the package documentation), none of which it
// counts. A record whose header is intact but whose data
// fails its checksum is removed once its expiry has passed.
//
// A key whose lock another caller holds for over 5 seconds (a process
// paused while it holds it, say) is left for the next pass: DeleteExpired
// goes on with the other keys and then returns an error that says how many
// it left.
func (s *Store) DeleteExpired(ctx context.Context) (int, error) {
	n := 0
	w := &sweep{wait: s.sweepLockWait}
	err := s.scan(ctx, func(name string) (bool, error) {
		if key, ok := s.keyFromName(name); ok {
			removed, err := s.deleteIfExpired(ctx, w, key)
			if removed {
				n++
			}
			return goOn(err)
		}
		if base, ok := strings.CutSuffix(name, ".lock"); ok {
			if key, ok := s.keyFromName(base); ok {
				return goOn(s.deleteOrphanLock(ctx, w, key))
			}
			return true, nil
		}
		if s.isTemp(name) {
			s.deleteStaleTemp(name)
		}
		return true, nil
	})
	if err == nil {
		err = s.cleanIndex(ctx, w)
	}
	if err == nil && len(w.busy) > 0 {
		err = fmt.Errorf("%d keys left for the next pass, their locks held for over %v: %w", len(w.busy), w.wait, errLockBusy)
	}
	if err != nil {
		return n, fmt.Errorf("sessionkit: file: delete expired: %w", err)
	}
	return n, nil
}

// goOn reports whether DeleteExpired's scan goes on after err, and with
// what error: a key left busy for the next pass (errLockBusy, counted in
// the sweep) is no error.
func goOn(err error) (bool, error) {
	if err == nil || errors.Is(err, errLockBusy) {
		return true, nil
	}
	return false, err
}

// deleteIfExpired removes key's record if, under its lock, it is expired or
// corrupt. It reports whether an expired record was removed.
func (s *Store) deleteIfExpired(ctx context.Context, w *sweep, key string) (bool, error) {
	h, exists, err := s.readHeader(key) // cheap unlocked pre-check
	if !exists || (err == nil && h.live(time.Now().UnixNano())) {
		return false, nil
	}
	l, err := w.lock(ctx, s, key)
	if err != nil {
		return false, err
	}
	defer l.unlock()
	h, exists, err = s.readHeader(key)
	switch {
	case !exists:
		l.removeLockFile()
		return false, nil
	case errors.Is(err, core.ErrCorrupt):
		return false, s.remove(l, key, filing{})
	case err != nil:
		return false, err
	case h.live(time.Now().UnixNano()):
		return false, nil
	}
	return true, s.remove(l, key, h.filing)
}

// deleteOrphanLock removes key's lock file if key has no record.
func (s *Store) deleteOrphanLock(ctx context.Context, w *sweep, key string) error {
	if _, err := os.Lstat(s.recordPath(key)); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	l, err := w.lock(ctx, s, key)
	if err != nil {
		return err
	}
	defer l.unlock()
	if _, err := os.Lstat(s.recordPath(key)); errors.Is(err, fs.ErrNotExist) {
		l.removeLockFile()
	}
	return nil
}

// isTemp reports whether name is one of the store's temporary files.
func (s *Store) isTemp(name string) bool {
	rest, ok := strings.CutPrefix(name, "."+s.prefix)
	if !ok || len(rest) < 64 || !core.ValidKey(rest[:64]) {
		return false
	}
	return strings.HasSuffix(rest, ".tmp")
}

// deleteStaleTemp removes the temporary file name if it is old enough that
// no live writer can still be filling it.
func (s *Store) deleteStaleTemp(name string) {
	path := s.dir + string(os.PathSeparator) + name
	if fi, err := os.Lstat(path); err == nil && time.Since(fi.ModTime()) > staleTemp {
		os.Remove(path)
	}
}

// scan calls visit with every entry name in the directory, in batches, until
// visit returns false or an error, or ctx is done.
func (s *Store) scan(ctx context.Context, visit func(name string) (bool, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d, err := os.Open(s.dir)
	if err != nil {
		return scrub(err)
	}
	defer d.Close()
	for {
		names, err := d.Readdirnames(scanBatch)
		for _, name := range names {
			if err := ctx.Err(); err != nil {
				return err
			}
			more, verr := visit(name)
			if verr != nil {
				return verr
			}
			if !more {
				return nil
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return scrub(err)
		}
	}
}
