// Package core is sessionkit's framework-agnostic session engine: it decides
// when a session is loaded, when it is saved, when the cookie (or token
// header) is sent, and how concurrent requests on one session are merged.
// The adapters in adapters/nethttp, adapters/ginsession and adapters/echosession connect it
// to a framework; the stores in stores/ keep the records.
//
// # Using it
//
// Build one Manager per application with New and a Config (every field
// documents its default), install the adapter's middleware, and use the
// request's *Session in handlers:
//
//	m, err := core.New(core.Config{Store: memory.New(memory.Config{}), IdleTimeout: 30 * time.Minute})
//	...
//	s := nethttp.Get(r)             // or ginsession.Get(c), echosession.Get(c)
//	n, _ := core.Value[int](s, "visits")
//	s.Set("visits", n+1)            // saved automatically before the header leaves
//
// Session methods do no I/O (except the lazy load on first use, and
// Flashes, which claims its messages from the store) and are safe for
// concurrent use by the goroutines of one request. The token never reaches handler code: there is
// no ID method. Renew gives the session a new token (call it on every
// change of privilege, such as login); Destroy ends it (logout); Revert
// drops this request's changes; AddFlash and Flashes keep one-time
// messages; Value and PopValue read typed values, converting numbers that a
// codec may have widened.
//
// # The application API and the adapter API
//
// Application code uses New, Config, Manager.FromContext, *Session (Get,
// Set, Renew, Destroy, Flashes, ...), Value and PopValue, the Store
// interfaces and the codecs. It never calls Manager.Begin, BeginRequest,
// BeginRequestWith, Commit, Release, HandleError or LogError: those are
// the adapter API, which the middleware in adapters/nethttp,
// adapters/ginsession, adapters/echosession and adapters/echov5 calls at
// the right moments (their doc comments say "Adapter API").
// adapters/nethttp.Writer is the response wrapper that other adapters
// reuse for the same purpose. Only someone writing an adapter for another
// framework needs the section below.
//
// # The request life cycle (for adapter authors)
//
// An adapter calls BeginRequest (or Begin) when the request arrives, or
// BeginRequestWith to keep its own per-request state (its response writer
// wrapper) in the same allocation as the session and the request copy:
// nothing is loaded yet. The first read of the session loads it, once; a
// handler that never touches its session costs no store call. Just before the
// response header is written the adapter calls Commit with the header:
// when the request changed something, the record is written (and a new
// token is set when the session is new or renewed); when it only read, the
// idle deadline is pushed forward at most once per IdleRefresh fraction of
// the idle timeout, with a compare-and-swap of the record as loaded (or
// with Touch, where the store has no compare-and-swap or RenewGrace is
// off: Touch, guarded by no version, would extend the marker a concurrent
// Renew left under the old key). A session that was
// only read and is empty creates no record and sets no cookie. After the
// handler returns, the adapter calls Commit once more with a nil header to
// save changes made after the header left (when the token did not change)
// and then Release. With Config.ManualSave, changes are stored only when
// the handler calls Save.
//
// # Stores and capabilities
//
// A Store is Load, Save and Delete of opaque records under keys that are
// SHA-256 hashes of the tokens (StoreKey), so a store never sees a token.
// Optional interfaces add what a store can do: Toucher (move the deadline
// without a rewrite), CompareAndSwapper (versioned writes), Iterator and
// ExpiredDeleter (cleanup), UserIndexer (a user's sessions). A ClientStore
// keeps the session in the token itself (stores/cookie). Package
// conformance holds the test suites that define these contracts.
//
// # A user's sessions
//
// Session.SetUser files a session under a user (at login, next to Renew);
// Session.ID is its public id, stable across Renew. Manager.UserSessions
// lists a user's live sessions (SessionInfo), Manager.EndSession ends one
// by id and Manager.EndUserSessions all but one ("log out everywhere
// else"), as strongly as Destroy, from any goroutine. Stores that
// implement UserIndexer keep a per-user index; others are scanned with
// Iterator; client-side sessions can only be ended all at once, through
// a ClientStore that implements UserRevoker.
//
// # Observability
//
// Config.Observer receives the events of the life cycle (loaded, created,
// renewed, destroyed, ended by another request, conflicts, commits) and of
// every store call; without one they cost nothing. The otelsession module
// turns them into OpenTelemetry spans and metrics. WrapStore decorates a
// store (logging, metrics, fault injection, a cache) without hiding any of
// its capabilities, and Manager.Check is a readiness probe (Pinger).
//
// # Concurrent requests
//
// On stores with compare-and-swap (every bundled server-side store),
// concurrent requests on one session that change different keys all
// survive, however many there are. A Manager serialises its own commits
// to one session (a per-session lock held only around the load, rebase
// and compare-and-swap of a commit, never while a handler runs), so the
// commits of one process never conflict with each other. A conflict with
// another process reloads the record, re-applies only the keys this
// request changed and tries again, with jittered exponential backoff,
// until the commit's deadline (Config.CommitTimeout) rather than for a
// fixed number of attempts. A commit never re-creates a record that a
// concurrent logout or renew removed: its changes are dropped with a log
// line. A refresh of the idle deadline that loses against a concurrent
// writer is no error (the writer extended the record). On a store without
// compare-and-swap the last writer wins, and New logs a warning saying so.
//
// Flash messages (AddFlash, Flashes) are each kept as an entry of their
// own, so concurrent AddFlash calls keep every message, and Flashes
// claims the stored messages from the store with compare-and-swap, so
// each message is returned by exactly one Flashes call across concurrent
// requests. Without compare-and-swap, and for client-side sessions, a
// message may be shown by more than one of concurrent requests.
//
// Renew (login) replaces the old record, in the same single write that
// would have deleted it, by a marker that holds no session data and
// expires after Config.RenewGrace (30 seconds). A request that presents
// the old token within that window, such as one the browser fired in
// parallel with the login, sees an empty session, gets no cookie that
// would replace the new one, and its changes are dropped; after the
// window the token is simply unknown. Destroy (logout) deletes the record.
// Client-side sessions get the same protection from a ClientStore that
// implements RetiringClientStore (stores/cookie with a revocation list):
// Renew retires the old session id instead of revoking it, in the one
// store call Revoke would have made. Two limits remain there: without a
// revocation list the old token still opens the pre-login session (so a
// request that changes it gets a new cookie), and a request that opened
// the old token before the login's commit and changes the session
// afterwards still answers with a token of its own, since nothing on the
// server says at its commit that the session ended.
//
// # Deadlines
//
// Every store call the core makes is bounded by Config.StoreTimeout (5
// seconds), so a hung backend fails the request through the error handler
// instead of hanging it. The commit runs on a context detached from the
// request's cancellation, so a client that disconnects before the
// response header does not lose what its request changed, and bounded as
// a whole by Config.CommitTimeout (10 seconds). The load, which happens
// when the handler first touches the session, is detached the same way
// (bounded by StoreTimeout), so that a handler that touches the session
// only after the client went away does not lose its changes either.
//
// # Reserved keys
//
// The core keeps its own metadata (the bound client address, flash
// entries, the retired marker) in the record under keys that begin with
// a NUL byte (ReservedKey). Session.Set panics on such a key, and Get,
// Keys, Delete and Pop do not see them, so application keys can never
// collide with them.
//
// # Tokens, codecs and expiry
//
// Tokens are 256 random bits in base64url (RandomTokens); anything that is
// not a well-formed token, and in strict mode (the default) any token the
// server did not issue, is simply "no session". Records are encoded with
// BinaryCodec by default (no reflection for the common types, gob only for
// registered custom types) or JSONCodec; a record that does not decode is
// discarded with a log line and the request gets a new session. Every
// session has an absolute lifetime and, optionally, an idle timeout, both
// enforced by the core on load whatever the store does with its TTLs.
package core
