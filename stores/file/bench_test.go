package file

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"
)

// benchData is the size of a typical encoded session with a few values.
var benchData = bytes.Repeat([]byte("s"), 512)

func benchStore(b *testing.B, sync bool) (*Store, string) {
	s := newStore(b, Config{Sync: sync})
	key := testKey("bench")
	if err := s.Save(context.Background(), key, benchData, time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	return s, key
}

func BenchmarkLoad(b *testing.B) {
	s, key := benchStore(b, false)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := s.Load(ctx, key); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkSave(b *testing.B) {
	for _, sync := range []bool{false, true} {
		b.Run(fmt.Sprintf("sync=%v", sync), func(b *testing.B) {
			s, key := benchStore(b, sync)
			ctx := context.Background()
			exp := time.Now().Add(time.Hour)
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Save(ctx, key, benchData, exp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCompareAndSwap(b *testing.B) {
	s, key := benchStore(b, false)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	rec, _, _ := s.Load(ctx, key)
	v := rec.Version
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if v, err = s.CompareAndSwap(ctx, key, v, benchData, exp); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTouch(b *testing.B) {
	s, key := benchStore(b, false)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Touch(ctx, key, exp); err != nil {
			b.Fatal(err)
		}
	}
}
