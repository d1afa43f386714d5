package file

import (
	"testing"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
)

func TestConformance(t *testing.T) {
	conformance.TestStore(t, func(t *testing.T) core.Store {
		return newStore(t, Config{})
	})
}

func TestConformanceSync(t *testing.T) {
	conformance.TestStore(t, func(t *testing.T) core.Store {
		return newStore(t, Config{Sync: true, Prefix: "s_", Mode: 0o640})
	})
}

// TestShared runs the shared-store checks with one Store value per
// instance (as separate processes would have) on one directory.
func TestShared(t *testing.T) {
	conformance.TestSharedStore(t, func(t *testing.T, n int) []core.Store {
		dir := t.TempDir()
		out := make([]core.Store, n)
		for i := range out {
			out[i] = newStore(t, Config{Dir: dir})
		}
		return out
	})
}
