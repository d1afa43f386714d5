package file

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// indexEntries returns the store's user index as it is on disk: the
// entry names in every user directory, by the directory's name. Any file
// in the index directory that is not a user directory is reported under
// "<file>".
func indexEntries(t testing.TB, s *Store) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	users, err := os.ReadDir(s.indexDir())
	if errors.Is(err, os.ErrNotExist) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if !u.IsDir() {
			out["<file>"] = append(out["<file>"], u.Name())
			continue
		}
		entries, err := os.ReadDir(filepath.Join(s.indexDir(), u.Name()))
		if err != nil {
			t.Fatal(err)
		}
		names := []string{} // an empty directory shows as an empty list
		for _, e := range entries {
			names = append(names, e.Name())
		}
		out[u.Name()] = names
	}
	return out
}

// dirOf names the index directory of user.
func dirOf(user string) string {
	d := userDigest(user)
	return hex.EncodeToString(d[:])
}

// wantIndex builds the index indexEntries should return from user ->
// keys.
func wantIndex(byUser map[string][]string) map[string][]string {
	out := map[string][]string{}
	for u, keys := range byUser {
		if len(keys) > 0 {
			out[dirOf(u)] = slices.Sorted(slices.Values(keys))
		}
	}
	return out
}

// checkIndex fails t unless the index on disk and UserKeys both show
// exactly byUser (user -> keys).
func checkIndex(t *testing.T, s *Store, byUser map[string][]string, step string) {
	t.Helper()
	if got, want := indexEntries(t, s), wantIndex(byUser); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: index on disk = %v, want %v", step, got, want)
	}
	for u, want := range byUser {
		got, err := s.UserKeys(context.Background(), u)
		if err != nil {
			t.Fatalf("%s: UserKeys(%q) = %v", step, u, err)
		}
		slices.Sort(got)
		if want := slices.Sorted(slices.Values(want)); !slices.Equal(got, want) {
			t.Errorf("%s: UserKeys(%q) = %d keys %v, want %d %v", step, u, len(got), got, len(want), want)
		}
	}
}

func mustSwapUser(t *testing.T, s *Store, key string, version uint64, data, user string, expiry, until time.Time) uint64 {
	t.Helper()
	v, err := s.CompareAndSwapUser(context.Background(), key, version, []byte(data), expiry, user, until)
	if err != nil {
		t.Fatalf("CompareAndSwapUser(%q, %q) = %v", data, user, err)
	}
	return v
}

