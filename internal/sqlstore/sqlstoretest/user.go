package sqlstoretest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// UserStore is what the user index tests need of a SQL store.
type UserStore interface {
	core.Store
	core.UserIndexer
	core.Toucher
	core.ExpiredDeleter
}

// UserHarness describes a store with core.UserIndexer to RunUser. It does
// not depend on database/sql, so that the postgres store (pgx) runs the
// same tests.
type UserHarness struct {
	// New returns a store on a fresh, created table, cleaned up when t
	// ends.
	New func(t *testing.T) UserStore
	// ExpireAll moves the expiry of every row of s's table into the
	// past, as the passing of time would.
	ExpireAll func(t *testing.T, s UserStore)
	// Count returns the number of rows in s's table.
	Count func(t *testing.T, s UserStore) int
}

// RunUser runs the user index tests as subtests of t: what
// conformance.TestStore cannot see from outside (rows left in the table,
// ten thousand sessions of one user, many writers on one row's filing).
func RunUser(t *testing.T, h UserHarness) {
	tests := []struct {
		name string
		f    func(*testing.T, UserHarness)
	}{
		{"Filing", testUserFiling},
		{"DistinctUsers", testUserDistinct},
		{"Until", testUserUntil},
		{"ExpiredRowReplaced", testUserExpiredRowReplaced},
		{"TenThousandExpired", testUserTenThousand},
		{"ConcurrentOneRow", testUserConcurrentOneRow},
		{"ConcurrentManyRows", testUserConcurrentManyRows},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, h) })
	}
}

// userKeys returns UserKeys(user), sorted, failing t on an error.
func userKeys(t testing.TB, s UserStore, user string) []string {
	t.Helper()
	keys, err := s.UserKeys(context.Background(), user)
	if err != nil {
		t.Fatalf("UserKeys(%q) = %v", user, err)
	}
	slices.Sort(keys)
	return keys
}

// wantKeys checks UserKeys(user) against want (in any order).
func wantKeys(t testing.TB, s UserStore, user string, want ...string) {
	t.Helper()
	got := userKeys(t, s, user)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("UserKeys(%q) = %d keys %.3v, want %d keys %.3v", user, len(got), short(got), len(want), short(want))
	}
}

// short returns the keys' first 8 characters, for messages.
func short(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k[:min(8, len(k))]
	}
	return out
}

func testUserFiling(t *testing.T, h UserHarness) {
	s := h.New(t)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	until := exp.Add(time.Hour)
	k1, k2, k3 := Key("1"), Key("2"), Key("3")
	v1, err := s.CompareAndSwapUser(ctx, k1, 0, []byte("one"), exp, "alice", until)
	if err != nil || v1 == 0 {
		t.Fatalf("CompareAndSwapUser(new, alice) = %d, %v", v1, err)
	}
	if rec, ok, err := s.Load(ctx, k1); err != nil || !ok || string(rec.Data) != "one" || rec.Version != v1 {
		t.Fatalf("Load after CompareAndSwapUser = %q version %d, %v, %v; want %q version %d", rec.Data, rec.Version, ok, err, "one", v1)
	}
	v2, err := s.CompareAndSwapUser(ctx, k2, 0, []byte("two"), exp, "bob", until)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompareAndSwap(ctx, k3, 0, []byte("three"), exp); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, s, "alice", k1)
	wantKeys(t, s, "bob", k2)
	wantKeys(t, s, "carol")
	wantKeys(t, s, "")

	// A lost CompareAndSwapUser changes nothing, filing included.
	if _, err := s.CompareAndSwapUser(ctx, k1, v1+1000, []byte("stale"), exp, "bob", until); !errors.Is(err, core.ErrConflict) {
		t.Errorf("CompareAndSwapUser(stale version) = %v, want ErrConflict", err)
	}
	if _, err := s.CompareAndSwapUser(ctx, k1, 0, []byte("stale"), exp, "bob", until); !errors.Is(err, core.ErrConflict) {
		t.Errorf("CompareAndSwapUser(live row, 0) = %v, want ErrConflict", err)
	}
	wantKeys(t, s, "alice", k1)

	// Refiling moves the row from one user to the other.
	if v1, err = s.CompareAndSwapUser(ctx, k1, v1, []byte("one'"), exp, "bob", until); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, s, "alice")
	wantKeys(t, s, "bob", k1, k2)

	// CompareAndSwap, Save and Touch keep the filing.
	if _, err := s.CompareAndSwap(ctx, k1, v1, []byte("cas"), exp); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, k1, []byte("save"), exp); err != nil {
		t.Fatal(err)
	}
	if err := s.Touch(ctx, k1, exp.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, s, "bob", k1, k2)

	// User "" unfiles the row and keeps it.
	rec, _, _ := s.Load(ctx, k1)
	if _, err := s.CompareAndSwapUser(ctx, k1, rec.Version, []byte("anon"), exp, "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, s, "bob", k2)
	if got := loadString(t, s, k1); got != "anon" {
		t.Errorf("Load after CompareAndSwapUser(user \"\") = %q, want %q", got, "anon")
	}

	// Ending the row ends its filing: an expiry in the past, or Delete.
	if _, err := s.CompareAndSwapUser(ctx, k2, v2, nil, time.Now().Add(-time.Second), "bob", until); err != nil {
		t.Fatalf("CompareAndSwapUser(past expiry) = %v", err)
	}
	wantKeys(t, s, "bob")
	v3, err := s.CompareAndSwapUser(ctx, k3, 0, nil, exp, "bob", until)
	if !errors.Is(err, core.ErrConflict) {
		t.Errorf("CompareAndSwapUser(k3 live, 0) = %d, %v; want ErrConflict", v3, err)
	}
	rec, _, _ = s.Load(ctx, k3)
	if _, err := s.CompareAndSwapUser(ctx, k3, rec.Version, nil, exp, "bob", until); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, s, "bob", k3)
	if err := s.Delete(ctx, k3); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, s, "bob")

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.UserKeys(cctx, "bob"); !errors.Is(err, context.Canceled) {
		t.Errorf("UserKeys(cancelled ctx) = %v, want an error wrapping context.Canceled", err)
	}
	if _, err := s.CompareAndSwapUser(cctx, k1, 0, nil, exp, "bob", until); !errors.Is(err, context.Canceled) {
		t.Errorf("CompareAndSwapUser(cancelled ctx) = %v, want an error wrapping context.Canceled", err)
	}
	if _, err := s.CompareAndSwapUser(ctx, "../x", 0, nil, exp, "bob", until); !errors.Is(err, core.ErrInvalidKey) {
		t.Errorf("CompareAndSwapUser(invalid key) = %v, want ErrInvalidKey", err)
	}
}

