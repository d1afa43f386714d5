package postgresstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessionkit/sessionkit/internal/sqlstore/sqlstoretest"
	"github.com/sessionkit/sessionkit/stores/postgresstore/internal/pgtest"
)

// TestUserIndex runs the shared user index tests on PostgreSQL.
func TestUserIndex(t *testing.T) {
	pool, dsn := newPool(t, 0, nil)
	sqlstoretest.RunUser(t, sqlstoretest.UserHarness{
		New: func(t *testing.T) sqlstoretest.UserStore { return newStore(t, pool, dsn, Config{}) },
		ExpireAll: func(t *testing.T, s sqlstoretest.UserStore) {
			_, err := pool.Exec(context.Background(), "UPDATE "+s.(*Store).TableName()+" SET expiry = now() - interval '1 second'")
			if err != nil {
				t.Fatal(err)
			}
		},
		Count: func(t *testing.T, s sqlstoretest.UserStore) int {
			var n int
			if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM "+s.(*Store).TableName()).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		},
	})
}

// TestUserRoundTrips checks that CompareAndSwapUser, new row or update, is
// one statement, as CompareAndSwap is, and UserKeys one query.
func TestUserRoundTrips(t *testing.T) {
	c := &counter{}
	pool, dsn := newPool(t, 1, c) // one connection: every statement is prepared once
	s := newStore(t, pool, dsn, Config{})
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	var version uint64
	n := 0
	ops := []struct {
		name string
		run  func() error
	}{
		{"CompareAndSwapUser(0)", func() error {
			n++
			var err error
			version, err = s.CompareAndSwapUser(ctx, testKey(strings.Repeat("k", n)), 0, []byte("x"), exp, "alice", exp)
			return err
		}},
		{"CompareAndSwapUser", func() error {
			var err error
			version, err = s.CompareAndSwapUser(ctx, testKey(strings.Repeat("k", n)), version, []byte("y"), exp, "bob", exp)
			return err
		}},
		{"CompareAndSwapUser(no user)", func() error {
			var err error
			version, err = s.CompareAndSwapUser(ctx, testKey(strings.Repeat("k", n)), version, []byte("z"), exp, "", time.Time{})
			return err
		}},
		{"UserKeys", func() error {
			_, err := s.UserKeys(ctx, "alice")
			return err
		}},
	}
	for _, op := range ops { // warm-up: prepares each statement
		if err := op.run(); err != nil {
			t.Fatalf("warm-up %s = %v", op.name, err)
		}
	}
	c.reset()
	for _, op := range ops {
		if err := op.run(); err != nil {
			t.Fatalf("%s = %v", op.name, err)
		}
		if got := c.reset(); got != 1 {
			t.Errorf("%s took %d round trips, want 1", op.name, got)
		}
	}
}

// TestUserKeysUsesIndex checks with EXPLAIN that UserKeys reads the partial
// user index rather than scanning the table, on a table large enough that
// the planner would not prefer a scan anyway.
func TestUserKeysUsesIndex(t *testing.T) {
	pool, dsn := newPool(t, 0, nil)
	s := newStore(t, pool, dsn, Config{})
	ctx := context.Background()
	insertRows(t, pool, s, "anon", 20000, 3600)
	_, err := pool.Exec(ctx, `UPDATE `+s.TableName()+` SET user_hash = encode(sha256(convert_to('u' || (random() * 5000)::int, 'UTF8')), 'hex'),
user_until = expiry WHERE key < '4'`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "ANALYZE "+s.TableName()); err != nil {
		t.Fatal(err)
	}
	// EXPLAIN of the store's own statement, with the parameters typed as
	// the store sends them.
	rows, err := pool.Query(ctx, "EXPLAIN "+s.q.userKeys, userHash("u7"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	plan := strings.Join(lines, "\n")
	index := strings.Trim(s.table.indexName(userSuffix), `"`)
	if !strings.Contains(plan, index) || !strings.Contains(plan, "Index Cond: (user_hash = ") || strings.Contains(plan, "Seq Scan") {
		t.Errorf("UserKeys plan does not look up user_hash in %s:\n%s", index, plan)
	}
}

// TestMigrateOldTable creates a table of the layout before the user
// columns, with a session in it, and checks that CreateTable upgrades it in
// place (keeping the session), that the store then files and lists users,
// and that running the upgrade again (or Schema's SQL) is harmless.
func TestMigrateOldTable(t *testing.T) {
	pool, dsn := newPool(t, 0, nil)
	name := pgtest.PostgresTable(t, dsn)
	quoted := pgx.Identifier{name}.Sanitize()
	ctx := context.Background()
	// The schema of the previous version, verbatim.
	_, err := pool.Exec(ctx, `CREATE TABLE `+quoted+` (
	key     text        PRIMARY KEY,
	data    bytea       NOT NULL,
	expiry  timestamptz NOT NULL,
	version bigint      NOT NULL CHECK (version > 0)
);
CREATE INDEX `+pgx.Identifier{name + "_expiry_idx"}.Sanitize()+` ON `+quoted+` (expiry);`)
	if err != nil {
		t.Fatal(err)
	}
	// A session the previous version wrote (its Save statement).
	exp := time.Now().Add(time.Hour)
	_, err = pool.Exec(ctx, `INSERT INTO `+quoted+` AS s (key, data, expiry, version) VALUES ($1, $2, $3, $4)
ON CONFLICT (key) DO UPDATE SET data = excluded.data, expiry = excluded.expiry, version = s.version + 1`,
		testKey("old"), []byte("kept"), exp, 5)
	if err != nil {
		t.Fatal(err)
	}
	s := newStore(t, pool, dsn, Config{TableName: name}) // CreateTable upgrades
	if got := loadData(t, s, testKey("old")); got != "kept" {
		t.Errorf("after the upgrade, Load = %q, want the old session", got)
	}
	rec, _, _ := s.Load(ctx, testKey("old"))
	if _, err := s.CompareAndSwapUser(ctx, testKey("old"), rec.Version, []byte("kept"), exp, "alice", exp); err != nil {
		t.Fatalf("CompareAndSwapUser on the upgraded table = %v", err)
	}
	if _, err := s.CompareAndSwapUser(ctx, testKey("new"), 0, []byte("new"), exp, "alice", exp); err != nil {
		t.Fatal(err)
	}
	keys, err := s.UserKeys(ctx, "alice")
	if err != nil || len(keys) != 2 {
		t.Errorf("UserKeys on the upgraded table = %d keys, %v; want 2", len(keys), err)
	}
	if err := s.CreateTable(ctx); err != nil {
		t.Errorf("CreateTable again = %v", err)
	}
	if _, err := pool.Exec(ctx, Schema(name)); err != nil {
		t.Errorf("Schema's SQL on the upgraded table = %v", err)
	}
	var indexes int
	err = pool.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE tablename = $1 AND indexdef LIKE '%(user_hash) WHERE (user_hash IS NOT NULL)%'`, name).Scan(&indexes)
	if err != nil || indexes != 1 {
		t.Errorf("partial user_hash indexes = %d, %v; want 1", indexes, err)
	}
	if keys, _ := s.UserKeys(ctx, "alice"); len(keys) != 2 {
		t.Errorf("after CreateTable and Schema again, UserKeys = %d keys, want 2", len(keys))
	}
}

// TestMigrateOldTableBySchema upgrades an old table with Schema's SQL, as
// a migration tool would, instead of CreateTable.
func TestMigrateOldTableBySchema(t *testing.T) {
	pool, dsn := newPool(t, 0, nil)
	name := pgtest.PostgresTable(t, dsn)
	quoted := pgx.Identifier{name}.Sanitize()
	ctx := context.Background()
	_, err := pool.Exec(ctx, `CREATE TABLE `+quoted+` (key text PRIMARY KEY, data bytea NOT NULL, expiry timestamptz NOT NULL, version bigint NOT NULL CHECK (version > 0))`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, Schema(name)); err != nil {
		t.Fatalf("Schema's SQL on the old table = %v", err)
	}
	s, err := New(pool, Config{TableName: name})
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	if _, err := s.CompareAndSwapUser(ctx, testKey("a"), 0, nil, exp, "alice", exp); err != nil {
		t.Fatal(err)
	}
	if keys, err := s.UserKeys(ctx, "alice"); err != nil || len(keys) != 1 {
		t.Errorf("UserKeys = %d keys, %v; want 1", len(keys), err)
	}
}
