// Package file is a sessionkit store that keeps one file per session in a
// directory.
//
// Each record is written to a temporary file in the same directory, optionally
// fsynced, and renamed over the previous version, so a crash or a failed write
// (read-only directory, full disk) never leaves a torn record: readers see the
// old version or the new one. A record file starts with a small header (magic,
// format version, expiry in Unix nanoseconds, version, length, CRC-32C of the
// data); a file whose header or checksum does not match loads as an error
// wrapping core.ErrCorrupt, which the core treats as "no session".
//
// The Store implements core.Store and every optional capability:
// core.Toucher, core.CompareAndSwapper, core.Iterator,
// core.ExpiredDeleter, core.UserIndexer and core.Renewer. Writers of one
// key are serialised by an in-process mutex of that key and by an advisory
// flock(2) on a sibling "<record>.lock" file, so several Store values on
// one directory, in one process or in several, never lose an update made
// through CompareAndSwap. Loads take no lock. A lock held for long (by a
// process paused while it holds it) holds up the writers of that key only:
// they wait until their context ends, which the core bounds with
// core.Config.StoreTimeout.
//
// Expired records stay on disk (and load as not found) until DeleteExpired
// removes them, with their lock files, their user-index entries and any
// temporary file a crashed writer left behind. New starts a janitor that calls it every
// DefaultCleanupInterval (five minutes; Config.CleanupInterval changes it,
// a negative value turns it off for applications that run DeleteExpired
// themselves, from a cron job say). Call Close to stop it.
//
// # The user index
//
// For core.UserIndexer (Manager.UserSessions and EndUserSessions) the
// store keeps, next to the records, a directory "<prefix>users" with one
// directory per user that has filed sessions, named by the SHA-256 of the
// user id in hexadecimal (a user id, often an email address, never appears
// in a file name), holding one empty entry file per filed session, named
// by its key. A filed record's header carries the same digest and the
// filing's deadline (until), and is the truth: UserKeys lists an entry only
// when the record it names is live, filed under that user and before its
// until.
//
// CompareAndSwapUser creates the entry, writes the record and removes the
// entry of the user the record was filed under before, all under the
// record's lock, so the index holds across Store values and processes as
// the records do; Delete, an expiry in the past and a new record written
// over an expired one remove the entry with the record. A crash between
// the steps can leave an entry whose record is gone or filed elsewhere,
// never a filed record without its entry. UserKeys and DeleteExpired (the
// janitor) prune such entries and those of expired records or past their
// until, each after taking its record's lock, and remove a user's
// directory when it empties, and the index directory when it is empty.
//
// Costs: CompareAndSwapUser adds the creation (and, on a refiling, the
// removal) of one small file to the write; CompareAndSwap, Save and Touch
// cost nothing more, except that Save now reads the old header to keep its
// filing; Delete and the removal of a filed record remove one more file.
// UserKeys reads one directory and one record header per entry: a user's
// sessions, not the store's. DeleteExpired reads the index too, one header
// per entry. Records filed under no user keep the original format, which
// older versions of this package read; a filed record written by this
// version loads as corrupt (no session) in an older one.
//
// The cross-process lock is flock(2) on Unix and LockFileEx on Windows.
// flock is not reliable on some network file systems. On Windows a file that
// is open cannot be removed or replaced, so a rename over a record that a
// concurrent Load has open, or the removal of a lock file another process
// waits on, can fail there; lock files left behind are removed by a later
// DeleteExpired. Likewise a user's index directory that another process
// has open cannot be removed there (it stays, empty, until a later
// DeleteExpired), and filing a record into a directory at the moment it is
// being removed can fail, failing the write and leaving the previous
// record.
//
// # Renew
//
// Renew (core.Renewer) moves a session to a new key in one call: under
// the locks of both keys, taken in the order of the keys so that two
// renews never deadlock, it writes both files to temporary files, then
// renames the retired marker over the old record (or removes it) and then
// the new record into place. A crash between the two renames leaves the
// old token ended and the new one not yet written: the user is logged out,
// which is safe, where the other order could leave both tokens live. See
// Renew for what else a crash can leave (index entries that are pruned
// later) and how a failed second rename is undone.
package file

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/janitor"
	"github.com/sessionkit/sessionkit/internal/keylock"
)

// Config configures a Store. The zero value is usable.
type Config struct {
	// Dir is the directory that holds the session files. It is created
	// (with mode 0700) by New if missing. The default is
	// filepath.Join(os.TempDir(), "sessionkit").
	Dir string
	// Prefix starts the name of every session file; the rest of the name is
	// the store key. It must not contain a path separator. The default is
	// "sess-".
	Prefix string
	// Mode is the permission of session and lock files. The default is 0600.
	Mode fs.FileMode
	// Sync makes every write fsync the file before renaming it into place
	// (and the directory after), so a record survives a power failure, not
	// only a process crash. The default is false.
	Sync bool
	// CleanupInterval is how often a janitor goroutine, started by New and
	// stopped by Close, calls DeleteExpired: it removes expired records,
	// their lock files and temporary files that a crashed writer left
	// behind (older than a minute). Zero means DefaultCleanupInterval (five
	// minutes); a negative value starts no janitor, leaving cleanup to the
	// application calling DeleteExpired.
	CleanupInterval time.Duration
	// Logger receives the janitor's errors. The default is slog.Default().
	Logger *slog.Logger
}

