// Package core is sessionkit's framework-agnostic session engine: it decides
// when a session is loaded, when it is saved, when the cookie (or token
// header) is sent, and how concurrent requests on one session are merged.
// The adapters in adapters/nethttp, adapters/gin and adapters/echo connect it
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
// Session methods do no I/O and are safe for concurrent use by the
// goroutines of one request. The token never reaches handler code: there is
// no ID method. Renew gives the session a new token (call it on every
// change of privilege, such as login); Destroy ends it (logout); Revert
// drops this request's changes; AddFlash and Flashes keep one-time
// messages; Value and PopValue read typed values, converting numbers that a
// codec may have widened.
//
// # The request life cycle
//
// An adapter calls BeginRequest (or Begin) when the request arrives: nothing
// is loaded yet. The first read of the session loads it, once; a handler
// that never touches its session costs no store call. Just before the
// response header is written the adapter calls Commit with the header:
// when the request changed something, the record is written (and a new
// token is set when the session is new or renewed); when it only read, the
// idle deadline is pushed forward at most once per IdleRefresh fraction of
// the idle timeout, with Touch where the store has it. A session that was
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
// ExpiredDeleter (cleanup). With a CompareAndSwapper, concurrent requests
// on one session lose no update: on a conflict the core reloads the
// record, re-applies only the keys this request changed and retries, and
// it never re-creates a record that a concurrent logout or renew removed.
// A ClientStore keeps the session in the token itself (stores/cookie).
// Package conformance holds the test suites that define these contracts.
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
