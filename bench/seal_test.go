package bench

import (
	"context"
	"testing"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/cookie"
)

// The ten seeded values as each library holds them in memory.
func seedMap() map[string]any {
	m := make(map[string]any, len(seedKeys))
	for i, k := range seedKeys {
		m[k] = seedValues[i]
	}
	return m
}

func seedGorillaMap() map[any]any {
	m := make(map[any]any, len(seedKeys))
	for i, k := range seedKeys {
		m[k] = seedValues[i]
	}
	return m
}

func cookieStore(tb testing.TB) *cookie.ClientStore {
	st, err := cookie.New(cookie.Config{Keys: [][]byte{blockKey}})
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// skSeal encodes the values with the default codec and seals them, as a
// sessionkit commit does for a client-side session.
func skSeal(st *cookie.ClientStore, created time.Time, values map[string]any, exp time.Time) (string, error) {
	data, err := core.BinaryCodec{}.Encode(created, values)
	if err != nil {
		return "", err
	}
	return st.Seal(context.Background(), gorillaName, "sid", data, exp)
}

// skOpen reverses skSeal, as a sessionkit load does.
func skOpen(st *cookie.ClientStore, token string) (map[string]any, bool, error) {
	_, data, _, ok, err := st.Open(context.Background(), gorillaName, token)
	if err != nil || !ok {
		return nil, ok, err
	}
	_, values, err := core.BinaryCodec{}.Decode(data)
	return values, err == nil, err
}

func gorillaCodec() *securecookie.SecureCookie {
	return securecookie.New(hashKey, blockKey)
}

// BenchmarkSeal compares client-side session sealing with the ten seeded
// values: sessionkit's cookie store (binary codec + AES-256-GCM) against
// gorilla/securecookie (gob + AES-CTR + HMAC-SHA256), serialisation
// included on both sides.
func BenchmarkSeal(b *testing.B) {
	now := time.Now()
	exp := now.Add(time.Hour)
	b.Run("sessionkit-cookie/seal", func(b *testing.B) {
		st, values := cookieStore(b), seedMap()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := skSeal(st, now, values, exp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sessionkit-cookie/open", func(b *testing.B) {
		st := cookieStore(b)
		token, err := skSeal(st, now, seedMap(), exp)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, ok, err := skOpen(st, token); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("securecookie/seal", func(b *testing.B) {
		sc, values := gorillaCodec(), seedGorillaMap()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := sc.Encode(gorillaName, values); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("securecookie/open", func(b *testing.B) {
		sc := gorillaCodec()
		token, err := sc.Encode(gorillaName, seedGorillaMap())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			var values map[any]any
			if err := sc.Decode(gorillaName, token, &values); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestSealRoundTrip checks that both sides of BenchmarkSeal give back the
// values they sealed.
func TestSealRoundTrip(t *testing.T) {
	now := time.Now()
	st := cookieStore(t)
	token, err := skSeal(st, now, seedMap(), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	values, ok, err := skOpen(st, token)
	if !ok || err != nil || values[readKey] != readWant || len(values) != len(seedKeys) {
		t.Errorf("sessionkit open(seal(values)) = %v, %v, %v; want the %d seeded values", values, ok, err, len(seedKeys))
	}
	sc := gorillaCodec()
	gtoken, err := sc.Encode(gorillaName, seedGorillaMap())
	if err != nil {
		t.Fatal(err)
	}
	var gvalues map[any]any
	if err := sc.Decode(gorillaName, gtoken, &gvalues); err != nil || gvalues[readKey] != readWant {
		t.Errorf("securecookie Decode(Encode(values)) = %v, %v; want the seeded values", gvalues, err)
	}
}
