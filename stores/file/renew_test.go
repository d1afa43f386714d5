package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// renewal returns a Renew of oldKey at version to newKey with a retired
// marker for thirty seconds and the successor for an hour, filed under
// no user.
func renewal(oldKey string, version uint64, newKey string) core.Renewal {
	now := time.Now()
	return core.Renewal{
		OldKey: oldKey, OldVersion: version,
		Retired: []byte("retired"), RetiredExpiry: now.Add(30 * time.Second),
		NewKey: newKey, Data: []byte("successor"), Expiry: now.Add(time.Hour),
	}
}

// mustCreate writes data under key with CompareAndSwap at version zero and
// returns the version.
func mustCreate(t testing.TB, s *Store, key, data string) uint64 {
	t.Helper()
	v, err := s.CompareAndSwap(context.Background(), key, 0, []byte(data), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatalf("CompareAndSwap(create %q) = %v", data, err)
	}
	return v
}

// dirState returns every file under dir (the records, lock files and the
// user index) with its content, so that a test can tell that a call
// changed nothing on disk.
func dirState(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		b, err := os.ReadFile(path)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// diffState describes how two dirState results differ ("" when equal),
// naming files by their role rather than printing whole records.
func diffState(before, after map[string]string) string {
	var d []string
	for name, b := range before {
		if a, ok := after[name]; !ok {
			d = append(d, "removed "+name)
		} else if a != b {
			d = append(d, "changed "+name)
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			d = append(d, "added "+name)
		}
	}
	return strings.Join(d, ", ")
}

// TestRenew moves a session and checks both keys afterwards: the new one
// holds the data at the returned version, the old one the retired marker
// at a fresh version, and nothing else is left on disk.
func TestRenew(t *testing.T) {
	s := newStore(t, Config{CleanupInterval: -1})
	ctx := context.Background()
	oldKey, newKey := testKey("old"), testKey("new")
	v := mustCreate(t, s, oldKey, "session")
	r := renewal(oldKey, v, newKey)
	nv, err := s.Renew(ctx, r)
	if err != nil || nv == 0 {
		t.Fatalf("Renew(live old at its version) = %d, %v, want a non-zero version", nv, err)
	}
	rec, found, err := s.Load(ctx, newKey)
	if err != nil || !found || string(rec.Data) != "successor" || rec.Version != nv || !rec.Expiry.Equal(time.Unix(0, r.Expiry.UnixNano())) {
		t.Errorf("Load(new) = %q v%d %v, %v, %v; want %q v%d %v (rule: Renew creates the new record)", rec.Data, rec.Version, rec.Expiry, found, err, "successor", nv, r.Expiry)
	}
	rec, found, err = s.Load(ctx, oldKey)
	if err != nil || !found || string(rec.Data) != "retired" || rec.Version == v || rec.Version == 0 || !rec.Expiry.Equal(time.Unix(0, r.RetiredExpiry.UnixNano())) {
		t.Errorf("Load(old) = %q v%d %v, %v, %v; want the retired marker until %v at a new version (rule: Renew retires the old record)", rec.Data, rec.Version, rec.Expiry, found, err, r.RetiredExpiry)
	}
	if _, err := s.CompareAndSwap(ctx, oldKey, v, []byte("late"), time.Now().Add(time.Hour)); !errors.Is(err, core.ErrConflict) {
		t.Errorf("CompareAndSwap(old at the renewed version) = %v, want ErrConflict", err)
	}
	if _, err := s.CompareAndSwap(ctx, newKey, nv, []byte("next"), time.Now().Add(time.Hour)); err != nil {
		t.Errorf("CompareAndSwap(new at Renew's version) = %v, want success", err)
	}
	want := []string{s.prefix + newKey, s.prefix + newKey + ".lock", s.prefix + oldKey, s.prefix + oldKey + ".lock"}
	if got := dirNames(t, s.dir); fmt.Sprint(got) != fmt.Sprint(sorted(want)) {
		t.Errorf("files after Renew = %v, want %v (no temporary file left)", got, sorted(want))
	}
}

// TestRenewConflicts checks each reason Renew must refuse: it returns
// ErrConflict and changes nothing on disk, not even a lock file.
func TestRenewConflicts(t *testing.T) {
	ctx := context.Background()
	oldKey, newKey := testKey("old"), testKey("new")
	hour := time.Now().Add(time.Hour)
	cases := []struct {
		name  string
		setup func(t *testing.T, s *Store) core.Renewal
	}{
		{"StaleVersion", func(t *testing.T, s *Store) core.Renewal {
			v := mustCreate(t, s, oldKey, "a")
			if _, err := s.CompareAndSwap(ctx, oldKey, v, []byte("b"), hour); err != nil {
				t.Fatal(err)
			}
			return renewal(oldKey, v, newKey)
		}},
		{"DeletedOld", func(t *testing.T, s *Store) core.Renewal {
			v := mustCreate(t, s, oldKey, "a")
			if err := s.Delete(ctx, oldKey); err != nil {
				t.Fatal(err)
			}
			return renewal(oldKey, v, newKey)
		}},
		{"ExpiredOld", func(t *testing.T, s *Store) core.Renewal {
			v, err := s.CompareAndSwap(ctx, oldKey, 0, []byte("a"), time.Now().Add(20*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(30 * time.Millisecond)
			return renewal(oldKey, v, newKey)
		}},
		{"CorruptOld", func(t *testing.T, s *Store) core.Renewal {
			v := mustCreate(t, s, oldKey, "abc")
			b, err := os.ReadFile(s.recordPath(oldKey))
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)-1] ^= 1
			if err := os.WriteFile(s.recordPath(oldKey), b, 0o600); err != nil {
				t.Fatal(err)
			}
			return renewal(oldKey, v, newKey)
		}},
		{"NoOld", func(t *testing.T, s *Store) core.Renewal { return renewal(oldKey, 42, newKey) }},
		{"VersionZero", func(t *testing.T, s *Store) core.Renewal {
			mustCreate(t, s, oldKey, "a")
			return renewal(oldKey, 0, newKey)
		}},
		{"LiveNewKey", func(t *testing.T, s *Store) core.Renewal {
			v := mustCreate(t, s, oldKey, "a")
			mustCreate(t, s, newKey, "someone else")
			return renewal(oldKey, v, newKey)
		}},
		{"LiveNewKeyFiled", func(t *testing.T, s *Store) core.Renewal {
			v := mustSwapUser(t, s, oldKey, 0, "a", "ann", hour, hour)
			mustSwapUser(t, s, newKey, 0, "b", "bob", hour, hour)
			r := renewal(oldKey, v, newKey)
			r.User, r.Until = "ann", hour
			return r
		}},
		{"SameKey", func(t *testing.T, s *Store) core.Renewal {
			v := mustCreate(t, s, oldKey, "a")
			return renewal(oldKey, v, oldKey)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t, Config{CleanupInterval: -1})
			r := c.setup(t, s)
			before := dirState(t, s.dir)
			v, err := s.Renew(ctx, r)
			if !errors.Is(err, core.ErrConflict) || v != 0 {
				t.Errorf("Renew = %d, %v, want an error wrapping ErrConflict", v, err)
			} else if !strings.HasPrefix(err.Error(), "sessionkit: file: renew: ") {
				t.Errorf("Renew error %q lacks the operation prefix", err)
			}
			if d := diffState(before, dirState(t, s.dir)); d != "" {
				t.Errorf("a conflicting Renew changed the directory: %s (rule: a conflict changes nothing)", d)
			}
		})
	}
}

