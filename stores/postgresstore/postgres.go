// Package postgresstore is a sessionkit store on PostgreSQL, using a
// github.com/jackc/pgx/v5 connection pool.
//
// Records live in one table (DefaultTableName unless Config.TableName says
// otherwise) with the layout that Schema returns; create it with
// Store.CreateTable or put Schema's SQL into your migrations:
//
//	CREATE TABLE IF NOT EXISTS "sessionkit_sessions" (
//		key        text        PRIMARY KEY,
//		data       bytea       NOT NULL,
//		expiry     timestamptz NOT NULL,
//		version    bigint      NOT NULL CHECK (version > 0),
//		user_hash  text,
//		user_until timestamptz
//	);
//	CREATE INDEX IF NOT EXISTS "sessionkit_sessions_expiry_idx"
//		ON "sessionkit_sessions" (expiry);
//	ALTER TABLE "sessionkit_sessions"
//		ADD COLUMN IF NOT EXISTS user_hash text,
//		ADD COLUMN IF NOT EXISTS user_until timestamptz;
//	CREATE INDEX IF NOT EXISTS "sessionkit_sessions_user_idx"
//		ON "sessionkit_sessions" (user_hash) WHERE user_hash IS NOT NULL;
//
// A table created by an earlier version of the store, without the user
// columns, is upgraded by CreateTable or by running Schema's SQL again.
//
// Every operation is one statement, so one round trip once pgx has prepared
// it on a connection. The Store implements core.Store and every optional
// capability: core.Toucher, core.CompareAndSwapper (a version column
// checked in the UPDATE's WHERE clause, so concurrent writers on any number
// of application servers never lose an update), core.Iterator,
// core.ExpiredDeleter, core.UserIndexer and core.Renewer.
//
// # Renew
//
// Renew moves a session to a new key (Session.Renew, at login) in one
// statement of data-modifying CTEs: it locks the old row if it is live at
// the version the request loaded (SELECT ... FOR UPDATE), creates the new
// row only if it did (INSERT ... ON CONFLICT that replaces only an expired
// row), and retires or deletes the old row only if the new one was
// written. Both rows change or neither, in one round trip and one
// transaction, so a renew costs a request two round trips (the load and
// this statement) instead of three. The statement needs READ COMMITTED,
// PostgreSQL's default: there a row lock that had to wait for a concurrent
// writer sees the row as that writer committed it, so a concurrent renew,
// compare-and-swap or delete of the old row that committed first wins and
// this renew changes nothing. (Under REPEATABLE READ or SERIALIZABLE as the
// default isolation, such a renew fails with a serialization error, as the
// store's compare-and-swap does.)
//
// # A user's sessions
//
// CompareAndSwapUser files a row under a user in the statement that writes
// it: the user_hash column holds the lowercase hex SHA-256 of the user id
// (NULL for no user), user_until the filing's end, and a partial index on
// user_hash (only rows with a user) serves UserKeys. The table thus holds no
// e-mail addresses or other user ids in the clear, and ids of any length
// index alike; the hash is a pseudonym, not a secret (whoever can guess an
// id can hash it). To list a user's sessions in SQL:
//
//	SELECT key, expiry FROM sessionkit_sessions
//	WHERE user_hash = encode(sha256(convert_to('alice@example.com', 'UTF8')), 'hex')
//	  AND expiry > now() AND user_until > now();
//
// The filing lives in the row, so it ends with it: Delete, an expiry that is
// not in the future, and DeleteExpired leave no index entry behind.
// CompareAndSwap, Save and Touch keep a live row's filing; a row they create
// (or an expired row they replace) is filed under no user.
//
// # Clock
//
// Expiry is decided by the application's clock throughout: the core computes
// expiry times with it, and the store passes time.Now() as a query parameter
// wherever it compares with expiry (Load, CompareAndSwap, Touch, Iterate,
// UserKeys, DeleteExpired, Renew), never the database's now(). Keep application
// servers' clocks in sync as for any session store. A cron job in SQL can
// clean up with DELETE FROM sessionkit_sessions WHERE expiry < now().
//
// Expired rows stay until DeleteExpired removes them, called by the
// application or by the janitor that New starts when Config.CleanupInterval
// is set. Close stops the janitor; it does not close the pool, which belongs
// to the caller.
//
// # Timeouts
//
// The core bounds every store call (core.Config.StoreTimeout), and pgx
// closes a connection whose call ran out of time. Give the pool a connect
// timeout too (connect_timeout=5 in the DSN, or ConnConfig.ConnectTimeout):
// pgx's default is none, and pgxpool finishes a connection it began for
// a call that gave up, so a connection whose handshake is never answered
// (a network that drops the server's packets) holds its pool slot for
// good; once every slot is held, every call fails although the server
// answers again (seen with a proxy that dropped the server's replies for
// 3 s: not one call succeeded in the next 40 s; with connect_timeout, the
// first call after the drop succeeded).
package postgresstore

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/janitor"
)

// Config configures a Store. The zero value is usable.
type Config struct {
	// TableName is the table that holds the sessions: an identifier of
	// letters, digits and underscores, optionally schema-qualified
	// ("auth.sessions"). It is quoted in SQL, so its case is kept. The
	// default is DefaultTableName ("sessionkit_sessions").
	TableName string
	// CleanupInterval, when positive, starts a janitor goroutine that calls
	// DeleteExpired at that interval until Close. The default is 0: no
	// janitor (run DeleteExpired yourself, or a cron job).
	CleanupInterval time.Duration
	// Logger receives the janitor's errors. The default is slog.Default().
	Logger *slog.Logger
}

// Store keeps sessions in a PostgreSQL table. It is safe for concurrent use.
// Create it with New.
type Store struct {
	pool   *pgxpool.Pool
	table  table
	logger *slog.Logger
	q      queries

	janitor *janitor.Janitor // nil without CleanupInterval
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

// New returns a Store that uses pool and the table named by cfg. It does
// not touch the database (call CreateTable to create the table). When
// cfg.CleanupInterval is positive it starts the janitor; call Close to stop
// it.
func New(pool *pgxpool.Pool, cfg Config) (*Store, error) {
	if pool == nil {
		return nil, errors.New("sessionkit: postgres: nil pool")
	}
	t, err := parseTable(cfg.TableName)
	if err != nil {
		return nil, err
	}
	if cfg.CleanupInterval < 0 {
		return nil, errors.New("sessionkit: postgres: negative cleanup interval")
	}
	s := &Store{pool: pool, table: t, logger: cfg.Logger, q: buildQueries(t.quoted())}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	s.janitor = janitor.Start(cfg.CleanupInterval, func(ctx context.Context) error {
		_, err := s.DeleteExpired(ctx)
		return err
	}, func(ctx context.Context, err error) {
		s.logger.LogAttrs(ctx, slog.LevelError, "sessionkit: postgres: cleanup failed",
			slog.String("table", s.table.quoted()), slog.Any("error", err))
	})
	return s, nil
}

// TableName returns the quoted name of the store's table.
func (s *Store) TableName() string { return s.table.quoted() }

// Close stops the janitor, if any, and waits for it to exit. It does not
// close the pool. It is safe to call more than once; the store remains
// usable after Close.
func (s *Store) Close() error {
	s.janitor.Stop()
	return nil
}
