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

// BenchmarkRenew compares Renew with the two calls the core makes without
// it: the successor's CompareAndSwap (create) and the old record's
// retirement by CompareAndSwap, for an anonymous session and for one filed
// under a user (CompareAndSwapUser twice, as the core files the new key
// and unfiles the retired one). Each iteration moves one session to a
// fresh key, leaving a retired marker behind, as the core does. Compare
// with benchstat -col /op.
func BenchmarkRenew(b *testing.B) {
	ctx := context.Background()
	data := []byte("a small encoded session of some thirty bytes")
	marker := []byte("retired marker")
	for _, user := range []string{"", "ann"} {
		name := "user=none"
		if user != "" {
			name = "user=filed"
		}
		b.Run(name+"/op=Renew", func(b *testing.B) {
			s := newStore(b, Config{CleanupInterval: -1})
			exp := time.Now().Add(time.Hour)
			key := testKey("bench0")
			v, err := s.CompareAndSwapUser(ctx, key, 0, data, exp, user, exp)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				next := testKey(fmt.Sprint("bench", i))
				v, err = s.Renew(ctx, core.Renewal{
					OldKey: key, OldVersion: v, Retired: marker, RetiredExpiry: exp,
					NewKey: next, Data: data, Expiry: exp, User: user, Until: exp,
				})
				if err != nil {
					b.Fatal(err)
				}
				key = next
			}
		})
		b.Run(name+"/op=CompareAndSwapTwice", func(b *testing.B) {
			s := newStore(b, Config{CleanupInterval: -1})
			exp := time.Now().Add(time.Hour)
			key := testKey("bench0")
			v, err := s.CompareAndSwapUser(ctx, key, 0, data, exp, user, exp)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				next := testKey(fmt.Sprint("bench", i))
				var nv uint64
				if user == "" {
					nv, err = s.CompareAndSwap(ctx, next, 0, data, exp)
					if err == nil {
						_, err = s.CompareAndSwap(ctx, key, v, marker, exp)
					}
				} else {
					nv, err = s.CompareAndSwapUser(ctx, next, 0, data, exp, user, exp)
					if err == nil {
						_, err = s.CompareAndSwapUser(ctx, key, v, marker, exp, "", exp)
					}
				}
				if err != nil {
					b.Fatal(err)
				}
				key, v = next, nv
			}
		})
	}
}