// DefaultPrefix is the default Config.Prefix.
const DefaultPrefix = "sess-"

// DefaultCleanupInterval is the janitor's period when Config.CleanupInterval
// is zero.
const DefaultCleanupInterval = 5 * time.Minute

// Store keeps sessions in files. It is safe for concurrent use. Create it
// with New.
type Store struct {
	dir    string
	prefix string
	mode   fs.FileMode
	sync   bool
	logger *slog.Logger

	// keys serialises this Store's callers of one key before they take
	// the key's lock file: a caller waits only for its own key's holder,
	// so a lock held for long (by a paused process) holds up that key's
	// callers alone.
	keys keylock.Table[struct{}]

	// sweepLockWait is how long DeleteExpired waits for one key's lock:
	// the constant sweepLockWait, shortened by tests.
	sweepLockWait time.Duration

	// writeHook, when set (by tests), wraps the writer of every temporary
	// file, so that tests can inject write failures even when running as
	// root, where permission bits do not stop writes.
	writeHook func(io.Writer) io.Writer
	// listHook, when set (by tests), runs after every read of a user's
	// index directory, before the entries read are looked at, so that
	// tests can change the index between the two.
	listHook func()
	// renewHook, when set (by tests), runs at each step of Renew (see
	// renewStep) with both keys' locks held, so that tests can make the
	// next step fail or the process die there.
	renewHook func()
	// replaceHook, when set (by tests), runs with the path of a record
	// just before a rename replaces it or it is removed, so that tests can
	// check that nothing of this process holds that file open (Windows
	// refuses to replace or remove a file that is open).
	replaceHook func(path string)

	janitor *janitor.Janitor // nil with a negative CleanupInterval
}

// Compile-time checks that Store has every capability.
var (
	_ core.Store             = (*Store)(nil)
	_ core.Toucher           = (*Store)(nil)
	_ core.CompareAndSwapper = (*Store)(nil)
	_ core.Iterator          = (*Store)(nil)
	_ core.ExpiredDeleter    = (*Store)(nil)
	_ core.UserIndexer       = (*Store)(nil)
	_ core.Renewer           = (*Store)(nil)
)

// New validates cfg, creates the directory if needed and returns a Store.
// Unless cfg.CleanupInterval is negative it starts the janitor; call Close
// to stop it.
func New(cfg Config) (*Store, error) {
	s := &Store{
		dir:    cfg.Dir,
		prefix: cfg.Prefix,
		mode:   cfg.Mode,
		sync:   cfg.Sync,
		logger: cfg.Logger,

		sweepLockWait: sweepLockWait,
	}
	if s.dir == "" {
		s.dir = filepath.Join(os.TempDir(), "sessionkit")
	}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if strings.ContainsAny(s.prefix, `/\`) || strings.ContainsRune(s.prefix, os.PathSeparator) || strings.ContainsRune(s.prefix, 0) {
		return nil, fmt.Errorf("sessionkit: file: prefix %q contains a path separator", s.prefix)
	}
	if s.mode == 0 {
		s.mode = 0o600
	}
	if s.mode&^fs.ModePerm != 0 {
		return nil, fmt.Errorf("sessionkit: file: mode %v has bits other than permissions", s.mode)
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if cfg.CleanupInterval == 0 {
		cfg.CleanupInterval = DefaultCleanupInterval
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("sessionkit: file: create directory: %w", err)
	}
	if fi, err := os.Stat(s.dir); err != nil {
		return nil, fmt.Errorf("sessionkit: file: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("sessionkit: file: %s is not a directory", s.dir)
	}
	s.janitor = janitor.Start(cfg.CleanupInterval, func(ctx context.Context) error {
		_, err := s.DeleteExpired(ctx)
		return err
	}, func(ctx context.Context, err error) {
		s.logger.LogAttrs(ctx, slog.LevelError, "sessionkit: file: cleanup failed",
			slog.String("dir", s.dir), slog.Any("error", err))
	})
	return s, nil
}

// Dir returns the directory the store keeps its files in.
func (s *Store) Dir() string { return s.dir }

// Close stops the janitor, if any, and waits for it to exit. It is safe to
// call more than once and from several goroutines. The store remains usable
// after Close; only the background cleanup stops.
func (s *Store) Close() error {
	s.janitor.Stop()
	return nil
}

// recordPath returns the path of key's record file; key must be valid.
func (s *Store) recordPath(key string) string {
	return filepath.Join(s.dir, s.prefix+key)
}

// lockPath returns the path of key's lock file; key must be valid.
func (s *Store) lockPath(key string) string {
	return s.recordPath(key) + ".lock"
}

// keyFromName returns the key of a directory entry name that is a record
// file of this store, or false.
func (s *Store) keyFromName(name string) (string, bool) {
	key, ok := strings.CutPrefix(name, s.prefix)
	if !ok || !core.ValidKey(key) {
		return "", false
	}
	return key, true
}

// check validates the common arguments of every keyed operation.
func check(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !core.ValidKey(key) {
		return core.ErrInvalidKey
	}
	return nil
}