// loadString returns the data under key, or "<none>".
func loadString(t testing.TB, s core.Store, key string) string {
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

// testUserDistinct files rows under ids that a case-insensitive or
// space-padding collation would confuse, a long id and one that is not
// UTF-8: each lists only its own row.
func testUserDistinct(t *testing.T, h UserHarness) {
	s := h.New(t)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	users := []string{"alice", "Alice", "alice ", " alice", "ALICE", "alicé", "alice\x00", "\xff\xfe",
		strings.Repeat("long-user-id/", 300), "' OR 1=1 --"}
	for i, u := range users {
		if _, err := s.CompareAndSwapUser(ctx, Key(fmt.Sprint("u", i)), 0, nil, exp, u, exp); err != nil {
			t.Fatalf("CompareAndSwapUser(user %.20q) = %v", u, err)
		}
	}
	for i, u := range users {
		wantKeys(t, s, u, Key(fmt.Sprint("u", i)))
	}
}

func testUserUntil(t *testing.T, h UserHarness) {
	s := h.New(t)
	ctx := context.Background()
	key := Key("a")
	exp := time.Now().Add(time.Hour)
	until := time.Now().Add(1500 * time.Millisecond) // to write and list under load
	v, err := s.CompareAndSwapUser(ctx, key, 0, []byte("x"), exp, "alice", until)
	if err != nil {
		t.Fatal(err)
	}
	wantKeys(t, s, "alice", key)
	time.Sleep(time.Until(until) + 50*time.Millisecond)
	wantKeys(t, s, "alice") // never past until, though the row lives on
	if got := loadString(t, s, key); got != "x" {
		t.Errorf("Load after until = %q, want the record", got)
	}
	if err := s.Touch(ctx, key, exp.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompareAndSwap(ctx, key, v, []byte("y"), exp); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, s, "alice")
	// An until already passed files nothing listable.
	if _, err := s.CompareAndSwapUser(ctx, Key("b"), 0, nil, exp, "alice", time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, s, "alice")
}

// testUserExpiredRowReplaced checks that an expired row's filing neither
// lists nor passes to the record that replaces it.
func testUserExpiredRowReplaced(t *testing.T, h UserHarness) {
	s := h.New(t)
	ctx := context.Background()
	ka, kb, kc := Key("a"), Key("b"), Key("c")
	short := time.Now().Add(1500 * time.Millisecond) // time enough to write and list under load
	long := time.Now().Add(time.Hour)
	for _, k := range []string{ka, kb, kc} {
		if _, err := s.CompareAndSwapUser(ctx, k, 0, nil, short, "alice", long); err != nil {
			t.Fatal(err)
		}
	}
	wantKeys(t, s, "alice", ka, kb, kc)
	time.Sleep(time.Until(short) + 50*time.Millisecond)
	wantKeys(t, s, "alice") // no ghosts
	if err := s.Save(ctx, ka, []byte("new"), long); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompareAndSwap(ctx, kb, 0, []byte("new"), long); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompareAndSwapUser(ctx, kc, 0, []byte("new"), long, "bob", long); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, s, "alice")
	wantKeys(t, s, "bob", kc)
}

