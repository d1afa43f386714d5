package file

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// The user index: for every user with filed records, a directory
// "<prefix>users/<digest>" (the digest is userDigest in hexadecimal, so
// that a user id, which may be an email address, never appears in a file
// name) holding one empty entry file per filed record, named by the
// record's key. The record's header is the truth: it carries the user's
// digest and the filing's until (format 2, see record.go), and UserKeys
// lists an entry only when the record it names is live, filed under that
// user and before its until. Entries are created and removed only under
// the lock of the key they name, the entry before the record is written
// and after it is removed, so a crash can leave an entry without a filed
// record (pruned later) but never a filed record without its entry. A
// user's directory is removed when it empties; one that empties while a
// writer files a record into it is recreated by that writer.

// digestSize is the length of a user digest.
const digestSize = sha256.Size

// digest identifies a user in the index without naming them.
type digest [digestSize]byte

// userDigest returns the SHA-256 of user, domain-separated from every
// other hash the library makes.
func userDigest(user string) digest {
	return sha256.Sum256([]byte("sessionkit/file/user\x00" + user))
}

// indexDir returns the directory that holds the per-user directories.
func (s *Store) indexDir() string {
	return filepath.Join(s.dir, s.prefix+"users")
}

// userDir returns the directory of d's index entries.
func (s *Store) userDir(d digest) string {
	return filepath.Join(s.indexDir(), hex.EncodeToString(d[:]))
}

// entryPath returns the path of the index entry that files key under d.
func (s *Store) entryPath(d digest, key string) string {
	return filepath.Join(s.userDir(d), key)
}

// filedUnder reports whether a record whose header readHeader returned as
// h, exists, err is live at now and filed under d, before its until.
func filedUnder(h header, exists bool, err error, d digest, now int64) bool {
	return exists && err == nil && h.live(now) && h.filing.filed && h.filing.user == d && h.filing.until > now
}

// CompareAndSwapUser implements core.UserIndexer: it is CompareAndSwap
// that also files the record under user until until, or under no user
// when user is "" (a filing whose until has passed is no filing either).
// Under the key's lock, which holds across processes, it creates the
// user's index entry, writes the record (whose header names the user's
// digest and until) and removes the entry of the user the record was filed
// under before, if another. An expiry that is not in the future deletes
// the record and its entry.
func (s *Store) CompareAndSwapUser(ctx context.Context, key string, version uint64, data []byte, expiry time.Time, user string, until time.Time) (uint64, error) {
	f := filing{}
	if u := unixNanos(until); user != "" && u > time.Now().UnixNano() {
		f = filing{filed: true, until: u, user: userDigest(user)}
	}
	v, err := s.swap(ctx, key, version, data, expiry, &f)
	if err != nil {
		return 0, fmt.Errorf("sessionkit: file: compare and swap user: %w", err)
	}
	return v, nil
}

// writeFiled writes key's record filed as next, where old is the filing of
// the record it replaces, and keeps the index in step: the entry next
// needs exists before the record is written (refile: whatever old was,
// since an entry of a filing that ended may have been pruned; otherwise
// only when next names another user than old), and the entry of old, when
// it files under another user (or next under none), is removed after. A
// failed write removes the entry it created and leaves the previous record
// and its filing intact. The caller holds key's lock.
func (s *Store) writeFiled(key string, oldVersion uint64, data []byte, expiry int64, old, next filing, refile bool) (uint64, error) {
	created := false
	if next.filed && (refile || !old.filed || old.user != next.user) {
		var err error
		if created, err = s.addEntry(next.user, key); err != nil {
			return 0, err
		}
	}
	v, err := s.write(key, oldVersion, data, expiry, next)
	if err != nil {
		if created {
			s.removeEntry(next.user, key)
		}
		return 0, err
	}
	if old.filed && (!next.filed || old.user != next.user) {
		s.removeEntry(old.user, key)
	}
	return v, nil
}

// entryAttempts bounds how often addEntry recreates a user's directory
// that concurrent removals of its last entry keep emptying and removing.
const entryAttempts = 8

// addEntry creates the index entry that files key under d, and the
// directories it needs. It reports whether it created the entry (false:
// it existed). The caller holds key's lock.
func (s *Store) addEntry(d digest, key string) (bool, error) {
	path := s.entryPath(d, key)
	var err error
	for range entryAttempts {
		var f *os.File
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, s.mode)
		if err == nil {
			if err := f.Close(); err != nil {
				os.Remove(path)
				return false, fmt.Errorf("create index entry: %w", scrub(err))
			}
			if s.sync {
				if err := syncDir(s.userDir(d)); err != nil {
					os.Remove(path)
					return false, err
				}
			}
			return true, nil
		}
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		// The user's directory (or the index's) is missing, or was
		// removed as it emptied: make it and try again. An error that
		// is not about a missing directory repeats on the next attempt.
		if mkErr := os.MkdirAll(s.userDir(d), 0o700); mkErr == nil && s.sync {
			if err := syncDir(s.indexDir()); err != nil {
				return false, err
			}
			if err := syncDir(s.dir); err != nil {
				return false, err
			}
		}
	}
	return false, fmt.Errorf("create index entry: %w", scrub(err))
}

// removeEntry removes the index entry that files key under d, and d's
// directory if that was its last entry. It is best effort: an entry left
// behind is pruned by UserKeys or DeleteExpired, because the record it
// names is no longer filed under d. The caller holds key's lock.
func (s *Store) removeEntry(d digest, key string) {
	if err := os.Remove(s.entryPath(d, key)); err == nil {
		os.Remove(s.userDir(d)) // fails, harmlessly, unless it is empty
	}
}