// TestRenewDeletesOld checks that Renew deletes the old record, its lock
// file and its index entry instead of retiring it when Retired is nil or
// RetiredExpiry is not in the future.
func TestRenewDeletesOld(t *testing.T) {
	ctx := context.Background()
	oldKey, newKey := testKey("old"), testKey("new")
	hour := time.Now().Add(time.Hour)
	for name, change := range map[string]func(*core.Renewal){
		"NilRetired":         func(r *core.Renewal) { r.Retired = nil },
		"PastRetiredExpiry":  func(r *core.Renewal) { r.RetiredExpiry = time.Now().Add(-time.Second) },
		"EmptyRetiredExpiry": func(r *core.Renewal) { r.RetiredExpiry = time.Time{} },
	} {
		t.Run(name, func(t *testing.T) {
			s := newStore(t, Config{CleanupInterval: -1})
			v := mustSwapUser(t, s, oldKey, 0, "a", "ann", hour, hour)
			r := renewal(oldKey, v, newKey)
			r.User, r.Until = "ann", hour
			change(&r)
			if _, err := s.Renew(ctx, r); err != nil {
				t.Fatalf("Renew = %v", err)
			}
			if _, found, err := s.Load(ctx, oldKey); found || err != nil {
				t.Errorf("Load(old) found = %v, %v, want not found (rule: no retired marker, the old record is deleted)", found, err)
			}
			for what, p := range map[string]string{"record": s.recordPath(oldKey), "lock file": s.lockPath(oldKey)} {
				if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("old %s after Renew deleted it: %v, want no such file", what, err)
				}
			}
			checkIndex(t, s, map[string][]string{"ann": {newKey}}, "after Renew")
		})
	}
}

