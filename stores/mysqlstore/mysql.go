// Package mysqlstore is a sessionkit store on MySQL or MariaDB, over
// database/sql with the github.com/go-sql-driver/mysql driver.
//
// Records live in one InnoDB table (DefaultTableName unless
// Config.TableName says otherwise) with the layout that Schema returns;
// create it with Store.CreateTable or put Schema's SQL into your migrations:
//
//	CREATE TABLE IF NOT EXISTS `sessionkit_sessions` (
//		`key`        CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
//		`data`       MEDIUMBLOB NOT NULL,
//		`expiry`     BIGINT     NOT NULL,
//		`version`    BIGINT     NOT NULL,
//		`user_hash`  CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
//		`user_until` BIGINT     NULL,
//		PRIMARY KEY (`key`),
//		INDEX `expiry_idx` (`expiry`),
//		INDEX `user_idx` (`user_hash`),
//		CHECK (`version` > 0)
//	) ENGINE=InnoDB
//
// CreateTable also upgrades a table created by an earlier version of the
// store, which lacks the user columns and user_idx (see Schema for the
// equivalent ALTER TABLE).
//
// Expiry is kept as microseconds since 1970-01-01 UTC, so the store works
// whatever the DSN's parseTime and loc say and whatever the server's time
// zone is.
//
// Every operation is one statement, and one round trip once database/sql
// has prepared it on a connection (the store prepares its statements on
// first use and reuses them). The Store implements core.Store and every
// optional capability: core.Toucher, core.CompareAndSwapper (a version
// column checked in the UPDATE's WHERE clause, so concurrent writers on any
// number of application servers never lose an update), core.Iterator,
// core.ExpiredDeleter, core.UserIndexer and core.Renewer. It works with or
// without clientFoundRows in the DSN.
// A statement InnoDB rolls back to break a deadlock (concurrent writes of
// one session can meet one) is run again, within the operation's context.
//
// # Size limit
//
// A record larger than Config.MaxDataSize (at most MaxDataSize, the
// MEDIUMBLOB column's 16 MiB - 1) fails with an error wrapping
// core.ErrTooLarge before anything is sent, so the server's sql_mode never
// gets the chance to truncate it. The server's max_allowed_packet must
// hold a whole statement: a record the server refuses for that reason also
// fails with core.ErrTooLarge, and the previous record stays. (The server
// refuses by closing the connection, which the driver may report as a bad
// connection; the store then asks the server for its max_allowed_packet
// and reports core.ErrTooLarge if no packet could carry the record.) Add
// maxAllowedPacket=0 to the DSN so that the driver asks the server for its
// max_allowed_packet and sends large records in pieces: then any record up
// to that size fits (MariaDB's default is 16 MiB, MySQL 8's 64 MiB).
// Without it the driver assumes 64 MiB and a record close to 16 MiB can
// exceed a 16 MiB server limit.
//
// # A user's sessions
//
// CompareAndSwapUser files a row under a user in the statement that writes
// it: user_hash holds the lowercase hex SHA-256 of the user id (NULL for no
// user), user_until the filing's end, and user_idx serves UserKeys. The
// table thus holds no e-mail addresses or other user ids in the clear, ids
// of any length index alike, and the collation cannot make "Alice" and
// "alice " one user; the hash is a pseudonym, not a secret (whoever can
// guess an id can hash it). To list a user's sessions in SQL:
//
//	SELECT `key` FROM sessionkit_sessions
//	WHERE user_hash = SHA2('alice@example.com', 256)
//	  AND expiry > UNIX_TIMESTAMP(NOW(6)) * 1000000 AND user_until > UNIX_TIMESTAMP(NOW(6)) * 1000000
//
// The filing lives in the row, so it ends with it: Delete, an expiry that is
// not in the future, and DeleteExpired leave no index entry behind.
// CompareAndSwap, Save and Touch keep a live row's filing; a row they create
// (or an expired row they replace) is filed under no user.
//
// # Renew
//
// Renew moves a session to a new key (Session.Renew, at login) in one
// statement, so a renew costs a request two round trips (the load and this
// statement) instead of three, without multiStatements in the DSN: an
// INSERT ... SELECT ... FOR UPDATE ... ON DUPLICATE KEY UPDATE whose SELECT
// yields the new row and the retired marker only if the old row is live at
// the version the request loaded and no live row exists under the new key.
// Its reads lock (FOR UPDATE), so they see the latest committed rows under
// REPEATABLE READ and READ COMMITTED alike, and a concurrent renew,
// compare-and-swap or delete of the old row that commits first makes it
// change nothing. Two limits:
//
//   - An INSERT cannot delete: a renew that would delete the old row (the
//     core's Config.RenewGrace off) returns core.ErrNotSupported before any
//     round trip, and the core renews in two statements as before.
//   - Under READ COMMITTED, which takes no gap locks, a row created under
//     the new key by another client between the statement's read and its
//     insert would be overwritten. The core's new keys are hashes of fresh
//     256-bit tokens that no other request knows, so nothing creates them
//     concurrently; under REPEATABLE READ (InnoDB's default) the gap lock
//     rules it out anyway. That gap lock can make two renews whose new
//     keys fall into one gap of the index deadlock; InnoDB rolls one back
//     and the store runs it again, as for any deadlock.
//
// # Clock
//
// Expiry is decided by the application's clock throughout: the store passes
// the current time as a query parameter wherever it compares with expiry
// (Load, CompareAndSwap, Touch, Iterate, UserKeys, DeleteExpired, Renew), never
// the database's NOW(). Keep application servers' clocks in sync as for any
// session store. A cron job in SQL can clean up with
//
//	DELETE FROM sessionkit_sessions WHERE expiry <= UNIX_TIMESTAMP(NOW(6)) * 1000000
//
// Expired rows stay until DeleteExpired removes them, called by the
// application or by the janitor that New starts when Config.CleanupInterval
// is set. Close stops the janitor and closes the store's prepared
// statements; it does not close the *sql.DB, which belongs to the caller.
package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/sqlstore"
)

