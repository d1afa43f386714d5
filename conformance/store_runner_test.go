package conformance

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// TestStoreOnMemory runs the whole suite, slow checks included, through the
// public entry point against the reference store, and requires the
// default to run every check, one at a time.
func TestStoreOnMemory(t *testing.T) {
	rec := newCheckRecorder(t)
	TestStore(t, rec.newStore)
	rec.requireEveryCheck(t, StoreOptions{})
	if n := rec.maxConcurrent(); n != 1 {
		t.Errorf("%d checks ran at once without StoreOptions.Parallel, want 1 (a store that did not opt in may not be safe for parallel use)", n)
	}
}

// TestStoreOnMemoryParallel runs the whole suite with StoreOptions.Parallel
// and requires the same checks as without it, several at a time, the
// Wrapped ones alongside the unwrapped ones, and no more at once than the
// limit.
func TestStoreOnMemoryParallel(t *testing.T) {
	rec := newCheckRecorder(t)
	opts := StoreOptions{Parallel: true}
	TestStoreWithOptions(t, rec.newStore, opts)
	rec.requireEveryCheck(t, opts)
	if n, limit := rec.maxConcurrent(), storeParallelChecks(); n < 2 || n > limit {
		t.Errorf("%d checks ran at once with StoreOptions.Parallel, want 2 to %d", n, limit)
	}
	if !rec.wrappedOverlapped() {
		t.Errorf("no Wrapped check ran at the same time as an unwrapped group's check with StoreOptions.Parallel, want the Wrapped group alongside the others")
	}
}

// checkRecorder makes memory stores for the suite and records, for each
// store made in a check's subtest, the subtest's name (without the top
// test's) and the time from newStore to the end of the subtest.
type checkRecorder struct {
	top  string
	mu   sync.Mutex
	runs []checkRun
}

type checkRun struct {
	name       string
	start, end time.Time
}

func newCheckRecorder(t *testing.T) *checkRecorder {
	return &checkRecorder{top: t.Name() + "/"}
}

func (r *checkRecorder) newStore(t *testing.T) core.Store {
	s := memory.New(memory.Config{})
	start := time.Now()
	name, ok := strings.CutPrefix(t.Name(), r.top)
	t.Cleanup(func() {
		_ = s.Close()
		if !ok || name == "Wrapped" {
			return // the suite's probes, not checks
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.runs = append(r.runs, checkRun{name: name, start: start, end: time.Now()})
	})
	return s
}

// requireEveryCheck requires one store made in every check that applies
// to a memory store under opts, unwrapped and wrapped, and in no other
// subtest.
func (r *checkRecorder) requireEveryCheck(t *testing.T, opts StoreOptions) {
	t.Helper()
	want := []string{"Health", "Observed"}
	for _, g := range storeGroups {
		if g.supported != nil && !g.supported(memory.New(memory.Config{CleanupInterval: -1})) {
			continue
		}
		for _, c := range g.checks {
			if (c.applies != nil && !c.applies(opts)) || (c.slow && testing.Short()) {
				continue
			}
			want = append(want, g.name+"/"+c.name, "Wrapped/"+g.name+"/"+c.name)
		}
	}
	var got []string
	for _, run := range r.runs {
		got = append(got, run.name)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("stores made in subtests %q,\nwant one in each of %q", got, want)
	}
}

// maxConcurrent returns the largest number of checks that ran at once.
func (r *checkRecorder) maxConcurrent() int {
	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for _, run := range r.runs {
		edges = append(edges, edge{run.start, 1}, edge{run.end, -1})
	}
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.delta - b.delta // an end before a start at the same instant
	})
	n, most := 0, 0
	for _, e := range edges {
		n += e.delta
		most = max(most, n)
	}
	return most
}

// wrappedOverlapped reports whether a Wrapped check ran at the same time
// as an unwrapped check of a group.
func (r *checkRecorder) wrappedOverlapped() bool {
	for _, a := range r.runs {
		for _, b := range r.runs {
			if strings.HasPrefix(a.name, "Wrapped/") && !strings.HasPrefix(b.name, "Wrapped/") && strings.Contains(b.name, "/") &&
				a.start.Before(b.end) && b.start.Before(a.end) {
				return true
			}
		}
	}
	return false
}
