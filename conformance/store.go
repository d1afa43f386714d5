package conformance

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// StoreOptions declares the limits of a store under test. The zero value
// declares none: any record size up to 64 KiB must round trip and expiry
// times must come back exactly as saved.
type StoreOptions struct {
	// MaxRecordSize is the largest record, in bytes, that the store keeps.
	// When set, a record of this size must round trip and a larger one
	// must fail with an error wrapping core.ErrTooLarge, leaving the
	// previous record intact. Zero means no declared limit, in which case
	// a 64 KiB record must round trip.
	MaxRecordSize int

	// ExpiryPrecision is the granularity to which the store keeps expiry
	// times, for example time.Second or time.Millisecond. A loaded Expiry
	// may be earlier than the saved one by less than this, never later.
	// Zero means expiry times are kept exactly.
	ExpiryPrecision time.Duration

	// Parallel lets the suite run its checks concurrently, several at a
	// time (the slow ones, which wait for records to expire, first), and
	// the Wrapped group alongside the others, instead of one after
	// another. Set it only when the stores newStore returns are
	// independent of each other, as with a fresh key prefix, table, file
	// or directory for each: one check's records, Iterate or
	// DeleteExpired must never see another's, and newStore must be safe to
	// call from several goroutines. The checks and their subtest names
	// are the same either way, and TestStoreWithOptions still returns
	// only when every check has run. False (the default) runs one check
	// at a time.
	Parallel bool
}

// TestStore runs the store conformance suite against the stores returned by
// newStore, which is called for a fresh, empty store in every subtest. It is
// TestStoreWithOptions with the zero StoreOptions.
func TestStore(t *testing.T, newStore func(t *testing.T) core.Store) {
	t.Helper()
	TestStoreWithOptions(t, newStore, StoreOptions{})
}

// TestStoreWithOptions runs the store conformance suite against the stores
// returned by newStore, which is called for a fresh, empty store in every
// subtest, allowing for the limits declared in opts.
func TestStoreWithOptions(t *testing.T, newStore func(t *testing.T) core.Store, opts StoreOptions) {
	t.Helper()
	opts = opts.normalise()
	probe := newStore(t)
	if probe == nil {
		t.Fatal("newStore returned nil")
	}
	r := newStoreRunner(opts)
	runs := r.runs()
	for _, g := range storeGroups {
		if g.supported != nil && !g.supported(probe) {
			t.Logf("%s: not implemented by %T; its checks do not apply", g.capability, probe)
			continue
		}
		runs.group(t, g.name, func(t *testing.T) {
			checks := r.runs()
			for _, c := range g.checks {
				if c.applies != nil && !c.applies(opts) {
					continue // e.g. TooLarge without a declared MaxRecordSize
				}
				checks.check(t, c.name, c.slow, func(t *testing.T) {
					storeRunCheck(t, newStore, g, c, opts)
				})
			}
			checks.wait()
		})
	}
	runs.check(t, "Health", false, func(t *testing.T) { storeCheckHealth(t, newStore) })
	runs.group(t, "Wrapped", func(t *testing.T) { storeTestWrapped(t, newStore, opts, r) })
	runs.check(t, "Observed", false, func(t *testing.T) { checkObserved(t, managerMount, newStore) })
	runs.wait()
}

// storeRunCheck runs one check against a fresh store.
func storeRunCheck(t *testing.T, newStore func(t *testing.T) core.Store, g storeGroup, c storeCheck, opts StoreOptions) {
	t.Helper()
	if c.slow && testing.Short() {
		t.Skip("waits for records to expire; skipped in -short mode")
	}
	for attempt := 0; ; attempt++ {
		// Each attempt has a store of its own: records an attempt left
		// behind would count in the next one's DeleteExpired.
		s := newStore(t)
		if s == nil {
			t.Fatal("newStore returned nil")
		}
		if g.supported != nil && !g.supported(s) {
			t.Fatalf("newStore returned a %T without %s, unlike the first store it returned", s, g.capability)
		}
		ctx, cancel := context.WithTimeout(t.Context(), storeCheckTimeout)
		err := c.run(context.WithValue(ctx, leadKey{}, attempt), s, opts)
		timedOut := errors.Is(ctx.Err(), context.DeadlineExceeded)
		cancel()
		if errors.Is(err, errLate) && attempt < maxLateRetries && !timedOut {
			t.Logf("attempt %d: %v; running again with a lead twice as long", attempt+1, err)
			continue
		}
		if err != nil && timedOut {
			t.Errorf("%v (the check ran out of its %v deadline: a store call may hang)", err, storeCheckTimeout)
		} else if err != nil {
			t.Error(err)
		}
		return
	}
}

// storeCheckTimeout bounds each attempt of a check, far beyond what any
// check needs, so that a store call that hangs fails the check instead of
// the whole test binary timing out.
const storeCheckTimeout = 5 * time.Minute

// maxLateRetries is how often storeRunCheck runs a check again after a
// failure marked errLate (the lead doubles each time: 8x at the last).
const maxLateRetries = 3

// normalise returns o with out-of-range values replaced by their defaults.
func (o StoreOptions) normalise() StoreOptions {
	if o.MaxRecordSize < 0 {
		o.MaxRecordSize = 0
	}
	if o.ExpiryPrecision < 0 {
		o.ExpiryPrecision = 0
	}
	return o
}

// storeCheck is one conformance check. run returns nil when the store
// passes and otherwise an error describing the first violation.
type storeCheck struct {
	name string
	// slow checks wait for records to expire.
	slow bool
	// applies, when set, reports whether the check applies under opts.
	applies func(opts StoreOptions) bool
	run     func(ctx context.Context, s core.Store, opts StoreOptions) error
}

// storeGroup is a named set of checks, tested only when supported (if set)
// reports that the store has the capability the checks need.
type storeGroup struct {
	name       string
	capability string
	supported  func(core.Store) bool
	checks     []storeCheck
}

// storeGroups is the whole suite in the order it runs. Group and check names
// are part of the API: users select subtests by them.
var storeGroups = []storeGroup{
	{name: "Load", checks: storeLoadChecks},
	{name: "Save", checks: storeSaveChecks},
	{name: "Delete", checks: storeDeleteChecks},
	{name: "Expiry", checks: storeExpiryChecks},
	{name: "Keys", checks: storeKeyChecks},
	{name: "Concurrency", checks: storeConcurrencyChecks},
	{name: "Context", checks: storeContextChecks},
	{
		name: "Toucher", capability: "core.Toucher", checks: storeToucherChecks,
		supported: func(s core.Store) bool { _, ok := s.(core.Toucher); return ok },
	},
	{
		name: "CompareAndSwapper", capability: "core.CompareAndSwapper", checks: storeCASChecks,
		supported: func(s core.Store) bool { _, ok := s.(core.CompareAndSwapper); return ok },
	},
	{
		name: "Iterator", capability: "core.Iterator", checks: storeIteratorChecks,
		supported: func(s core.Store) bool { _, ok := s.(core.Iterator); return ok },
	},
	{
		name: "ExpiredDeleter", capability: "core.ExpiredDeleter", checks: storeDeleterChecks,
		supported: func(s core.Store) bool { _, ok := s.(core.ExpiredDeleter); return ok },
	},
	{
		name: "UserIndexer", capability: "core.UserIndexer", checks: storeUserChecks,
		supported: func(s core.Store) bool { _, ok := s.(core.UserIndexer); return ok },
	},
	{
		name: "Renewer", capability: "core.Renewer", checks: storeRenewChecks,
		supported: func(s core.Store) bool { _, ok := s.(core.Renewer); return ok },
	},
}
