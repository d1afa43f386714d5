package conformance_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// TestStoreOnlyBasics runs the suite against a store without optional
// capabilities: their groups must not apply.
func TestStoreOnlyBasics(t *testing.T) {
	conformance.TestStoreWithOptions(t, func(t *testing.T) core.Store {
		s := memory.New(memory.Config{MaxRecordSize: 70 << 10})
		t.Cleanup(func() { _ = s.Close() })
		return struct{ core.Store }{s} // hides Touch, CompareAndSwap, Iterate, DeleteExpired
	}, conformance.StoreOptions{MaxRecordSize: 70 << 10, ExpiryPrecision: time.Millisecond})
}

// ExampleTestStore shows a store's conformance test. Put it in a _test.go
// file of the store's package, with your own store in place of memory.
func ExampleTestStore() {
	_ = func(t *testing.T) { // func TestConformance(t *testing.T)
		conformance.TestStore(t, func(t *testing.T) core.Store {
			s := memory.New(memory.Config{})
			t.Cleanup(func() { _ = s.Close() })
			return s
		})
	}
}

// ExampleTestStoreWithOptions declares the limits of a store such as
// memcached: items of at most 1 MB and expiry kept to the second.
func ExampleTestStoreWithOptions() {
	_ = func(t *testing.T) {
		conformance.TestStoreWithOptions(t, func(t *testing.T) core.Store {
			s := memory.New(memory.Config{MaxRecordSize: 1 << 20})
			t.Cleanup(func() { _ = s.Close() })
			return s
		}, conformance.StoreOptions{MaxRecordSize: 1 << 20, ExpiryPrecision: time.Second})
	}
}

func ExampleFaultyStore() {
	f := conformance.NewFaultyStore(memory.New(memory.Config{CleanupInterval: -1}))
	s := f.Store() // what the code under test gets: same capabilities as the memory store
	ctx := context.Background()
	key := "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"

	f.FailOp(conformance.OpSave, nil)
	err := s.Save(ctx, key, []byte("x"), time.Now().Add(time.Hour))
	fmt.Println(errors.Is(err, conformance.ErrInjected))

	_, isCAS := s.(core.CompareAndSwapper)
	fmt.Println(isCAS, f.Calls(conformance.OpSave), f.Calls(conformance.OpLoad))
	// Output:
	// true
	// true 1 0
}
