package postgres

import (
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
)

func TestConformance(t *testing.T) {
	pool, dsn := newPool(t, 0, nil)
	conformance.TestStoreWithOptions(t, func(t *testing.T) core.Store {
		return newStore(t, pool, dsn, Config{}) // a fresh table per subtest
	}, conformance.StoreOptions{ExpiryPrecision: time.Microsecond})
}
