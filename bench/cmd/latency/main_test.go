package main

import (
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
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
		r := l.run(20*time.Millisecond, 50*time.Millisecond)
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
// tables give (of 6 values the whole range, of 9 the 2nd and 8th
// smallest, of 39 the 13th and 27th, of 100 the 40th and 61st), none of
// fewer than six (no pair of them holds the median 95% of the time), and
// it holds the true median of what it samples at least 95% of the time.
func TestMedianInterval(t *testing.T) {
	seq := func(n int) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = float64(i + 1) // s[i] is the (i+1)th smallest
		}
		return s
	}
	for _, c := range []struct{ n, lo, hi int }{{1, 0, 0}, {5, 0, 0}, {6, 1, 6}, {9, 2, 8}, {39, 13, 27}, {100, 40, 61}} {
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

// TestSummarize: each round gives sessionkit's p99 over bare's, the
// floor's over bare's and sessionkit's over the floor's, each list
// sorted, and a case's line carries their medians and intervals in the
// columns the report reads.
func TestSummarize(t *testing.T) {
	// Nine rounds: bare 100 µs throughout; the floor 100+10i; sessionkit
	// 200-10i (so its ratio to the floor falls as the floor's rises).
	var rounds [][3]float64
	for i := range 9 {
		rounds = append(rounds, [3]float64{100, float64(100 + 10*i), float64(200 - 10*i)})
	}
	r := summarize(rounds)
	for name, c := range map[string]struct {
		got      []float64
		min, max float64
	}{
		"sessionkit to bare":  {r.sess, 1.2, 2},
		"floor to bare":       {r.floor, 1, 1.8},
		"sessionkit to floor": {r.vs, 120.0 / 180, 2},
	} {
		if len(c.got) != 9 || !slices.IsSorted(c.got) || c.got[0] != c.min || c.got[8] != c.max {
			t.Errorf("%s: %v, want 9 sorted ratios from %v to %v", name, c.got, c.min, c.max)
		}
	}
	// Pooled latencies: bare 1 to 100 µs (p50 51, p99 100), the floor and
	// sessionkit the same times 1.4 and 1.6.
	var pooled [3]result
	for j, f := range []float64{1, 1.4, 1.6} {
		for i := 1; i <= 100; i++ {
			pooled[j].lat = append(pooled[j].lat, time.Duration(f*float64(i)*float64(time.Microsecond)))
		}
		pooled[j].rps = 1000 + float64(j)
	}
	f := strings.Split(line("gin", "read", 64, pooled, r), "\t")
	want := map[int]string{
		0: "gin", 1: "read", 2: "64", 3: "51", 4: "100", 5: "82", 6: "160", 7: "1000", 8: "1002", // p50s and p99s of bare and sessionkit
		9: "1.600", 10: "1.200", 11: "2.000", 12: "9", // sessionkit to bare: median, least, greatest, rounds
		13: "71", 14: "140", 15: "1001", 16: "1.400", 17: "1.000", 18: "1.800", // the floor
		19: "1.3000", 20: "1.9000", 21: "1.1000", 22: "1.7000", // the intervals: 2nd and 8th of 9
		23: "1.1429", 24: "0.7647", 25: "1.7273", // sessionkit to the floor: 160/140, 130/170, 190/110
	}
	if len(f) != 26 {
		t.Fatalf("%d columns, want 26: %q", len(f), f)
	}
	for i, w := range want {
		if f[i] != w {
			t.Errorf("column %d = %q, want %q (line %q)", i+1, f[i], w, f)
		}
	}
}
