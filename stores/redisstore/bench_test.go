package redisstore_test

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/testserver"
)

// BenchmarkStore measures Load, Save, CompareAndSwap and Touch against the
// test server: one network round trip each.
func BenchmarkStore(b *testing.B) {
	conformance.BenchmarkStore(b, func(b *testing.B) core.Store {
		return newStore(b, newClient(b, testserver.Redis(b)))
	})
}

// BenchmarkContention reports CompareAndSwap calls per successful commit
// with 16 and 64 concurrent writers on one session.
func BenchmarkContention(b *testing.B) {
	conformance.BenchmarkContention(b, func(b *testing.B) core.Store {
		return newStore(b, newClient(b, testserver.Redis(b)))
	})
}

// BenchmarkUserIndex measures the user index: a filing (CompareAndSwapUser
// of a new key) and UserKeys of a user with 5 sessions, on a single node
// (one script each) and on a Cluster across slots (a script and a
// follow-up pipeline; three round trips for UserKeys).
func BenchmarkUserIndex(b *testing.B) {
	clients := map[string]goredis.UniversalClient{
		"Single":  newClient(b, testserver.Redis(b)),
		"Cluster": newClusterClient(b),
	}
	for _, name := range []string{"Single", "Cluster"} {
		s := newStore(b, clients[name])
		ctx := context.Background()
		exp := time.Now().Add(time.Hour)
		data := make([]byte, 200)
		b.Run(name+"/CompareAndSwapUser", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.CompareAndSwapUser(ctx, newKey(), 0, data, exp, "bench", time.Now().Add(time.Minute)); err != nil {
					b.Fatal(err)
				}
			}
		})
		for range 5 {
			s.CompareAndSwapUser(ctx, newKey(), 0, data, exp, "five", exp)
		}
		b.Run(name+"/UserKeys5", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if keys, err := s.UserKeys(ctx, "five"); err != nil || len(keys) != 5 {
					b.Fatal(len(keys), err)
				}
			}
		})
	}
}

// BenchmarkUpdate measures the store's part of an update request: Load,
// then CompareAndSwap of the loaded version, on a 512-byte record. Its
// allocs/op are what the store and go-redis add to the request.
func BenchmarkUpdate(b *testing.B) {
	s := newStore(b, newClient(b, testserver.Redis(b)))
	ctx := context.Background()
	key := newKey()
	data := make([]byte, 512)
	exp := time.Now().Add(time.Hour)
	if _, err := s.CompareAndSwap(ctx, key, 0, data, exp); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec, ok, err := s.Load(ctx, key)
		if err != nil || !ok {
			b.Fatalf("Load = %v, %v", ok, err)
		}
		if _, err := s.CompareAndSwap(ctx, key, rec.Version, rec.Data, exp); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreate measures a new session's write, a CompareAndSwap of
// version zero on a key nothing holds, next to a bare SET PX of the same
// value (one round trip with no store around it).
func BenchmarkCreate(b *testing.B) {
	client := newClient(b, testserver.Redis(b))
	s := newStore(b, client)
	ctx := context.Background()
	data := make([]byte, 120)
	exp := time.Now().Add(time.Hour)
	b.Run("CompareAndSwap0", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.CompareAndSwap(ctx, newKey(), 0, data, exp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare-SET", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := client.Set(ctx, "bench:"+newKey(), data, time.Hour+time.Millisecond).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
