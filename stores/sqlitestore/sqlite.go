// Package sqlitestore is a sessionkit store in one SQLite database file,
// using the pure-Go driver modernc.org/sqlite (no cgo, so cross-compiling
// keeps working): the persistent store for a single machine with no
// database server.
//
// Open opens (creating it if needed) the file and the table, in WAL mode
// with a busy timeout, so that readers never wait for the writer. Within
// one process the store writes through a single connection, so concurrent
// goroutines queue for it instead of failing with "database is locked";
// several processes may use one file at once, each waiting up to
// Config.BusyTimeout for another's write. Every operation is one statement
// (one transaction), so CompareAndSwap is atomic across processes too;
// Renew writes both its rows in one statement as well (one that deletes
// the old row, with the core's RenewGrace off, in one transaction of
// two).
//
// Records live in one table (DefaultTableName unless Config.TableName says
// otherwise) with the layout that Schema returns:
//
//	CREATE TABLE IF NOT EXISTS "sessionkit_sessions" (
//		key        TEXT    NOT NULL PRIMARY KEY,
//		data       BLOB    NOT NULL,
//		expiry     INTEGER NOT NULL,  -- microseconds since 1970-01-01 UTC
//		version    INTEGER NOT NULL CHECK (version > 0),
//		user_hash  TEXT,              -- SHA-256 of the user id, hex
//		user_until INTEGER            -- microseconds since 1970-01-01 UTC
//	) WITHOUT ROWID;
//	CREATE INDEX IF NOT EXISTS "sessionkit_sessions_expiry_idx"
//		ON "sessionkit_sessions" (expiry);
//	CREATE INDEX IF NOT EXISTS "sessionkit_sessions_user_idx"
//		ON "sessionkit_sessions" (user_hash) WHERE user_hash IS NOT NULL;
//
// Open upgrades a table created by an earlier version of the store, adding
// the user columns and index.
//
// The Store implements core.Store and every optional capability:
// core.Toucher, core.CompareAndSwapper (a version column checked in the
// statement's WHERE clause), core.Iterator, core.ExpiredDeleter,
// core.UserIndexer and core.Renewer. Records larger than Config.MaxDataSize (16 MiB - 1 by
// default) fail with core.ErrTooLarge.
//
// CompareAndSwapUser files a row under a user in the statement that writes
// it: user_hash holds the lowercase hex SHA-256 of the user id (NULL for no
// user), so the file holds no e-mail addresses or other user ids in the
// clear (the hash is a pseudonym, not a secret: whoever can guess an id can
// hash it); user_until holds the filing's end, and a partial index on
// user_hash serves UserKeys. The filing lives in the row and ends with it.
//
// The file uses synchronous=NORMAL, SQLite's recommendation for WAL mode:
// a crash of the application loses nothing, a power failure may lose the
// last sessions written but never corrupts the file.
//
// Expiry is decided by the application's clock: the store compares with
// time.Now() passed as a parameter. Expired rows stay until DeleteExpired
// removes them, called by the application or by the janitor that Open
// starts when Config.CleanupInterval is set. Close stops the janitor and
// closes the file.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"runtime"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/sqlstore"
)

// DefaultBusyTimeout is the default Config.BusyTimeout.
const DefaultBusyTimeout = 5 * time.Second

// busySlice is the longest SQLite busy wait between two looks at the
// operation's context.
const busySlice = 50 * time.Millisecond

// Config configures a Store. The zero value is usable.
type Config struct {
	// TableName is the table that holds the sessions: an identifier of
	// letters, digits and underscores, at most 63 bytes long. The default
	// is DefaultTableName ("sessionkit_sessions").
	TableName string
	// MaxDataSize is the largest record, in bytes, that the store accepts;
	// a larger one fails with core.ErrTooLarge. The default is MaxDataSize
	// (16 MiB - 1); at most MaxDataSizeLimit.
	MaxDataSize int
	// BusyTimeout is how long a statement waits for another process's
	// write to finish before failing with "database is locked"; an
	// operation's context ends the wait earlier. The default is
	// DefaultBusyTimeout (5s).
	BusyTimeout time.Duration
	// MaxReaders is the number of connections that read concurrently. The
	// default is GOMAXPROCS, at least 4.
	MaxReaders int
	// CleanupInterval, when positive, starts a janitor goroutine that calls
	// DeleteExpired at that interval until Close. The default is 0: no
	// janitor.
	CleanupInterval time.Duration
	// Logger receives the janitor's errors. The default is slog.Default().
	Logger *slog.Logger
}