// testUserTenThousand files ten thousand sessions under one user, lets
// them expire, and checks that nothing is listed and nothing is left after
// DeleteExpired.
func testUserTenThousand(t *testing.T, h UserHarness) {
	if testing.Short() {
		t.Skip("writes 10 000 rows; skipped in -short mode")
	}
	const n, workers = 10000, 8
	s := h.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	exp := time.Now().Add(time.Hour)
	want := make([]string, n)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				want[i] = Key(fmt.Sprint("s", i))
				if _, err := s.CompareAndSwapUser(ctx, want[i], 0, []byte("x"), exp, "alice", exp); err != nil {
					t.Errorf("CompareAndSwapUser #%d = %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	wantKeys(t, s, "alice", want...)
	h.ExpireAll(t, s)
	wantKeys(t, s, "alice")
	got, err := s.DeleteExpired(ctx)
	if err != nil || got != n {
		t.Errorf("DeleteExpired = %d, %v; want %d, nil", got, err, n)
	}
	if left := h.Count(t, s); left != 0 {
		t.Errorf("%d rows left after DeleteExpired, want none", left)
	}
	wantKeys(t, s, "alice")
}

// testUserConcurrentOneRow has many goroutines write one row, each with
// CompareAndSwapUser (under a random user or none) or CompareAndSwap, and
// records every winning write: the versions must form one chain with no
// write lost, and the row must end up listed under exactly the user of the
// last CompareAndSwapUser in the chain.
func testUserConcurrentOneRow(t *testing.T, h UserHarness) {
	const goroutines, writes = 16, 40
	s := h.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	key := Key("shared")
	exp := time.Now().Add(time.Hour)
	users := []string{"alice", "bob", "carol", ""}
	first, err := s.CompareAndSwapUser(ctx, key, 0, []byte("0"), exp, "alice", exp)
	if err != nil {
		t.Fatal(err)
	}
	type write struct {
		to    uint64
		user  string
		plain bool // CompareAndSwap: the filing stays
	}
	var mu sync.Mutex
	won := map[uint64]write{} // by the version written over
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for done := 0; done < writes; {
				rec, ok, err := s.Load(ctx, key)
				if err != nil || !ok {
					t.Errorf("Load = %v, %v", ok, err)
					return
				}
				w := write{user: users[rand.IntN(len(users))], plain: rand.IntN(3) == 0}
				if w.plain {
					w.to, err = s.CompareAndSwap(ctx, key, rec.Version, []byte(fmt.Sprint(g)), exp)
				} else {
					w.to, err = s.CompareAndSwapUser(ctx, key, rec.Version, []byte(fmt.Sprint(g)), exp, w.user, exp)
				}
				if errors.Is(err, core.ErrConflict) {
					continue
				}
				if err != nil {
					t.Errorf("write = %v", err)
					return
				}
				mu.Lock()
				if _, dup := won[rec.Version]; dup {
					t.Errorf("two writes won against version %d", rec.Version)
				}
				won[rec.Version] = w
				mu.Unlock()
				done++
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	v, user, steps := first, "alice", 0
	for w, ok := won[v]; ok; w, ok = won[v] {
		v, steps = w.to, steps+1
		if !w.plain {
			user = w.user
		}
	}
	rec, _, _ := s.Load(ctx, key)
	if steps != goroutines*writes || rec.Version != v {
		t.Errorf("the chain of versions from %d has %d of %d writes and ends at %d; the row has version %d",
			first, steps, goroutines*writes, v, rec.Version)
	}
	for _, u := range users[:3] {
		if u == user {
			wantKeys(t, s, u, key)
		} else {
			wantKeys(t, s, u)
		}
	}
}

// testUserConcurrentManyRows has many goroutines create, refile and end
// rows of one user at once; the list must then hold exactly the rows left.
func testUserConcurrentManyRows(t *testing.T, h UserHarness) {
	const goroutines, rows = 32, 30
	s := h.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	exp := time.Now().Add(time.Hour)
	kept := make([][]string, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range rows {
				key := Key(fmt.Sprint("g", g, "r", i))
				v, err := s.CompareAndSwapUser(ctx, key, 0, nil, exp, "alice", exp)
				if err == nil && i%3 == 1 { // refiled elsewhere
					_, err = s.CompareAndSwapUser(ctx, key, v, nil, exp, "bob", exp)
				} else if err == nil && i%3 == 2 { // ended
					_, err = s.CompareAndSwapUser(ctx, key, v, nil, time.Now().Add(-time.Second), "alice", exp)
				} else if err == nil {
					kept[g] = append(kept[g], key)
				}
				if err != nil {
					t.Errorf("CompareAndSwapUser = %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	wantKeys(t, s, "alice", slices.Concat(kept...)...)
	if got := len(userKeys(t, s, "bob")); got != goroutines*(rows/3) {
		t.Errorf("UserKeys(bob) has %d keys, want %d", got, goroutines*(rows/3))
	}
}
