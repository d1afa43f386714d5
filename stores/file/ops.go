package file

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// Load returns the record stored under key. A missing or expired record is
// not found (and not an error); a record file that fails its header or
// checksum check is an error wrapping core.ErrCorrupt. Load takes no lock:
// writes replace files atomically, so it never sees a torn record.
func (s *Store) Load(ctx context.Context, key string) (core.Record, bool, error) {
	if err := check(ctx, key); err != nil {
		return core.Record{}, false, fmt.Errorf("sessionkit: file: load: %w", err)
	}
	b, err := os.ReadFile(s.recordPath(key))
	if errors.Is(err, fs.ErrNotExist) {
		return core.Record{}, false, nil
	}
	if err != nil {
		return core.Record{}, false, fmt.Errorf("sessionkit: file: load: %w", scrub(err))
	}
	h, data, err := parseRecord(b)
	if err != nil {
		return core.Record{}, false, fmt.Errorf("sessionkit: file: load: %w", err)
	}
	if !h.live(time.Now().UnixNano()) {
		return core.Record{}, false, nil
	}
	return core.Record{Data: data, Expiry: time.Unix(0, h.expiry), Version: h.version}, true, nil
}

// Save writes data under key until expiry, replacing any previous record
// atomically. A live record keeps its user filing (see CompareAndSwapUser);
// a new one is filed under no user. An expiry that is not in the future
// deletes the record. On error the previous record is left intact.
func (s *Store) Save(ctx context.Context, key string, data []byte, expiry time.Time) error {
	if err := s.save(ctx, key, data, expiry); err != nil {
		return fmt.Errorf("sessionkit: file: save: %w", err)
	}
	return nil
}

func (s *Store) save(ctx context.Context, key string, data []byte, expiry time.Time) error {
	if err := check(ctx, key); err != nil {
		return err
	}
	if uint64(len(data)) > maxDataSize {
		return core.ErrTooLarge
	}
	l, err := s.lock(ctx, key)
	if err != nil {
		return err
	}
	defer l.unlock()
	// The old header tells the filing to keep (a live record's) or to end
	// (an expired one's: Save then creates a new record).
	cur, exists, err := s.readHeader(key)
	if err != nil && !errors.Is(err, core.ErrCorrupt) {
		return err
	}
	now := time.Now()
	if !expiry.After(now) {
		return s.remove(l, key, cur.filing)
	}
	next := filing{}
	if exists && err == nil && cur.live(now.UnixNano()) {
		next = cur.filing
	}
	_, err = s.writeFiled(key, cur.version, data, unixNanos(expiry), cur.filing, next, false)
	return err
}

// CompareAndSwap writes data under key until expiry if the current record's
// version equals version (zero: if no live record exists) and returns the
// new version. Otherwise it returns an error wrapping core.ErrConflict. The
// check and the write happen under the key's lock, which holds across
// processes. A live record keeps its user filing (see CompareAndSwapUser);
// a new one is filed under no user. An expiry that is not in the future
// deletes the record.
func (s *Store) CompareAndSwap(ctx context.Context, key string, version uint64, data []byte, expiry time.Time) (uint64, error) {
	v, err := s.compareAndSwap(ctx, key, version, data, expiry)
	if err != nil {
		return 0, fmt.Errorf("sessionkit: file: compare and swap: %w", err)
	}
	return v, nil
}

func (s *Store) compareAndSwap(ctx context.Context, key string, version uint64, data []byte, expiry time.Time) (uint64, error) {
	return s.swap(ctx, key, version, data, expiry, nil)
}

// swap is CompareAndSwap when refile is nil (a live record keeps its
// filing, a new one is filed under no user) and CompareAndSwapUser
// otherwise (the record is filed as *refile says).
func (s *Store) swap(ctx context.Context, key string, version uint64, data []byte, expiry time.Time, refile *filing) (uint64, error) {
	if err := check(ctx, key); err != nil {
		return 0, err
	}
	if uint64(len(data)) > maxDataSize {
		return 0, core.ErrTooLarge
	}
	l, err := s.lock(ctx, key)
	if err != nil {
		return 0, err
	}
	defer l.unlock()
	cur, exists, err := s.readHeader(key)
	if err != nil && !errors.Is(err, core.ErrCorrupt) {
		return 0, err
	}
	now := time.Now()
	live := exists && err == nil && cur.live(now.UnixNano())
	if live && version == 0 && s.dataCorrupt(key) {
		// The header is intact but the data fails its checksum: Load
		// reports the record corrupt, so no caller can hold its version.
		// It is no live record to conflict with (as a corrupt header is
		// not): the write replaces it.
		live = false
	}
	if live != (version != 0) || (live && cur.version != version) {
		if !exists {
			l.removeLockFile()
		}
		return 0, core.ErrConflict
	}
	if !expiry.After(now) {
		return newVersion(cur.version), s.remove(l, key, cur.filing)
	}
	next := filing{}
	switch {
	case refile != nil:
		next = *refile
	case live:
		next = cur.filing
	}
	return s.writeFiled(key, cur.version, data, unixNanos(expiry), cur.filing, next, refile != nil)
}

