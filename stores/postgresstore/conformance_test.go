package postgresstore

import (
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
)

func TestConformance(t *testing.T) {
	pool, dsn := newPool(t, 0, nil)
	conformance.TestStoreWithOptions(t, func(t *testing.T) core.Store {
		return newStore(t, pool, dsn, Config{}) // a fresh table per subtest
	}, conformance.StoreOptions{ExpiryPrecision: time.Microsecond, Parallel: true})
}

// TestShared runs the shared-store checks with one connection pool per
// instance (separate application servers) on one table.
func TestShared(t *testing.T) {
	instances := func(t *testing.T, n int) []core.Store {
		pool, dsn := newPool(t, 4, nil)
		first := newStore(t, pool, dsn, Config{})
		out := []core.Store{first}
		for len(out) < n {
			other, _ := newPool(t, 4, nil)
			s, err := New(other, Config{TableName: strings.Trim(first.TableName(), `"`)})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	conformance.TestSharedStore(t, instances)
	// The issue-10 scale: 64 clients x 16 keys on one session, in one
	// Manager and over several instances; zero failed commits, no lost key.
	t.Run("Contention", func(t *testing.T) { conformance.TestContention(t, instances, conformance.ContentionOptions{}) })
}

// TestHardening runs the Manager-level attacks on this store.
func TestHardening(t *testing.T) {
	pool, dsn := newPool(t, 0, nil)
	conformance.TestHardening(t, func(t *testing.T) core.Store {
		return newStore(t, pool, dsn, Config{})
	})
}
