package core

import (
	"context"
	"errors"
	"time"
)

// Record is what a Store keeps for one session: the encoded session state,
// the time after which the record must no longer be returned, and, for stores
// that implement CompareAndSwapper, the version of the record.
type Record struct {
	// Data is the encoded session. A store returns a slice the caller owns:
	// it must not be retained, reused or modified by the store afterwards
	// (the core keeps the strings it decodes in it).
	Data []byte
	// Expiry is the deadline set by the last Save, CompareAndSwap or Touch.
	// A store may round it down to its own precision (for example to the
	// second) but never up.
	Expiry time.Time
	// Version identifies this state of the record for CompareAndSwap.
	// Stores without compare-and-swap leave it zero. A live record of a
	// store with compare-and-swap never has version zero.
	Version uint64
}

// Store keeps session records under opaque keys. The core derives each key
// from a SHA-256 hash of the session token, so a key is always 64 lowercase
// hexadecimal characters; stores may rely on that but should still reject
// anything else with an error rather than use it as a path or query.
//
// Every method must be safe for concurrent use and must honour ctx: a
// cancelled or expired context returns an error wrapping ctx.Err() promptly.
//
// The data a store is given to write (Save's and CompareAndSwap's data,
// CompareAndSwapUser's, and Renewal's Data, Retired and OldData) is
// read-only, as io.Writer's is: a store must not modify it, even
// temporarily, whether the call succeeds, conflicts or declines, and must
// copy what it keeps as a record. The core keeps the record it wrote in
// that same slice, and reads the session's values from it for the rest of
// the request; it never modifies the slice either, so a store's work that
// outlives a call its context cut short may still read it.
type Store interface {
	// Load returns the record stored under key. A key that was never saved,
	// was deleted, or whose expiry has passed returns found == false and a
	// nil error: not-found is not an error. The returned Data belongs to
	// the caller. A record the store cannot read back (a bad checksum or
	// header) is an error wrapping ErrCorrupt: the core then treats the
	// session as absent, logs it and deletes the record, where any other
	// error fails the request.
	Load(ctx context.Context, key string) (rec Record, found bool, err error)

	// Save stores data under key until expiry, replacing any previous data
	// and expiry. An expiry that is not in the future deletes the record.
	// data is read-only, and copied if kept as the record (see Store). A
	// record the store cannot hold (too large, say) is an error wrapping
	// ErrTooLarge; it is never truncated. A failed Save leaves the previous
	// record intact.
	Save(ctx context.Context, key string, data []byte, expiry time.Time) error

	// Delete removes the record stored under key. Deleting a key that does
	// not exist is not an error.
	Delete(ctx context.Context, key string) error
}

// Toucher is implemented by stores that can extend a record's expiry without
// rewriting its data. The core uses it to refresh the idle timeout.
type Toucher interface {
	// Touch sets the expiry of the record under key. Touching a missing
	// or expired record does not create it and returns an error wrapping
	// ErrNotFound, so that the core does not extend the cookie of a
	// session that a concurrent logout or renew ended. An expiry that is
	// not in the future deletes a live record. Touch does not change the
	// record's data. (A Renew with Config.RenewGrace on leaves a live
	// marker under the old key, which Touch cannot tell from the session:
	// the core then refreshes with CompareAndSwap when the store has it.)
	Touch(ctx context.Context, key string, expiry time.Time) error
}

// CompareAndSwapper is implemented by stores that can write a record only
// when it has not changed since it was loaded. With it the core never loses
// a concurrent request's update and never revives a destroyed session.
type CompareAndSwapper interface {
	// CompareAndSwap stores data under key until expiry if the record's
	// current version equals version, and returns the record's new version
	// (never zero, and different from version even when data and expiry
	// are the record's own). Version zero means "only if no live record
	// exists".
	// When the current version differs, or the record is gone and version is
	// not zero, it returns an error wrapping ErrConflict and changes nothing.
	// An expiry that is not in the future deletes the record when the
	// version matches: the core ends a renewed session this way, so that a
	// concurrent logout (which deleted the record) is never undone.
	CompareAndSwap(ctx context.Context, key string, version uint64, data []byte, expiry time.Time) (newVersion uint64, err error)
}

// Iterator is implemented by stores that can list their live records.
type Iterator interface {
	// Iterate calls fn with the key of every live record until fn returns
	// false. Records saved or deleted during the iteration may or may not
	// be seen. Iterate must not hold locks that fn's store calls would need.
	Iterate(ctx context.Context, fn func(key string) bool) error
}

