package redisstore_test

import (
	"testing"

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