// Store keeps sessions in a SQLite database file. It is safe for concurrent
// use, also by several processes on one file. Create it with Open.
type Store struct {
	path        string
	table       table
	read, write *sql.DB
	busyTimeout time.Duration
	s           *sqlstore.Store
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

// Open opens the SQLite database file at path, creating it if it does not
// exist, switches it to WAL mode and creates the store's table and indexes
// if they do not exist, or upgrades a table of an earlier version (see
// Schema). When cfg.CleanupInterval is positive it starts the janitor.
// Call Close when done.
func Open(ctx context.Context, path string, cfg Config) (*Store, error) {
	s, err := open(ctx, path, cfg)
	if err != nil {
		return nil, fmt.Errorf("sessionkit: sqlite: open: %w", err)
	}
	return s, nil
}

func open(ctx context.Context, path string, cfg Config) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") || strings.ContainsAny(path, "?\x00") {
		return nil, fmt.Errorf("path %q is not a file path (no \"file:\" URIs, '?' or \":memory:\")", path)
	}
	t, err := parseTable(cfg.TableName)
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.MaxDataSize == 0:
		cfg.MaxDataSize = MaxDataSize
	case cfg.MaxDataSize < 0 || cfg.MaxDataSize > MaxDataSizeLimit:
		return nil, fmt.Errorf("MaxDataSize %d is not between 1 and %d", cfg.MaxDataSize, MaxDataSizeLimit)
	}
	if cfg.BusyTimeout == 0 {
		cfg.BusyTimeout = DefaultBusyTimeout
	}
	if cfg.BusyTimeout < 0 || cfg.MaxReaders < 0 || cfg.CleanupInterval < 0 {
		return nil, errors.New("negative BusyTimeout, MaxReaders or CleanupInterval")
	}
	if cfg.MaxReaders == 0 {
		cfg.MaxReaders = max(4, runtime.GOMAXPROCS(0))
	}
	q := url.Values{}
	// SQLite's own busy wait does not watch the context, so it waits in
	// short slices and the store adds them up to BusyTimeout, honouring
	// each operation's context in between.
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", min(cfg.BusyTimeout, busySlice).Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_txlock", "immediate")
	dsn := path + "?" + q.Encode()

	write, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	write.SetMaxOpenConns(1) // one writer per process: goroutines queue here
	write.SetMaxIdleConns(1)
	write.SetConnMaxIdleTime(0)
	read, err := sql.Open("sqlite", dsn)
	if err != nil {
		write.Close()
		return nil, err
	}
	read.SetMaxOpenConns(cfg.MaxReaders)
	read.SetMaxIdleConns(cfg.MaxReaders)

	st := &Store{path: path, table: t, read: read, write: write, busyTimeout: cfg.BusyTimeout}
	fail := func(err error) (*Store, error) {
		read.Close()
		write.Close()
		return nil, err
	}
	if err := st.createTable(ctx); err != nil {
		return fail(err)
	}
	st.s, err = sqlstore.New(dialect(t), sqlstore.Config{
		Read: read, Write: write,
		MaxDataSize:     cfg.MaxDataSize,
		BusyTimeout:     cfg.BusyTimeout,
		CleanupInterval: cfg.CleanupInterval,
		Logger:          cfg.Logger,
		Table:           path + ":" + string(t),
	})
	if err != nil {
		return fail(err)
	}
	return st, nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// TableName returns the quoted name of the store's table.
