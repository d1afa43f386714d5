// Package sqlstore is the session store that the SQL stores (mysql, sqlite)
// share: every operation over database/sql, parameterised by a small
// Dialect that holds the statements (which differ in quoting and upsert
// syntax) and says how to read their results. The store packages keep
// only their configuration, schema and dialect.
//
// Each operation is one statement (a Renew that deletes the old row, where
// the dialect allows it, is a transaction of two). Statements are prepared
// once per connection (lazily, on first use) and reused, so that after
// warm-up every Load, Save, CompareAndSwap, Touch and Delete is one round
// trip even with drivers that would otherwise prepare, execute and close
// every statement that has arguments.
//
// Expiry is an integer column of microseconds since 1970-01-01 UTC, decided
// by the application's clock: the store passes the current time as a
// parameter wherever it compares with expiry, never the database's clock.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/janitor"
)

// PageSize is how many keys Iterate fetches per query, and at most how many
// rows one DeleteExpired statement removes.
const PageSize = 1000

// Dialect describes one SQL database to the shared store.
type Dialect struct {
	// Name is the store's name in errors and logs: "mysql" gives errors
	// prefixed "sessionkit: mysql: ".
	Name string
	// Queries are the store's statements, written with the named
	// parameters documented on Queries.
	Queries Queries
	// InsertWon reports whether CASInsert's result means the row was
	// inserted (or an expired row replaced) rather than left alone because
	// a live row exists.
	InsertWon func(sql.Result) (bool, error)
	// TouchFound reports whether Touch's result means a live row was found
	// (whether or not its expiry changed).
	TouchFound func(sql.Result) (bool, error)
	// TooLarge, when set, reports whether err, the error of a write that
	// sent size bytes of records (their total), means the server refused
	// them for their size; the error then wraps core.ErrTooLarge. It may
	// ask the server, on db and within ctx: a MySQL server refuses a
	// packet over its max_allowed_packet by closing the connection, and the
	// client may see only the broken connection, not the server's error.
	TooLarge func(ctx context.Context, db *sql.DB, size int, err error) bool
	// RenewDeleteTx lets Renew delete the old row in a transaction (see
	// Store.Renew), for a database whose transactions cost no round trips
	// (SQLite); without it such a renew is not supported.
	RenewDeleteTx bool
	// Busy, when set, reports whether a driver error means the database
	// was locked by another writer: the statement is then tried again
	// (see RetryBusy) until Config.BusyTimeout has passed or the context
	// ends.
	Busy func(error) bool
}

// Queries holds a dialect's statements. They may use these named
// parameters, each written as a colon and the name, which the store turns
// into positional ? placeholders in order of appearance (so a parameter may
// appear several times):
//
//	:key         the record's key (text)
//	:data        the encoded session (blob, never NULL)
//	:expiry      the new expiry, microseconds since the Unix epoch
//	:version     the version the caller expects (CASUpdate, DeleteLive), or
//	             the random first version of a new row (Save, CASInsert)
//	:newversion  the version CASUpdate gives the row: :version + 1
//	:now         the current time, microseconds since the Unix epoch
//	:after       the key Iterate's page starts after
//	:user        the user column: the hex SHA-256 of the user id (text), or
//	             NULL for no user
//	:until       the user filing's end, microseconds since the Unix epoch,
//	             or NULL for no user
//	:oldkey      Renew's old key (text)
//	:oldversion  the version Renew expects of the old row
//	:retired     the retired marker's data (blob, never NULL)
//	:retiredexpiry
//	             the marker's expiry, microseconds since the Unix epoch
//
// The table has two nullable user columns besides key, data, expiry and
// version: the hash of the user a row is filed under and the filing's end
// (see core.UserIndexer). Every statement that replaces an expired row
// (Save, CASInsert) clears them, since the row is then a new record filed
// under no user; the other statements except CASInsertUser and
// CASUpdateUser leave them as they are.
type Queries struct {
	// Load selects data, expiry and version of the live row under :key
	// (expiry > :now).
	Load string
	// Save upserts :key with :data and :expiry; a new row gets :version,
	// an existing one its version plus one, and an existing row that had
	// expired (expiry <= :now) loses its user columns.
	Save string
	// Delete deletes the row under :key.
	Delete string
	// DeleteLive deletes the live row under :key with version :version.
	DeleteLive string
	// CASInsert inserts :key with :data, :expiry and :version, or replaces
	// an existing row with them only if that row has expired (expiry <=
	// :now), in one statement; InsertWon reads its result.
	CASInsert string
	// CASUpdate sets data, expiry and version (:newversion) of the live
	// row under :key whose version is :version.
	CASUpdate string
	// LiveExists selects one integer row, non-zero if a live row exists
	// under :key.
	LiveExists string
	// Touch sets the expiry of the live row under :key to :expiry;
	// TouchFound reads its result.
	Touch string
	// Iterate selects the keys of live rows greater than :after, in key
	// order, at most PageSize of them.
	Iterate string
	// DeleteExpired deletes at most PageSize rows with expiry <= :now.
	DeleteExpired string
	// CASInsertUser is CASInsert that also sets the user columns to :user
	// and :until.
	CASInsertUser string
	// CASUpdateUser is CASUpdate that also sets the user columns to :user
	// and :until.
	CASUpdateUser string
	// UserKeys selects the keys of the live rows whose user column is
	// :user and whose until is after :now.
	UserKeys string
	// Renew, if the row under :oldkey is live with version :oldversion
	// and no live row exists under :key, creates :key as CASInsertUser
	// does (an expired row there is replaced) and replaces the old row by
	// :retired until :retiredexpiry with version :oldversion + 1 and no
	// user, in one statement; otherwise it changes nothing. Rows affected
	// is zero exactly when it changed nothing.
	Renew string
}

