package conformance

import (
	"fmt"
	"sync"
	"testing"

	"github.com/sessionkit/sessionkit/core"
)

// contentionKeys is how many distinct keys each writer of
// BenchmarkContention commits, one request each, back to back.
const contentionKeys = 8

// BenchmarkContention measures how a compare-and-swap store behaves when
// many requests write one session at once, the way a browser's parallel
// requests do: W writers (sub-benchmarks writers=16 and writers=64) each
// commit 8 distinct keys to one session through a core.Manager, one request
// per key, back to back. Each iteration uses a fresh session. It reports:
//
//	cas/write     CompareAndSwap calls per successful commit (1 is ideal:
//	              every extra call is a conflict the core retried)
//	commits/s     successful commits per second of the benchmark's time
//	failed/op     commits that failed, per iteration
//	lost/op       keys missing from the session afterwards, per iteration
//
// newStore is called once per sub-benchmark. Stores without
// core.CompareAndSwapper are skipped.
func BenchmarkContention(b *testing.B, newStore func(b *testing.B) core.Store) {
	for _, writers := range []int{16, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			st := newStore(b)
			if _, ok := st.(core.CompareAndSwapper); !ok {
				b.Skip("the store does not implement core.CompareAndSwapper")
			}
			f := NewFaultyStore(st)
			m, err := core.New(core.Config{Store: f.Store()})
			if err != nil {
				b.Fatal(err)
			}
			var cas, commits, failed, lost int
			for b.Loop() {
				cookie, err := sharedRequest(m, "", func(s *core.Session) { s.Set("owner", "ann") })
				if err != nil || cookie == "" {
					b.Fatalf("new session: cookie %q, error %v", cookie, err)
				}
				before := f.Calls(OpCompareAndSwap)
				ok, bad, miss := contentionRound(m, cookie, writers)
				cas += f.Calls(OpCompareAndSwap) - before
				commits, failed, lost = commits+ok, failed+bad, lost+miss
			}
			if commits > 0 {
				b.ReportMetric(float64(cas)/float64(commits), "cas/write")
				b.ReportMetric(float64(commits)/b.Elapsed().Seconds(), "commits/s")
			}
			b.ReportMetric(float64(failed)/float64(b.N), "failed/op")
			b.ReportMetric(float64(lost)/float64(b.N), "lost/op")
		})
	}
}

// contentionRound runs one round of BenchmarkContention on the session of
// cookie and returns how many commits succeeded and failed, and how many
// keys are missing afterwards.
func contentionRound(m *core.Manager, cookie string, writers int) (ok, failed, lost int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for k := range contentionKeys {
				_, err := sharedRequest(m, cookie, func(s *core.Session) { s.Set(fmt.Sprintf("w%d-k%d", w, k), k) })
				mu.Lock()
				if err != nil {
					failed++
				} else {
					ok++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	_, _ = sharedRequest(m, cookie, func(s *core.Session) {
		for w := range writers {
			for k := range contentionKeys {
				if _, found := s.Get(fmt.Sprintf("w%d-k%d", w, k)); !found {
					lost++
				}
			}
		}
	})
	return ok, failed, lost
}
