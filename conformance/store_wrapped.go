package conformance

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// storeCapabilities lists the optional capabilities a wrapped store must
// keep. TestCapabilitiesListed (in the tests) fails when core gains one
// that is missing here.
var storeCapabilities = []reflect.Type{
	reflect.TypeFor[core.Toucher](),
	reflect.TypeFor[core.CompareAndSwapper](),
	reflect.TypeFor[core.Iterator](),
	reflect.TypeFor[core.ExpiredDeleter](),
	reflect.TypeFor[core.UserIndexer](),
	reflect.TypeFor[core.Pinger](),
	reflect.TypeFor[core.Renewer](),
}

// capabilityNames returns the capabilities of s, by name.
func capabilityNames(s core.Store) string {
	var names []string
	for _, c := range storeCapabilities {
		if reflect.TypeOf(s).Implements(c) {
			names = append(names, c.String())
		}
	}
	return "{" + strings.Join(names, ", ") + "}"
}

// wrapStore is core.WrapStore; the suite's own tests replace it with a
// wrapper that loses capabilities, to see the Wrapped checks fail.
var wrapStore = core.WrapStore

// checkWrappedCaps compares the capabilities of w, a wrapper, with those
// of inner.
func checkWrappedCaps(inner, w core.Store) error {
	if got, want := capabilityNames(w), capabilityNames(inner); got != want {
		return fmt.Errorf("core.WrapStore(%T) has capabilities %s, want %s (rule: a wrapped store keeps every capability of the store inside)", inner, got, want)
	}
	return nil
}

// storeTestWrapped runs every check of the suite again on the stores of
// newStore wrapped with core.WrapStore (with an Around that counts the
// calls): the wrapped store must have exactly the capabilities of the
// store inside and pass every check it passes, the volume checks with a
// tenth of their records (storeVolume). Its subtests go through r,
// so for a Parallel store they run alongside the unwrapped checks.
func storeTestWrapped(t *testing.T, newStore func(t *testing.T) core.Store, opts StoreOptions, r *storeRunner) {
	t.Helper()
	// wrapper returns a newStore that wraps, counting the calls in calls:
	// one counter per check, so that concurrent checks never count each
	// other's calls.
	wrapper := func(calls *atomic.Int64) func(t *testing.T) core.Store {
		return func(t *testing.T) core.Store {
			s := newStore(t)
			if s == nil {
				return nil
			}
			w := wrapStore(s, core.StoreWrapper{
				Around: func(ctx context.Context, _ core.StoreCall, next func(context.Context) error) error {
					calls.Add(1)
					return next(ctx)
				},
			})
			if err := checkWrappedCaps(s, w); err != nil {
				t.Fatal(err)
			}
			return w
		}
	}
	probe := wrapper(new(atomic.Int64))(t)
	runs := r.runs()
	for _, g := range storeGroups {
		if g.supported != nil && !g.supported(probe) {
			continue
		}
		runs.group(t, g.name, func(t *testing.T) {
			checks := r.runs()
			for _, c := range g.checks {
				if c.applies != nil && !c.applies(opts) {
					continue
				}
				// The volume checks write a tenth as many records here
				// (see storeVolume).
				wc := c
				wc.run = func(ctx context.Context, s core.Store, opts StoreOptions) error {
					return c.run(context.WithValue(ctx, wrappedKey{}, true), s, opts)
				}
				checks.check(t, c.name, c.slow, func(t *testing.T) {
					var calls atomic.Int64
					storeRunCheck(t, wrapper(&calls), g, wc, opts)
					if calls.Load() == 0 && !t.Skipped() {
						t.Errorf("the check made no call through the wrapper (rule: WrapStore's Around runs every call)")
					}
				})
			}
			checks.wait()
		})
	}
	runs.wait()
}

// storeCheckHealth checks core.PingStore (the store's Ping when it has
// one): nil on a live store, an error wrapping the context's when the
// context is cancelled or past its deadline.
func storeCheckHealth(t *testing.T, newStore func(t *testing.T) core.Store) {
	t.Helper()
	if err := storeHealthErr(t.Context(), newStore(t)); err != nil {
		t.Error(err)
	}
}

func storeHealthErr(ctx context.Context, s core.Store) error {
	if err := core.PingStore(ctx, s); err != nil {
		return fmt.Errorf("PingStore(live store) = %v, want nil (rule: a live store answers a ping)", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := core.PingStore(cctx, s); !errors.Is(err, context.Canceled) {
		return fmt.Errorf("PingStore(cancelled context) = %v, want an error wrapping context.Canceled (rule: a ping honours ctx)", err)
	}
	cctx, cancel = context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	if err := core.PingStore(cctx, s); !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("PingStore(expired context) = %v, want an error wrapping context.DeadlineExceeded (rule: a ping honours ctx)", err)
	}
	return nil
}

// wrappedKey is the context key under which the Wrapped group runs a check.
type wrappedKey struct{}

// storeVolume is how many records a volume check writes: n, or a tenth of
// it when the check runs in the Wrapped group. What the volume checks
// look for (index entries left behind by thousands of expired sessions,
// one Delete in a thousand lost) is the store's behaviour at volume, which
// the unwrapped run checks in full; WrapStore adds the same code to every
// call whatever the count, and a tenth still catches a wrapper that drops
// or alters calls.
func storeVolume(ctx context.Context, n int) int {
	if ctx.Value(wrappedKey{}) != nil {
		return max(1, n/10)
	}
	return n
}
