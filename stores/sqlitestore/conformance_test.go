package sqlitestore

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
)

func TestConformance(t *testing.T) {
	conformance.TestStoreWithOptions(t, func(t *testing.T) core.Store {
		return openStore(t, "", Config{MaxDataSize: 1 << 20}) // a fresh file per subtest
	}, conformance.StoreOptions{MaxRecordSize: 1 << 20, ExpiryPrecision: time.Microsecond, Parallel: true})
}

// TestShared runs the shared-store checks with one Store per instance (its
// own connections, as separate processes would have) on one file.
func TestShared(t *testing.T) {
	conformance.TestSharedStore(t, func(t *testing.T, n int) []core.Store {
		path := filepath.Join(t.TempDir(), "shared.db")
		var out []core.Store
		for range n {
			out = append(out, openStore(t, path, Config{}))
		}
		return out
	})
}

// TestHardening runs the Manager-level attacks on this store.
func TestHardening(t *testing.T) {
	conformance.TestHardening(t, func(t *testing.T) core.Store {
		return openStore(t, "", Config{})
	})
}
