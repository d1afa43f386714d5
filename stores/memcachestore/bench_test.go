package memcachestore_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/testserver"
)

// BenchmarkStore measures Load, Save, CompareAndSwap and Touch against the
// test server (Touch, and CompareAndSwap of a version this store did not
// just load, take two round trips: see the package documentation).
func BenchmarkStore(b *testing.B) {
	conformance.BenchmarkStore(b, func(b *testing.B) core.Store {
		return newStore(b, newClient(testserver.Memcached(b)))
	})
}

// BenchmarkLoadWithDeadline measures the cost of honouring a cancellable
// context (a goroutine per call, since gomemcache takes no context).
func BenchmarkLoadWithDeadline(b *testing.B) {
	s := newStore(b, newClient(testserver.Memcached(b)))
	key := newKey()
	if err := s.Save(context.Background(), key, []byte("a session record"), time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		if _, found, err := s.Load(ctx, key); err != nil || !found {
			b.Fatal(found, err)
		}
	}
}

// BenchmarkContention reports CompareAndSwap calls per successful commit
// with 16 and 64 concurrent writers on one session.
func BenchmarkContention(b *testing.B) {
	conformance.BenchmarkContention(b, func(b *testing.B) core.Store {
		return newStore(b, newClient(testserver.Memcached(b)))
	})
}

// BenchmarkUserIndex measures the user lists: a filing (CompareAndSwapUser
// of a new key: add, then gets and cas of one list item) and UserKeys of a
// user with 5 sessions.
func BenchmarkUserIndex(b *testing.B) {
	s := newStore(b, newClient(testserver.Memcached(b)))
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	data := make([]byte, 200)
	b.Run("CompareAndSwapUser", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.CompareAndSwapUser(ctx, newKey(), 0, data, exp, "bench", time.Now().Add(time.Second)); err != nil {
				b.Fatal(err)
			}
		}
	})
	for range 5 {
		s.CompareAndSwapUser(ctx, newKey(), 0, data, exp, "five", exp)
	}
	b.Run("UserKeys5", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if keys, err := s.UserKeys(ctx, "five"); err != nil || len(keys) != 5 {
				b.Fatal(len(keys), err)
			}
		}
	})
}
