package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/sessionkit/sessionkit/internal/sqlstore"
)

// DefaultTableName is the default Config.TableName.
const DefaultTableName = "sessionkit_sessions"

// MaxDataSize is the largest record the store keeps by default: 16 MiB - 1,
// the MySQL store's limit, so that moving between the SQL stores never
// changes which sessions fit. Config.MaxDataSize may change it, up to
// MaxDataSizeLimit.
const MaxDataSize = 1<<24 - 1

// MaxDataSizeLimit is the largest Config.MaxDataSize, well below SQLite's
// own limit on a BLOB (SQLITE_MAX_LENGTH, 10^9 bytes).
const MaxDataSizeLimit = 1 << 29

// identPattern matches a table name the store accepts.
var identPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// table is a validated table name.
type table string

// parseTable validates name (empty: DefaultTableName).
func parseTable(name string) (table, error) {
	if name == "" {
		name = DefaultTableName
	}
	if !identPattern.MatchString(name) {
		return "", fmt.Errorf("sessionkit: sqlite: table name %q is not an identifier of at most 63 letters, digits and _", name)
	}
	return table(name), nil
}

// quoted returns the table name quoted for SQL.
func (t table) quoted() string { return `"` + string(t) + `"` }

// indexName returns the quoted name of the table's index with suffix.
func (t table) indexName(suffix string) string { return `"` + string(t) + suffix + `"` }

// Schema returns the SQL that creates the session table named table (empty:
// DefaultTableName) and its indexes. Every statement uses IF NOT EXISTS, so
// running them again is harmless. Schema panics if table is not a valid
// name (see Config.TableName).
//
// The table:
//
//	CREATE TABLE IF NOT EXISTS "sessionkit_sessions" (
//		key        TEXT    NOT NULL PRIMARY KEY,  -- SHA-256 of the token, hex
//		data       BLOB    NOT NULL,              -- the encoded session
//		expiry     INTEGER NOT NULL,              -- microseconds since 1970-01-01 UTC
//		version    INTEGER NOT NULL CHECK (version > 0),
//		user_hash  TEXT,                          -- SHA-256 of the user id, hex; NULL: no user
//		user_until INTEGER                        -- the user filing's end, microseconds
//	) WITHOUT ROWID;
//	CREATE INDEX IF NOT EXISTS "sessionkit_sessions_expiry_idx"
//		ON "sessionkit_sessions" (expiry);
//	CREATE INDEX IF NOT EXISTS "sessionkit_sessions_user_idx"
//		ON "sessionkit_sessions" (user_hash) WHERE user_hash IS NOT NULL;
//
// A table created by an earlier version of the store lacks the user
// columns, which SQLite cannot add with IF NOT EXISTS; Open looks them up
// (pragma_table_info) and adds those missing, then the index, in one
// transaction:
//
//	ALTER TABLE "sessionkit_sessions" ADD COLUMN user_hash TEXT;
//	ALTER TABLE "sessionkit_sessions" ADD COLUMN user_until INTEGER;
func Schema(table string) string {
	t, err := parseTable(table)
	if err != nil {
		panic(err)
	}
	s := t.schema()
	return strings.Join(s[:], ";\n") + ";\n"
}

// schema returns the statements that create the table and its indexes.
func (t table) schema() [3]string {
	return [3]string{
		`CREATE TABLE IF NOT EXISTS ` + t.quoted() + ` (
	key        TEXT    NOT NULL PRIMARY KEY,
	data       BLOB    NOT NULL,
	expiry     INTEGER NOT NULL,
	version    INTEGER NOT NULL CHECK (version > 0),
	user_hash  TEXT,
	user_until INTEGER
) WITHOUT ROWID`,
		`CREATE INDEX IF NOT EXISTS ` + t.indexName("_expiry_idx") + ` ON ` + t.quoted() + ` (expiry)`,
		`CREATE INDEX IF NOT EXISTS ` + t.indexName("_user_idx") + ` ON ` + t.quoted() + ` (user_hash) WHERE user_hash IS NOT NULL`,
	}
}

// userColumns are the columns an earlier version's table lacks, with
// their definitions.
var userColumns = [...][2]string{{"user_hash", "TEXT"}, {"user_until", "INTEGER"}}

// CreateTable creates the store's table and indexes if they do not exist,
// and upgrades a table created by an earlier version of the store (adding
// the user columns and index), in one transaction. It is idempotent and
// safe to call concurrently from several processes.
func (s *Store) CreateTable(ctx context.Context) error {
	if err := s.createTable(ctx); err != nil {
		return fmt.Errorf("sessionkit: sqlite: create table: %w", err)
	}
	return nil
}

func (s *Store) createTable(ctx context.Context) error {
	return sqlstore.RetryBusy(ctx, busy, s.busyTimeout, func() error { return s.createTableOnce(ctx) })
}