// Touch sets the expiry of a live record without changing its data,
// version or user filing. The new record is written to a temporary file
// (header, then the data copied file-to-file in the kernel) and renamed
// into place, because an in-place header write could be seen half-done by
// a reader or a crash. A missing or expired record is left alone (an error
// wrapping core.ErrNotFound); an expiry that is not in the future deletes
// the record.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	if err := s.touch(ctx, key, expiry); err != nil {
		return fmt.Errorf("sessionkit: file: touch: %w", err)
	}
	return nil
}

func (s *Store) touch(ctx context.Context, key string, expiry time.Time) error {
	if err := check(ctx, key); err != nil {
		return err
	}
	if _, err := os.Lstat(s.recordPath(key)); errors.Is(err, fs.ErrNotExist) {
		return core.ErrNotFound // nothing to touch; do not create a lock file for it
	}
	l, err := s.lock(ctx, key)
	if err != nil {
		return err
	}
	defer l.unlock()
	old, err := os.Open(s.recordPath(key))
	if errors.Is(err, fs.ErrNotExist) {
		l.removeLockFile()
		return core.ErrNotFound
	}
	if err != nil {
		return scrub(err)
	}
	tmp, h, err := s.touchFile(old, key, expiry)
	// Closed before the rename or removal: Windows does not replace or
	// remove a file that is open, even by the process doing it.
	old.Close()
	switch {
	case err != nil:
		return err
	case tmp == "":
		return s.remove(l, key, h.filing) // the new expiry has passed
	}
	return s.commitFile(key, tmp)
}

// touchFile reads the record open as old and, if it is live, writes it
// with expiry to a temporary file (see prepareFile) whose path it returns,
// for commitFile to rename once old is closed. When expiry has passed it
// writes nothing and returns "" and the record's header, for the caller
// to remove it. key's lock is held.
func (s *Store) touchFile(old *os.File, key string, expiry time.Time) (tmp string, h header, err error) {
	if h, err = readHeaderFrom(old); err != nil {
		return "", h, err
	}
	now := time.Now()
	if !h.live(now.UnixNano()) {
		return "", h, core.ErrNotFound
	}
	if !expiry.After(now) {
		return "", h, nil
	}
	h.expiry = unixNanos(expiry)
	tmp, err = s.prepareFile(key, func(w io.Writer) error {
		var hb [filedHeaderSize]byte
		putHeader(hb[:], h)
		if _, err := w.Write(hb[:h.size()]); err != nil {
			return err
		}
		n, err := io.CopyN(w, old, int64(h.length))
		if err == io.EOF {
			return fmt.Errorf("data is %d bytes, header says %d: %w", n, h.length, core.ErrCorrupt)
		}
		return err
	})
	return tmp, h, err
}

// Delete removes the record under key, its lock file and its user-index
// entry. A missing record is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := check(ctx, key); err != nil {
		return fmt.Errorf("sessionkit: file: delete: %w", err)
	}
	l, err := s.lock(ctx, key)
	if err != nil {
		return fmt.Errorf("sessionkit: file: delete: %w", err)
	}
	defer l.unlock()
	// A corrupt header hides the filing: its entry is left to UserKeys
	// and DeleteExpired, which remove entries whose record is gone.
	cur, _, err := s.readHeader(key)
	if err != nil && !errors.Is(err, core.ErrCorrupt) {
		return fmt.Errorf("sessionkit: file: delete: %w", err)
	}
	if err := s.remove(l, key, cur.filing); err != nil {
		return fmt.Errorf("sessionkit: file: delete: %w", err)
	}
	return nil
}

// remove deletes key's record and lock file and ends its filing, old (read
// from the record's header); l must be key's held lock. The record goes
// first: should the process die in between, an index entry without its
// record is left, which UserKeys and DeleteExpired prune, and never a
// filed record without its entry.
func (s *Store) remove(l *keyLock, key string, old filing) error {
	if s.replaceHook != nil {
		s.replaceHook(s.recordPath(key))
	}
	err := os.Remove(s.recordPath(key))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return scrub(err)
	}
	l.removeLockFile()
	if old.filed {
		s.removeEntry(old.user, key)
	}
	if err == nil && s.sync {
		return syncDir(s.dir)
	}
	return nil
}

// readHeader reads the header of key's record file. exists is false when
// there is no file; a malformed header is an error wrapping core.ErrCorrupt
// with exists true.
func (s *Store) readHeader(key string) (h header, exists bool, err error) {
	f, err := os.Open(s.recordPath(key))
	if errors.Is(err, fs.ErrNotExist) {
		return header{}, false, nil
	}
	if err != nil {
		return header{}, false, scrub(err)
	}
	defer f.Close()
	h, err = readHeaderFrom(f)
	return h, true, err
}

