package main

import (
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"slices"
	"testing"
	"time"
)

// TestLoadStartsWithCollection: every load of a round starts with a
// garbage collection of its own, before its measured time, so that the
// collections during a load are the ones its own allocations start
// (automatic collection is off here: only run's own can count).
func TestLoadStartsWithCollection(t *testing.T) {
	s, err := start("nethttp", kindBare)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	l := newLoader(s, "untouched", 2)
	defer l.close()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	var before, after runtime.MemStats
	for range 3 {
		runtime.ReadMemStats(&before)
		r := l.run(time.Millisecond, 5*time.Millisecond)
		runtime.ReadMemStats(&after)
		if len(r.lat) == 0 {
			t.Fatal("the load measured no request")
		}
		if n := after.NumGC - before.NumGC; n != 1 {
			t.Fatalf("%d collections during a load with automatic collection off, want 1 (its own, at the start)", n)
		}
		if last := int64(after.LastGC); last >= r.from.UnixNano() {
			t.Fatalf("the load's collection ended %v after its measured time began, want before", time.Duration(last-r.from.UnixNano()))
		}
		// The measured time runs until the requests in flight at the end
		// have ended: always past the 5ms asked for.
		if r.d <= 5*time.Millisecond || r.rps != float64(len(r.lat))/r.d.Seconds() {
			t.Fatalf("measured %v, %.0f req/s for %d requests; want more than the 5ms asked for (until the requests in flight ended), and the rate over it", r.d, r.rps, len(r.lat))
		}
	}
}

// TestMedianInterval: the interval is the order statistics the binomial
// tables give (of 9 values the 2nd and 8th smallest, of 39 the 13th and
// 27th, of 100 the 40th and 61st), the whole range of six values or
// fewer, and it holds the true median of what it samples at least 95% of
// the time.
func TestMedianInterval(t *testing.T) {
	seq := func(n int) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = float64(i + 1) // s[i] is the (i+1)th smallest
		}
		return s
	}
	for _, c := range []struct{ n, lo, hi int }{{1, 1, 1}, {5, 1, 5}, {6, 1, 6}, {9, 2, 8}, {39, 13, 27}, {100, 40, 61}} {
		if lo, hi := medianInterval(seq(c.n)); lo != float64(c.lo) || hi != float64(c.hi) {
			t.Errorf("the interval of 1, 2, …, %d is %v to %v, want %d to %d", c.n, lo, hi, c.lo, c.hi)
		}
	}
	if lo, hi := medianInterval(nil); lo != 0 || hi != 0 {
		t.Errorf("no values: %v to %v, want 0 to 0", lo, hi)
	}
	// Coverage: 39 draws of an exponential distribution (skewed, as
	// round ratios are), whose median is ln 2; the 13th to 27th of 39
	// hold it with probability 1 - 2 P(B ≤ 12) = 97.6%.
	rng := rand.New(rand.NewPCG(1, 2))
	const trials = 4000
	held := 0
	for range trials {
		s := make([]float64, 39)
		for i := range s {
			s[i] = rng.ExpFloat64()
		}
		slices.Sort(s)
		if lo, hi := medianInterval(s); lo <= math.Ln2 && math.Ln2 <= hi {
			held++
		}
	}
	if p := float64(held) / trials; p < 0.96 || p > 0.99 {
		t.Errorf("the interval held the median in %.1f%% of %d samples, want about 97.6%%", 100*p, trials)
	}
}
