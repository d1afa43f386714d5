package redis_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/testserver"
	"github.com/sessionkit/sessionkit/stores/redis"
)

// benchData is a typical encoded session: a couple of hundred bytes.
var benchData = bytes.Repeat([]byte("session!"), 32)

// benchStore returns a store on a server for b and one saved key.
func benchStore(b *testing.B) (*redis.Store, string) {
	b.Helper()
	s := newStore(b, newClient(b, testserver.Redis(b)))
	key := newKey()
	if err := s.Save(context.Background(), key, benchData, time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	return s, key
}

func BenchmarkLoad(b *testing.B) {
	s, key := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, found, err := s.Load(ctx, key); err != nil || !found {
			b.Fatal(found, err)
		}
	}
}

func BenchmarkLoadParallel(b *testing.B) {
	s, key := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := s.Load(ctx, key); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkSave(b *testing.B) {
	s, key := benchStore(b)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Save(ctx, key, benchData, exp); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompareAndSwap(b *testing.B) {
	s, key := benchStore(b)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	rec, _, err := s.Load(ctx, key)
	if err != nil {
		b.Fatal(err)
	}
	v := rec.Version
	b.ReportAllocs()
	for b.Loop() {
		if v, err = s.CompareAndSwap(ctx, key, v, benchData, exp); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTouch(b *testing.B) {
	s, key := benchStore(b)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Touch(ctx, key, exp); err != nil {
			b.Fatal(err)
		}
	}
}
