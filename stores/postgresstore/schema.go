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

// indexName returns the quoted, unqualified name of the expiry index (an
// index always lives in its table's schema).
func (t table) indexName() string {
	const suffix = "_expiry_idx"
	base := t[len(t)-1]
	base = base[:min(len(base), maxIdentLen-len(suffix))]
	return pgx.Identifier{base + suffix}.Sanitize()
}

// Schema returns the SQL that creates the session table named table (empty:
// DefaultTableName) and its expiry index, for use in a migration tool. Both
// statements use IF NOT EXISTS, so running them again is harmless. The name
// is quoted, so its case is kept: "Sessions" and "sessions" are different
// tables. Schema panics if table is not a valid name (see Config.TableName).
//
// The table:
//
//	CREATE TABLE IF NOT EXISTS "sessionkit_sessions" (
//		key     text        PRIMARY KEY,  -- 64 hex digits: SHA-256 of the token
//		data    bytea       NOT NULL,     -- the encoded session
//		expiry  timestamptz NOT NULL,     -- microsecond precision
//		version bigint      NOT NULL CHECK (version > 0)
//	);
//	CREATE INDEX IF NOT EXISTS "sessionkit_sessions_expiry_idx"
//		ON "sessionkit_sessions" (expiry);
func Schema(table string) string {
	t, err := parseTable(table)
	if err != nil {
		panic(err)
	}
	return t.schema()
}

func (t table) schema() string {
	return fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %[1]s (
	key     text        PRIMARY KEY,
	data    bytea       NOT NULL,
	expiry  timestamptz NOT NULL,
	version bigint      NOT NULL CHECK (version > 0)
);
CREATE INDEX IF NOT EXISTS %[2]s ON %[1]s (expiry);
`, t.quoted(), t.indexName())
}

// CreateTable creates the store's table and index if they do not exist. It
// is idempotent and safe to call concurrently from several processes: it
// holds a transaction-level advisory lock on the table name while it runs.
func (s *Store) CreateTable(ctx context.Context) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", s.table.quoted()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, s.table.schema())
		return err
	})
	if err != nil {
		return fmt.Errorf("sessionkit: postgres: create table: %w", err)
	}
	return nil
}