// ExpiredDeleter is implemented by stores that keep expired records until
// they are cleaned up, so that a cron job or janitor can remove them.
type ExpiredDeleter interface {
	// DeleteExpired removes every record whose expiry has passed and
	// returns how many it removed.
	DeleteExpired(ctx context.Context) (n int, err error)
}

// UserIndexer is implemented by stores that keep, for every user, the keys
// of that user's sessions (see Session.SetUser), so that
// Manager.UserSessions and Manager.EndUserSessions need not scan every
// record. Without it the Manager falls back to Iterator, at a cost of one
// Load per stored session.
type UserIndexer interface {
	CompareAndSwapper

	// CompareAndSwapUser is CompareAndSwap that also files the record
	// under user, or under no user when user is "" (taking it off the
	// listing of the user it was filed under), in the same write where the
	// store can. The filing lasts while the record does: deleting,
	// expiring or ending the record (an expiry that is not in the future)
	// ends it too, and it never outlives until, the session's absolute
	// deadline, which no Touch moves past. CompareAndSwap, Save and Touch
	// leave a record's filing as it was (a record created by them is filed
	// under no user).
	CompareAndSwapUser(ctx context.Context, key string, version uint64, data []byte, expiry time.Time, user string, until time.Time) (newVersion uint64, err error)

	// UserKeys returns the keys of the records filed under user, as a
	// snapshot: the keys filed under user at one instant during the call.
	// A renew files a session's new key before it ends the old one, so a
	// snapshot holds at least one of them; a store that then drops keys
	// by their records' current state must not drop one that was deleted
	// or refiled after that instant (the core loads every key, skips the
	// ended ones and lists again when one ended since). It may include a
	// key whose record ended moments ago, but never one past its until,
	// and never one filed under another user at that instant. Stores
	// remove ended entries (at the latest when their until has passed,
	// and by the next DeleteExpired of an ExpiredDeleter) so that the
	// index never outgrows the live sessions by more than the records
	// that ended, or were filed under another user or none, within
	// Lifetime.
	UserKeys(ctx context.Context, user string) ([]string, error)
}

// Renewer is implemented by compare-and-swap stores that can move a
// session to a new key in one atomic step (one round trip on a network
// store): Session.Renew then costs a load and this call, instead of a
// load, the successor's write and the old record's retirement.
type Renewer interface {
	CompareAndSwapper

	// Renew creates the record r.NewKey with r.Data until r.Expiry and, in
	// the same atomic step, replaces the record r.OldKey, if its current
	// version is r.OldVersion and it is live, by r.Retired until
	// r.RetiredExpiry (deleting it instead when r.Retired is nil or
	// r.RetiredExpiry is not in the future). It returns the new record's
	// version (never zero).
	//
	// When the old record's version differs, or it is gone or expired, or
	// a live record already exists under r.NewKey, Renew returns an error
	// wrapping ErrConflict and changes nothing. A store that cannot write
	// these two keys atomically (for example two Redis Cluster hash slots)
	// returns an error wrapping ErrNotSupported and changes nothing; the
	// core then renews in separate steps. A store whose server has no
	// command over two keys may instead send the two writes at once and,
	// when one fails, undo the other before it returns (putting the old
	// record back from r.OldData): a request that loads the old key in
	// that moment finds it retired, as after a renew that succeeded.
	//
	// On a UserIndexer, the new record is filed under r.User (under no
	// user when it is ""), until r.Until, and the old record leaves every
	// user's set, as CompareAndSwapUser would file them.
	//
	// Any other error (a timeout, a dropped connection, ctx's end while
	// the call was under way) may leave the renew done, or still on its
	// way. The store must not undo such a renew after it returned: the
	// core reads both records to find out which (a renew still on its way
	// is stopped by rewriting the old record unchanged, which must give it
	// a new version), succeeds when the renew is done, and otherwise, or
	// later, undoes it itself.
	Renew(ctx context.Context, r Renewal) (newVersion uint64, err error)
}

// Renewal is one Renewer.Renew: the session under OldKey, at OldVersion,
// moves to NewKey.
type Renewal struct {
	// OldKey and OldVersion name the record the request loaded.
	OldKey     string
	OldVersion uint64
	// OldData is the old record's data at OldVersion as the request's
	// Load returned it, or nil when the core no longer has it. A store
	// that cannot make the two writes one atomic step (memcached) puts it
	// back when the successor's write fails after the retirement; without
	// it, such a store reads the old record first. Renew must neither
	// modify nor retain it.
	OldData []byte
	// Retired replaces the old record until RetiredExpiry (the core's
	// retired marker, which holds no session data); nil deletes it.
	Retired       []byte
	RetiredExpiry time.Time
	// NewKey, Data and Expiry are the successor, created only if no live
	// record exists under NewKey.
	NewKey string
	Data   []byte
	Expiry time.Time
	// User and Until file the successor on a UserIndexer (see
	// CompareAndSwapUser); other stores ignore them.
	User  string
	Until time.Time
}

