package cookie_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/stores/cookie"
)

type ctxT = context.Context

var (
	ctx       = context.Background()
	farFuture = time.Date(2200, 1, 2, 3, 4, 5, 6, time.UTC) // within UnixNano range
)

// fixedKey returns a deterministic 32-byte test key; real keys come from
// crypto/rand.
func fixedKey(seed byte) []byte {
	k := make([]byte, cookie.KeySize)
	for i := range k {
		k[i] = seed*31 + byte(i)
	}
	return k
}

func testStore(tb testing.TB, keys ...[]byte) *cookie.ClientStore {
	tb.Helper()
	st, err := cookie.New(cookie.Config{Keys: keys})
	if err != nil {
		tb.Fatal(err)
	}
	return st
}