// dataCorrupt reports whether key's record, whose header reads, is
// corrupt as Load reads it (its data's length or checksum). Only the path
// that would otherwise refuse a write reads the data. The caller holds
// key's lock.
func (s *Store) dataCorrupt(key string) bool {
	b, err := os.ReadFile(s.recordPath(key))
	if err != nil {
		return false
	}
	_, _, err = parseRecord(b)
	return errors.Is(err, core.ErrCorrupt)
}

// bufPool recycles the buffers records are assembled in before writing.
var bufPool = sync.Pool{New: func() any { return new([]byte) }}

// write stores a new record for key, filed as f says, with a fresh version
// different from old and returns that version. The caller holds key's lock
// and has made the index entry f needs.
func (s *Store) write(key string, old uint64, data []byte, expiry int64, f filing) (uint64, error) {
	h := newHeader(old, data, expiry, f)
	tmp, err := s.prepareRecord(key, h, data)
	if err != nil {
		return 0, err
	}
	if err := s.commitFile(key, tmp); err != nil {
		return 0, err
	}
	return h.version, nil
}

// newHeader returns the header of a new record holding data until expiry,
// filed as f says, with a fresh version different from old.
func newHeader(old uint64, data []byte, expiry int64, f filing) header {
	return header{
		expiry:   expiry,
		version:  newVersion(old),
		length:   uint32(len(data)),
		checksum: crc32.Checksum(data, crc32cTab),
		filing:   f,
	}
}

// prepareRecord writes the record h, data to a new temporary file for key
// (see prepareFile) and returns its path.
func (s *Store) prepareRecord(key string, h header, data []byte) (string, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := append((*bp)[:0], make([]byte, h.size())...)
	putHeader(buf, h)
	buf = append(buf, data...)
	*bp = buf
	return s.prepareFile(key, func(w io.Writer) error {
		_, err := w.Write(buf)
		return err
	})
}

// writeFile atomically replaces key's record with what fill writes: it
// fills a temporary file in the same directory, optionally fsyncs it,
// closes it and renames it over the record. On any error the temporary
// file is removed and the previous record is untouched.
func (s *Store) writeFile(key string, fill func(io.Writer) error) error {
	tmp, err := s.prepareFile(key, fill)
	if err != nil {
		return err
	}
	return s.commitFile(key, tmp)
}

// prepareFile fills a temporary file for key's record in the store's
// directory with what fill writes, fsyncs it when the store syncs, closes
// it and returns its path, for commitFile to rename into place. On any
// error the temporary file is removed. Nothing a reader sees changes.
func (s *Store) prepareFile(key string, fill func(io.Writer) error) (path string, err error) {
	tmp, err := os.CreateTemp(s.dir, "."+s.prefix+key+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("create temporary file: %w", scrub(err))
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if s.mode != 0o600 { // CreateTemp uses 0600
		if err := tmp.Chmod(s.mode); err != nil {
			return "", fmt.Errorf("chmod temporary file: %w", scrub(err))
		}
	}
	var w io.Writer = tmp
	if s.writeHook != nil {
		w = s.writeHook(tmp)
	}
	if err := fill(w); err != nil {
		return "", fmt.Errorf("write: %w", scrub(err))
	}
	if s.sync {
		if err := tmp.Sync(); err != nil {
			return "", fmt.Errorf("sync: %w", scrub(err))
		}
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("close: %w", scrub(err))
	}
	return tmp.Name(), nil
}

// commitFile renames the temporary file tmp, made by prepareFile, over
// key's record and, when the store syncs, fsyncs the directory. A failed
// rename removes tmp and leaves the previous record untouched.
func (s *Store) commitFile(key, tmp string) error {
	if s.replaceHook != nil {
		s.replaceHook(s.recordPath(key))
	}
	if err := os.Rename(tmp, s.recordPath(key)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename: %w", scrub(err))
	}
	if s.sync {
		return syncDir(s.dir)
	}
	return nil
}

// syncDir fsyncs the directory dir so that a rename, creation or removal
// in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", scrub(err))
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory: %w", scrub(err))
	}
	return nil
}

// newVersion returns a random non-zero version different from old. Random
// versions (rather than old+1) mean a record that is deleted and created
// again never repeats a version a stale writer might still hold.
func newVersion(old uint64) uint64 {
	for {
		if v := rand.Uint64(); v != 0 && v != old {
			return v
		}
	}
}

// scrub strips file names from err (they contain store keys) while keeping
// the operation and the underlying error for errors.Is.
func scrub(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return fmt.Errorf("%s: %w", le.Op, le.Err)
	}
	return err
}
