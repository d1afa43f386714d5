package conformance

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// benchRecord is a typical encoded session: ten small values in the
// binary codec come to a few hundred bytes.
var benchRecord = bytes.Repeat([]byte("session!"), 64)

// BenchmarkStore measures the operations of the store that newStore
// returns, one sub-benchmark each, with allocations reported: Load,
// LoadParallel (RunParallel on one record), Save (overwriting one record)
// and, when the store has them, CompareAndSwap (a chain of successful
// versioned writes) and Touch. Each record is 512 bytes, about the size of
// an encoded ten-value session. A third-party store benchmarks itself the
// way it runs TestStore:
//
//	func BenchmarkStore(b *testing.B) {
//		conformance.BenchmarkStore(b, func(b *testing.B) core.Store {
//			return mystore.New(...) // fresh, cleaned up with b.Cleanup
//		})
//	}
//
// newStore is called once per sub-benchmark, and once with b itself to see
// which optional capabilities the store has.
func BenchmarkStore(b *testing.B, newStore func(b *testing.B) core.Store) {
	ctx := context.Background()
	probe := newStore(b)
	open := func(b *testing.B) (core.Store, string, time.Time) {
		b.Helper()
		st := newStore(b)
		key := core.StoreKey("sessionkit conformance benchmark")
		exp := time.Now().Add(time.Hour)
		if err := st.Save(ctx, key, benchRecord, exp); err != nil {
			b.Fatalf("Save = %v", err)
		}
		return st, key, exp
	}
	b.Run("Load", func(b *testing.B) {
		st, key, _ := open(b)
		b.ReportAllocs()
		for b.Loop() {
			if _, found, err := st.Load(ctx, key); err != nil || !found {
				b.Fatalf("Load = %v, %v; want found, nil", found, err)
			}
		}
	})
	b.Run("LoadParallel", func(b *testing.B) {
		st, key, _ := open(b)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, found, err := st.Load(ctx, key); err != nil || !found {
					b.Errorf("Load = %v, %v; want found, nil", found, err)
					return
				}
			}
		})
	})
	b.Run("Save", func(b *testing.B) {
		st, key, exp := open(b)
		b.ReportAllocs()
		for b.Loop() {
			if err := st.Save(ctx, key, benchRecord, exp); err != nil {
				b.Fatalf("Save = %v", err)
			}
		}
	})
	if _, ok := probe.(core.CompareAndSwapper); ok {
		b.Run("CompareAndSwap", func(b *testing.B) {
			st, key, exp := open(b)
			cas := st.(core.CompareAndSwapper)
			rec, _, err := st.Load(ctx, key)
			if err != nil {
				b.Fatalf("Load = %v", err)
			}
			v := rec.Version
			b.ReportAllocs()
			for b.Loop() {
				if v, err = cas.CompareAndSwap(ctx, key, v, benchRecord, exp); err != nil {
					b.Fatalf("CompareAndSwap = %v", err)
				}
			}
		})
	}
	if _, ok := probe.(core.Toucher); ok {
		b.Run("Touch", func(b *testing.B) {
			st, key, exp := open(b)
			t := st.(core.Toucher)
			b.ReportAllocs()
			for b.Loop() {
				if err := t.Touch(ctx, key, exp); err != nil {
					b.Fatalf("Touch = %v", err)
				}
			}
		})
	}
}
