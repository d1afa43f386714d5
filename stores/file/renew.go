package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// Renew implements core.Renewer: under the locks of both keys (taken in
// the order of the keys, so that renews never deadlock, see lockPair),
// which hold across processes, it checks that r.OldKey holds a live record
// at r.OldVersion and r.NewKey none, then replaces the old record by
// r.Retired until r.RetiredExpiry (or deletes it, when r.Retired is nil or
// r.RetiredExpiry is not in the future) and creates r.NewKey with r.Data
// until r.Expiry at a fresh version, filed under r.User until r.Until as
// CompareAndSwapUser files a record (under no user when r.User is "" or
// r.Until has passed). The retired record is filed under no user: the old
// key leaves its user's index entry. An r.Expiry that is not in the
// future creates no record (as CompareAndSwap deletes one), but still
// retires the old record. On a conflict it returns an error wrapping
// core.ErrConflict and changes nothing.
//
// Both files are written in full to temporary files before either is
// renamed into place, so a full disk or a failed write changes nothing.
// The old record is retired first and the new one renamed into place
// second (with Config.Sync, each rename is made durable before the next):
// a crash between the two leaves the old token retired and the new record
// missing, a logout, which is the safe failure. The other order could
// leave both tokens live, letting the old one outlive its renew. A crash
// can also leave index entries whose records are gone or no longer filed,
// which UserKeys and DeleteExpired prune, never a filed record without its
// entry. Should the second rename fail, Renew writes the old record back
// as it was (same data, version and filing) and returns the error; only
// if that fails too is the session lost.
//
// The new key's index entry is created before the old record is retired
// and the old key's entry removed after the new record is written, so
// every listing of the user's directory holds at least one of the two
// keys. A listing that meets the new key's entry before its record is
// written finds no record there (an ended one was removed first), and one
// that meets the old key's entry after its retirement finds a record
// filed under no user: UserKeys lists such a key and waits for its lock
// before it prunes the entry, that is, until Renew is done. So a UserKeys
// that shows the old key ended also lists the new key, live by the time
// it returns, as core.UserIndexer requires of a renew; and the old record
// that a failed Renew writes back is live again before such a UserKeys
// returns.
func (s *Store) Renew(ctx context.Context, r core.Renewal) (uint64, error) {
	v, err := s.renew(ctx, r)
	if err != nil {
		return 0, fmt.Errorf("sessionkit: file: renew: %w", err)
	}
	return v, nil
}