// TestRenewUserFiling checks that Renew files the new key as
// CompareAndSwapUser would and takes the old key out of the index.
func TestRenewUserFiling(t *testing.T) {
	ctx := context.Background()
	hour, until := time.Now().Add(time.Hour), time.Now().Add(2*time.Hour)
	k := []string{testKey("k0"), testKey("k1"), testKey("k2"), testKey("k3"), testKey("k4")}
	s := newStore(t, Config{CleanupInterval: -1})
	renew := func(i int, v uint64, user string, until time.Time) uint64 {
		t.Helper()
		r := renewal(k[i], v, k[i+1])
		r.User, r.Until = user, until
		nv, err := s.Renew(ctx, r)
		if err != nil {
			t.Fatalf("Renew(k%d -> k%d, %q) = %v", i, i+1, user, err)
		}
		h, _, err := s.readHeader(k[i+1])
		if err != nil {
			t.Fatal(err)
		}
		if wantFiled := user != "" && until.After(time.Now()); h.filing.filed != wantFiled || wantFiled && (h.filing.user != userDigest(user) || h.filing.until != until.UnixNano()) {
			t.Errorf("k%d's header filing = %+v, want filed %v under %q until %v", i+1, h.filing, wantFiled, user, until)
		}
		return nv
	}
	v := mustSwapUser(t, s, k[0], 0, "a", "ann", hour, until)
	v = renew(0, v, "ann", until)
	checkIndex(t, s, map[string][]string{"ann": {k[1]}}, "ann's session renewed under ann")
	v = renew(1, v, "bob", until)
	checkIndex(t, s, map[string][]string{"ann": nil, "bob": {k[2]}}, "renewed from ann to bob")
	v = renew(2, v, "", until)
	checkIndex(t, s, map[string][]string{"bob": nil}, "renewed under no user")
	renew(3, v, "carol", time.Now().Add(-time.Second))
	checkIndex(t, s, map[string][]string{"carol": nil}, "renewed under a user with until past")
	// A record filed under a user and then renewed by an anonymous
	// session's Renew loses its entry with it.
	s2 := newStore(t, Config{CleanupInterval: -1})
	v = mustSwapUser(t, s2, k[0], 0, "a", "dan", hour, until)
	r := renewal(k[0], v, k[1])
	if _, err := s2.Renew(ctx, r); err != nil {
		t.Fatal(err)
	}
	checkIndex(t, s2, map[string][]string{"dan": nil}, "dan's record renewed under no user")
}

// TestRenewOverEndedNewKey checks that a record under the new key that
// is expired or corrupt does not stop Renew, and that the entry of an
// expired one filed under another user leaves the index with it.
func TestRenewOverEndedNewKey(t *testing.T) {
	ctx := context.Background()
	oldKey, newKey := testKey("old"), testKey("new")
	hour := time.Now().Add(time.Hour)
	for _, name := range []string{"Expired", "ExpiredFiledElsewhere", "ExpiredFiledSameUser", "Corrupt"} {
		t.Run(name, func(t *testing.T) {
			s := newStore(t, Config{CleanupInterval: -1})
			v := mustSwapUser(t, s, oldKey, 0, "a", "ann", hour, hour)
			soon := time.Now().Add(20 * time.Millisecond)
			switch name {
			case "Expired":
				mustSave(t, s, newKey, "junk", soon)
			case "ExpiredFiledElsewhere":
				mustSwapUser(t, s, newKey, 0, "junk", "eve", soon, hour)
			case "ExpiredFiledSameUser":
				mustSwapUser(t, s, newKey, 0, "junk", "ann", soon, hour)
			case "Corrupt":
				if err := os.WriteFile(s.recordPath(newKey), []byte("not a record"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(30 * time.Millisecond)
			r := renewal(oldKey, v, newKey)
			r.User, r.Until = "ann", hour
			nv, err := s.Renew(ctx, r)
			if err != nil {
				t.Fatalf("Renew over an ended record = %v, want success", err)
			}
			if rec, found, err := s.Load(ctx, newKey); err != nil || !found || rec.Version != nv || string(rec.Data) != "successor" {
				t.Errorf("Load(new) = %q v%d %v, %v, want the successor at v%d", rec.Data, rec.Version, found, err, nv)
			}
			if got := indexEntries(t, s); fmt.Sprint(got) != fmt.Sprint(wantIndex(map[string][]string{"ann": {newKey}})) {
				t.Errorf("index on disk = %v, want only the new key under ann", got)
			}
		})
	}
}

// TestRenewPastExpiry checks that a successor whose expiry is not in the
// future is not created (as CompareAndSwap would delete it) while the old
// record is still retired.
func TestRenewPastExpiry(t *testing.T) {
	s := newStore(t, Config{CleanupInterval: -1})
	ctx := context.Background()
	oldKey, newKey := testKey("old"), testKey("new")
	v := mustCreate(t, s, oldKey, "a")
	r := renewal(oldKey, v, newKey)
	r.Expiry, r.User, r.Until = time.Now().Add(-time.Second), "ann", time.Now().Add(time.Hour)
	if nv, err := s.Renew(ctx, r); err != nil || nv == 0 {
		t.Fatalf("Renew = %d, %v", nv, err)
	}
	if rec, found, _ := s.Load(ctx, oldKey); !found || string(rec.Data) != "retired" {
		t.Errorf("Load(old) = %q, %v, want the retired marker", rec.Data, found)
	}
	for _, p := range []string{s.recordPath(newKey), s.lockPath(newKey)} {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a file of the new key exists (%v), want none", err)
		}
	}
	checkIndex(t, s, map[string][]string{"ann": nil}, "after Renew to a past expiry")
}

// TestRenewFailedWriteChangesNothing makes the temporary files fail to
// write (a full disk): Renew returns the error and the directory is as it
// was.
func TestRenewFailedWriteChangesNothing(t *testing.T) {
	for _, n := range []int{0, 1 << 20} { // the new record's write fails; the marker's
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			s := newStore(t, Config{CleanupInterval: -1, Sync: true})
			ctx := context.Background()
			oldKey, newKey := testKey("old"), testKey("new")
			hour := time.Now().Add(time.Hour)
			v := mustSwapUser(t, s, oldKey, 0, "a", "ann", hour, hour)
			before := dirState(t, s.dir)
			budget := n
			s.writeHook = func(w io.Writer) io.Writer {
				fw := &failingWriter{w: w, n: budget, err: errors.New("disk full")}
				budget = 0
				return fw
			}
			r := renewal(oldKey, v, newKey)
			r.User, r.Until = "ann", hour
			if _, err := s.Renew(ctx, r); err == nil || errors.Is(err, core.ErrConflict) || !strings.Contains(err.Error(), "disk full") {
				t.Fatalf("Renew with failing writes = %v, want the write error", err)
			}
			if d := diffState(before, dirState(t, s.dir)); d != "" {
				t.Errorf("a Renew whose writes failed changed the directory: %s", d)
			}
		})
	}
}

