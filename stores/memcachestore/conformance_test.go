package memcachestore_test

import (
	"testing"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/testserver"
	"github.com/sessionkit/sessionkit/stores/memcachestore"
)

// options declares the store's limits. The expiry is kept exactly (in the
// value's header), so no precision is declared even though memcached's own
// clock has one-second resolution. Every store has its own key prefix, so
// the checks may run in parallel.
func options() conformance.StoreOptions {
	s, _ := memcachestore.New(newClient("127.0.0.1:1"), memcachestore.Config{})
	return conformance.StoreOptions{MaxRecordSize: s.MaxRecordSize(), Parallel: true}
}

func TestConformance(t *testing.T) {
	client := newClient(testserver.Memcached(t))
	conformance.TestStoreWithOptions(t, func(t *testing.T) core.Store {
		return newStore(t, client) // a fresh key prefix: an empty store
	}, options())
}

func TestConformanceTwoServers(t *testing.T) {
	client := newClient(testserver.StartMemcached(t).Addr, testserver.StartMemcached(t).Addr)
	conformance.TestStoreWithOptions(t, func(t *testing.T) core.Store {
		return newStore(t, client)
	}, options())
}

// TestShared runs the shared-store checks with one client per instance
// (separate application servers) on one key prefix, over two servers.
func TestShared(t *testing.T) {
	a, b := testserver.StartMemcached(t).Addr, testserver.StartMemcached(t).Addr
	instances := func(t *testing.T, n int) []core.Store {
		prefix := uniquePrefix()
		out := make([]core.Store, n)
		for i := range out {
			s, err := memcachestore.New(newClient(a, b), memcachestore.Config{KeyPrefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			out[i] = s
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
	client := newClient(testserver.Memcached(t))
	conformance.TestHardening(t, func(t *testing.T) core.Store {
		return newStore(t, client)
	})
}
