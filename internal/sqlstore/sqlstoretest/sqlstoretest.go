// Package sqlstoretest holds the tests that every SQL store built on
// internal/sqlstore runs against its real database: what the conformance
// suite cannot see from outside (expired rows still in the table, paging,
// the statements' edge cases). It is imported only by tests.
package sqlstoretest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/sqlstore"
)

// Store is what the tests need of a SQL store.
type Store interface {
	core.Store
	core.Toucher
	core.CompareAndSwapper
	core.Iterator
	core.ExpiredDeleter
	CreateTable(ctx context.Context) error
}

// Harness describes the store under test.
type Harness struct {
	// New returns a store on a fresh, created table, cleaned up when t
	// ends, with maxDataSize (0: the default) and the database pool
	// behind it, in which InsertSQL and CountSQL run.
	New func(t *testing.T, maxDataSize int) (Store, *sql.DB)
	// InsertSQL inserts one row into the store's table: ? placeholders
	// for key, data, expiry (microseconds since the epoch), version.
	InsertSQL func(s Store) string
	// CountSQL counts the rows in the store's table.
	CountSQL func(s Store) string
	// MaxDataSize is the store's default limit.
	MaxDataSize int
}

// Key returns a valid store key derived from name.
func Key(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

// Run runs every test as a subtest of t.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		f    func(*testing.T, Harness)
	}{
		{"SaveLoad", testSaveLoad},
		{"LoadIgnoresExpiredRows", testLoadIgnoresExpiredRows},
		{"CompareAndSwap", testCompareAndSwap},
		{"Touch", testTouch},
		{"Iterate", testIterate},
		{"DeleteExpired", testDeleteExpired},
		{"ContextCancelled", testContextCancelled},
		{"InvalidKeysRejected", testInvalidKeys},
		{"TooLarge", testTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, h) })
	}
}

func loadData(t *testing.T, s Store, key string) string {
	t.Helper()
	rec, ok, err := s.Load(context.Background(), key)
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	if !ok {
		return "<none>"
	}
	return string(rec.Data)
}

