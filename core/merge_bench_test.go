package core

import (
	"testing"
	"time"
)

// BenchmarkBinaryMerge writes one changed value into a stored ten-value
// record kept encoded (binLazy.merge), as a request's update does: the
// first of its keys, or the last.
func BenchmarkBinaryMerge(b *testing.B) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	data, err := BinaryCodec{}.Encode(created, map[string]any{
		"user": "gopher", "email": "gopher@example.com", "role": "admin", "theme": "dark",
		"id": 4711, "visits": 42, "cart": int64(3), "admin": true, "verified": false,
		"login": created,
	})
	if err != nil {
		b.Fatal(err)
	}
	_, l, ok, err := openBinaryLazy(data)
	if err != nil || !ok {
		b.Fatalf("openBinaryLazy: ok %v, %v", ok, err)
	}
	for _, key := range []string{"admin", "visits"} {
		changes := []change{{key, 43}}
		b.Run(key, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := l.merge(created, changes, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
