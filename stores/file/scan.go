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
func (s *Store) DeleteExpired(ctx context.Context) (int, error) {
	n := 0
	err := s.scan(ctx, func(name string) (bool, error) {
		if key, ok := s.keyFromName(name); ok {
			removed, err := s.deleteIfExpired(ctx, key)
			if removed {
				n++
			}
			return err == nil, err
		}
		if base, ok := strings.CutSuffix(name, ".lock"); ok {
			if key, ok := s.keyFromName(base); ok {
				return true, s.deleteOrphanLock(ctx, key)
			}
			return true, nil
		}
		if s.isTemp(name) {
			s.deleteStaleTemp(name)
		}
		return true, nil
	})
	if err == nil {
		err = s.cleanIndex(ctx)
	}
	if err != nil {
		return n, fmt.Errorf("sessionkit: file: delete expired: %w", err)
	}
	return n, nil
}

// deleteIfExpired removes key's record if, under its lock, it is expired or
// corrupt. It reports whether an expired record was removed.
func (s *Store) deleteIfExpired(ctx context.Context, key string) (bool, error) {
	h, exists, err := s.readHeader(key) // cheap unlocked pre-check
	if !exists || (err == nil && h.live(time.Now().UnixNano())) {
		return false, nil
	}
	l, err := s.lock(ctx, key)
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
func (s *Store) deleteOrphanLock(ctx context.Context, key string) error {
	if _, err := os.Lstat(s.recordPath(key)); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	l, err := s.lock(ctx, key)
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