func (s *Store) renew(ctx context.Context, r core.Renewal) (_ uint64, err error) {
	if err := check(ctx, r.OldKey); err != nil {
		return 0, err
	}
	if !core.ValidKey(r.NewKey) {
		return 0, core.ErrInvalidKey
	}
	if uint64(len(r.Data)) > maxDataSize || uint64(len(r.Retired)) > maxDataSize {
		return 0, core.ErrTooLarge
	}
	if r.OldKey == r.NewKey || r.OldVersion == 0 {
		// One key cannot be both live at the old version and free; and no
		// live record has version zero.
		return 0, core.ErrConflict
	}
	lOld, lNew, err := s.lockPair(ctx, r.OldKey, r.NewKey)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			// Leave no lock file for a key that has no record.
			s.dropIdleLock(lOld, r.OldKey)
			s.dropIdleLock(lNew, r.NewKey)
		}
		if r.OldKey < r.NewKey {
			lNew.unlock()
			lOld.unlock()
		} else {
			lOld.unlock()
			lNew.unlock()
		}
	}()
	now := time.Now()
	nowNanos := now.UnixNano()

	// The old record, read whole: Renew writes it back if the new record
	// cannot be renamed into place after the old one was retired.
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	oldFile, err := readFile(s.recordPath(r.OldKey), bp)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, core.ErrConflict
	}
	if err != nil {
		return 0, scrub(err)
	}
	oldHeader, _, err := parseRecord(oldFile)
	if err != nil || !oldHeader.live(nowNanos) || oldHeader.version != r.OldVersion {
		// A corrupt record is no live one at any version.
		return 0, core.ErrConflict
	}
	cur, newExists, err := s.readHeader(r.NewKey)
	if err != nil && !errors.Is(err, core.ErrCorrupt) {
		return 0, err
	}
	if newExists && err == nil && cur.live(nowNanos) {
		return 0, core.ErrConflict
	}

	next := filing{}
	if u := unixNanos(r.Until); r.User != "" && u > nowNanos {
		next = filing{filed: true, until: u, user: userDigest(r.User)}
	}
	create := r.Expiry.After(now)
	retire := r.Retired != nil && r.RetiredExpiry.After(now)

	// Both files in full first: a failure here changes nothing.
	h := newHeader(cur.version, r.Data, unixNanos(r.Expiry), next)
	var newTmp, oldTmp string
	if create {
		if newTmp, err = s.prepareRecord(r.NewKey, h, r.Data); err != nil {
			return 0, err
		}
	}
	if retire {
		marker := newHeader(oldHeader.version, r.Retired, unixNanos(r.RetiredExpiry), filing{})
		if oldTmp, err = s.prepareRecord(r.OldKey, marker, r.Retired); err != nil {
			removeTemp(newTmp)
			return 0, err
		}
	}
	// An expired or corrupt record under the new key goes first, with its
	// filing, so that no listing meets it (filed under the new user, it
	// would look ended for good) between the two renames.
	if newExists {
		if err := os.Remove(s.recordPath(r.NewKey)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			removeTemp(newTmp, oldTmp)
			return 0, scrub(err)
		}
		if cur.filing.filed && (!create || !next.filed || cur.filing.user != next.user) {
			s.removeEntry(cur.filing.user, r.NewKey)
		}
	}
	created := false
	if create && next.filed {
		if created, err = s.addEntry(next.user, r.NewKey); err != nil {
			removeTemp(newTmp, oldTmp)
			return 0, err
		}
	}
	undo := func() {
		if created {
			s.removeEntry(next.user, r.NewKey)
		}
	}
	s.renewStep() // both files written, the new key's entry made

	// First visible change: the old token ends.
	if retire {
		err = os.Rename(oldTmp, s.recordPath(r.OldKey))
	} else {
		err = os.Remove(s.recordPath(r.OldKey))
	}
	if err != nil {
		removeTemp(newTmp, oldTmp)
		undo()
		return 0, fmt.Errorf("retire old record: %w", scrub(err))
	}
	if s.sync {
		if err := syncDir(s.dir); err != nil {
			return 0, s.restore(r.OldKey, oldFile, newTmp, undo, err)
		}
	}
	s.renewStep()

	// Second: the new token starts.
	if create {
		if err := os.Rename(newTmp, s.recordPath(r.NewKey)); err != nil {
			return 0, s.restore(r.OldKey, oldFile, newTmp, undo, fmt.Errorf("rename: %w", scrub(err)))
		}
		if s.sync {
			if err := syncDir(s.dir); err != nil {
				// Both renames are done, perhaps not durably: the error
				// fails the request, whose client keeps the retired
				// token, a logout.
				return 0, err
			}
		}
	} else {
		lNew.removeLockFile()
	}
	s.renewStep()
	if oldHeader.filing.filed {
		s.removeEntry(oldHeader.filing.user, r.OldKey)
	}
	if !retire {
		lOld.removeLockFile()
	}
	return h.version, nil
}

// renewStep calls the test hook renewHook, if set: Renew calls it once
// it has prepared its writes and after each of the two changes to the
// records.
func (s *Store) renewStep() {
	if s.renewHook != nil {
		s.renewHook()
	}
}

// restore writes back the old record of a Renew that retired it but could
// not write the new one (the failure cause), removes the new record's
// temporary file and, through undo, its index entry, and returns cause,
// with the restore's own error if that failed too (the session is then
// lost, a logout). The old record's index entry was never removed.
func (s *Store) restore(key string, old []byte, newTmp string, undo func(), cause error) error {
	removeTemp(newTmp)
	undo()
	err := s.writeFile(key, func(w io.Writer) error {
		_, err := w.Write(old)
		return err
	})
	if err != nil {
		return fmt.Errorf("%w (restoring the old record failed too: %w)", cause, err)
	}
	return cause
}

// dropIdleLock removes key's lock file, held as l, when key has no record,
// so that a renew that fails leaves no lock file for a key it never wrote.
func (s *Store) dropIdleLock(l *keyLock, key string) {
	if _, err := os.Lstat(s.recordPath(key)); errors.Is(err, fs.ErrNotExist) {
		l.removeLockFile()
	}
}

// readFile reads the whole file at path into *buf, which it grows as
// needed and leaves holding the bytes read (the pool's buffers, so that a
// Renew allocates nothing for the old record once they have grown).
func readFile(path string, buf *[]byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := (*buf)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		*buf = b
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// removeTemp removes the temporary files made by prepareFile ("" is none).
func removeTemp(paths ...string) {
	for _, p := range paths {
		if p != "" {
			os.Remove(p)
		}
	}
}
