package file

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestJanitorRunsByDefault: a Store built from the zero Config cleans up
// after itself, every DefaultCleanupInterval, until Close.
func TestJanitorRunsByDefault(t *testing.T) {
	s := newStore(t, Config{})
	if !s.janitor.Running() {
		t.Fatal("New(Config{}) started no janitor: expired sessions would pile up forever")
	}
	if DefaultCleanupInterval != 5*time.Minute {
		t.Errorf("DefaultCleanupInterval = %v, want 5m as documented", DefaultCleanupInterval)
	}
	s.Close()
	if s.janitor.Running() {
		t.Error("the janitor runs on after Close")
	}
}

// writeExpired creates key's record, expired, through the store's own
// write path, so that it leaves what a real session leaves: the record file
// and its lock file.
func writeExpired(t testing.TB, s *Store, key string) {
	l, err := s.lock(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer l.unlock()
	if _, err := s.write(key, 0, []byte("expired session"), time.Now().Add(-time.Minute).UnixNano(), filing{}); err != nil {
		t.Fatal(err)
	}
}

// TestCleanupPassRemovesEverythingExpired reproduces issue 10: after 30 000
// sessions expired (3 000 in -short mode), one cleanup pass by the janitor
// leaves no session file, no lock file and no stale temporary file, and
// does not touch live sessions or a temporary file being written.
func TestCleanupPassRemovesEverythingExpired(t *testing.T) {
	n := 30000
	if testing.Short() {
		n = 3000
	}
	dir := t.TempDir()
	setup := newStore(t, Config{Dir: dir, CleanupInterval: -1})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				writeExpired(t, setup, testKey(fmt.Sprint("expired", i)))
			}
		})
	}
	wg.Wait()
	live := []string{testKey("live 1"), testKey("live 2")}
	for _, k := range live {
		mustSave(t, setup, k, "live", time.Now().Add(time.Hour))
	}
	// What crashed writers left behind, more than a minute ago.
	old := time.Now().Add(-90 * time.Second)
	for i := range 17 {
		p := filepath.Join(dir, fmt.Sprintf(".sess-%s.%d.tmp", testKey(fmt.Sprint("crashed", i)), i))
		if err := os.WriteFile(p, []byte("half a record"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	writing := fmt.Sprintf(".sess-%s.1.tmp", testKey("being written"))
	if err := os.WriteFile(filepath.Join(dir, writing), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// A writer still busy with it: its file must stay younger than
	// staleTemp however long the sweep of 2n files takes on a loaded
	// machine (it once took over a minute in a parallel make test, and
	// the janitor rightly removed the file as stale).
	if fresh := time.Now().Add(10 * time.Minute); os.Chtimes(filepath.Join(dir, writing), fresh, fresh) != nil {
		t.Fatal("cannot set the modification time of the file being written")
	}
	if got := len(dirNames(t, dir)); got != 2*n+2*len(live)+17+1 {
		t.Fatalf("setup left %d files, want %d", got, 2*n+2*len(live)+18)
	}

	// The janitor of a second store on the directory, as after a restart.
	s := newStore(t, Config{Dir: dir, CleanupInterval: time.Millisecond})
	want := []string{writing, "sess-" + live[0], "sess-" + live[0] + ".lock", "sess-" + live[1], "sess-" + live[1] + ".lock"}
	// A sweep of 2n files takes seconds, over a minute in a loaded make
	// test; a janitor that stops sweeping fails the test instead of
	// hanging it.
	deadline := time.Now().Add(5 * time.Minute)
	for {
		got := dirNames(t, dir)
		if len(got) <= len(want) {
			if strings.Join(sorted(got), " ") != strings.Join(sorted(want), " ") {
				t.Fatalf("after cleanup the directory holds %v, want %v", got, want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the janitor has not finished its sweep after 5 minutes: %d files left, want %d", len(got), len(want))
		}
		time.Sleep(10 * time.Millisecond) // the janitor is still sweeping
	}
	s.Close()
	for _, k := range live {
		if got := loadData(t, s, k); got != "live" {
			t.Errorf("live session after cleanup = %q, want %q", got, "live")
		}
	}
}

// sorted returns a sorted copy of names.
func sorted(names []string) []string {
	out := append([]string(nil), names...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestCleanupKeepsLocking runs DeleteExpired over and over, through a third
// Store value, while writers on two Store values (as two processes would
// be, so only the file lock excludes them) take the locks of keys whose
// records they leave expired: the sweeper keeps removing those records and
// their lock files under the writers, and no two writers may ever hold one
// key's lock at once. Counters incremented meanwhile lose nothing.
func TestCleanupKeepsLocking(t *testing.T) {
	dir := t.TempDir()
	a := newStore(t, Config{Dir: dir, CleanupInterval: -1})
	b := newStore(t, Config{Dir: dir, CleanupInterval: -1})
	sweeper := newStore(t, Config{Dir: dir, CleanupInterval: -1})
	ctx := boundedContext(t, 2*time.Minute)
	writers, rounds := 8, 200
	if testing.Short() {
		rounds = 50
	}
	counter := testKey("counter")
	expiring := []string{testKey("expiring 0"), testKey("expiring 1")}
	var inside [2]atomic.Int32
	stop := make(chan struct{})
	var sweeps sync.WaitGroup
	var swept atomic.Int64
	sweeps.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			n, err := sweeper.DeleteExpired(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			swept.Add(int64(n))
		}
	})
	var wg sync.WaitGroup
	for w := range writers {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Go(func() {
			for r := range rounds {
				if err := increment(ctx, s, counter); err != nil {
					t.Error(err)
					return
				}
				i := r % 2
				l, err := s.lock(ctx, expiring[i])
				if err != nil {
					t.Error(err)
					return
				}
				if n := inside[i].Add(1); n != 1 {
					t.Errorf("%d writers hold one key's lock at once: lock file removal broke exclusion", n)
				}
				_, err = s.write(expiring[i], 0, []byte("expired"), time.Now().Add(-time.Second).UnixNano(), filing{})
				inside[i].Add(-1)
				l.unlock()
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	sweeps.Wait()
	t.Logf("the sweeper removed %d expired records under the writers", swept.Load())
	if got, want := loadData(t, a, counter), fmt.Sprint(writers*rounds); got != want {
		t.Errorf("counter = %s, want %s: an increment was lost while the sweeper removed lock files", got, want)
	}
}

// TestSweepLockLeavesABusyKeyOnce: a cleanup pass waits for a held key's
// lock once, for its wait; when the pass meets the key again (its record,
// then its user-index entry) it leaves it at once. A caller's context
// that ends during the wait is that context's error, not errLockBusy.
func TestSweepLockLeavesABusyKeyOnce(t *testing.T) {
	s := newStore(t, Config{CleanupInterval: -1})
	key := testKey("held")
	l, err := s.lock(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer l.unlock()

	const wait = time.Second
	w := &sweep{wait: wait}
	start := time.Now()
	if _, err := w.lock(context.Background(), s, key); !errors.Is(err, errLockBusy) {
		t.Fatalf("first lock of a held key = %v, want errLockBusy", err)
	}
	if d := time.Since(start); d < wait {
		t.Errorf("first lock of a held key gave up after %v, want the sweep's wait, %v", d, wait)
	}
	start = time.Now()
	if _, err := w.lock(context.Background(), s, key); !errors.Is(err, errLockBusy) {
		t.Fatalf("second lock of the key the pass left = %v, want errLockBusy", err)
	}
	if d := time.Since(start); d >= wait/2 {
		t.Errorf("second lock of the key the pass left took %v, want no second wait (the first was %v)", d, wait)
	}
	if len(w.busy) != 1 {
		t.Errorf("the pass counts %d keys left, want 1", len(w.busy))
	}

	ctx, cancel := context.WithTimeout(context.Background(), wait/10)
	defer cancel()
	w = &sweep{wait: wait}
	if _, err := w.lock(ctx, s, key); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errLockBusy) {
		t.Errorf("lock of a held key whose caller's context ends first = %v, want the context's error, not errLockBusy", err)
	}
	if len(w.busy) != 0 {
		t.Errorf("a key given up on for the caller's context counts as left: %d", len(w.busy))
	}
}
