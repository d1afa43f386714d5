package conformance

import (
	"net/http"
	"testing"

	"github.com/sessionkit/sessionkit/core"
)

// Handler is the framework-neutral handler the adapter suite mounts: w and
// r as the framework hands them to its handlers, and s, the request's
// session as the adapter exposes it (for example nethttp.Get(r) or
// ginsession.Get(c)).
type Handler func(w http.ResponseWriter, r *http.Request, s *core.Session)

// Mount installs the adapter's middleware for m in front of h and returns
// the resulting http.Handler. For net/http:
//
//	func(m *core.Manager, h conformance.Handler) http.Handler {
//		return nethttp.Middleware(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//			h(w, r, nethttp.Get(r))
//		}))
//	}
//
// For a framework, return its engine with the middleware and a catch-all
// route that calls h.
type Mount func(m *core.Manager, h Handler) http.Handler

// AdapterOptions chooses what TestAdapterWith runs the adapter with. The
// zero value runs it with a fresh stores/memory store per subtest.
type AdapterOptions struct {
	// NewStore returns a fresh, empty store for one subtest. Default: a
	// memory store with its sweeper off, closed when the subtest ends.
	NewStore func(t *testing.T) core.Store

	// NewClientStore, when set, runs the suite with client-side sessions:
	// a fresh core.ClientStore per subtest goes into Config.ClientStore
	// instead of a Store (NewStore is then not used), with its calls
	// counted and faults injected as for a store (Open as Load, Seal as
	// Save, Revoke as Delete; the checks of a core.RetiringClientStore
	// and of a core.UserRevoker as Load, their revocations as Delete).
	// It implies ClientSide.
	NewClientStore func(t *testing.T) core.ClientStore

	// ClientSide declares that the store keeps no server-side record (the
	// session travels in the token): the checks then do not inspect the
	// store for records and skip the checks that need one, such as the
	// no-lost-updates and in-flight-logout checks.
	ClientSide bool

	// KeepsEndedTokens declares that a token ended by Renew or Destroy
	// still loads its session until it expires, as with a client-side
	// store without a revocation list. The parts of the checks that
	// require the old token to load nothing are then left out, and so is
	// Race/RenewGrace (a store that cannot end a token cannot retire it).
	KeepsEndedTokens bool

	// Configure, when set, adjusts every Manager configuration the suite
	// builds, after the check's own settings (a client-side store sets its
	// TokenGenerator here, say). It must not change the clock, the logger
	// or the token transport. A core.ClientStore it installs in
	// Config.ClientStore is counted and fault-injected like NewClientStore's.
	Configure func(cfg *core.Config)
}

// TestAdapter runs the adapter conformance suite against mount with a fresh
// memory store per subtest. It is TestAdapterWith with the zero
// AdapterOptions.
func TestAdapter(t *testing.T, mount Mount) {
	t.Helper()
	TestAdapterWith(t, mount, AdapterOptions{})
}

// TestAdapterWith runs the adapter conformance suite against mount, with the
// stores and settings chosen by opts. Every check starts a fresh Manager, a
// fresh store wrapped in a FaultyStore and an httptest.Server serving
// mount's handler, and talks to it with a real http.Client. Subtest names
// (such as "Commit/Flush" or "Lifecycle/Renew") are stable, so one check
// can be run with go test -run. Every failure reads
// Op(args) = got, want want (rule: ...).
func TestAdapterWith(t *testing.T, mount Mount, opts AdapterOptions) {
	t.Helper()
	if mount == nil {
		t.Fatal("conformance: TestAdapterWith: nil Mount")
	}
	for _, g := range adapterGroups {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.checks {
				t.Run(c.name, func(t *testing.T) {
					adapterRunCheck(t, mount, opts, c)
				})
			}
		})
	}
}

// adapterRunCheck runs one check against a fresh environment.
func adapterRunCheck(t *testing.T, mount Mount, opts AdapterOptions, c adapterCheck) {
	t.Helper()
	if opts.NewClientStore != nil {
		opts.ClientSide = true
	}
	e := newAdapterEnv(t, mount, opts)
	if reason := c.skip(e); reason != "" {
		t.Skip(reason)
	}
	if err := c.run(e); err != nil {
		t.Error(err)
	}
}

// adapterCheck is one adapter conformance check: run returns nil when the
// adapter passes and otherwise an error describing the first violation.
type adapterCheck struct {
	name string
	// serverRecord: the check needs a server-side record (ClientSide opts out).
	serverRecord bool
	// endsTokens: the check needs a token ended by Renew or Destroy to
	// load nothing (KeepsEndedTokens opts out).
	endsTokens bool
	// cas: the check needs a store with compare-and-swap.
	cas bool
	// lists: the check needs a store that can list a user's sessions
	// (core.UserIndexer or core.Iterator).
	lists bool
	// clientOnly: the check needs client-side sessions (ClientSide).
	clientOnly bool
	run        func(e *adapterEnv) error
}

// skip returns why c does not apply in e, or "".
func (c adapterCheck) skip(e *adapterEnv) string {
	if c.serverRecord && e.opts.ClientSide {
		return "needs a server-side record; the store is declared ClientSide"
	}
	if c.endsTokens && e.opts.KeepsEndedTokens {
		return "needs ended tokens to stop loading; the store is declared KeepsEndedTokens (a client-side store without a revocation list)"
	}
	if c.cas {
		if e.opts.ClientSide {
			return "needs a server-side record; the store is declared ClientSide"
		}
		if !e.hasCAS() {
			return "needs a store with core.CompareAndSwapper (without it the core falls back to last-writer-wins)"
		}
	}
	if c.clientOnly && !e.opts.ClientSide {
		return "needs client-side sessions; the store is not declared ClientSide"
	}
	if c.lists {
		_, u := e.inner.(core.UserIndexer)
		_, i := e.inner.(core.Iterator)
		if e.opts.ClientSide || (!u && !i) {
			return "needs a store that can list a user's sessions (core.UserIndexer or core.Iterator)"
		}
	}
	return ""
}

// adapterGroup is a named set of checks.
type adapterGroup struct {
	name   string
	checks []adapterCheck
}

// adapterGroups is the whole suite in the order it runs. Group and check
// names are part of the API: users select subtests by them.
var adapterGroups = []adapterGroup{
	{name: "Commit", checks: adapterCommitChecks},
	{name: "Unchanged", checks: adapterUnchangedChecks},
	{name: "Headers", checks: adapterHeaderChecks},
	{name: "Lifecycle", checks: adapterLifecycleChecks},
	{name: "Errors", checks: adapterErrorChecks},
	{name: "Tokens", checks: adapterTokenChecks},
	{name: "Expiry", checks: adapterExpiryChecks},
	{name: "Concurrency", checks: adapterConcurrencyChecks},
	{name: "Race", checks: adapterRaceChecks},
	{name: "HeaderTransport", checks: adapterTransportChecks},
	{name: "LateChanges", checks: adapterLateChecks},
	{name: "Features", checks: adapterFeatureChecks},
}
