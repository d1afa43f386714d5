package file

import (
	"testing"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
)

// BenchmarkStore measures Load, Save, CompareAndSwap and Touch on a
// temporary directory, without and with fsync on every write.
func BenchmarkStore(b *testing.B) {
	for _, c := range []struct {
		name string
		sync bool
	}{{"nosync", false}, {"sync", true}} {
		b.Run(c.name, func(b *testing.B) {
			conformance.BenchmarkStore(b, func(b *testing.B) core.Store {
				return newStore(b, Config{Sync: c.sync})
			})
		})
	}
}

// BenchmarkContention reports CompareAndSwap calls per successful commit
// with 16 and 64 concurrent writers on one session.
func BenchmarkContention(b *testing.B) {
	conformance.BenchmarkContention(b, func(b *testing.B) core.Store {
		return newStore(b, Config{})
	})
}