// Config is what a store package passes to New besides the dialect.
type Config struct {
	// Read runs the read-only statements (Load, LiveExists, Iterate), Write
	// every other one. They may be the same pool.
	Read, Write *sql.DB
	// MaxDataSize is the largest record the store accepts; larger ones
	// fail with core.ErrTooLarge before anything is sent.
	MaxDataSize int
	// CleanupInterval, when positive, starts a janitor calling
	// DeleteExpired at that interval until Close.
	CleanupInterval time.Duration
	// BusyTimeout bounds how long a statement is retried while Busy
	// reports its error.
	BusyTimeout time.Duration
	// Logger receives the janitor's errors; nil means slog.Default().
	Logger *slog.Logger
	// Table is the quoted table name, for log lines.
	Table string
}

// Store is the shared SQL session store. It is safe for concurrent use.
type Store struct {
	d       Dialect
	cfg     Config
	prefix  string // "sessionkit: <name>: "
	logger  *slog.Logger
	stmts   [numQueries]query
	janitor *janitor.Janitor

	// mu guards the prepared statements: operations hold it for reading
	// while they use one, Close for writing while it closes them all.
	mu       sync.RWMutex
	prepared [numQueries]*sql.Stmt
}

// New returns a Store for the dialect d. It does not touch the database.
func New(d Dialect, cfg Config) (*Store, error) {
	prefix := "sessionkit: " + d.Name + ": "
	if cfg.Read == nil || cfg.Write == nil {
		return nil, errors.New(prefix + "nil *sql.DB")
	}
	if cfg.MaxDataSize <= 0 {
		return nil, errors.New(prefix + "MaxDataSize must be positive")
	}
	if cfg.CleanupInterval < 0 {
		return nil, errors.New(prefix + "negative cleanup interval")
	}
	s := &Store{d: d, cfg: cfg, prefix: prefix, logger: cfg.Logger}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	texts := [numQueries]string{
		qLoad: d.Queries.Load, qSave: d.Queries.Save, qDelete: d.Queries.Delete,
		qDeleteLive: d.Queries.DeleteLive, qCASInsert: d.Queries.CASInsert,
		qCASUpdate: d.Queries.CASUpdate, qLiveExists: d.Queries.LiveExists,
		qTouch: d.Queries.Touch, qIterate: d.Queries.Iterate, qDeleteExpired: d.Queries.DeleteExpired,
		qCASInsertUser: d.Queries.CASInsertUser, qCASUpdateUser: d.Queries.CASUpdateUser, qUserKeys: d.Queries.UserKeys,
		qRenew: d.Queries.Renew,
	}
	for i, text := range texts {
		q, err := compile(text)
		if err != nil {
			return nil, fmt.Errorf("%squery %d: %w", prefix, i, err)
		}
		s.stmts[i] = q
	}
	s.janitor = janitor.Start(cfg.CleanupInterval, func(ctx context.Context) error {
		_, err := s.DeleteExpired(ctx)
		return err
	}, func(ctx context.Context, err error) {
		s.logger.LogAttrs(ctx, slog.LevelError, prefix+"cleanup failed",
			slog.String("table", cfg.Table), slog.Any("error", err))
	})
	return s, nil
}

// Janitor returns the store's janitor (nil without CleanupInterval), for
// the store packages' tests.
func (s *Store) Janitor() *janitor.Janitor { return s.janitor }

// Close stops the janitor, waiting for it to exit, and closes the prepared
// statements (waiting for operations using them). It does not close the
// pools. The store remains usable: it prepares its statements again.
func (s *Store) Close() error {
	s.janitor.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for i, st := range s.prepared {
		if st != nil {
			errs = append(errs, st.Close())
			s.prepared[i] = nil
		}
	}
	return errors.Join(errs...)
}

