package memory_test

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// benchRecord is about the size of an encoded small session.
var benchRecord = make([]byte, 128)

// filled returns a store holding n records under testKey(0..n-1).
func filled(b *testing.B, n int) *memory.Store {
	s := newStore(b, memory.Config{})
	for i := range n {
		if err := s.Save(context.Background(), testKey(i), benchRecord, time.Now().Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// benchKeys returns n precomputed keys.
func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = testKey(i)
	}
	return keys
}

func BenchmarkLoad(b *testing.B) {
	const n = 1024
	s, keys, ctx := filled(b, n), benchKeys(n), context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, found, err := s.Load(ctx, keys[i%n]); !found || err != nil {
			b.Fatal(found, err)
		}
		i++
	}
}

func BenchmarkLoadParallel(b *testing.B) {
	const n = 1024
	s, keys, ctx := filled(b, n), benchKeys(n), context.Background()
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(97))
		for pb.Next() {
			if _, found, err := s.Load(ctx, keys[i%n]); !found || err != nil {
				b.Error(found, err)
				return
			}
			i++
		}
	})
}

func BenchmarkSave(b *testing.B) {
	const n = 1024
	s, keys, ctx := filled(b, n), benchKeys(n), context.Background()
	exp := time.Now().Add(time.Hour)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := s.Save(ctx, keys[i%n], benchRecord, exp); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkCompareAndSwap(b *testing.B) {
	s, ctx := newStore(b, memory.Config{}), context.Background()
	key, exp := testKey(0), time.Now().Add(time.Hour)
	v, err := s.CompareAndSwap(ctx, key, 0, benchRecord, exp)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if v, err = s.CompareAndSwap(ctx, key, v, benchRecord, exp); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTouch(b *testing.B) {
	const n = 1024
	s, keys, ctx := filled(b, n), benchKeys(n), context.Background()
	exp := time.Now().Add(2 * time.Hour)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := s.Touch(ctx, keys[i%n], exp); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkHeapPerRecord reports the heap bytes each stored 128-byte record
// costs, map overhead included.
func BenchmarkHeapPerRecord(b *testing.B) {
	const n = 100_000
	keys := benchKeys(n)
	exp := time.Now().Add(time.Hour)
	ctx := context.Background()
	var perRecord float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := memory.New(memory.Config{CleanupInterval: -1})
		for _, k := range keys {
			if err := s.Save(ctx, k, benchRecord, exp); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perRecord = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(s)
	}
	b.ReportMetric(perRecord, "heapB/record")
}

// BenchmarkContention reports CompareAndSwap calls per successful commit
// with 16 and 64 concurrent writers on one session.
func BenchmarkContention(b *testing.B) {
	conformance.BenchmarkContention(b, func(b *testing.B) core.Store {
		return newStore(b, memory.Config{})
	})
}
