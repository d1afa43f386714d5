package mysqlstore

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sessionkit/sessionkit/internal/sqlstore"
	"github.com/sessionkit/sessionkit/internal/sqlstore/sqlstoretest"
)

// userHarness runs the shared user index tests on pools that edit
// configures.
func userHarness(edit func(*mysql.Config)) sqlstoretest.UserHarness {
	var mu sync.Mutex
	dbs := map[sqlstoretest.UserStore]*sql.DB{}
	exec := func(t *testing.T, s sqlstoretest.UserStore, query string, dest ...any) {
		t.Helper()
		mu.Lock()
		db := dbs[s]
		mu.Unlock()
		var err error
		if len(dest) == 0 {
			_, err = db.Exec(query)
		} else {
			err = db.QueryRow(query).Scan(dest...)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return sqlstoretest.UserHarness{
		New: func(t *testing.T) sqlstoretest.UserStore {
			db := newDB(t, dbOptions{edit: edit})
			s := newStore(t, db, Config{})
			mu.Lock()
			dbs[s] = db
			mu.Unlock()
			return s
		},
		ExpireAll: func(t *testing.T, s sqlstoretest.UserStore) {
			exec(t, s, "UPDATE "+s.(*Store).TableName()+" SET `expiry` = "+
				"CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED) - 1000000")
		},
		Count: func(t *testing.T, s sqlstoretest.UserStore) int {
			var n int
			exec(t, s, "SELECT COUNT(*) FROM "+s.(*Store).TableName(), &n)
			return n
		},
	}
}

// TestUserIndex runs the shared user index tests with the driver's defaults
// and with clientFoundRows, which changes what rows affected means.
func TestUserIndex(t *testing.T) {
	t.Run("defaults", func(t *testing.T) { sqlstoretest.RunUser(t, userHarness(nil)) })
	t.Run("foundrows", func(t *testing.T) {
		sqlstoretest.RunUser(t, userHarness(func(c *mysql.Config) { c.ClientFoundRows = true }))
	})
}

// TestUserRoundTrips checks that CompareAndSwapUser, new row or update, is
// one statement and UserKeys one query, counted as commands on the wire.
func TestUserRoundTrips(t *testing.T) {
	c := &commandCounter{}
	db := newDB(t, dbOptions{maxConns: 1, dial: c.dial})
	s := newStore(t, db, Config{})
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
		{"UserKeys", func() error {
			_, err := s.UserKeys(ctx, "bob")
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

// TestUserKeysUsesIndex checks with EXPLAIN that UserKeys reads user_idx.
func TestUserKeysUsesIndex(t *testing.T) {
	db := newDB(t, dbOptions{})
	s := newStore(t, db, Config{})
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	for i := range 200 {
		user := []string{"alice", "bob", "carol", "dave"}[i%4]
		if _, err := s.CompareAndSwapUser(ctx, testKey(strings.Repeat("k", i+1)), 0, nil, exp, user, exp); err != nil {
			t.Fatal(err)
		}
	}
	// Many rows of no user, as in a real table, so that a scan costs more.
	_, err := db.Exec("INSERT INTO "+s.TableName()+" (`key`, `data`, `expiry`, `version`)"+
		" WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)"+
		" SELECT SHA2(CONCAT('anon', a.i, '-', b.i), 256), '', ?, 1 FROM n AS a, n AS b WHERE b.i <= 5", exp.UnixMicro())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("ANALYZE TABLE " + s.TableName()); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMicro()
	// EXPLAIN the store's own statement, its parameters in order.
	query := strings.NewReplacer(":user", "?", ":now", "?").Replace(queries(s.TableName()).UserKeys)
	plan := explain(t, db, "EXPLAIN "+query, sqlstore.UserHash("alice"), now, now)
	if plan["key"] != "user_idx" {
		t.Errorf("EXPLAIN UserKeys = %v, want key user_idx", plan)
	}
	// The package doc's SQL finds the same rows.
	var n int
	err = db.QueryRow("SELECT COUNT(*) FROM " + s.TableName() + " WHERE user_hash = SHA2('alice', 256)").Scan(&n)
	if err != nil || n != 50 {
		t.Errorf("rows WHERE user_hash = SHA2('alice', 256): %d, %v; want 50", n, err)
	}
}

// explain returns the first row of an EXPLAIN by column name (MySQL's and
// MariaDB's differ in their columns).
func explain(t *testing.T, db *sql.DB, query string, args ...any) map[string]string {
	t.Helper()
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil || !rows.Next() {
		t.Fatalf("EXPLAIN: %v, %v", err, rows.Err())
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for i, c := range cols {
		out[c] = vals[i].String
	}
	return out
}

// oldSchema is the table of the store's version before the user columns,
// verbatim.
func oldSchema(quoted string) string {
	return "CREATE TABLE " + quoted + ` (
	` + "`key`     CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL," + `
	` + "`data`    MEDIUMBLOB NOT NULL," + `
	` + "`expiry`  BIGINT     NOT NULL," + `
	` + "`version` BIGINT     NOT NULL," + `
	` + "PRIMARY KEY (`key`)," + `
	` + "INDEX `expiry_idx` (`expiry`)," + `
	` + "CHECK (`version` > 0)" + `
) ENGINE=InnoDB`
}

// TestMigrateOldTable creates a table of the layout before the user
// columns, with a session in it, and has several stores (as several
// application servers starting at once) call CreateTable on it: the table
// is upgraded in place, the session kept, and users filed and listed.
func TestMigrateOldTable(t *testing.T) {
	for _, qualified := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "database-qualified"}[qualified], func(t *testing.T) {
			db := newDB(t, dbOptions{})
			name := uniqueTable(t)
			if qualified {
				var current string
				if err := db.QueryRow("SELECT DATABASE()").Scan(&current); err != nil {
					t.Fatal(err)
				}
				name = current + "." + name
			}
			quoted := "`" + strings.ReplaceAll(name, ".", "`.`") + "`"
			ctx := context.Background()
			if _, err := db.Exec(oldSchema(quoted)); err != nil {
				t.Fatal(err)
			}
			exp := time.Now().Add(time.Hour)
			_, err := db.Exec("INSERT INTO "+quoted+" (`key`, `data`, `expiry`, `version`) VALUES (?, 'kept', ?, 5)",
				testKey("old"), exp.UnixMicro())
			if err != nil {
				t.Fatal(err)
			}
			stores := make([]*Store, 4)
			var wg sync.WaitGroup
			for i := range stores {
				s, err := New(newDB(t, dbOptions{maxConns: 2}), Config{TableName: name})
				if err != nil {
					t.Fatal(err)
				}
				stores[i] = s
				wg.Go(func() {
					if err := s.CreateTable(ctx); err != nil {
						t.Errorf("concurrent CreateTable on the old table = %v", err)
					}
				})
			}
			wg.Wait()
			s := stores[0]
			if err := s.CreateTable(ctx); err != nil {
				t.Errorf("CreateTable again = %v", err)
			}
			if got := loadData(t, s, testKey("old")); got != "kept" {
				t.Errorf("after the upgrade, Load = %q, want the old session", got)
			}
			if _, err := s.CompareAndSwapUser(ctx, testKey("old"), 5, []byte("kept"), exp, "alice", exp); err != nil {
				t.Fatalf("CompareAndSwapUser on the upgraded table = %v", err)
			}
			if _, err := stores[1].CompareAndSwapUser(ctx, testKey("new"), 0, nil, exp, "alice", exp); err != nil {
				t.Fatal(err)
			}
			if keys, err := stores[2].UserKeys(ctx, "alice"); err != nil || len(keys) != 2 {
				t.Errorf("UserKeys on the upgraded table = %d keys, %v; want 2", len(keys), err)
			}
			var idx int
			err = db.QueryRow("SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME = 'user_idx'",
				name[strings.LastIndex(name, ".")+1:]).Scan(&idx)
			if err != nil || idx != 1 {
				t.Errorf("user_idx columns = %d, %v; want 1", idx, err)
			}
		})
	}
}

// TestMigrateOldTableBySchemaDoc upgrades an old table with the ALTER
// TABLE that Schema's doc gives for migration tools.
func TestMigrateOldTableBySchemaDoc(t *testing.T) {
	db := newDB(t, dbOptions{})
	name := uniqueTable(t)
	quoted := "`" + name + "`"
	if _, err := db.Exec(oldSchema(quoted)); err != nil {
		t.Fatal(err)
	}
	_, err := db.Exec("ALTER TABLE " + quoted + `
	ADD COLUMN ` + "`user_hash` CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL," + `
	ADD COLUMN ` + "`user_until` BIGINT NULL," + `
	ADD INDEX ` + "`user_idx` (`user_hash`)")
	if err != nil {
		t.Fatal(err)
	}
	var s1, s2 string
	if err := db.QueryRow("SHOW CREATE TABLE "+quoted).Scan(&s1, &s2); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, db, Config{TableName: name}) // CreateTable: nothing to do
	var s3 string
	if err := db.QueryRow("SHOW CREATE TABLE "+quoted).Scan(&s1, &s3); err != nil {
		t.Fatal(err)
	}
	if s2 != s3 {
		t.Errorf("CreateTable changed a table the documented ALTER upgraded:\n%s\nbecame\n%s", s2, s3)
	}
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	if _, err := s.CompareAndSwapUser(ctx, testKey("a"), 0, nil, exp, "alice", exp); err != nil {
		t.Fatal(err)
	}
	if keys, err := s.UserKeys(ctx, "alice"); err != nil || len(keys) != 1 {
		t.Errorf("UserKeys = %d keys, %v; want 1", len(keys), err)
	}
}
