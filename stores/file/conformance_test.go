package file

import (
	"testing"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
)

func TestConformance(t *testing.T) {
	conformance.TestStoreWithOptions(t, func(t *testing.T) core.Store {
		return newStore(t, Config{}) // a fresh directory per subtest
	}, conformance.StoreOptions{Parallel: true})
}

func TestConformanceSync(t *testing.T) {
	conformance.TestStoreWithOptions(t, func(t *testing.T) core.Store {
		return newStore(t, Config{Sync: true, Prefix: "s_", Mode: 0o640})
	}, conformance.StoreOptions{Parallel: true})
}

// TestShared runs the shared-store checks with one Store value per
// instance (as separate processes would have) on one directory.
func TestShared(t *testing.T) {
	instances := func(t *testing.T, n int) []core.Store {
		dir := t.TempDir()
		out := make([]core.Store, n)
		for i := range out {
			out[i] = newStore(t, Config{Dir: dir})
		}
		return out
	}
	conformance.TestSharedStore(t, instances)
	// The issue-10 scale: 64 clients x 16 keys on one session, in one
	// Manager and over several instances; zero failed commits, no lost key.
	t.Run("Contention", func(t *testing.T) { conformance.TestContention(t, instances, conformance.ContentionOptions{}) })
}
