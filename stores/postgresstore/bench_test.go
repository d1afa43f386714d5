package postgresstore

import (
	"testing"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/sqlstore/sqlstoretest"
)

// BenchmarkStore measures Load, Save, CompareAndSwap and Touch against the
// test server on a fresh table: one round trip each. Writes wait for the
// server's fsync (synchronous_commit as the server has it).
func BenchmarkStore(b *testing.B) {
	conformance.BenchmarkStore(b, func(b *testing.B) core.Store {
		pool, dsn := newPool(b, 0, nil)
		return newStore(b, pool, dsn, Config{})
	})
}

// BenchmarkContention reports CompareAndSwap calls per successful commit
// with 16 and 64 concurrent writers on one session.
func BenchmarkContention(b *testing.B) {
	conformance.BenchmarkContention(b, func(b *testing.B) core.Store {
		pool, dsn := newPool(b, 0, nil)
		return newStore(b, pool, dsn, Config{})
	})
}

// BenchmarkRenew compares one Renew with the two compare-and-swaps it
// replaces (benchstat -col /way).
func BenchmarkRenew(b *testing.B) {
	sqlstoretest.BenchmarkRenew(b, func(b *testing.B) sqlstoretest.RenewStore {
		pool, dsn := newPool(b, 0, nil)
		return newStore(b, pool, dsn, Config{})
	})
}
