// Package cookie keeps sessions entirely on the client: the session record
// travels in the cookie (or token header), sealed with AES-256-GCM, and the
// server keeps nothing, except an optional revocation list.
//
// Use a Store as core.Config.ClientStore instead of a server-side Store:
//
//	st, err := cookie.New(cookie.Config{Keys: [][]byte{key}})
//	m, err := core.New(core.Config{ClientStore: st, Lifetime: time.Hour})
//
// # What is sealed
//
// A token is the unpadded base64url encoding of
//
//	version (1 byte) | nonce (12 random bytes) | AES-256-GCM(expiry | id length | id | record)
//
// where expiry is the session's deadline in Unix nanoseconds, id the
// session id the Manager gives every token of one session (128 random
// bits, new after a renew) and record what the Manager's codec produced. The cookie (or header) name is the
// additional authenticated data, so a value sealed for one cookie does not
// open under another. Open rejects, with ok == false and no error, anything
// malformed, tampered with, sealed under another name or with an unknown
// key, expired, or revoked.
//
// # Keys and rotation
//
// Config.Keys lists 32-byte keys. Seal always uses the first; Open tries
// each in turn. To rotate, put the new key first and keep the old one
// listed for at least the session Lifetime, then remove it. Removing a key
// ends every session sealed with it. Generate keys with crypto/rand and keep
// them out of source control.
//
// # What Destroy and Renew can and cannot do
//
// A client-side session lives in the client's cookie jar. Destroy expires
// the cookie in the browser and Renew replaces it, but a copy of the old
// cookie (taken by malware, a proxy log, or the user) stays a valid session
// until the deadline sealed inside it, because the server has no record to
// delete. Two remedies, best combined:
//
//   - Short deadlines: a Lifetime of hours rather than days, and an
//     IdleTimeout, bound how long a copied cookie is useful.
//   - A revocation list (Config.Revocations, any core.Store): Revoke, which
//     the Manager calls on Destroy and Renew, stores a marker under
//     core.StoreKey(id) for the session id until the session's deadline,
//     and Open refuses every token sealed with a revoked id, so a logout
//     ends each cookie the session ever had, including copies taken
//     before its last change. Each Open of an otherwise valid token then
//     costs one store Load, and the list holds one small record per logout
//     or renewal until the old session's deadline.
//
// # Login races
//
// A browser often fires requests in parallel with the login POST. When
// one of them carries the pre-login cookie and is answered after the
// login, it must not replace the logged-in cookie. With a revocation list
// the store implements core.RetiringClientStore: on Renew the Manager
// calls Retire instead of Revoke, whose marker (the same single Save) ends
// the old tokens as a revocation does and also records the end of the
// grace window (core.Config.RenewGrace, 30 seconds). A request presenting
// a refused token then costs one more Load (Retired, which first
// authenticates the token, so a forged one is never taken for a retired
// one); within the window the request sees an empty session, gets no
// cookie, and its changes are dropped with a log line. After the window
// the token is simply unknown. Without a revocation list the old token
// still opens the pre-login session, so a request that changes it answers
// with a cookie that replaces the logged-in one: the protection needs
// Config.Revocations. Even with one, a request that opened the old token
// before the login was committed, and changes the session, still answers
// with a cookie of its own: nothing tells its commit that the session
// ended meanwhile (server-side stores catch this with compare-and-swap).
//
// # A user's sessions
//
// Manager.UserSessions cannot list client-side sessions, and
// Manager.EndSession cannot end one by its id: nothing on the server knows
// them, only the tokens in the clients' cookie jars. Both return an error
// wrapping core.ErrNotSupported.
//
// Manager.EndUserSessions ("log out everywhere", or everywhere else) works
// with a revocation list: the store implements core.UserRevoker. It keeps
// one record per user (under a store key hashed from the cookie name and
// the user id, so the list never holds the id) with a not-before time and
// the public id of the session to keep, until the longest session it
// covers could expire (the session Lifetime). Every token of a session
// filed under that user (core.Session.SetUser) at or before that time then
// stops opening, except the kept session's: the next request of each is a
// new, empty session, as after a logout. A login after the call is not
// affected; "before" and "after" compare the clock of the server that
// called EndUserSessions with that of the server that ran the login, so
// with clocks d apart a login up to d before the call may survive it, or
// one up to d after it be ended (see core.UserRevoker; keep the clocks in
// sync with NTP). EndUserSessions returns 0, because nothing counts the sessions
// it ended. Repeated calls add up rather than replace each other: a session
// one call ended stays ended even if a later call names it as the one to
// keep, and two devices that each end "everywhere else" at the same moment
// end each other. The call costs a Load and a write of the list (a
// compare-and-swap, retried on conflict after a jittered backoff, when the list implements
// core.CompareAndSwapper; with a plain Save two concurrent calls for one
// user may keep only one of them). Each Open of a session that has a user
// costs one more Load of the list; sessions without a user cost nothing
// more. Without Config.Revocations, EndUserSessions returns an error
// wrapping core.ErrNotSupported, and a session cannot be ended before its
// deadline.
//
// A cookie carries at most 4096 bytes including its name and attributes;
// the Manager fails the request with an error wrapping core.ErrTooLarge
// when a sealed session would not fit, rather than sending a cookie the
// browser would drop. Keep client-side sessions small: an identifier and a
// few flags, not a shopping cart.
package cookie
