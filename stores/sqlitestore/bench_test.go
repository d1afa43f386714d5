package sqlitestore

import (
	"testing"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/sqlstore/sqlstoretest"
)

// BenchmarkStore measures Load, Save, CompareAndSwap and Touch on a fresh
// file in a temporary directory (WAL, synchronous=NORMAL: commits do not
// wait for fsync).
func BenchmarkStore(b *testing.B) {
	conformance.BenchmarkStore(b, func(b *testing.B) core.Store {
		return openStore(b, "", Config{})
	})
}

// BenchmarkContention reports CompareAndSwap calls per successful commit
// with 16 and 64 concurrent writers on one session.
func BenchmarkContention(b *testing.B) {
	conformance.BenchmarkContention(b, func(b *testing.B) core.Store {
		return openStore(b, "", Config{})
	})
}

// BenchmarkRenew compares one Renew with the two compare-and-swaps it
// replaces (benchstat -col /way).
func BenchmarkRenew(b *testing.B) {
	sqlstoretest.BenchmarkRenew(b, func(b *testing.B) sqlstoretest.RenewStore {
		return openStore(b, "", Config{})
	})
}
