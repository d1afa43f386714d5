package bench

import (
	"context"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/stores/memory"
)

// footprintSessions is how many ten-value sessions the footprint
// measurement stores in each store: a million in sessionkit's and scs's,
// a tenth of that in quasoft/memstore (gin-contrib's and echo-contrib's
// memory store), whose 1.2 kB per session would take minutes and a gigabyte
// more for a table that would not change.
var footprintSessions = map[string]int{
	"sessionkit-nethttp-memory": 1_000_000,
	"scs-nethttp-memstore":      1_000_000,
	"gincontrib-gin-memstore":   100_000,
}

// heapInUse returns the live heap after two garbage collections.
func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// footprint stores n ten-value sessions through t's /seed route and
// returns the growth of the live heap per session.
func footprint(tb testing.TB, open func(testing.TB) *target, n int) float64 {
	t := open(tb)
	defer t.close()
	cl := newClient(t, "/seed", "")
	cl.do() // warm up pools and lazily built state
	before := heapInUse()
	for i := 0; i < n; i++ {
		if w := cl.do(); w.status() != http.StatusOK || w.cookie(t.cookie) == "" {
			tb.Fatalf("GET /seed: status %d, no cookie", w.status())
		}
	}
	after := heapInUse()
	runtime.KeepAlive(t)
	return (float64(after) - float64(before)) / float64(n)
}

// BenchmarkFootprint reports the heap held per stored session
// ("heapB/session") by each in-process store, for footprintSessions
// sessions of ten small values stored through the library's middleware
// (the in-process stores, one contender each: the gin and echo variants
// keep the same store). Run it with -benchtime=1x: each run is one
// measurement.
func BenchmarkFootprint(b *testing.B) {
	for _, c := range contenders() {
		n := footprintSessions[c.name]
		if n == 0 {
			continue
		}
		b.Run(c.name, func(b *testing.B) {
			var per float64
			for i := 0; i < b.N; i++ {
				per = footprint(b, c.open, n)
			}
			b.ReportMetric(per, "heapB/session")
		})
	}
	b.Run("sessionkit-memory-parts", func(b *testing.B) {
		var index, record float64
		for i := 0; i < b.N; i++ {
			index, record = footprintParts(b, footprintSessions["sessionkit-nethttp-memory"])
		}
		b.ReportMetric(index, "indexB/session")
		b.ReportMetric(record, "recordB/session")
	})
}

// footprintParts splits the memory store's footprint in two, each measured
// on its own for n sessions: index, the live heap per session of a store
// holding n empty records (the store keeps no data for them, so what it
// holds is its tables: an index slot and a record entry, key included,
// per session, and their spare room); and record, the
// live heap per copy of the ten-value record the scenarios store, copied
// the way the store copies data (append to nil, so rounded up to the
// allocator's size class).
func footprintParts(tb testing.TB, n int) (index, record float64) {
	data := encodedSession(tb)
	ctx := context.Background()
	st := memory.New(memory.Config{CleanupInterval: -1})
	defer st.Close()
	exp := time.Now().Add(time.Hour)
	before := heapInUse()
	for i := range n {
		if err := st.Save(ctx, sweepKey(i), nil, exp); err != nil {
			tb.Fatal(err)
		}
	}
	after := heapInUse()
	if st.Len() != n {
		tb.Fatalf("Len() = %d, want %d", st.Len(), n)
	}
	index = (float64(after) - float64(before)) / float64(n)
	runtime.KeepAlive(st)

	copies := make([][]byte, n)
	before = heapInUse()
	for i := range copies {
		copies[i] = append([]byte(nil), data...)
	}
	after = heapInUse()
	runtime.KeepAlive(copies)
	record = (float64(after) - float64(before)) / float64(n)
	return index, record
}

// TestFootprintParts checks the split of the memory store's footprint on
// 20 000 sessions: the index holds at least an 8-byte slot and an 80-byte
// record entry (its 32-byte key among it) per session, and a record at
// least its encoded bytes.
func TestFootprintParts(t *testing.T) {
	index, record := footprintParts(t, 20_000)
	t.Logf("index %.0f B/session, record %.0f B/session", index, record)
	if index < 88 {
		t.Errorf("index = %.0f B/session, want at least 88 (slot and entry)", index)
	}
	if n := len(encodedSession(t)); record < float64(n) {
		t.Errorf("record = %.0f B/session, want at least its %d encoded bytes", record, n)
	}
}

// TestFootprintGrows checks that the measurement sees stored sessions: a
// store that keeps 2000 sessions holds more than 100 bytes for each.
func TestFootprintGrows(t *testing.T) {
	for _, c := range contenders() {
		if footprintSessions[c.name] == 0 {
			continue
		}
		if per := footprint(t, c.open, 2000); per < 100 {
			t.Errorf("%s: footprint = %.0f B/session, want > 100 (sessions not kept?)", c.name, per)
		}
	}
}