func (s *Store) createTableOnce(ctx context.Context) error {
	tx, err := s.write.BeginTx(ctx, nil) // immediate: holds the write lock
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmts := s.table.schema()
	if _, err := tx.ExecContext(ctx, stmts[0]); err != nil {
		return err
	}
	have := map[string]bool{}
	rows, err := tx.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, string(s.table))
	if err != nil {
		return err
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		have[name] = true
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	for _, c := range userColumns {
		if !have[c[0]] {
			if _, err := tx.ExecContext(ctx, `ALTER TABLE `+s.table.quoted()+` ADD COLUMN `+c[0]+` `+c[1]); err != nil {
				return err
			}
		}
	}
	for _, stmt := range stmts[1:] {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// queries returns the store's statements on the quoted table t.
func queries(t string) sqlstore.Queries {
	return sqlstore.Queries{
		Load: `SELECT data, expiry, version FROM ` + t + ` WHERE key = :key AND expiry > :now`,
		// Every assignment sees the row as it was: a replaced expired
		// row loses its filing.
		Save: `INSERT INTO ` + t + ` (key, data, expiry, version) VALUES (:key, :data, :expiry, :version)
ON CONFLICT (key) DO UPDATE SET data = excluded.data, expiry = excluded.expiry, version = version + 1,
user_hash = CASE WHEN expiry > :now THEN user_hash END, user_until = CASE WHEN expiry > :now THEN user_until END`,
		Delete:     `DELETE FROM ` + t + ` WHERE key = :key`,
		DeleteLive: `DELETE FROM ` + t + ` WHERE key = :key AND version = :version AND expiry > :now`,
		CASInsert: `INSERT INTO ` + t + ` (key, data, expiry, version) VALUES (:key, :data, :expiry, :version)
ON CONFLICT (key) DO UPDATE SET data = excluded.data, expiry = excluded.expiry, version = excluded.version,
user_hash = NULL, user_until = NULL
WHERE expiry <= :now`,
		CASInsertUser: `INSERT INTO ` + t + ` (key, data, expiry, version, user_hash, user_until)
VALUES (:key, :data, :expiry, :version, :user, :until)
ON CONFLICT (key) DO UPDATE SET data = excluded.data, expiry = excluded.expiry, version = excluded.version,
user_hash = excluded.user_hash, user_until = excluded.user_until
WHERE expiry <= :now`,
		CASUpdate: `UPDATE ` + t + ` SET data = :data, expiry = :expiry, version = :newversion
WHERE key = :key AND version = :version AND expiry > :now`,
		CASUpdateUser: `UPDATE ` + t + ` SET data = :data, expiry = :expiry, version = :newversion,
user_hash = :user, user_until = :until
WHERE key = :key AND version = :version AND expiry > :now`,
		LiveExists: `SELECT COUNT(*) FROM ` + t + ` WHERE key = :key AND expiry > :now`,
		Touch:      `UPDATE ` + t + ` SET expiry = :expiry WHERE key = :key AND expiry > :now`,
		Iterate: `SELECT key FROM ` + t + ` WHERE key > :after AND expiry > :now ORDER BY key LIMIT ` +
			fmt.Sprint(sqlstore.PageSize),
		UserKeys: `SELECT key FROM ` + t + ` WHERE user_hash = :user AND expiry > :now AND user_until > :now`,
		DeleteExpired: `DELETE FROM ` + t + ` WHERE key IN (SELECT key FROM ` + t + ` WHERE expiry <= :now LIMIT ` +
			fmt.Sprint(sqlstore.PageSize) + `)`,
		// The SELECT yields the new row (w.i = 0) and the retired
		// marker (w.i = 1) only if the old row is live at the loaded
		// version and no live row exists under the new key; the insert
		// creates the new row (replacing an expired one) and, on the
		// key's conflict, replaces the old row by the marker under no
		// user. One statement holds the write lock throughout, so both
		// rows change or neither, across processes too.
		Renew: `INSERT INTO ` + t + ` (key, data, expiry, version, user_hash, user_until)
SELECT IIF(w.i = 0, :key, o.key), IIF(w.i = 0, :data, :retired), IIF(w.i = 0, :expiry, :retiredexpiry),
IIF(w.i = 0, :version, o.version + 1), IIF(w.i = 0, :user, NULL), IIF(w.i = 0, :until, NULL)
FROM ` + t + ` AS o JOIN (SELECT 0 AS i UNION ALL SELECT 1) AS w
WHERE o.key = :oldkey AND o.version = :oldversion AND o.expiry > :now
AND NOT EXISTS (SELECT 1 FROM ` + t + ` AS n WHERE n.key = :key AND n.expiry > :now)
ON CONFLICT (key) DO UPDATE SET data = excluded.data, expiry = excluded.expiry, version = excluded.version,
user_hash = excluded.user_hash, user_until = excluded.user_until`,
	}
}

// dialect is SQLite's. SQLite counts the rows a statement matched (an
// upsert whose WHERE clause is false counts none), so rows affected tells
// both whether CASInsert won and whether Touch found a row.
func dialect(t table) sqlstore.Dialect {
	oneRow := func(r sql.Result) (bool, error) {
		n, err := r.RowsAffected()
		return n == 1, err
	}
	return sqlstore.Dialect{
		Name:       "sqlite",
		Queries:    queries(t.quoted()),
		InsertWon:  oneRow,
		TouchFound: oneRow,
		TooLarge: func(_ context.Context, _ *sql.DB, _ int, err error) bool {
			var se *sqlite.Error
			return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_TOOBIG
		},
		Busy:          busy,
		RenewDeleteTx: true, // BEGIN IMMEDIATE takes the write lock: no round trips
	}
}

// busy reports whether err means another connection holds the lock.
func busy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}
