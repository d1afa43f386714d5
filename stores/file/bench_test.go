package file

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
)

// BenchmarkStore measures Load, Save, CompareAndSwap and Touch on a
// temporary directory, without and with fsync on every write.
func BenchmarkStore(b *testing.B) {
	for _, c := range []struct {
		name string
		sync bool
	}{{"nosync", false}, {"sync", true}} {
		b.Run(c.name, func(b *testing.B) {
			conformance.BenchmarkStore(b, func(b *testing.B) core.Store {
				return newStore(b, Config{Sync: c.sync})
			})
		})
	}
}

// BenchmarkContention reports CompareAndSwap calls per successful commit
// with 16 and 64 concurrent writers on one session.
func BenchmarkContention(b *testing.B) {
	conformance.BenchmarkContention(b, func(b *testing.B) core.Store {
		return newStore(b, Config{})
	})
}

// BenchmarkUserIndex compares a write that keeps the filing
// (CompareAndSwap) with one that files a new key under a user
// (CompareAndSwapUser, as at a login), and measures UserKeys for a user
// with 10 sessions.
func BenchmarkUserIndex(b *testing.B) {
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	data := []byte("a small encoded session of some thirty bytes")
	b.Run("CompareAndSwap", func(b *testing.B) {
		s := newStore(b, Config{CleanupInterval: -1})
		key := testKey("bench")
		v, err := s.CompareAndSwapUser(ctx, key, 0, data, exp, "ann", exp)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if v, err = s.CompareAndSwap(ctx, key, v, data, exp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("CompareAndSwapUser", func(b *testing.B) {
		s := newStore(b, Config{CleanupInterval: -1})
		i := 0
		for b.Loop() {
			i++
			if _, err := s.CompareAndSwapUser(ctx, testKey(fmt.Sprint("bench", i)), 0, data, exp, "ann", exp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("UserKeys10", func(b *testing.B) {
		s := newStore(b, Config{CleanupInterval: -1})
		for i := range 10 {
			if _, err := s.CompareAndSwapUser(ctx, testKey(fmt.Sprint("bench", i)), 0, data, exp, "ann", exp); err != nil {
				b.Fatal(err)
			}
		}
		for b.Loop() {
			if keys, err := s.UserKeys(ctx, "ann"); err != nil || len(keys) != 10 {
				b.Fatalf("UserKeys = %d keys, %v", len(keys), err)
			}
		}
	})
}