// UserKeys implements core.UserIndexer: it returns the keys filed under
// user, reading the user's index directory and the header of every record
// it names. It leaves out the records its header shows filed under user
// but expired or past the filing's until (ended for good), and those now
// filed under another user; it lists those whose record is gone,
// unreadable or filed under no user, because they may have ended after
// the listing (a renew ends the old key after it files the new one), which
// the caller must see, and lists them once: entries that no longer name a
// live record filed under user are removed as it goes, each under its
// key's lock and after checking again. The index therefore never grows
// beyond the user's filed records by more than those that ended since the
// last UserKeys or DeleteExpired.
//
// A directory read is atomic only while it takes one system call, so the
// directory is read twice and the listings joined: a key that a renew
// files while the first read is under way, after the read passed its
// place, shows in the second, unless a second renew of the same session
// moves it again during that read as well.
func (s *Store) UserKeys(ctx context.Context, user string) ([]string, error) {
	keys, err := s.userKeys(ctx, nil, userDigest(user))
	if err != nil {
		return nil, fmt.Errorf("sessionkit: file: user keys: %w", err)
	}
	return keys, nil
}

// userKeys is UserKeys of d's digest; w is the sweep that prunes, nil
// outside DeleteExpired (a sweep leaves an entry whose key it cannot lock
// in time for its next pass).
func (s *Store) userKeys(ctx context.Context, w *sweep, d digest) ([]string, error) {
	var keys, stale []string
	seen := make(map[string]bool)
	for range 2 {
		err := s.scanIndex(ctx, d, func(key string) error {
			if seen[key] {
				return nil
			}
			seen[key] = true
			h, exists, err := s.readHeader(key)
			if err != nil && !errors.Is(err, core.ErrCorrupt) {
				return err
			}
			now := time.Now().UnixNano()
			switch {
			case filedUnder(h, exists, err, d, now):
				keys = append(keys, key)
			case exists && err == nil && h.filing.filed:
				// Filed under d but expired or past until (ended
				// for good), or filed under another user.
				stale = append(stale, key)
			default:
				// Gone, unreadable or filed under no user: maybe
				// since the listing.
				keys = append(keys, key)
				stale = append(stale, key)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for _, key := range stale {
		if _, err := s.pruneEntry(ctx, w, d, key); err != nil && !errors.Is(err, errLockBusy) {
			return nil, err
		}
	}
	return keys, nil
}

// scanIndex calls fn with the key of every entry in d's index directory, in
// batches. A missing directory has no entries.
func (s *Store) scanIndex(ctx context.Context, d digest, fn func(key string) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dir, err := os.Open(s.userDir(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return scrub(err)
	}
	defer dir.Close()
	for {
		names, err := dir.Readdirnames(scanBatch)
		if s.listHook != nil {
			s.listHook()
		}
		for _, name := range names {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !core.ValidKey(name) {
				continue
			}
			if err := fn(name); err != nil {
				return err
			}
		}
		if err == io.EOF || errors.Is(err, fs.ErrNotExist) {
			return nil // the end, or the directory was removed as it emptied
		}
		if err != nil {
			return scrub(err)
		}
	}
}

// pruneEntry removes the entry that files key under d unless, under key's
// lock, the record is still live, filed under d and before its until. It
// reports whether it removed the entry.
func (s *Store) pruneEntry(ctx context.Context, w *sweep, d digest, key string) (bool, error) {
	l, err := w.lock(ctx, s, key)
	if err != nil {
		return false, err
	}
	defer l.unlock()
	h, exists, err := s.readHeader(key)
	if err != nil && !errors.Is(err, core.ErrCorrupt) {
		return false, err
	}
	if !exists {
		l.removeLockFile()
	}
	if filedUnder(h, exists, err, d, time.Now().UnixNano()) {
		return false, nil
	}
	err = os.Remove(s.entryPath(d, key))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("remove index entry: %w", scrub(err))
	}
	os.Remove(s.userDir(d)) // fails, harmlessly, unless it is empty
	return err == nil, nil
}

// cleanIndex is DeleteExpired's pass over the user index: it prunes every
// entry whose record is no longer live and filed under that user before
// its until (DeleteExpired has by then removed the expired records and,
// with them, most entries), removes the users' directories that empty,
// and the index directory itself once it is empty.
func (s *Store) cleanIndex(ctx context.Context, w *sweep) error {
	root, err := os.Open(s.indexDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return scrub(err)
	}
	defer root.Close()
	for {
		names, rerr := root.Readdirnames(scanBatch)
		for _, name := range names {
			var d digest
			if !core.ValidKey(name) { // 64 hex digits, as a digest's name
				continue
			}
			if _, err := hex.Decode(d[:], []byte(name)); err != nil {
				continue
			}
			if _, err := s.userKeys(ctx, w, d); err != nil {
				return err
			}
			os.Remove(s.userDir(d)) // an empty directory of a user with no entries
		}
		if rerr == io.EOF || errors.Is(rerr, fs.ErrNotExist) {
			break // the end, or another process removed the emptied index
		}
		if rerr != nil {
			return scrub(rerr)
		}
	}
	os.Remove(s.indexDir()) // fails, harmlessly, unless it is empty
	return nil
}
