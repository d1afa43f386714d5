package main

import (
	"runtime"
	"runtime/debug"
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