func (s *Store) TableName() string { return s.table.quoted() }

// Close stops the janitor, if any, waiting for it to exit, and closes the
// database. The store is not usable afterwards.
func (s *Store) Close() error {
	err := errors.Join(s.s.Close(), s.read.Close(), s.write.Close())
	if err != nil {
		return fmt.Errorf("sessionkit: sqlite: close: %w", err)
	}
	return nil
}

// Load returns the live record stored under key, in one query. An expired
// row is not found even before DeleteExpired removes it.
func (s *Store) Load(ctx context.Context, key string) (core.Record, bool, error) {
	return s.s.Load(ctx, key)
}

// Save upserts data and expiry under key in one statement, giving the row a
// new version. An expiry that is not in the future deletes the row.
func (s *Store) Save(ctx context.Context, key string, data []byte, expiry time.Time) error {
	return s.s.Save(ctx, key, data, expiry)
}

// CompareAndSwap writes data under key if the row's version equals version
// (zero: if no live row exists) and returns the new version, in one
// statement: for version zero an INSERT ... ON CONFLICT that only
// overwrites an expired row, otherwise an UPDATE ... WHERE version = ?.
// When no row qualifies it returns an error wrapping core.ErrConflict. An
// expiry that is not in the future deletes the row (if the version matches).
func (s *Store) CompareAndSwap(ctx context.Context, key string, version uint64, data []byte, expiry time.Time) (uint64, error) {
	return s.s.CompareAndSwap(ctx, key, version, data, expiry)
}

// Touch sets the expiry of the live row under key without changing its
// data or version. A missing or expired row is left alone (an error
// wrapping core.ErrNotFound); an expiry that is not in the future deletes
// the row.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	return s.s.Touch(ctx, key, expiry)
}

// Delete removes the row under key. A missing row is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	return s.s.Delete(ctx, key)
}

// Iterate calls fn with the key of every live row, in key order, until fn
// returns false. It fetches keys a thousand at a time and holds no
// connection while fn runs, so fn may use the store.
func (s *Store) Iterate(ctx context.Context, fn func(key string) bool) error {
	return s.s.Iterate(ctx, fn)
}

// DeleteExpired removes every expired row, a thousand per statement so
// that no write holds the database for long, and returns how many it
// removed.
func (s *Store) DeleteExpired(ctx context.Context) (int, error) {
	return s.s.DeleteExpired(ctx)
}

// CompareAndSwapUser is CompareAndSwap that also files the row under user
// (the SHA-256 of user in user_hash, until in user_until), or under no user
// when user is "" (both NULL), in the same single statement. An expiry that
// is not in the future deletes the row, and its filing with it.
func (s *Store) CompareAndSwapUser(ctx context.Context, key string, version uint64, data []byte, expiry time.Time, user string, until time.Time) (uint64, error) {
	return s.s.CompareAndSwapUser(ctx, key, version, data, expiry, user, until)
}

// UserKeys returns the keys of the live rows filed under user whose until
// has not passed, in one query on the partial user index. A user with no
// sessions, or "", has none. The order is unspecified.
func (s *Store) UserKeys(ctx context.Context, user string) ([]string, error) {
	return s.s.UserKeys(ctx, user)
}

// Renew moves a session to a new key in one store call and one
// transaction: the old row, if it is live at r.OldVersion, is replaced by
// r.Retired until r.RetiredExpiry under no user, and r.NewKey is created
// with r.Data until r.Expiry, filed under r.User until r.Until, unless a
// live row exists there; otherwise it returns an error wrapping
// core.ErrConflict and changes nothing. It returns the new row's version.
// That is one statement (INSERT ... SELECT ... ON CONFLICT DO UPDATE);
// when r.Retired is nil or r.RetiredExpiry is not in the future, the old
// row is deleted instead, in a transaction of two statements that holds
// the write lock from its BEGIN.
func (s *Store) Renew(ctx context.Context, r core.Renewal) (uint64, error) {
	return s.s.Renew(ctx, r)
}
