package file

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// increment adds one to the decimal counter stored under key with a
// load / compare-and-swap / retry loop, the way the core commits.
func increment(ctx context.Context, s *Store, key string) error {
	for {
		rec, ok, err := s.Load(ctx, key)
		if err != nil {
			return err
		}
		n, version := 0, uint64(0)
		if ok {
			if n, err = strconv.Atoi(string(rec.Data)); err != nil {
				return fmt.Errorf("record %q: %w", rec.Data, err)
			}
			version = rec.Version
		}
		_, err = s.CompareAndSwap(ctx, key, version, []byte(strconv.Itoa(n+1)), time.Now().Add(time.Hour))
		if errors.Is(err, core.ErrConflict) {
			continue
		}
		return err
	}
}

func TestConcurrentCompareAndSwapLosesNoIncrement(t *testing.T) {
	dir := t.TempDir()
	stores := []*Store{newStore(t, Config{Dir: dir}), newStore(t, Config{Dir: dir})}
	key := testKey("counter")
	ctx := boundedContext(t, 2*time.Minute)
	const workers, perWorker = 8, 25
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			s := stores[w%len(stores)]
			for range perWorker {
				if err := increment(ctx, s, key); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got, want := loadData(t, stores[0], key), strconv.Itoa(workers*perWorker); got != want {
		t.Errorf("counter = %s after %d increments, want %s", got, workers*perWorker, want)
	}
}

// TestCrossProcessCompareAndSwap runs the increment loop in child processes
// (this test binary re-executed) on one directory, so the flock-based lock
// is exercised across processes and not only across Store values.
func TestCrossProcessCompareAndSwap(t *testing.T) {
	if dir := os.Getenv("SESSIONKIT_FILE_CHILD_DIR"); dir != "" {
		childIncrement(t, dir)
		return
	}
	dir := t.TempDir()
	const children, perChild = 3, 30
	var wg sync.WaitGroup
	for range children {
		wg.Go(func() {
			cmd := childCommand(t, "TestCrossProcessCompareAndSwap")
			cmd.Env = append(os.Environ(), "SESSIONKIT_FILE_CHILD_DIR="+dir, "SESSIONKIT_FILE_CHILD_N="+strconv.Itoa(perChild))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("child process: %v\n%s", err, out)
			}
		})
	}
	s := newStore(t, Config{Dir: dir})
	ctx := boundedContext(t, 2*time.Minute)
	for range perChild {
		if err := increment(ctx, s, testKey("counter")); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if got, want := loadData(t, s, testKey("counter")), strconv.Itoa((children+1)*perChild); got != want {
		t.Errorf("counter = %s after increments from %d processes, want %s", got, children+1, want)
	}
}

func childIncrement(t *testing.T, dir string) {
	n, err := strconv.Atoi(os.Getenv("SESSIONKIT_FILE_CHILD_N"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx := boundedContext(t, 2*time.Minute)
	for range n {
		if err := increment(ctx, s, testKey("counter")); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDeleteWinsOverConcurrentWriters checks that once a Delete has
// returned, no CompareAndSwap based on a version loaded before it can
// bring the record back (the "never revive a destroyed session" rule), while
// Deletes keep removing the lock file underneath the writers.
func TestDeleteWinsOverConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	a, b := newStore(t, Config{Dir: dir}), newStore(t, Config{Dir: dir})
	ctx := boundedContext(t, 2*time.Minute)
	for i := range 30 {
		key := testKey(fmt.Sprint("k", i))
		v, err := a.CompareAndSwap(ctx, key, 0, []byte("x"), time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := range 4 {
			wg.Go(func() {
				<-start
				s := []*Store{a, b}[w%2]
				_, err := s.CompareAndSwap(ctx, key, v, []byte("y"), time.Now().Add(time.Hour))
				if err != nil && !errors.Is(err, core.ErrConflict) {
					t.Error(err)
				}
			})
		}
		close(start)
		if err := b.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if _, err := a.CompareAndSwap(ctx, key, v, []byte("z"), time.Now().Add(time.Hour)); !errors.Is(err, core.ErrConflict) {
			t.Fatalf("CompareAndSwap with the pre-delete version after Delete = %v, want ErrConflict", err)
		}
		// Every writer used version v, so at most one succeeded: either
		// before the Delete, which then removed its write, or not at all.
		if got := loadData(t, a, key); got != "<none>" {
			t.Fatalf("round %d: Load after Delete = %q, want not found", i, got)
		}
	}
}

func TestConcurrentMixedOperations(t *testing.T) {
	dir := t.TempDir()
	a, b := newStore(t, Config{Dir: dir}), newStore(t, Config{Dir: dir})
	ctx := boundedContext(t, 2*time.Minute)
	keys := []string{testKey("1"), testKey("2"), testKey("3")}
	var wg sync.WaitGroup
	deadline := time.Now().Add(200 * time.Millisecond)
	for w := range 6 {
		wg.Go(func() {
			s := []*Store{a, b}[w%2]
			for i := 0; time.Now().Before(deadline); i++ {
				key := keys[(w+i)%len(keys)]
				var err error
				switch i % 5 {
				case 0:
					err = s.Save(ctx, key, []byte("data"), time.Now().Add(time.Hour))
				case 1:
					_, _, err = s.Load(ctx, key)
				case 2:
					if err = s.Touch(ctx, key, time.Now().Add(time.Hour)); errors.Is(err, core.ErrNotFound) {
						err = nil // deleted by another goroutine: reported, not a failure
					}
				case 3:
					err = s.Delete(ctx, key)
				case 4:
					_, err = s.DeleteExpired(ctx)
				}
				if err != nil {
					t.Errorf("op %d: %v", i%5, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, key := range keys {
		if got := loadData(t, a, key); got != "<none>" && got != "data" {
			t.Errorf("Load = %q after concurrent operations, want not found or %q", got, "data")
		}
	}
}
