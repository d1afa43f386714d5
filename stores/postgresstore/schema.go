package postgresstore

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

// DefaultTableName is the default Config.TableName.
const DefaultTableName = "sessionkit_sessions"

// identPattern matches a table name the store accepts: an SQL identifier
// of letters, digits and underscores, optionally qualified by a schema.
var identPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)

// maxIdentLen is PostgreSQL's limit on identifier length (NAMEDATALEN-1).
const maxIdentLen = 63

// table is a validated, split table name.
type table []string

// parseTable validates name (empty: DefaultTableName) and splits it into
// its optional schema and table parts.
func parseTable(name string) (table, error) {
	if name == "" {
		name = DefaultTableName
	}
	if !identPattern.MatchString(name) {
		return nil, fmt.Errorf("sessionkit: postgres: table name %q is not an identifier (letters, digits, _), optionally schema-qualified", name)
	}
	parts := strings.Split(name, ".")
	for _, p := range parts {
		if len(p) > maxIdentLen {
			return nil, fmt.Errorf("sessionkit: postgres: table name part %q is longer than %d bytes", p, maxIdentLen)
		}
	}
	return table(parts), nil
}

// quoted returns the table name quoted for SQL.
func (t table) quoted() string { return pgx.Identifier(t).Sanitize() }

// indexName returns the quoted, unqualified name of the table's index with
// suffix (an index always lives in its table's schema).
func (t table) indexName(suffix string) string {
	base := t[len(t)-1]
	base = base[:min(len(base), maxIdentLen-len(suffix))]
	return pgx.Identifier{base + suffix}.Sanitize()
}

// qualifiedIndex returns the quoted name of the index with suffix,
// qualified by the table's schema when the table name is.
func (t table) qualifiedIndex(suffix string) string {
	if len(t) == 1 {
		return t.indexName(suffix)
	}
	return pgx.Identifier{t[0]}.Sanitize() + "." + t.indexName(suffix)
}

// Index name suffixes.
const (
	expirySuffix = "_expiry_idx"
	userSuffix   = "_user_idx"
)

// Schema returns the SQL that creates the session table named table (empty:
// DefaultTableName) and its indexes, for use in a migration tool. Every
// statement uses IF NOT EXISTS, so running them again is harmless, and
// running them on a table created by an earlier version of the store (which
// had no user columns) adds the columns and index that core.UserIndexer
// needs. The name is quoted, so its case is kept: "Sessions" and "sessions"
// are different tables. Schema panics if table is not a valid name (see
// Config.TableName).
//
// The table:
//
//	CREATE TABLE IF NOT EXISTS "sessionkit_sessions" (
//		key        text        PRIMARY KEY,  -- 64 hex digits: SHA-256 of the token
//		data       bytea       NOT NULL,     -- the encoded session
//		expiry     timestamptz NOT NULL,     -- microsecond precision
//		version    bigint      NOT NULL CHECK (version > 0),
//		user_hash  text,                     -- SHA-256 of the user id, hex; NULL: no user
//		user_until timestamptz               -- the user filing's end
//	);
//	CREATE INDEX IF NOT EXISTS "sessionkit_sessions_expiry_idx"
//		ON "sessionkit_sessions" (expiry);
//	ALTER TABLE "sessionkit_sessions"
//		ADD COLUMN IF NOT EXISTS user_hash text,
//		ADD COLUMN IF NOT EXISTS user_until timestamptz;
//	CREATE INDEX IF NOT EXISTS "sessionkit_sessions_user_idx"
//		ON "sessionkit_sessions" (user_hash) WHERE user_hash IS NOT NULL;
//
// The ALTER TABLE upgrades a table of the earlier layout; adding a nullable
// column without a default rewrites nothing. Creating the user index on a
// large existing table blocks writes to it while the index is built: to
// avoid that, create the index beforehand with CREATE INDEX CONCURRENTLY
// (same name and definition), outside a transaction.
func Schema(table string) string {
	t, err := parseTable(table)
	if err != nil {
		panic(err)
	}
	return strings.Join(t.schema(), ";\n") + ";\n"
}

// schema returns the statements that create or upgrade the table.
func (t table) schema() []string {
	return []string{
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (
	key        text        PRIMARY KEY,
	data       bytea       NOT NULL,
	expiry     timestamptz NOT NULL,
	version    bigint      NOT NULL CHECK (version > 0),
	user_hash  text,
	user_until timestamptz
)`, t.quoted()),
		fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (expiry)`, t.indexName(expirySuffix), t.quoted()),
		fmt.Sprintf(`ALTER TABLE %s
	ADD COLUMN IF NOT EXISTS user_hash text,
	ADD COLUMN IF NOT EXISTS user_until timestamptz`, t.quoted()),
		fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (user_hash) WHERE user_hash IS NOT NULL`, t.indexName(userSuffix), t.quoted()),
	}
}

// upToDate selects true when the table, both user columns and both indexes
// exist. CreateTable asks first and then does nothing, because ALTER TABLE
// and CREATE INDEX lock the table even when IF NOT EXISTS makes them do
// nothing, and a lock queued behind a long transaction would hold up every
// session request behind it.
const upToDate = `SELECT to_regclass($1) IS NOT NULL
	AND (SELECT count(*) FROM pg_attribute
		WHERE attrelid = to_regclass($1) AND attname IN ('user_hash', 'user_until') AND NOT attisdropped) = 2
	AND to_regclass($2) IS NOT NULL AND to_regclass($3) IS NOT NULL`

// CreateTable creates the store's table and indexes if they do not exist,
// and upgrades a table created by an earlier version of the store (adding
// the user columns and index, see Schema). It is idempotent and safe to
// call concurrently from several processes: it holds a transaction-level
// advisory lock on the table name while it runs. When the table is already
// up to date it only reads the catalog, taking no lock on the table.
func (s *Store) CreateTable(ctx context.Context) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", s.table.quoted()); err != nil {
			return err
		}
		var ok bool
		err := tx.QueryRow(ctx, upToDate, s.table.quoted(),
			s.table.qualifiedIndex(expirySuffix), s.table.qualifiedIndex(userSuffix)).Scan(&ok)
		if err != nil || ok {
			return err
		}
		for _, stmt := range s.table.schema() {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sessionkit: postgres: create table: %w", err)
	}
	return nil
}
