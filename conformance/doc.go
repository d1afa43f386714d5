// Package conformance is the executable definition of the sessionkit store
// and adapter contracts, plus helper stores for testing code that uses them.
//
// # Testing a store
//
// A third-party store runs the same suite as every store in sessionkit from
// an ordinary test:
//
//	func TestConformance(t *testing.T) {
//		conformance.TestStore(t, func(t *testing.T) core.Store {
//			s := mystore.New(...) // a fresh, empty store
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// The factory is called once per subtest and must return an empty store
// that nothing else uses concurrently (for a server-backed store: a fresh key
// prefix, database or table). Subtest names are stable, such as
// "Save/Overwrite" or "CompareAndSwapper/Stale", so a single check can be run
// with go test -run 'TestConformance/Save/Overwrite'. Every failure reads
// Op(args) = got, want want (rule: ...), naming the rule of the core.Store
// contract that the store broke.
//
// The optional capabilities core.Toucher, core.CompareAndSwapper,
// core.Iterator, core.ExpiredDeleter and core.UserIndexer are tested, each
// in its own group of subtests, only when the store implements them. The
// UserIndexer group also drives a core.Manager on the store: sessions
// ended by EndSession and EndUserSessions stay ended while 16 concurrent
// requests keep writing and renewing them, and expired sessions are not
// listed. A store that keeps
// expired records until cleanup should disable or slow down any background
// sweeping in the factory so that DeleteExpired has something to count.
//
// Stores with limits declare them with TestStoreWithOptions and
// StoreOptions: a maximum record size (larger records must fail with
// core.ErrTooLarge, never be truncated) and the precision to which expiry
// times are kept (rounded down, never up).
//
// Checks that wait for records to expire take one to two seconds each and
// are skipped under go test -short. A store whose factory returns stores
// that are independent of each other (a fresh key prefix, table, file or
// directory each) and may be called from several goroutines sets
// StoreOptions.Parallel: the same checks then run several at a time, the
// waiting ones first, and the suite takes a fraction of the time.
//
// After the capability groups, "Health" checks core.PingStore (the
// store's Ping when it is a core.Pinger) against live and ended contexts,
// "Wrapped" runs every check again on the store wrapped by core.WrapStore
// (which must keep exactly its capabilities; the checks of the store at
// volume, Delete/Many and UserIndexer/ManyExpired, write a tenth of their
// records there), and "Observed" drives a Manager on the store through a
// table of requests and checks that every core.Observer event fires
// exactly once per occurrence (TestObserver runs the same table for an
// adapter).
//
// # Several application servers
//
// TestSharedStore checks what a deployment with several application
// servers relies on: instances of the store over one backend (each with its
// own client or connection pool) see each other's writes and deletes, a
// compare-and-swap holds across instances, and core.Managers on different
// instances share sessions and lose none of the changes concurrent requests
// make. Its factory returns n such instances over one fresh namespace.
//
// # Contention
//
// TestContention is the pressure test of the core's promise on a store:
// 64 concurrent clients (16 with -short) each commit 16 (8) distinct keys
// to one session, through one Manager and spread over several Managers on
// separate instances, and not one commit may fail nor one key be lost.
// It takes TestSharedStore's factory and logs the CompareAndSwap calls per
// successful write; ContentionOptions.Mount runs the clients over HTTP
// through an adapter, and RunContention returns the numbers for
// benchmark tables.
//
// # Testing an adapter
//
// An adapter for another framework proves that it runs the core life cycle
// exactly as the net/http, Gin and Echo adapters do with TestAdapter. Mount
// returns the framework's engine with the adapter's middleware and a
// catch-all route that hands the suite the request's session:
//
//	func TestConformance(t *testing.T) {
//		conformance.TestAdapter(t, func(m *core.Manager, h conformance.Handler) http.Handler {
//			e := myframework.New()
//			e.Use(mysession.Middleware(m))
//			e.Any("/*", func(c myframework.Context) {
//				h(c.Writer(), c.Request(), mysession.Get(c))
//			})
//			return e
//		})
//	}
//
// Every check starts a fresh Manager, store and httptest.Server and talks to
// it with a real http.Client: the cookie must leave with every way of
// writing (WriteHeader, Write, Flush, ReadFrom, a handler that writes
// nothing), a commit failure before the header must produce the error
// handler's response and none of the handler's body, an untouched session
// must cost no store call and set no cookie, and renew, destroy and
// concurrent requests must leave the store as the core defines. The
// "Race" group holds the promises under contention: no commit runs out
// of retries, each flash message is shown exactly once, and a request
// carrying the token a login just retired gets no cookie. Subtests
// are grouped ("Commit/Flush", "Lifecycle/Renew") so one can be run alone.
//
// TestAdapterWith runs the same checks with another store (AdapterOptions
// NewStore) or with client-side sessions (NewClientStore), which is how the
// cookie store proves that it works behind every adapter. A client-side
// store passes "Race/RenewGrace" by implementing core.RetiringClientStore;
// one that keeps ended tokens valid (AdapterOptions.KeepsEndedTokens, a
// cookie store without a revocation list) cannot, and the check is skipped.
// "Features/ClientUserSessions" runs only with client-side sessions: with
// a core.UserRevoker and a revocation list, Manager.EndUserSessions must
// log out every other session of the user for good (requests in flight
// across the call and later calls included) while the kept session and
// other users stay logged in; with KeepsEndedTokens, or a client store
// that is no core.UserRevoker, it must return an error wrapping
// core.ErrNotSupported. UserSessions and EndSession always do for
// client-side sessions.
//
// # Injecting faults
//
// FaultyStore wraps any core.Store to make calls fail, fail after a number of
// calls, fail for one operation only, or take longer, and counts the calls
// per operation. Its Store method returns a wrapper with exactly the optional
// capabilities of the wrapped store.
package conformance