// TestUserIndexFiling follows one record through every operation and
// checks, on disk and through UserKeys, that its index entry is where its
// filing says and nowhere else.
func TestUserIndexFiling(t *testing.T) {
	s := newStore(t, Config{CleanupInterval: -1})
	ctx := context.Background()
	hour, until := time.Now().Add(time.Hour), time.Now().Add(2*time.Hour)
	ann, bob := "ann@example.com", "bob@example.com"
	k := testKey("k")

	v := mustSwapUser(t, s, k, 0, "1", ann, hour, until)
	checkIndex(t, s, map[string][]string{ann: {k}, bob: nil}, "filed under ann")
	if err := filepath.WalkDir(s.Dir(), func(path string, _ os.DirEntry, err error) error {
		if strings.Contains(path, "ann") || strings.Contains(path, "example") {
			t.Errorf("the user id appears in a file name: %s", path)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}

	// CompareAndSwap, Save and Touch keep the filing.
	v, err := s.CompareAndSwap(ctx, k, v, []byte("2"), hour)
	if err != nil {
		t.Fatal(err)
	}
	checkIndex(t, s, map[string][]string{ann: {k}}, "after CompareAndSwap")
	mustSave(t, s, k, "3", hour)
	checkIndex(t, s, map[string][]string{ann: {k}}, "after Save")
	if err := s.Touch(ctx, k, hour.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	checkIndex(t, s, map[string][]string{ann: {k}}, "after Touch")
	if got := loadData(t, s, k); got != "3" {
		t.Fatalf("data after Touch of a filed record = %q, want 3", got)
	}

	// A conflicting CompareAndSwapUser changes nothing.
	if _, err := s.CompareAndSwapUser(ctx, k, v, []byte("x"), hour, bob, until); !errors.Is(err, core.ErrConflict) {
		t.Fatalf("CompareAndSwapUser with a stale version = %v, want ErrConflict", err)
	}
	checkIndex(t, s, map[string][]string{ann: {k}, bob: nil}, "after a conflict")

	// A failed write leaves the record and its filing as they were, and
	// no entry under the user it was to be filed under.
	v = mustVersion(t, s, k)
	s.writeHook = func(w io.Writer) io.Writer { return &failingWriter{w: w, n: 3, err: errors.New("disk full")} }
	if _, err := s.CompareAndSwapUser(ctx, k, v, []byte("x"), hour, bob, until); err == nil {
		t.Fatal("CompareAndSwapUser with a failing write succeeded")
	}
	s.writeHook = nil
	checkIndex(t, s, map[string][]string{ann: {k}, bob: nil}, "after a failed write")

	// Refiling moves the entry; user "" removes it.
	v = mustSwapUser(t, s, k, v, "4", bob, hour, until)
	checkIndex(t, s, map[string][]string{ann: nil, bob: {k}}, "refiled under bob")
	v = mustSwapUser(t, s, k, v, "5", "", hour, until)
	checkIndex(t, s, map[string][]string{ann: nil, bob: nil}, "filed under no user")
	if got := loadData(t, s, k); got != "5" {
		t.Fatalf("data = %q, want 5", got)
	}
	// A filing whose until has passed is no filing.
	mustSwapUser(t, s, k, v, "6", bob, hour, time.Now().Add(-time.Second))
	checkIndex(t, s, map[string][]string{bob: nil}, "filed with a past until")

	// Delete, and each way of ending a record, removes the entry.
	ends := map[string]func(key string, version uint64) error{
		"Delete": func(key string, _ uint64) error { return s.Delete(ctx, key) },
		"CompareAndSwap in the past": func(key string, version uint64) error {
			_, err := s.CompareAndSwap(ctx, key, version, []byte("x"), time.Now().Add(-time.Second))
			return err
		},
		"CompareAndSwapUser in the past": func(key string, version uint64) error {
			_, err := s.CompareAndSwapUser(ctx, key, version, []byte("x"), time.Now().Add(-time.Second), ann, until)
			return err
		},
		"Save in the past":  func(key string, _ uint64) error { return s.Save(ctx, key, []byte("x"), time.Now().Add(-time.Second)) },
		"Touch in the past": func(key string, _ uint64) error { return s.Touch(ctx, key, time.Now().Add(-time.Second)) },
	}
	for name, end := range ends {
		v = mustSwapUser(t, s, k, mustVersionOrZero(t, s, k), "7", ann, hour, until)
		checkIndex(t, s, map[string][]string{ann: {k}}, name+": filed")
		if err := end(k, v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := loadData(t, s, k); got != "<none>" {
			t.Fatalf("%s: record still loads: %q", name, got)
		}
		checkIndex(t, s, map[string][]string{ann: nil}, name)
		if got := dirNames(t, s.Dir()); len(got) > 1 {
			t.Errorf("%s: directory holds %v, want nothing but the (empty) index directory", name, got)
		}
	}
}

// mustVersionOrZero returns key's version, or zero when it has no live
// record.
func mustVersionOrZero(t *testing.T, s *Store, key string) uint64 {
	t.Helper()
	rec, _, err := s.Load(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return rec.Version
}

// TestUserIndexExpiry checks that a filing ends with its record's expiry
// and with its until: UserKeys stops listing it and prunes its entry, and
// a record written over an expired filed record is filed under no user.
func TestUserIndexExpiry(t *testing.T) {
	s := newStore(t, Config{CleanupInterval: -1})
	ctx := context.Background()
	ann := "ann"
	// short leaves the four writes and the first listing a second: under
	// a loaded make test 100 ms did not suffice, and the listing then
	// rightly left out the filings that had ended.
	short, hour := time.Now().Add(time.Second), time.Now().Add(time.Hour)
	expiring, pastUntil, overwritten, live := testKey("expiring"), testKey("until"), testKey("overwritten"), testKey("live")
	mustSwapUser(t, s, expiring, 0, "x", ann, short, hour)
	mustSwapUser(t, s, pastUntil, 0, "x", ann, hour, short)
	mustSwapUser(t, s, overwritten, 0, "x", ann, short, hour)
	mustSwapUser(t, s, live, 0, "x", ann, hour, hour)
	checkIndex(t, s, map[string][]string{ann: {expiring, pastUntil, overwritten, live}}, "filed")
	time.Sleep(time.Until(short) + 10*time.Millisecond)

	// A new record over the expired one is filed under no user: its
	// entry goes with the write, before any UserKeys.
	if _, err := s.CompareAndSwap(ctx, overwritten, 0, []byte("new"), hour); err != nil {
		t.Fatal(err)
	}
	if got, want := indexEntries(t, s)[dirOf(ann)], []string{expiring, live, pastUntil}; !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("entries after a new record replaced an expired filed one = %v, want %v", got, want)
	}
	// UserKeys lists only the live filing and prunes the others.
	if keys, err := s.UserKeys(ctx, ann); err != nil || !slices.Equal(keys, []string{live}) {
		t.Errorf("UserKeys after expiry = %v, %v; want only the live filing", keys, err)
	}
	checkIndex(t, s, map[string][]string{ann: {live}}, "after expiry")
	// The record past its until still loads: only its filing ended.
	if got := loadData(t, s, pastUntil); got != "x" {
		t.Errorf("record past its filing's until = %q, want it to load", got)
	}
	// Refiling it files it again.
	mustSwapUser(t, s, pastUntil, mustVersionOrZero(t, s, pastUntil), "y", ann, hour, hour)
	checkIndex(t, s, map[string][]string{ann: {live, pastUntil}}, "refiled")
}

// TestUserIndexOrphanEntries plants the entries a crash can leave behind
// (an entry whose record is gone, is filed under another user, or is
// corrupt) and checks that UserKeys and DeleteExpired both prune them,
// without touching the live filing next to them.
func TestUserIndexOrphanEntries(t *testing.T) {
	for _, via := range []string{"UserKeys", "DeleteExpired"} {
		t.Run(via, func(t *testing.T) {
			s := newStore(t, Config{CleanupInterval: -1})
			ctx := context.Background()
			hour := time.Now().Add(time.Hour)
			live, gone, moved, corrupt, unfiled := testKey("live"), testKey("gone"), testKey("moved"), testKey("corrupt"), testKey("unfiled")
			mustSwapUser(t, s, live, 0, "x", "ann", hour, hour)
			mustSwapUser(t, s, moved, 0, "x", "bob", hour, hour)
			mustSave(t, s, corrupt, "x", hour)
			mustSave(t, s, unfiled, "x", hour)
			if err := os.WriteFile(s.recordPath(corrupt), []byte("garbage"), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{gone, moved, corrupt, unfiled} {
				if err := os.WriteFile(s.entryPath(userDigest("ann"), k), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(s.entryPath(userDigest("ann"), "not-a-key"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if via == "DeleteExpired" {
				if _, err := s.DeleteExpired(ctx); err != nil {
					t.Fatal(err)
				}
			} else {
				// The records that are gone, unreadable or filed under
				// no user may have ended after the listing (a renew in
				// flight): they are listed, once. The record filed
				// under bob is not.
				keys, err := s.UserKeys(ctx, "ann")
				slices.Sort(keys)
				if want := slices.Sorted(slices.Values([]string{live, gone, corrupt, unfiled})); err != nil || !slices.Equal(keys, want) {
					t.Errorf("UserKeys with orphan entries = %v, %v; want %v", keys, err, want)
				}
			}
			if got, want := indexEntries(t, s)[dirOf("ann")], []string{live, "not-a-key"}; !slices.Equal(got, slices.Sorted(slices.Values(want))) {
				t.Errorf("ann's entries = %v, want %v (orphans pruned, a foreign file left alone)", got, want)
			}
			os.Remove(s.entryPath(userDigest("ann"), "not-a-key"))
			checkIndex(t, s, map[string][]string{"ann": {live}, "bob": {moved}}, "after pruning")
			// Lock files of the records that are gone are not left behind.
			if _, err := os.Lstat(s.lockPath(gone)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("lock file of a pruned entry's missing record: %v, want none", err)
			}
		})
	}
}

// TestUserIndexTenThousandExpired files 10 000 sessions under one user,
// lets them expire and runs the cleanup: nothing may be left in the
// directory, neither records nor lock files nor index entries or
// directories. A second round lets UserKeys see the expired filings first.
func TestUserIndexTenThousandExpired(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	for _, userKeysFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("UserKeysFirst=%v", userKeysFirst), func(t *testing.T) {
			count := n
			if userKeysFirst {
				count = n / 10
			}
			s := newStore(t, Config{CleanupInterval: -1})
			ctx := boundedContext(t, 5*time.Minute)
			const workers = 4
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := w; i < count; i += workers {
						exp := time.Now().Add(time.Second)
						if _, err := s.CompareAndSwapUser(ctx, testKey(fmt.Sprint("s", i)), 0, []byte("session"), exp, "many@example.com", exp.Add(time.Hour)); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			latest := time.Now().Add(time.Second) // after every write: no expiry is later
			if t.Failed() {
				return
			}
			if got := len(indexEntries(t, s)[dirOf("many@example.com")]); got != count {
				t.Fatalf("%d index entries after filing %d sessions", got, count)
			}
			time.Sleep(time.Until(latest) + 10*time.Millisecond)
			if userKeysFirst {
				keys, err := s.UserKeys(ctx, "many@example.com")
				if err != nil || len(keys) != 0 {
					t.Fatalf("UserKeys after expiry = %d keys, %v; want none", len(keys), err)
				}
				if got := indexEntries(t, s); len(got) != 0 {
					t.Errorf("index after UserKeys pruned expired filings: %d user directories, want none", len(got))
				}
			}
			removed, err := s.DeleteExpired(ctx)
			if err != nil || removed != count {
				t.Fatalf("DeleteExpired = %d, %v; want %d", removed, err, count)
			}
			if got := dirNames(t, s.Dir()); len(got) != 0 {
				t.Errorf("after cleanup the directory holds %d names (first %q), want none", len(got), got[0])
			}
		})
	}
}

// swapUsers and swapKeys are what the concurrency tests refile among.
var (
	swapUsers = []string{"ann", "bob", "cy@example.com", ""}
	swapKeys  = func() []string {
		keys := make([]string, 12)
		for i := range keys {
			keys[i] = testKey(fmt.Sprint("shared", i))
		}
		return keys
	}()
)

// refileLoop runs ops random operations on swapKeys through stores: a
// CompareAndSwapUser that files the key under a random user (the record's
// data names it), a CompareAndSwap that keeps the filing (and the data),
// or a Delete, each retried on conflict like the core's commits.
func refileLoop(ctx context.Context, stores []*Store, ops int, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 11))
	for i := range ops {
		s := stores[i%len(stores)]
		key := swapKeys[r.IntN(len(swapKeys))]
		op := r.IntN(10)
		if op == 0 {
			if err := s.Delete(ctx, key); err != nil {
				return err
			}
			continue
		}
		for {
			rec, found, err := s.Load(ctx, key)
			if err != nil {
				return err
			}
			hour := time.Now().Add(time.Hour)
			if op < 3 && found {
				_, err = s.CompareAndSwap(ctx, key, rec.Version, rec.Data, hour)
			} else {
				user := swapUsers[r.IntN(len(swapUsers))]
				_, err = s.CompareAndSwapUser(ctx, key, rec.Version, []byte(user), hour, user, hour)
			}
			if errors.Is(err, core.ErrConflict) {
				continue
			}
			if err != nil {
				return err
			}
			break
		}
	}
	return nil
}

// checkRefiled checks that, once every refileLoop has returned, the index
// on disk and UserKeys agree exactly with the users the records' data
// name: no lost filing, no entry left under a former user.
func checkRefiled(t *testing.T, s *Store) {
	t.Helper()
	byUser := map[string][]string{}
	for _, u := range swapUsers {
		if u != "" {
			byUser[u] = nil
		}
	}
	for _, key := range swapKeys {
		if d := loadData(t, s, key); d != "<none>" && d != "" {
			byUser[d] = append(byUser[d], key)
		}
	}
	checkIndex(t, s, byUser, "after concurrent refiling")
}

// TestConcurrentCompareAndSwapUser refiles a dozen keys among users from
// many goroutines on two Store values sharing a directory, with deletes
// and filing-keeping writes mixed in.
func TestConcurrentCompareAndSwapUser(t *testing.T) {
	dir := t.TempDir()
	stores := []*Store{newStore(t, Config{Dir: dir, CleanupInterval: -1}), newStore(t, Config{Dir: dir, CleanupInterval: -1})}
	workers, ops := 16, 150
	if testing.Short() {
		workers, ops = 8, 100
	}
	ctx := boundedContext(t, 2*time.Minute)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			if err := refileLoop(ctx, stores, ops, uint64(w)); err != nil {
				t.Error(err)
			}
		})
	}
	stop := sweepInLoop(t, stores[1])
	wg.Wait()
	stop()
	checkRefiled(t, stores[0])
}

// sweepInLoop runs DeleteExpired on s in a loop, as a janitor with a very short
// interval would, until the returned function is called: its removal of
// emptied user directories and of the index directory races the writers
// that file records into them.
func sweepInLoop(t testing.TB, s *Store) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := s.DeleteExpired(context.Background()); err != nil {
				t.Error(err)
				return
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// TestCrossProcessCompareAndSwapUser runs the refiling loop in this
// process and in a child process (this test binary re-executed) on one
// directory at once: the index stays exact across processes.
func TestCrossProcessCompareAndSwapUser(t *testing.T) {
	workers, ops := 8, 150
	if testing.Short() {
		workers, ops = 4, 60
	}
	ctx := boundedContext(t, 2*time.Minute)
	run := func(dir string, seed uint64) error {
		s, err := New(Config{Dir: dir, CleanupInterval: -1})
		if err != nil {
			return err
		}
		defer s.Close()
		errs := make(chan error, workers)
		for w := range workers {
			go func() { errs <- refileLoop(ctx, []*Store{s}, ops, seed+uint64(w)) }()
		}
		stop := sweepInLoop(t, s)
		defer stop()
		for range workers {
			if err := <-errs; err != nil {
				return err
			}
		}
		return nil
	}
	if dir := os.Getenv("SESSIONKIT_FILE_USERS_DIR"); dir != "" {
		if err := run(dir, 1000); err != nil {
			t.Fatal(err)
		}
		return
	}
	dir := t.TempDir()
	cmd := childCommand(t, "TestCrossProcessCompareAndSwapUser", "-test.short="+strconv.FormatBool(testing.Short()))
	cmd.Env = append(os.Environ(), "SESSIONKIT_FILE_USERS_DIR="+dir)
	var out []byte
	var childErr error
	var wg sync.WaitGroup
	wg.Go(func() { out, childErr = cmd.CombinedOutput() })
	if err := run(dir, 0); err != nil {
		t.Error(err)
	}
	wg.Wait()
	if childErr != nil {
		t.Fatalf("child process: %v\n%s", childErr, out)
	}
	checkRefiled(t, newStore(t, Config{Dir: dir, CleanupInterval: -1}))
}

// TestUserIndexThroughManager logs two sessions of one user in through a
// core.Manager on the file store, and ends them with EndUserSessions: the
// index empties with them.
func TestUserIndexThroughManager(t *testing.T) {
	dir := t.TempDir()
	m := processManager(t, dir)
	login := func() string {
		cookie, err := processRequest(m, "", func(s *core.Session) {
			s.Set("x", 1)
			s.Renew()
			s.SetUser("ann@example.com")
		})
		if err != nil || cookie == "" {
			t.Fatalf("login: cookie %q, %v", cookie, err)
		}
		return cookie
	}
	a, b := login(), login()
	list, err := m.UserSessions(context.Background(), "ann@example.com")
	if err != nil || len(list) != 2 {
		t.Fatalf("UserSessions = %d sessions, %v; want 2", len(list), err)
	}
	s := newStore(t, Config{Dir: dir, CleanupInterval: -1})
	if got := len(indexEntries(t, s)[dirOf("ann@example.com")]); got != 2 {
		t.Errorf("%d index entries for two logged-in sessions, want 2", got)
	}
	var keep string
	if _, err := processRequest(m, a, func(s *core.Session) { keep = s.ID() }); err != nil {
		t.Fatal(err)
	}
	if n, err := m.EndUserSessions(context.Background(), "ann@example.com", keep); err != nil || n != 1 {
		t.Fatalf("EndUserSessions = %d, %v; want 1", n, err)
	}
	if _, err := processRequest(m, b, func(s *core.Session) {
		if s.User() != "" {
			t.Error("the ended session still has its user")
		}
	}); err != nil {
		t.Fatal(err)
	}
	if got := indexEntries(t, s)[dirOf("ann@example.com")]; len(got) != 1 {
		t.Errorf("index entries after ending all but one session: %d, want 1", len(got))
	}
}

// TestUserKeysDuringRenews renews one session over and over (file the new
// key, then retire the old one: refile it under no user, or delete it, as
// the core does with and without a grace window) while UserKeys lists the
// user's keys: every listing must include a key of the session (the new
// one, or the old one whose end the caller then sees), never none.
func TestUserKeysDuringRenews(t *testing.T) {
	dir := t.TempDir()
	w, r := newStore(t, Config{Dir: dir, CleanupInterval: -1}), newStore(t, Config{Dir: dir, CleanupInterval: -1})
	ctx := boundedContext(t, 2*time.Minute)
	hour := time.Now().Add(time.Hour)
	renews := 500
	if testing.Short() {
		renews = 300
	}
	// Other sessions of the user, so that the directory is not trivial.
	for i := range 20 {
		mustSwapUser(t, w, testKey(fmt.Sprint("other", i)), 0, "x", "ann", hour, hour)
	}
	chain := make(map[string]bool, renews+1) // the session's keys, read-only below
	for i := range renews + 1 {
		chain[testKey(fmt.Sprint("renew", i))] = true
	}
	old := testKey("renew0")
	oldV := mustSwapUser(t, w, old, 0, "x", "ann", hour, hour)
	done := make(chan struct{})
	stopListing := sync.OnceFunc(func() { close(done) })
	defer stopListing() // also when a t.Fatal below ends the test early
	var listings, empty atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				keys, err := r.UserKeys(ctx, "ann")
				if err != nil {
					t.Error(err)
					return
				}
				listings.Add(1)
				if !slices.ContainsFunc(keys, func(k string) bool { return chain[k] }) {
					empty.Add(1)
				}
			}
		})
	}
	for i := 1; i <= renews; i++ {
		key := testKey(fmt.Sprint("renew", i))
		v := mustSwapUser(t, w, key, 0, "x", "ann", hour, hour)
		var err error
		if i%2 == 0 {
			_, err = w.CompareAndSwapUser(ctx, old, oldV, []byte("retired"), hour, "", hour)
		} else {
			_, err = w.CompareAndSwap(ctx, old, oldV, nil, time.Now().Add(-time.Second))
		}
		if err != nil {
			t.Fatal(err)
		}
		w.Delete(ctx, old) // the marker's end, as its grace window passes
		old, oldV = key, v
	}
	stopListing()
	wg.Wait()
	if n := empty.Load(); n > 0 {
		t.Errorf("%d of %d listings during %d renews held no key of the renewed session", n, listings.Load(), renews)
	}
	t.Logf("%d listings during %d renews", listings.Load(), renews)
}

