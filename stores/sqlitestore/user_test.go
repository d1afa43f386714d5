package sqlitestore

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/sqlstore"
	"github.com/sessionkit/sessionkit/internal/sqlstore/sqlstoretest"
)

// TestUserIndex runs the shared user index tests on fresh files.
func TestUserIndex(t *testing.T) {
	sqlstoretest.RunUser(t, sqlstoretest.UserHarness{
		New: func(t *testing.T) sqlstoretest.UserStore { return openStore(t, "", Config{}) },
		ExpireAll: func(t *testing.T, s sqlstoretest.UserStore) {
			st := s.(*Store)
			if _, err := st.write.Exec("UPDATE "+st.TableName()+" SET expiry = ?", time.Now().Add(-time.Second).UnixMicro()); err != nil {
				t.Fatal(err)
			}
		},
		Count: func(t *testing.T, s sqlstoretest.UserStore) int {
			st := s.(*Store)
			var n int
			if err := st.read.QueryRow("SELECT COUNT(*) FROM " + st.TableName()).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		},
	})
}

// TestUserKeysUsesIndex checks with EXPLAIN QUERY PLAN that UserKeys
// searches the partial user index.
func TestUserKeysUsesIndex(t *testing.T) {
	s := openStore(t, "", Config{})
	now := time.Now().UnixMicro()
	query := strings.NewReplacer(":user", "?", ":now", "?").Replace(queries(s.TableName()).UserKeys)
	rows, err := s.read.Query("EXPLAIN QUERY PLAN "+query, sqlstore.UserHash("alice"), now, now)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := "USING INDEX " + strings.Trim(s.table.indexName("_user_idx"), `"`) + " (user_hash=?)"
	if got := strings.Join(plan, "\n"); !strings.Contains(got, want) {
		t.Errorf("UserKeys plan = %q, want it to contain %q", got, want)
	}
}

// TestMigrateOldTable creates a file with the table of the layout before
// the user columns, with a session in it, and opens the store on it
// (several times, as several processes would): the table is upgraded in
// place, the session kept, and users filed and listed.
func TestMigrateOldTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	// The schema of the previous version, verbatim.
	for _, stmt := range []string{`CREATE TABLE IF NOT EXISTS "sessionkit_sessions" (
	key     TEXT    NOT NULL PRIMARY KEY,
	data    BLOB    NOT NULL,
	expiry  INTEGER NOT NULL,
	version INTEGER NOT NULL CHECK (version > 0)
) WITHOUT ROWID`,
		`CREATE INDEX IF NOT EXISTS "sessionkit_sessions_expiry_idx" ON "sessionkit_sessions" (expiry)`,
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	exp := time.Now().Add(time.Hour)
	if _, err := db.Exec(`INSERT INTO "sessionkit_sessions" VALUES (?, 'kept', ?, 5)`, testKey("old"), exp.UnixMicro()); err != nil {
		t.Fatal(err)
	}
	db.Close()

	ctx := context.Background()
	s := openStore(t, path, Config{})
	other := openStore(t, path, Config{}) // a second opener finds the table upgraded
	if rec, ok, err := s.Load(ctx, testKey("old")); err != nil || !ok || string(rec.Data) != "kept" {
		t.Fatalf("after the upgrade, Load = %q, %v, %v; want the old session", rec.Data, ok, err)
	}
	if _, err := s.CompareAndSwapUser(ctx, testKey("old"), 5, []byte("kept"), exp, "alice", exp); err != nil {
		t.Fatalf("CompareAndSwapUser on the upgraded table = %v", err)
	}
	if _, err := other.CompareAndSwapUser(ctx, testKey("new"), 0, nil, exp, "alice", exp); err != nil {
		t.Fatal(err)
	}
	if keys, err := other.UserKeys(ctx, "alice"); err != nil || len(keys) != 2 {
		t.Errorf("UserKeys on the upgraded table = %d keys, %v; want 2", len(keys), err)
	}
	if err := s.CreateTable(ctx); err != nil {
		t.Errorf("CreateTable again = %v", err)
	}
	var indexes int
	err = s.read.QueryRow(`SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'sessionkit_sessions' AND sql LIKE '%(user_hash) WHERE user_hash IS NOT NULL'`).Scan(&indexes)
	if err != nil || indexes != 1 {
		t.Errorf("partial user indexes = %d, %v; want 1", indexes, err)
	}
}