// Errors a Store returns, to be matched with errors.Is.
var (
	// ErrConflict reports that a CompareAndSwap lost against another writer.
	ErrConflict = errors.New("sessionkit: version conflict")
	// ErrTooLarge reports that a record exceeds what the store can keep.
	ErrTooLarge = errors.New("sessionkit: record too large")
	// ErrInvalidKey reports a key that is not 64 lowercase hex characters.
	ErrInvalidKey = errors.New("sessionkit: invalid store key")
	// ErrNotFound reports that Touch found no live record to extend.
	ErrNotFound = errors.New("sessionkit: no live record")
	// ErrNotSupported reports that the store lacks the capability an
	// operation needs (for example listing the sessions of a client-side
	// store).
	ErrNotSupported = errors.New("sessionkit: not supported by the store")
)

// ValidKey reports whether key has the shape the core gives store keys:
// 64 lowercase hexadecimal characters. Stores use it to reject anything that
// could escape a directory or a key namespace.
func ValidKey(key string) bool {
	if len(key) != 64 {
		return false
	}
	// One table lookup per character, without a branch: a key's digits
	// are random, so a test per character would be mispredicted about
	// every other time (120 ns a key instead of 30).
	var bad byte
	for i := 0; i < 64; i++ {
		bad |= keyChar[key[i]]
	}
	return bad == 0
}

// keyChar is 0 for the characters of a store key (lowercase hexadecimal
// digits) and 1 for every other byte.
var keyChar = func() (t [256]byte) {
	for c := range t {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			t[c] = 1
		}
	}
	return t
}()

// ClientStore is implemented by stores that keep the whole session in the
// token itself, sealed (encrypted and authenticated) by the store: a cookie
// store, set as Config.ClientStore. Every change then issues a new token
// and nothing is kept on the server but what Revoke keeps.
type ClientStore interface {
	// Seal returns a token that carries id, data and expiry, bound to name
	// (the cookie or header name) so it cannot be replayed under another.
	// id names the session: the core seals every version of one session
	// with the same id (a new one after a renew), so that Revoke can end
	// all of its tokens at once.
	Seal(ctx context.Context, name, id string, data []byte, expiry time.Time) (token string, err error)

	// Open returns the id, data and expiry sealed in token under name. A
	// token that is malformed, tampered with, sealed for another name or
	// with an unknown key, expired, or revoked returns ok == false and a
	// nil error; an error is reserved for failures of the store itself
	// (for example of a revocation list).
	Open(ctx context.Context, name, token string) (id string, data []byte, expiry time.Time, ok bool, err error)

	// Revoke is called when a session is destroyed or renewed (a store
	// that implements RetiringClientStore gets Retire instead on a renew
	// while Config.RenewGrace is on), with its id and the time its tokens
	// would have expired: every token sealed with id must stop opening. A client-side session cannot be taken back
	// from the client; stores without a server-side revocation list
	// return nil and document that the old tokens stay valid until their
	// expiry.
	Revoke(ctx context.Context, name, id string, expiry time.Time) error
}

// RetiringClientStore is implemented by client stores that can tell a
// token retired by Renew moments ago from one that is simply unknown, as
// the core does for server-side stores with a retired marker (see
// Config.RenewGrace). With it, a request that still carries the pre-login
// token and is answered after the login gets no token and its changes are
// dropped; without it, such a request gets a new session whose token
// replaces the logged-in one. It needs a server-side revocation list: a
// store without one cannot tell, and implements neither method usefully.
type RetiringClientStore interface {
	ClientStore

	// Retire is called instead of Revoke when Renew ends a session and
	// Config.RenewGrace is on (Destroy still calls Revoke). Like Revoke,
	// it makes every token sealed with id stop opening until expiry; in
	// addition Retired reports graceUntil, the end of the grace window,
	// for those tokens. It must cost no more store calls than Revoke.
	Retire(ctx context.Context, name, id string, graceUntil, expiry time.Time) error

	// Retired is asked only about a token that Open refused, so that the
	// common path costs nothing extra. It returns the graceUntil that
	// Retire recorded for the session id sealed in token, or the zero time
	// when token does not authenticate (malformed, tampered with, sealed
	// for another name or with an unknown key), has expired, or was not
	// retired (revoked by Destroy, say). It must never trust a token it
	// cannot authenticate. The core compares graceUntil with its own
	// clock. An error is a failure of the store itself, as for Open.
	Retired(ctx context.Context, name, token string) (graceUntil time.Time, err error)
}