// TestRenewRestoresOldWhenNewFails makes the second rename fail (a
// directory appears where the new record goes): Renew returns the error
// and writes the old record back as it was, filing included, and no
// entry of the new key is left.
func TestRenewRestoresOldWhenNewFails(t *testing.T) {
	s := newStore(t, Config{CleanupInterval: -1})
	ctx := context.Background()
	oldKey, newKey := testKey("old"), testKey("new")
	hour := time.Now().Add(time.Hour)
	v := mustSwapUser(t, s, oldKey, 0, "a", "ann", hour, hour)
	steps := 0
	s.renewHook = func() {
		if steps++; steps == 2 { // the old record retired: break the second rename
			if err := os.MkdirAll(filepath.Join(s.recordPath(newKey), "x"), 0o700); err != nil {
				t.Error(err)
			}
		}
	}
	r := renewal(oldKey, v, newKey)
	r.User, r.Until = "ann", hour
	if _, err := s.Renew(ctx, r); err == nil || errors.Is(err, core.ErrConflict) {
		t.Fatalf("Renew with the new record's rename failing = %v, want an error", err)
	} else if strings.Contains(err.Error(), newKey) || strings.Contains(err.Error(), oldKey) {
		t.Errorf("Renew error %q contains a store key", err)
	}
	if rec, found, err := s.Load(ctx, oldKey); err != nil || !found || rec.Version != v || string(rec.Data) != "a" {
		t.Errorf("Load(old) = %q v%d %v, %v; want %q v%d restored", rec.Data, rec.Version, found, err, "a", v)
	}
	if err := os.RemoveAll(s.recordPath(newKey)); err != nil {
		t.Fatal(err)
	}
	checkIndex(t, s, map[string][]string{"ann": {oldKey}}, "after a failed Renew")
	for _, name := range dirNames(t, s.dir) {
		if s.isTemp(name) {
			t.Errorf("temporary file %s left behind", name[:20])
		}
	}
}

// TestRenewCancelled checks that Renew honours a cancelled context and a
// deadline that ends while it waits for a lock.
func TestRenewCancelled(t *testing.T) {
	s := newStore(t, Config{CleanupInterval: -1})
	oldKey, newKey := testKey("old"), testKey("new")
	v := mustCreate(t, s, oldKey, "a")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Renew(ctx, renewal(oldKey, v, newKey)); !errors.Is(err, context.Canceled) {
		t.Errorf("Renew(cancelled) = %v, want context.Canceled", err)
	}
	other := newStore(t, Config{Dir: s.dir, CleanupInterval: -1})
	l, err := other.lock(context.Background(), newKey)
	if err != nil {
		t.Fatal(err)
	}
	defer l.unlock()
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Renew(ctx, renewal(oldKey, v, newKey)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Renew while another Store holds the new key's lock = %v, want DeadlineExceeded", err)
	}
	if rec, _, _ := s.Load(context.Background(), oldKey); rec.Version != v {
		t.Errorf("old record changed by a Renew that timed out")
	}
}