// Config configures a Store. The zero value is usable.
type Config struct {
	// TableName is the table that holds the sessions: an identifier of
	// letters, digits and underscores, optionally database-qualified
	// ("auth.sessions"). It is quoted in SQL. The default is
	// DefaultTableName ("sessionkit_sessions").
	TableName string
	// MaxDataSize is the largest record, in bytes, that the store accepts;
	// a larger one fails with core.ErrTooLarge. The default and the
	// maximum is MaxDataSize (16 MiB - 1, the MEDIUMBLOB column's limit).
	// Lower it when the server's max_allowed_packet is below 16 MiB.
	MaxDataSize int
	// CleanupInterval, when positive, starts a janitor goroutine that calls
	// DeleteExpired at that interval until Close. The default is 0: no
	// janitor (run DeleteExpired yourself, or a cron job).
	CleanupInterval time.Duration
	// Logger receives the janitor's errors. The default is slog.Default().
	Logger *slog.Logger
}

// Store keeps sessions in a MySQL or MariaDB table. It is safe for
// concurrent use. Create it with New.
type Store struct {
	db    *sql.DB
	table table
	s     *sqlstore.Store
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

// New returns a Store that uses db (opened with the "mysql" driver) and the
// table named by cfg. It does not touch the database (call CreateTable to
// create the table). When cfg.CleanupInterval is positive it starts the
// janitor; call Close to stop it.
func New(db *sql.DB, cfg Config) (*Store, error) {
	if db == nil {
		return nil, errors.New("sessionkit: mysql: nil *sql.DB")
	}
	t, err := parseTable(cfg.TableName)
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.MaxDataSize == 0:
		cfg.MaxDataSize = MaxDataSize
	case cfg.MaxDataSize < 0 || cfg.MaxDataSize > MaxDataSize:
		return nil, fmt.Errorf("sessionkit: mysql: MaxDataSize %d is not between 1 and %d", cfg.MaxDataSize, MaxDataSize)
	}
	s, err := sqlstore.New(dialect(t), sqlstore.Config{
		Read: db, Write: db,
		MaxDataSize:     cfg.MaxDataSize,
		BusyTimeout:     deadlockRetryTimeout,
		CleanupInterval: cfg.CleanupInterval,
		Logger:          cfg.Logger,
		Table:           t.quoted(),
	})
	if err != nil {
		return nil, err
	}
	return &Store{db: db, table: t, s: s}, nil
}

// TableName returns the quoted name of the store's table.
func (s *Store) TableName() string { return s.table.quoted() }

// Close stops the janitor, if any, waiting for it to exit, and closes the
// store's prepared statements. It does not close the *sql.DB. It is safe
// to call more than once; the store remains usable after Close.
func (s *Store) Close() error {
	if err := s.s.Close(); err != nil {
		return fmt.Errorf("sessionkit: mysql: close: %w", err)
	}
	return nil
}

// Load returns the live record stored under key, in one query. An expired
// row is not found even before DeleteExpired removes it.
func (s *Store) Load(ctx context.Context, key string) (core.Record, bool, error) {
	return s.s.Load(ctx, key)
}

// Save upserts data and expiry under key in one statement (INSERT ... ON
// DUPLICATE KEY UPDATE), giving the row a new version. An expiry that is
// not in the future deletes the row. A record larger than the configured
// MaxDataSize fails with core.ErrTooLarge and is never truncated.
func (s *Store) Save(ctx context.Context, key string, data []byte, expiry time.Time) error {
	return s.s.Save(ctx, key, data, expiry)
}

// CompareAndSwap writes data under key if the row's version equals version
// (zero: if no live row exists) and returns the new version, in one
// statement: for version zero an INSERT ... ON DUPLICATE KEY UPDATE that
// only overwrites an expired row, otherwise an UPDATE ... WHERE version = ?.
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

// DeleteExpired removes every expired row, a thousand per statement so that
// no statement holds many row locks for long, and returns how many it
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
// has not passed, in one query on user_idx. A user with no sessions, or "",
// has none. The order is unspecified.
func (s *Store) UserKeys(ctx context.Context, user string) ([]string, error) {
	return s.s.UserKeys(ctx, user)
}

// Renew moves a session to a new key in one statement (see renewQuery):
// it creates r.NewKey with r.Data until r.Expiry, filed under r.User until
// r.Until, and replaces the old row by r.Retired until r.RetiredExpiry
// under no user, if the old row is live at r.OldVersion and no live row
// exists under r.NewKey; otherwise it returns an error wrapping
// core.ErrConflict and changes nothing. It returns the new row's version.
// The statement cannot delete the old row: when r.Retired is nil or
// r.RetiredExpiry is not in the future, Renew returns an error wrapping
// core.ErrNotSupported at once, and the core renews in two statements.
func (s *Store) Renew(ctx context.Context, r core.Renewal) (uint64, error) {
	return s.s.Renew(ctx, r)
}
