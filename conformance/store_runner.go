package conformance

import (
	"runtime"
	"sync"
	"testing"
)

// storeRunner runs the subtests of one TestStoreWithOptions call: one
// after another (the default), or, when the store declared
// StoreOptions.Parallel, each in its own goroutine with at most limit
// checks running at once, the slow checks (those that wait for expiry)
// first so that their waits overlap with the rest.
type storeRunner struct {
	parallel bool
	slots    *storeSlots
}

// newStoreRunner returns the runner for opts.
func newStoreRunner(opts StoreOptions) *storeRunner {
	r := &storeRunner{parallel: opts.Parallel}
	if r.parallel {
		r.slots = &storeSlots{free: storeParallelChecks()}
	}
	return r
}

// storeParallelChecks is how many checks of a Parallel store run at once:
// four per processor, at least eight, since most of them wait (on expiry,
// on a server, on the disk) rather than compute.
func storeParallelChecks() int {
	return max(8, 4*runtime.GOMAXPROCS(0))
}

// storeRuns is a set of sibling subtests of one parent test; wait returns
// when all of them have finished.
type storeRuns struct {
	r  *storeRunner
	wg sync.WaitGroup
}

// runs returns an empty set of subtests.
func (r *storeRunner) runs() *storeRuns { return &storeRuns{r: r} }

// group runs f as the subtest name of t. f's own subtests go through the
// runner too; a group holds no slot, so groups never wait for each other.
func (s *storeRuns) group(t *testing.T, name string, f func(t *testing.T)) {
	t.Helper()
	if !s.r.parallel {
		t.Run(name, f)
		return
	}
	s.wg.Go(func() { t.Run(name, f) })
}

// check runs f as the subtest name of t, holding one of the runner's
// slots while it runs. slow checks get the free slots first.
func (s *storeRuns) check(t *testing.T, name string, slow bool, f func(t *testing.T)) {
	t.Helper()
	if !s.r.parallel {
		t.Run(name, f)
		return
	}
	s.wg.Go(func() {
		s.r.slots.acquire(slow)
		defer s.r.slots.release()
		t.Run(name, f)
	})
}

// wait returns when every subtest started through s has finished. The
// testing package requires it before the parent's function returns.
func (s *storeRuns) wait() { s.wg.Wait() }

// storeSlots is a counting semaphore that serves the waiting slow checks
// before the others.
type storeSlots struct {
	mu      sync.Mutex
	free    int
	waiting [2][]chan struct{} // [0]: slow checks, [1]: the others
}

func (s *storeSlots) acquire(slow bool) {
	s.mu.Lock()
	if s.free > 0 {
		s.free--
		s.mu.Unlock()
		return
	}
	i := 1
	if slow {
		i = 0
	}
	ch := make(chan struct{})
	s.waiting[i] = append(s.waiting[i], ch)
	s.mu.Unlock()
	<-ch // the slot passes from the releasing check to this one
}

func (s *storeSlots) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, q := range s.waiting {
		if len(q) > 0 {
			close(q[0])
			s.waiting[i] = q[1:]
			return
		}
	}
	s.free++
}