// TestUserKeysListsKeysEndedAfterListing renews a session between the
// directory read of UserKeys and its look at the entries, every time it
// reads the directory: the key it read was retired (refiled under no
// user, or deleted) meanwhile, and its successor was filed after the read.
// UserKeys must still list a key of the session, the old one, so that the
// caller sees it ended and lists again.
func TestUserKeysListsKeysEndedAfterListing(t *testing.T) {
	for _, retire := range []string{"refile", "delete"} {
		t.Run(retire, func(t *testing.T) {
			s := newStore(t, Config{CleanupInterval: -1})
			ctx := context.Background()
			hour := time.Now().Add(time.Hour)
			chain := []string{testKey("renew0")}
			v := mustSwapUser(t, s, chain[0], 0, "x", "ann", hour, hour)
			s.listHook = func() {
				old := chain[len(chain)-1]
				key := testKey(fmt.Sprint("renew", len(chain)))
				nv, err := s.CompareAndSwapUser(ctx, key, 0, []byte("x"), hour, "ann", hour)
				if err != nil {
					t.Error(err)
					return
				}
				if retire == "refile" {
					_, err = s.CompareAndSwapUser(ctx, old, v, []byte("retired"), hour, "", hour)
				} else {
					_, err = s.CompareAndSwap(ctx, old, v, nil, time.Now().Add(-time.Second))
				}
				if err != nil {
					t.Error(err)
				}
				chain, v = append(chain, key), nv
			}
			keys, err := s.UserKeys(ctx, "ann")
			s.listHook = nil
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(keys, func(k string) bool { return slices.Contains(chain, k) }) {
				t.Errorf("UserKeys during renews = %v: no key of the session (%d keys so far)", keys, len(chain))
			}
		})
	}
}
