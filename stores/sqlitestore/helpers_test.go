package sqlitestore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"path/filepath"
	"testing"

	"github.com/sessionkit/sessionkit/internal/sqlstore/sqlstoretest"
)

// openStore opens a store on path (a new file in t.TempDir() when empty),
// closed when the test ends.
func openStore(t testing.TB, path string, cfg Config) *Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "sessions.db")
	}
	s, err := Open(context.Background(), path, cfg)
	if err != nil {
		t.Fatalf("Open(%q, %+v) = %v", path, cfg, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// harness runs the shared SQL store tests on fresh files.
var harness = sqlstoretest.Harness{
	New: func(t *testing.T, max int) (sqlstoretest.Store, *sql.DB) {
		s := openStore(t, "", Config{MaxDataSize: max})
		return s, s.write
	},
	InsertSQL: func(s sqlstoretest.Store) string {
		return "INSERT INTO " + s.(*Store).TableName() + " (key, data, expiry, version) VALUES (?, ?, ?, ?)"
	},
	CountSQL:    func(s sqlstoretest.Store) string { return "SELECT COUNT(*) FROM " + s.(*Store).TableName() },
	MaxDataSize: MaxDataSize,
}

// testKey returns a valid store key derived from name.
func testKey(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}
