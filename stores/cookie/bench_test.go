package cookie_test

import (
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// benchRecord is a typical 10-value session encoded with the default codec.
func benchRecord(b *testing.B) []byte {
	b.Helper()
	data, err := core.BinaryCodec{}.Encode(time.Unix(1700000000, 0), map[string]any{
		"user_id": 4242, "name": "Ada Lovelace", "email": "ada@example.com", "role": "admin",
		"csrf": "q1w2e3r4t5y6u7i8o9p0", "lang": "en-GB", "theme": "dark", "cart_items": 3,
		"last_seen": time.Unix(1700000100, 0), "verified": true,
	})
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func BenchmarkSeal(b *testing.B) {
	st := testStore(b, fixedKey(1))
	data := benchRecord(b)
	exp := time.Now().Add(time.Hour)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Seal(ctx, "session", "sid", data, exp); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	st := testStore(b, fixedKey(1))
	data := benchRecord(b)
	tok, err := st.Seal(ctx, "session", "sid", data, time.Now().Add(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, ok, _ := st.Open(ctx, "session", tok); !ok {
			b.Fatal("Open failed")
		}
	}
}

// BenchmarkOpenRotated opens a token sealed with the second of two keys,
// the cost during a key rotation.
func BenchmarkOpenRotated(b *testing.B) {
	st := testStore(b, fixedKey(1), fixedKey(2))
	tok, err := testStore(b, fixedKey(2)).Seal(ctx, "session", "sid", benchRecord(b), time.Now().Add(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, ok, _ := st.Open(ctx, "session", tok); !ok {
			b.Fatal("Open failed")
		}
	}
}