// Insert inserts n rows directly, keys Key(prefix<i>) for i from 1, with
// the given expiry and version, in one transaction.
func (h Harness) Insert(t testing.TB, s Store, db *sql.DB, prefix string, n int, expiry time.Time, version int64) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, h.InsertSQL(s))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := 1; i <= n; i++ {
		if _, err := st.ExecContext(ctx, Key(fmt.Sprint(prefix, i)), []byte("x"), expiry.UnixMicro(), version); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// Count returns the number of rows in s's table.
func (h Harness) Count(t testing.TB, s Store, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(h.CountSQL(s)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func testSaveLoad(t *testing.T, h Harness) {
	s, _ := h.New(t, 0)
	ctx := context.Background()
	key := Key("a")
	exp := time.Now().Add(time.Hour)
	if err := s.Save(ctx, key, []byte("hello"), exp); err != nil {
		t.Fatal(err)
	}
	rec, ok, err := s.Load(ctx, key)
	if err != nil || !ok {
		t.Fatalf("Load = %v, %v", ok, err)
	}
	if string(rec.Data) != "hello" || rec.Version == 0 || !rec.Expiry.Equal(exp.Truncate(time.Microsecond)) {
		t.Errorf("Load = {%q %v %d}, want {%q %v non-zero}", rec.Data, rec.Expiry, rec.Version, "hello", exp.Truncate(time.Microsecond))
	}
	if err := s.Save(ctx, key, nil, exp); err != nil {
		t.Fatalf("Save(nil data) = %v", err)
	}
	rec2, ok, err := s.Load(ctx, key)
	if err != nil || !ok || rec2.Data == nil || len(rec2.Data) != 0 {
		t.Errorf("Load after Save(nil) = %#v, %v, %v; want empty non-nil data", rec2.Data, ok, err)
	}
	if rec2.Version == rec.Version {
		t.Errorf("Save kept version %d", rec.Version)
	}
	if err := s.Save(ctx, key, []byte("x"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := loadData(t, s, key); got != "<none>" {
		t.Errorf("Load after Save with past expiry = %q", got)
	}
}

func testLoadIgnoresExpiredRows(t *testing.T, h Harness) {
	s, db := h.New(t, 0)
	ctx := context.Background()
	h.Insert(t, s, db, "old", 1, time.Now().Add(-time.Second), 5)
	key := Key("old1")
	if got := loadData(t, s, key); got != "<none>" {
		t.Errorf("Load(expired row) = %q, want not found", got)
	}
	if err := s.Touch(ctx, key, time.Now().Add(time.Hour)); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("Touch(expired row) = %v, want core.ErrNotFound", err)
	}
	if got := loadData(t, s, key); got != "<none>" {
		t.Errorf("Touch revived an expired row: Load = %q", got)
	}
	if _, err := s.CompareAndSwap(ctx, key, 5, []byte("x"), time.Now().Add(time.Hour)); !errors.Is(err, core.ErrConflict) {
		t.Errorf("CompareAndSwap(expired row's version) = %v, want ErrConflict", err)
	}
	v, err := s.CompareAndSwap(ctx, key, 0, []byte("new"), time.Now().Add(time.Hour))
	if err != nil || v == 0 || v == 5 {
		t.Errorf("CompareAndSwap(expired row, 0) = %d, %v; want a new version", v, err)
	}
	rec, ok, err := s.Load(ctx, key)
	if err != nil || !ok || string(rec.Data) != "new" || rec.Version != v {
		t.Errorf("Load = %q version %d, %v, %v; want %q version %d", rec.Data, rec.Version, ok, err, "new", v)
	}
	if _, err := s.CompareAndSwap(ctx, key, 0, []byte("again"), time.Now().Add(time.Hour)); !errors.Is(err, core.ErrConflict) {
		t.Errorf("CompareAndSwap(live row, 0) = %v, want ErrConflict", err)
	}
}

func testCompareAndSwap(t *testing.T, h Harness) {
	s, _ := h.New(t, 0)
	ctx := context.Background()
	key := Key("a")
	exp := time.Now().Add(time.Hour)
	cas := func(v uint64, data string, exp time.Time) (uint64, error) {
		return s.CompareAndSwap(ctx, key, v, []byte(data), exp)
	}
	for _, v := range []uint64{7, 1 << 63, 1<<63 - 1} {
		if _, err := cas(v, "x", exp); !errors.Is(err, core.ErrConflict) {
			t.Errorf("CompareAndSwap(missing, %d) = %v, want ErrConflict", v, err)
		}
	}
	v1, err := cas(0, "one", exp)
	if err != nil || v1 == 0 {
		t.Fatalf("CompareAndSwap(missing, 0) = %d, %v", v1, err)
	}
	if _, err := cas(0, "again", exp); !errors.Is(err, core.ErrConflict) {
		t.Errorf("CompareAndSwap(live, 0) = %v, want ErrConflict", err)
	}
	v2, err := cas(v1, "two", exp) // same expiry: the row changes anyway
	if err != nil || v2 == v1 || v2 == 0 {
		t.Fatalf("CompareAndSwap(v1) = %d, %v", v2, err)
	}
	if _, err := cas(v1, "stale", exp); !errors.Is(err, core.ErrConflict) {
		t.Errorf("CompareAndSwap(stale) = %v, want ErrConflict", err)
	}
	v3, err := cas(v2, "two", exp) // same data and expiry
	if err != nil || v3 == v2 {
		t.Fatalf("CompareAndSwap(v2, unchanged data) = %d, %v; want a new version", v3, err)
	}
	if rec, _, _ := s.Load(ctx, key); string(rec.Data) != "two" || rec.Version != v3 {
		t.Errorf("Load = %q version %d, want %q version %d", rec.Data, rec.Version, "two", v3)
	}
	past := time.Now().Add(-time.Second)
	if _, err := cas(0, "", past); !errors.Is(err, core.ErrConflict) {
		t.Errorf("CompareAndSwap(live, 0, past expiry) = %v, want ErrConflict", err)
	}
	if _, err := cas(v1, "", past); !errors.Is(err, core.ErrConflict) {
		t.Errorf("CompareAndSwap(stale, past expiry) = %v, want ErrConflict", err)
	}
	if v, err := cas(v3, "", past); err != nil || v == 0 {
		t.Errorf("CompareAndSwap(v3, past expiry) = %d, %v; want a version", v, err)
	}
	if got := loadData(t, s, key); got != "<none>" {
		t.Errorf("Load after deleting CompareAndSwap = %q", got)
	}
	if v, err := cas(0, "", past); err != nil || v == 0 {
		t.Errorf("CompareAndSwap(missing, 0, past expiry) = %d, %v; want a version", v, err)
	}
	if _, err := cas(v3, "revive", exp); !errors.Is(err, core.ErrConflict) {
		t.Errorf("CompareAndSwap(deleted) = %v, want ErrConflict", err)
	}
}

func testTouch(t *testing.T, h Harness) {
	s, _ := h.New(t, 0)
	ctx := context.Background()
	key := Key("a")
	if err := s.Save(ctx, key, []byte("data"), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	before, _, _ := s.Load(ctx, key)
	later := time.Now().Add(time.Hour)
	for range 2 { // the second Touch changes nothing: still found
		if err := s.Touch(ctx, key, later); err != nil {
			t.Fatal(err)
		}
	}
	after, _, _ := s.Load(ctx, key)
	if string(after.Data) != "data" || after.Version != before.Version || !after.Expiry.Equal(later.Truncate(time.Microsecond)) {
		t.Errorf("after Touch, Load = {%q %v %d}, want {%q %v %d}", after.Data, after.Expiry, after.Version, "data", later, before.Version)
	}
	missing := Key("missing")
	if err := s.Touch(ctx, missing, later); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("Touch(missing) = %v, want core.ErrNotFound", err)
	}
	if got := loadData(t, s, missing); got != "<none>" {
		t.Errorf("Touch created a row: %q", got)
	}
	if err := s.Touch(ctx, key, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := loadData(t, s, key); got != "<none>" {
		t.Errorf("after Touch with past expiry, Load = %q", got)
	}
}

func testIterate(t *testing.T, h Harness) {
	s, db := h.New(t, 0)
	n := 2*sqlstore.PageSize + 7
	h.Insert(t, s, db, "live", n, time.Now().Add(time.Hour), 1)
	h.Insert(t, s, db, "dead", 10, time.Now().Add(-10*time.Second), 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := map[string]bool{}
	last := ""
	err := s.Iterate(ctx, func(key string) bool {
		if seen[key] || key <= last {
			t.Errorf("Iterate yielded %s out of order or twice", key)
		}
		seen[key], last = true, key
		if len(seen)%500 == 0 { // the store is usable from fn
			if err := s.Save(ctx, key, []byte("y"), time.Now().Add(time.Hour)); err != nil {
				t.Errorf("Save inside Iterate = %v", err)
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != n {
		t.Errorf("Iterate yielded %d keys, want %d", len(seen), n)
	}
	for i := 1; i <= 10; i++ {
		if seen[Key(fmt.Sprint("dead", i))] {
			t.Errorf("Iterate yielded expired key dead%d", i)
		}
	}
	count := 0
	if err := s.Iterate(ctx, func(string) bool { count++; return count < 3 }); err != nil || count != 3 {
		t.Errorf("Iterate stopping after 3 called fn %d times (err %v)", count, err)
	}
}

func testDeleteExpired(t *testing.T, h Harness) {
	s, db := h.New(t, 0)
	h.Insert(t, s, db, "live", 5, time.Now().Add(time.Hour), 1)
	h.Insert(t, s, db, "dead", sqlstore.PageSize+3, time.Now().Add(-10*time.Second), 1)
	n, err := s.DeleteExpired(context.Background())
	if err != nil || n != sqlstore.PageSize+3 {
		t.Fatalf("DeleteExpired = %d, %v; want %d, nil", n, err, sqlstore.PageSize+3)
	}
	if left := h.Count(t, s, db); left != 5 {
		t.Errorf("%d rows left after DeleteExpired, want the 5 live ones", left)
	}
	if n, err := s.DeleteExpired(context.Background()); n != 0 || err != nil {
		t.Errorf("second DeleteExpired = %d, %v; want 0, nil", n, err)
	}
}

func testContextCancelled(t *testing.T, h Harness) {
	s, _ := h.New(t, 0)
	key := Key("a")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	exp := time.Now().Add(time.Hour)
	errs := map[string]error{
		"Save":        s.Save(ctx, key, []byte("y"), exp),
		"Delete":      s.Delete(ctx, key),
		"Touch":       s.Touch(ctx, key, exp),
		"Iterate":     s.Iterate(ctx, func(string) bool { return true }),
		"CreateTable": s.CreateTable(ctx),
	}
	_, errs["CompareAndSwap"] = s.CompareAndSwap(ctx, key, 0, nil, exp)
	_, _, errs["Load"] = s.Load(ctx, key)
	_, errs["DeleteExpired"] = s.DeleteExpired(ctx)
	for op, err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s(cancelled ctx) = %v, want an error wrapping context.Canceled", op, err)
		}
	}
}

func testInvalidKeys(t *testing.T, h Harness) {
	s, _ := h.New(t, 0)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	for _, key := range []string{"", "../x", "' OR 1=1 --", strings.Repeat("A", 64), strings.Repeat("a", 63)} {
		errs := map[string]error{
			"Save":   s.Save(ctx, key, nil, exp),
			"Delete": s.Delete(ctx, key),
			"Touch":  s.Touch(ctx, key, exp),
		}
		_, errs["CompareAndSwap"] = s.CompareAndSwap(ctx, key, 0, nil, exp)
		_, _, errs["Load"] = s.Load(ctx, key)
		for op, err := range errs {
			if !errors.Is(err, core.ErrInvalidKey) {
				t.Errorf("%s(%q) = %v, want ErrInvalidKey", op, key, err)
			}
		}
	}
}

// testTooLarge checks the default limit: a record of exactly the limit
// round trips (or, where the server refuses it, fails with ErrTooLarge and
// leaves the previous record), one byte more fails with ErrTooLarge, and
// nothing is ever truncated.
func testTooLarge(t *testing.T, h Harness) {
	if testing.Short() {
		t.Skip("writes a 16 MiB record; skipped in -short mode")
	}
	s, _ := h.New(t, 0)
	ctx := context.Background()
	key := Key("a")
	exp := time.Now().Add(time.Hour)
	if err := s.Save(ctx, key, []byte("before"), exp); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, h.MaxDataSize+1)
	for i := range big {
		big[i] = byte(i)
	}
	if err := s.Save(ctx, key, big, exp); !errors.Is(err, core.ErrTooLarge) {
		t.Errorf("Save(%d bytes) = %v, want ErrTooLarge", len(big), err)
	}
	rec, _, _ := s.Load(ctx, key)
	if _, err := s.CompareAndSwap(ctx, key, rec.Version, big, exp); !errors.Is(err, core.ErrTooLarge) {
		t.Errorf("CompareAndSwap(%d bytes) = %v, want ErrTooLarge", len(big), err)
	}
	if got := loadData(t, s, key); got != "before" {
		t.Fatalf("after failed Saves, Load = %.20q, want %q", got, "before")
	}
	err := s.Save(ctx, key, big[:h.MaxDataSize], exp)
	switch {
	case err == nil:
		rec, ok, err := s.Load(ctx, key)
		if err != nil || !ok || string(rec.Data) != string(big[:h.MaxDataSize]) {
			t.Errorf("Load of a %d-byte record = %d bytes, %v, %v; want it intact", h.MaxDataSize, len(rec.Data), ok, err)
		}
	case errors.Is(err, core.ErrTooLarge):
		t.Logf("the server refuses a %d-byte record (%v): fine, as long as nothing is truncated", h.MaxDataSize, err)
		if got := loadData(t, s, key); got != "before" {
			t.Errorf("after a refused Save, Load = %.20q, want %q", got, "before")
		}
	default:
		t.Errorf("Save(%d bytes) = %v, want nil or ErrTooLarge", h.MaxDataSize, err)
	}
}
