package mysqlstore

import (
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
)

func TestConformance(t *testing.T) {
	// The checks run in parallel (a fresh table each); the pool bound keeps
	// them under the server's connection limit.
	db := newDB(t, dbOptions{maxConns: 32})
	conformance.TestStoreWithOptions(t, func(t *testing.T) core.Store {
		return newStore(t, db, Config{MaxDataSize: 1 << 20}) // a fresh table per subtest
	}, conformance.StoreOptions{MaxRecordSize: 1 << 20, ExpiryPrecision: time.Microsecond, Parallel: true})
}

// TestShared runs the shared-store checks with one connection pool per
// instance (separate application servers) on one table.
func TestShared(t *testing.T) {
	conformance.TestSharedStore(t, func(t *testing.T, n int) []core.Store {
		first := newStore(t, newDB(t, dbOptions{maxConns: 4}), Config{})
		out := []core.Store{first}
		for len(out) < n {
			s, err := New(newDB(t, dbOptions{maxConns: 4}), Config{TableName: strings.Trim(first.TableName(), "`")})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			out = append(out, s)
		}
		return out
	})
}

// TestHardening runs the Manager-level attacks on this store.
func TestHardening(t *testing.T) {
	db := newDB(t, dbOptions{})
	conformance.TestHardening(t, func(t *testing.T) core.Store {
		return newStore(t, db, Config{})
	})
}