// TestConcurrentRenewsOneVersion runs many renews of one loaded version,
// over two Store values on one directory, to different new keys: exactly
// one wins, and only its new key holds a record or an index entry.
func TestConcurrentRenewsOneVersion(t *testing.T) {
	dir := t.TempDir()
	stores := []*Store{newStore(t, Config{Dir: dir, CleanupInterval: -1}), newStore(t, Config{Dir: dir, CleanupInterval: -1})}
	ctx := boundedContext(t, 2*time.Minute)
	hour := time.Now().Add(time.Hour)
	const rounds, renewers = 20, 12
	for round := range rounds {
		oldKey := testKey(fmt.Sprint("old", round))
		v := mustSwapUser(t, stores[0], oldKey, 0, "a", "ann", hour, hour)
		var wins atomic.Int32
		winner := make([]bool, renewers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range renewers {
			wg.Go(func() {
				r := renewal(oldKey, v, testKey(fmt.Sprint("new", round, ".", i)))
				r.User, r.Until = "ann", hour
				<-start
				_, err := stores[i%2].Renew(ctx, r)
				switch {
				case err == nil:
					wins.Add(1)
					winner[i] = true
				case !errors.Is(err, core.ErrConflict):
					t.Errorf("Renew = %v, want success or ErrConflict", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if n := wins.Load(); n != 1 {
			t.Fatalf("round %d: %d of %d renews of one version succeeded, want exactly 1", round, n, renewers)
		}
		for i := range renewers {
			_, err := os.Lstat(stores[0].recordPath(testKey(fmt.Sprint("new", round, ".", i))))
			if exists := err == nil; exists != winner[i] {
				t.Errorf("round %d: renewer %d won %v, its new record exists %v", round, i, winner[i], exists)
			}
		}
	}
	var want []string
	for round := range rounds {
		for i := range renewers {
			if _, found, _ := stores[0].Load(ctx, testKey(fmt.Sprint("new", round, ".", i))); found {
				want = append(want, testKey(fmt.Sprint("new", round, ".", i)))
			}
		}
	}
	checkIndex(t, stores[0], map[string][]string{"ann": want}, "after the races")
}

// TestRenewVersusCompareAndSwap races a Renew and a CompareAndSwap of the
// old record at the version both loaded, over two Store values: exactly
// one succeeds, and the directory shows that one's result.
func TestRenewVersusCompareAndSwap(t *testing.T) {
	dir := t.TempDir()
	a, b := newStore(t, Config{Dir: dir, CleanupInterval: -1}), newStore(t, Config{Dir: dir, CleanupInterval: -1})
	ctx := boundedContext(t, 2*time.Minute)
	renewed, swapped := 0, 0
	for round := range 100 {
		oldKey, newKey := testKey(fmt.Sprint("old", round)), testKey(fmt.Sprint("new", round))
		v := mustCreate(t, a, oldKey, "a")
		var renewErr, swapErr error
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { <-start; _, renewErr = a.Renew(ctx, renewal(oldKey, v, newKey)) })
		wg.Go(func() {
			<-start
			_, swapErr = b.CompareAndSwap(ctx, oldKey, v, []byte("write"), time.Now().Add(time.Hour))
		})
		close(start)
		wg.Wait()
		if err := checkRace(ctx, a, oldKey, newKey, renewErr, swapErr); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if renewErr == nil {
			renewed++
		} else {
			swapped++
		}
	}
	t.Logf("renew won %d, compare-and-swap won %d", renewed, swapped)
}

// TestRenewVersusCreate races a Renew to a new key with a
// CompareAndSwap that creates a record under that key (version zero),
// over two Store values: exactly one succeeds, as Renew must hold the new
// key's lock from its check to its write.
func TestRenewVersusCreate(t *testing.T) {
	dir := t.TempDir()
	a, b := newStore(t, Config{Dir: dir, CleanupInterval: -1}), newStore(t, Config{Dir: dir, CleanupInterval: -1})
	ctx := boundedContext(t, 2*time.Minute)
	for round := range 100 {
		oldKey, newKey := testKey(fmt.Sprint("old", round)), testKey(fmt.Sprint("new", round))
		v := mustCreate(t, a, oldKey, "a")
		var renewErr, createErr error
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { <-start; _, renewErr = a.Renew(ctx, renewal(oldKey, v, newKey)) })
		wg.Go(func() {
			<-start
			_, createErr = b.CompareAndSwap(ctx, newKey, 0, []byte("other"), time.Now().Add(time.Hour))
		})
		close(start)
		wg.Wait()
		if (renewErr == nil) == (createErr == nil) {
			t.Fatalf("round %d: Renew = %v, CompareAndSwap(create the new key) = %v, want exactly one success (rule: Renew creates only where no live record exists)", round, renewErr, createErr)
		}
		rec, _, err := a.Load(ctx, newKey)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]string{true: "successor", false: "other"}[renewErr == nil]; string(rec.Data) != want {
			t.Fatalf("round %d: new key holds %q, want the winner's %q", round, rec.Data, want)
		}
	}
}

// checkRace checks the outcome of one Renew (oldKey -> newKey) racing one
// CompareAndSwap of oldKey at the same version: exactly one succeeded and
// the records agree.
func checkRace(ctx context.Context, s *Store, oldKey, newKey string, renewErr, swapErr error) error {
	for _, err := range []error{renewErr, swapErr} {
		if err != nil && !errors.Is(err, core.ErrConflict) {
			return fmt.Errorf("unexpected error %w", err)
		}
	}
	if (renewErr == nil) == (swapErr == nil) {
		return fmt.Errorf("Renew = %v, CompareAndSwap = %v, want exactly one success (rule: a renew and a write of one version never both succeed)", renewErr, swapErr)
	}
	oldRec, _, err := s.Load(ctx, oldKey)
	if err != nil {
		return err
	}
	_, newFound, err := s.Load(ctx, newKey)
	if err != nil {
		return err
	}
	if renewErr == nil && (string(oldRec.Data) != "retired" || !newFound) {
		return fmt.Errorf("Renew won, but old holds %q and new found %v", oldRec.Data, newFound)
	}
	if swapErr == nil && (string(oldRec.Data) != "write" || newFound) {
		return fmt.Errorf("CompareAndSwap won, but old holds %q and new found %v", oldRec.Data, newFound)
	}
	return nil
}

// TestRenewLockOrder renews a session back and forth between two keys in
// both directions at once, over two Store values (each with its own key
// mutexes, so only the file locks order them), with keys whose mutexes
// live in one map of a Store's table (the same first eight hex digits)
// and in two: taking the locks in the order of the keys, no renew
// deadlocks.
func TestRenewLockOrder(t *testing.T) {
	for name, keys := range map[string][2]string{
		"OneMap":  {"ab000000" + strings.Repeat("1", 56), "ab000000" + strings.Repeat("2", 56)},
		"TwoMaps": {strings.Repeat("1", 64), strings.Repeat("2", 64)},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			stores := []*Store{newStore(t, Config{Dir: dir, CleanupInterval: -1}), newStore(t, Config{Dir: dir, CleanupInterval: -1})}
			mustCreate(t, stores[0], keys[0], "a")
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			var renews atomic.Int32
			for w := range 4 {
				wg.Go(func() {
					s := stores[w%2]
					from, to := keys[w%2], keys[1-w%2]
					for range 200 {
						rec, found, err := s.Load(ctx, from)
						if err != nil {
							t.Error(err)
							return
						}
						if !found {
							rec.Version = 1
						}
						r := renewal(from, rec.Version, to)
						r.Retired = nil // delete the old key, so the renew back can follow
						_, err = s.Renew(ctx, r)
						switch {
						case err == nil:
							renews.Add(1)
						case !errors.Is(err, core.ErrConflict):
							t.Errorf("Renew = %v (a deadlock ends with the context)", err)
							return
						}
					}
				})
			}
			wg.Wait()
			t.Logf("%d renews", renews.Load())
		})
	}
}

// renewCrashEnv names the directory and the step at which the child
// process of TestRenewCrash dies.
const renewCrashEnv = "SESSIONKIT_FILE_RENEW_CRASH"

// TestRenewCrash kills a process in the middle of Renew, at each step
// (this test binary re-executed, dying in the renew hook with both locks
// held) and checks what is left: never the old and the new token both
// live, never a filed record without its index entry, and the locks of
// the dead process do not block the next writer.
func TestRenewCrash(t *testing.T) {
	if env := os.Getenv(renewCrashEnv); env != "" {
		dir, step, _ := strings.Cut(env, ",")
		renewCrashChild(t, dir, step)
		return
	}
	ctx := context.Background()
	oldKey, newKey := testKey("old"), testKey("new")
	hour := time.Now().Add(time.Hour)
	for step := 1; step <= 3; step++ {
		// Step 1: both temporary files written and the new key's entry
		// made; step 2: between the two changes to the records; step 3:
		// after them, before the old entry's removal.
		t.Run(fmt.Sprint("step", int(step)), func(t *testing.T) {
			s := newStore(t, Config{CleanupInterval: -1, Sync: true})
			v := mustSwapUser(t, s, oldKey, 0, "a", "ann", hour, hour)
			cmd := childCommand(t, "TestRenewCrash")
			cmd.Env = append(os.Environ(), renewCrashEnv+"="+s.dir+","+strconv.Itoa(step))
			out, err := cmd.CombinedOutput()
			if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 3 {
				t.Fatalf("child = %v, want it to die with status 3 in Renew\n%s", err, out)
			}
			oldRec, oldLive, err := s.Load(ctx, oldKey)
			if err != nil {
				t.Fatal(err)
			}
			oldLive = oldLive && string(oldRec.Data) == "a"
			_, newLive, err := s.Load(ctx, newKey)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("crash at step %d: old session live %v, new live %v", step, oldLive, newLive)
			if oldLive && newLive {
				t.Errorf("crash at step %d left the old and the new token both live (rule: a crash may log out, never keep the old token)", step)
			}
			if step == 1 && (!oldLive || oldRec.Version != v) {
				t.Errorf("crash before any rename: old live %v at v%d, want unchanged at v%d", oldLive, oldRec.Version, v)
			}
			// Every filed record has its entry: the new one if it was
			// written, the old one if it survived.
			for key, live := range map[string]bool{oldKey: oldLive, newKey: newLive} {
				if _, err := os.Lstat(s.entryPath(userDigest("ann"), key)); live && err != nil {
					t.Errorf("a live filed record has no index entry (%v)", err)
				}
			}
			if _, err := s.UserKeys(ctx, "ann"); err != nil { // prunes what the crash left
				t.Fatal(err)
			}
			var want []string
			if oldLive {
				want = append(want, oldKey)
			}
			if newLive {
				want = append(want, newKey)
			}
			checkIndex(t, s, map[string][]string{"ann": want}, "after the crash and a UserKeys")
			// The dead process's locks are gone with it.
			lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if err := s.Delete(lctx, oldKey); err != nil {
				t.Errorf("Delete(old) after the crash = %v", err)
			}
			if err := s.Delete(lctx, newKey); err != nil {
				t.Errorf("Delete(new) after the crash = %v", err)
			}
		})
	}
}

// renewCrashChild renews the old key of TestRenewCrash and dies at step.
func renewCrashChild(t *testing.T, dir, step string) {
	n, err := strconv.Atoi(step)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Dir: dir, CleanupInterval: -1, Sync: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rec, found, err := s.Load(ctx, testKey("old"))
	if err != nil || !found {
		t.Fatalf("Load(old) = %v, %v", found, err)
	}
	steps := 0
	s.renewHook = func() {
		if steps++; steps == n {
			os.Exit(3)
		}
	}
	r := renewal(testKey("old"), rec.Version, testKey("new"))
	r.User, r.Until = "ann", time.Now().Add(time.Hour)
	_, err = s.Renew(ctx, r)
	t.Fatalf("Renew returned (%v) instead of dying at step %d", err, n)
}

// renewRaceEnv names the directory of TestCrossProcessRenewVersusCompareAndSwap's child.
const renewRaceEnv = "SESSIONKIT_FILE_RENEW_RACE"

// renewRaceRounds is how many records the two processes of
// TestCrossProcessRenewVersusCompareAndSwap race over.
func renewRaceRounds() int {
	if testing.Short() {
		return 100
	}
	return 400
}

// TestCrossProcessRenewVersusCompareAndSwap runs two OS processes (this
// test binary and itself re-executed) on one directory: for each of many
// records, both at the version the parent created it with, this process
// renews it while the child compare-and-swaps it. Never both succeed;
// exactly one does, and the records agree with it.
func TestCrossProcessRenewVersusCompareAndSwap(t *testing.T) {
	rounds := renewRaceRounds()
	if dir := os.Getenv(renewRaceEnv); dir != "" {
		renewRaceChild(t, dir, rounds)
		return
	}
	dir := t.TempDir()
	s := newStore(t, Config{Dir: dir, CleanupInterval: -1})
	ctx := context.Background()
	versions := make([]uint64, rounds)
	var list bytes.Buffer
	for i := range versions {
		versions[i] = mustCreate(t, s, testKey(fmt.Sprint("old", i)), "a")
		fmt.Fprintln(&list, versions[i])
	}
	if err := os.WriteFile(filepath.Join(dir, "versions"), list.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := childCommand(t, "TestCrossProcessRenewVersusCompareAndSwap", "-test.short="+strconv.FormatBool(testing.Short()))
	cmd.Env = append(os.Environ(), renewRaceEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The child prints "ready" once it has loaded the versions, then
	// one result per round; both processes then start at once.
	out := make(chan string, 1)
	ready := make(chan struct{})
	go func() {
		var all strings.Builder
		buf := make([]byte, 4096)
		signalled := false
		for {
			n, err := stdout.Read(buf)
			all.Write(buf[:n])
			if !signalled && strings.Contains(all.String(), "ready\n") {
				signalled = true
				close(ready)
			}
			if err != nil {
				if !signalled {
					close(ready)
				}
				out <- all.String()
				return
			}
		}
	}()
	<-ready
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	renewErrs := make([]error, rounds)
	for i := range rounds {
		_, renewErrs[i] = s.Renew(ctx, renewal(testKey(fmt.Sprint("old", i)), versions[i], testKey(fmt.Sprint("new", i))))
	}
	childOut := <-out
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child process: %v\n%s", err, childOut)
	}
	swapErrs := make([]error, rounds)
	seen := 0
	for _, line := range strings.Split(childOut, "\n") {
		rest, ok := strings.CutPrefix(line, "swap ")
		if !ok {
			continue
		}
		is, res, _ := strings.Cut(rest, " ")
		i, err := strconv.Atoi(is)
		if err != nil || i < 0 || i >= rounds {
			t.Fatalf("child line %q", line)
		}
		seen++
		switch res {
		case "ok":
		case "conflict":
			swapErrs[i] = core.ErrConflict
		default:
			swapErrs[i] = errors.New(res)
		}
	}
	if seen != rounds {
		t.Fatalf("child reported %d rounds, want %d\n%s", seen, rounds, childOut)
	}
	renewed := 0
	for i := range rounds {
		if err := checkRace(ctx, s, testKey(fmt.Sprint("old", i)), testKey(fmt.Sprint("new", i)), renewErrs[i], swapErrs[i]); err != nil {
			t.Errorf("record %d: %v", i, err)
		}
		if renewErrs[i] == nil {
			renewed++
		}
	}
	t.Logf("renew won %d of %d, the other process's compare-and-swap %d", renewed, rounds, rounds-renewed)
}

// renewRaceChild compare-and-swaps every record of
// TestCrossProcessRenewVersusCompareAndSwap at the parent's version, once
// the parent says go, and prints each result.
func renewRaceChild(t *testing.T, dir string, rounds int) {
	s, err := New(Config{Dir: dir, CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "versions"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(b))
	if len(lines) != rounds {
		t.Fatalf("%d versions, want %d", len(lines), rounds)
	}
	fmt.Println("ready")
	ctx := boundedContext(t, 2*time.Minute)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go")); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the parent did not say go within 2 minutes")
		}
		time.Sleep(100 * time.Microsecond)
	}
	for i, l := range lines {
		v, err := strconv.ParseUint(l, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.CompareAndSwap(ctx, testKey(fmt.Sprint("old", i)), v, []byte("write"), time.Now().Add(time.Hour))
		switch {
		case err == nil:
			fmt.Printf("swap %d ok\n", i)
		case errors.Is(err, core.ErrConflict):
			fmt.Printf("swap %d conflict\n", i)
		default:
			fmt.Printf("swap %d %s\n", i, strings.ReplaceAll(err.Error(), " ", "_"))
		}
	}
}

// TestRenewThroughManager logs a session in through a core.Manager on the
// file store: the request costs a Load and one Renew (no compare-and-swap
// of either key), files the new key under the user, and the old cookie
// no longer loads the session.
func TestRenewThroughManager(t *testing.T) {
	s := newStore(t, Config{CleanupInterval: -1})
	var mu sync.Mutex
	var ops []core.StoreOp
	ws := core.WrapStore(s, core.StoreWrapper{Around: func(ctx context.Context, c core.StoreCall, next func(context.Context) error) error {
		mu.Lock()
		ops = append(ops, c.Op)
		mu.Unlock()
		return next(ctx)
	}})
	m, err := core.New(core.Config{Store: ws})
	if err != nil {
		t.Fatal(err)
	}
	anon, err := processRequest(m, "", func(s *core.Session) { s.Set("cart", 3) })
	if err != nil || anon == "" {
		t.Fatalf("new session: cookie %q, %v", anon, err)
	}
	mu.Lock()
	ops = nil
	mu.Unlock()
	login, err := processRequest(m, anon, func(s *core.Session) { s.Renew(); s.SetUser("ann") })
	if err != nil || login == "" || login == anon {
		t.Fatalf("login: cookie %q, %v", login, err)
	}
	mu.Lock()
	got := fmt.Sprint(ops)
	mu.Unlock()
	if want := fmt.Sprint([]core.StoreOp{core.OpLoad, core.OpRenew}); got != want {
		t.Errorf("login request's store calls = %s, want %s", got, want)
	}
	_, token, _ := strings.Cut(login, "=")
	keys, err := s.UserKeys(context.Background(), "ann")
	if err != nil || len(keys) != 1 || keys[0] != core.StoreKey(token) {
		t.Errorf("UserKeys(ann) = %d keys, %v; want the logged-in session's key only", len(keys), err)
	}
	if _, err := processRequest(m, anon, func(s *core.Session) {
		if _, ok := s.Get("cart"); ok {
			t.Error("the pre-login cookie still loads the session")
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := processRequest(m, login, func(s *core.Session) {
		if v, _ := s.Get("cart"); v != 3 || s.User() != "ann" {
			t.Errorf("after the login: cart %v, user %q; want 3 and ann", v, s.User())
		}
	}); err != nil {
		t.Fatal(err)
	}
}
