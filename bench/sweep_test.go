package bench

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// sweepResult is one run of the memory store's peak-and-sweep measurement.
type sweepResult struct {
	before, peak, after uint64        // live heap, bytes
	sweep               time.Duration // DeleteExpired's run time
	stall, idleStall    time.Duration // longest Load during the sweep and GC, and with nothing else going on
	gcPause             time.Duration // longest stop-the-world pause in that window
}

// sweepKey returns the store key of session i.
func sweepKey(i int) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	sum := sha256.Sum256(b[:])
	return hex.EncodeToString(sum[:])
}

// encodedSession returns the record a ten-value session of the scenarios
// is stored as, by storing one through the middleware.
func encodedSession(tb testing.TB) []byte {
	st := memory.New(memory.Config{CleanupInterval: -1})
	defer st.Close()
	seed(tb, skNetHTTP(skManager(tb, core.Config{Store: st}), func() {}))
	var data []byte
	err := st.Iterate(context.Background(), func(key string) bool {
		rec, _, err := st.Load(context.Background(), key)
		if err != nil {
			tb.Fatal(err)
		}
		data = rec.Data
		return false
	})
	if err != nil || data == nil {
		tb.Fatalf("no stored session (%v)", err)
	}
	return data
}

// measureSweep stores n ten-value sessions that expire together in a
// memory store that also keeps 1000 long-lived ones, lets them expire,
// sweeps them (DeleteExpired, as the store's sweeper does) and reports the
// live heap before, at the peak and after, and the longest a Load of a
// long-lived session waited while the sweep and a garbage collection ran.
func measureSweep(tb testing.TB, n int) sweepResult {
	ctx := context.Background()
	data := encodedSession(tb)
	st := memory.New(memory.Config{CleanupInterval: -1})
	defer st.Close()
	const kept = 1000
	for i := range kept {
		if err := st.Save(ctx, sweepKey(-1-i), data, time.Now().Add(time.Hour)); err != nil {
			tb.Fatal(err)
		}
	}
	var r sweepResult
	r.before = heapInUse()
	// Each session lives two seconds from its store: expired ones stay in
	// memory until the sweep, so the peak is every session however long
	// storing them takes.
	var exp time.Time
	for i := range n {
		exp = time.Now().Add(2 * time.Second)
		if _, err := st.CompareAndSwap(ctx, sweepKey(i), 0, data, exp); err != nil {
			tb.Fatal(err)
		}
	}
	r.peak = heapInUse()
	time.Sleep(time.Until(exp) + 10*time.Millisecond)

	// probe loads long-lived sessions until stop, returning the longest wait.
	probe := func(stop *atomic.Bool) time.Duration {
		var longest time.Duration
		for i := 0; !stop.Load(); i++ {
			t0 := time.Now()
			if _, ok, err := st.Load(ctx, sweepKey(-1-i%kept)); err != nil || !ok {
				tb.Errorf("Load(long-lived) = %v, %v", ok, err)
				return 0
			}
			longest = max(longest, time.Since(t0))
		}
		return longest
	}
	window := func(work func()) (longest time.Duration) {
		var stop atomic.Bool
		var wg sync.WaitGroup
		// Stop the probe however work ends, tb.Fatal included; longest,
		// the result, is the probe's once it has stopped.
		defer func() {
			stop.Store(true)
			wg.Wait()
		}()
		wg.Go(func() { longest = probe(&stop) })
		work()
		return
	}
	r.idleStall = window(func() { time.Sleep(300 * time.Millisecond) })
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	r.stall = window(func() {
		t0 := time.Now()
		removed, err := st.DeleteExpired(ctx)
		r.sweep = time.Since(t0)
		if err != nil || removed != n {
			tb.Errorf("DeleteExpired = %d, %v, want %d", removed, err, n)
		}
		runtime.GC()
	})
	runtime.ReadMemStats(&ms1)
	for g := ms0.NumGC; g < ms1.NumGC && ms1.NumGC-g <= 256; g++ {
		r.gcPause = max(r.gcPause, time.Duration(ms1.PauseNs[g%256]))
	}
	r.after = heapInUse()
	if st.Len() != kept {
		tb.Errorf("Len() = %d after the sweep, want %d", st.Len(), kept)
	}
	runtime.KeepAlive(st)
	return r
}

// BenchmarkSweep measures memory returning after a peak: n sessions
// (sessions=300000 and sessions=1000000) stored at once in sessionkit's
// memory store, expired and swept. It reports the live heap before the
// burst, at its peak and after the sweep (heapB-before, heapB-peak,
// heapB-after),
// the sweep's run time (sweep-ms), the longest a concurrent Load waited
// while the sweep and one garbage collection ran (stall-µs), the same with
// nothing running (idle-stall-µs: the machine's own floor) and the longest
// stop-the-world GC pause (gc-pause-µs). Run it with -benchtime=1x.
func BenchmarkSweep(b *testing.B) {
	for _, n := range []int{300_000, 1_000_000} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			var r sweepResult
			for i := 0; i < b.N; i++ {
				r = measureSweep(b, n)
			}
			b.ReportMetric(float64(r.before), "heapB-before")
			b.ReportMetric(float64(r.peak), "heapB-peak")
			b.ReportMetric(float64(r.after), "heapB-after")
			b.ReportMetric(float64(r.sweep)/1e6, "sweep-ms")
			b.ReportMetric(float64(r.stall)/1e3, "stall-µs")
			b.ReportMetric(float64(r.idleStall)/1e3, "idle-stall-µs")
			b.ReportMetric(float64(r.gcPause)/1e3, "gc-pause-µs")
		})
	}
}

// TestSweepReturnsMemory checks the measurement on a small burst: the
// peak must be well above the heap before, and the sweep must give most
// of it back.
func TestSweepReturnsMemory(t *testing.T) {
	r := measureSweep(t, 100_000) // enough for every shard to pass the store's rebuild threshold
	t.Logf("heap before %d kB, peak %d kB, after %d kB; sweep %v, stall %v (idle %v), GC pause %v",
		r.before>>10, r.peak>>10, r.after>>10, r.sweep, r.stall, r.idleStall, r.gcPause)
	if r.peak < r.before+100_000*100 {
		t.Errorf("peak %d bytes is not 100 bytes per session above %d: sessions not kept?", r.peak, r.before)
	}
	if r.after > r.before+(r.peak-r.before)/5 {
		t.Errorf("after the sweep %d bytes, want at most a fifth of the burst's %d above %d", r.after, r.peak-r.before, r.before)
	}
}
