package sqlitestore

import (
	"testing"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
)

// BenchmarkStore measures Load, Save, CompareAndSwap and Touch on a fresh
// file in a temporary directory (WAL, synchronous=NORMAL: commits do not
// wait for fsync).
func BenchmarkStore(b *testing.B) {
	conformance.BenchmarkStore(b, func(b *testing.B) core.Store {
		return openStore(b, "", Config{})
	})
}