// db returns the pool that runs query i.
func (s *Store) db(i queryID) *sql.DB {
	switch i {
	case qLoad, qLiveExists, qIterate, qUserKeys:
		return s.cfg.Read
	}
	return s.cfg.Write
}

// stmt returns query i prepared, with s.mu held for reading: the caller
// must call s.mu.RUnlock when done with it (also when stmt fails). The
// statement is prepared outside the lock, so that a slow server holds up
// only the callers that wait for it, each within its own context.
func (s *Store) stmt(ctx context.Context, i queryID) (*sql.Stmt, error) {
	for {
		s.mu.RLock()
		if st := s.prepared[i]; st != nil {
			return st, nil
		}
		s.mu.RUnlock()
		st, err := s.db(i).PrepareContext(ctx, s.stmts[i].text)
		if err != nil {
			s.mu.RLock()
			return nil, err
		}
		s.mu.Lock()
		if s.prepared[i] == nil {
			s.prepared[i], st = st, nil
		}
		s.mu.Unlock()
		if st != nil { // another caller prepared it first
			st.Close()
		}
	}
}

// exec runs query i with a and returns its result.
func (s *Store) exec(ctx context.Context, i queryID, a *args) (sql.Result, error) {
	st, err := s.stmt(ctx, i)
	defer s.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	var res sql.Result
	err = RetryBusy(ctx, s.d.Busy, s.cfg.BusyTimeout, func() error {
		res, err = st.ExecContext(ctx, s.stmts[i].args(a)...)
		return err
	})
	return res, err
}

// queryRow runs query i with a and scans its single row into dest;
// found is false when there is no row.
func (s *Store) queryRow(ctx context.Context, i queryID, a *args, dest ...any) (found bool, err error) {
	st, err := s.stmt(ctx, i)
	defer s.mu.RUnlock()
	if err != nil {
		return false, err
	}
	err = RetryBusy(ctx, s.d.Busy, s.cfg.BusyTimeout, func() error {
		return st.QueryRowContext(ctx, s.stmts[i].args(a)...).Scan(dest...)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// keys runs query i with a and appends the single text column of its rows
// to dst.
func (s *Store) keys(ctx context.Context, i queryID, a *args, dst []string) ([]string, error) {
	st, err := s.stmt(ctx, i)
	defer s.mu.RUnlock()
	if err != nil {
		return dst, err
	}
	n := len(dst)
	err = RetryBusy(ctx, s.d.Busy, s.cfg.BusyTimeout, func() error {
		dst = dst[:n]
		rows, err := st.QueryContext(ctx, s.stmts[i].args(a)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				return err
			}
			dst = append(dst, k)
		}
		return rows.Err()
	})
	return dst, err
}

// RetryBusy calls f until it returns an error for which busy (nil: none)
// reports false, or nil; or until timeout has passed since the first busy
// error, returning that error; or until ctx ends, returning an error that
// wraps ctx.Err() and the busy error. Drivers whose own busy wait does not
// watch the context (SQLite's busy handler sleeps regardless) wait in
// short slices, and RetryBusy adds up the slices while honouring ctx.
func RetryBusy(ctx context.Context, busy func(error) bool, timeout time.Duration, f func() error) error {
	var deadline time.Time
	for {
		err := f()
		if err == nil || busy == nil || !busy(err) {
			return err
		}
		now := time.Now()
		if deadline.IsZero() {
			deadline = now.Add(timeout)
		}
		if !now.Before(deadline) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		select { // the driver's own wait already slept: just yield
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ctx.Err(), err)
		case <-time.After(time.Millisecond):
		}
	}
}

// wrap prefixes err with the store name and operation.
func (s *Store) wrap(op string, err error) error {
	return fmt.Errorf("%s%s: %w", s.prefix, op, err)
}

// wrapWrite is wrap for the error of a write that sent size bytes of
// records: it makes an error the dialect's TooLarge recognises wrap
// core.ErrTooLarge.
func (s *Store) wrapWrite(ctx context.Context, op string, size int, err error) error {
	if s.d.TooLarge != nil && !errors.Is(err, core.ErrTooLarge) && s.d.TooLarge(ctx, s.cfg.Write, size, err) {
		return fmt.Errorf("%s%s: %w: %w", s.prefix, op, core.ErrTooLarge, err)
	}
	return s.wrap(op, err)
}

// sent is the size of the record a write of data until expiry sends:
// none when the expiry has passed, since the write is a delete.
func sent(data []byte, expiry time.Time) int {
	if !expiry.After(time.Now()) {
		return 0
	}
	return len(data)
}
