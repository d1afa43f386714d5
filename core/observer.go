package core

import (
	"context"
	"time"
)

// Observer receives the events of a Manager's session life cycle, for
// metrics, traces or logs (see Config.Observer; the otelsession module
// turns them into OpenTelemetry spans and metrics). The core calls it on
// the request's goroutine, synchronously: a method must be quick, safe for
// concurrent use, and must not call the Session.
//
// No event carries a token or a store key. Every ctx is the request's
// context or one derived from it (a commit's context is detached from the
// request's cancellation but keeps its values), so a tracing Observer
// finds the request's span in it.
//
// Embed NopObserver in an implementation so that it keeps compiling when
// events are added.
type Observer interface {
	// SessionLoaded reports the lazy load of a session whose request
	// presented a token. A request without a token loads nothing and
	// reports nothing.
	SessionLoaded(ctx context.Context, outcome LoadOutcome)

	// SessionCreated reports that a new session was stored (sealed, for a
	// ClientStore) for the first time.
	SessionCreated(ctx context.Context)

	// SessionRenewed reports that Session.Renew took effect: the session
	// was stored under a new token and its old token ended.
	SessionRenewed(ctx context.Context)

	// SessionDestroyed reports that Session.Destroy took effect (the
	// stored session was deleted, its id revoked for a ClientStore), or
	// that Manager.EndSession or EndUserSessions ended one stored session
	// (once per session; a client-side EndUserSessions cannot count them
	// and reports none).
	SessionDestroyed(ctx context.Context)

	// SessionGone reports that a concurrent request destroyed or renewed
	// the session this request was about to write or refresh: the write
	// was dropped, so that the logout or login stands.
	SessionGone(ctx context.Context)

	// ConflictRetried reports that a compare-and-swap lost against
	// another writer (after the backoff, before the retry): the core
	// reloads the record and, unless the session ended meanwhile (then
	// SessionGone follows), re-applies this request's changes and tries
	// again. attempt counts the conflicts of this write so far (1 for the
	// first retry).
	ConflictRetried(ctx context.Context, attempt int)

	// CommitStarted is called before the first store call of a commit. The
	// context it returns (ctx, or one derived from it, carrying a span
	// say) is the parent of the commit's store calls and is passed to
	// SessionCommitted.
	CommitStarted(ctx context.Context) context.Context

	// SessionCommitted reports a finished commit. A commit that made
	// store calls gets the context CommitStarted returned; one that had
	// nothing to store (CommitNothing) gets the request's context and no
	// CommitStarted.
	SessionCommitted(ctx context.Context, e CommitEvent)

	// StoreCallStarted is called before every call the Manager makes to
	// its Store or ClientStore. The context it returns is the one the
	// store call gets, and is passed to StoreCallFinished.
	StoreCallStarted(ctx context.Context, op StoreOp, store string) context.Context

	// StoreCallFinished reports a finished store call.
	StoreCallFinished(ctx context.Context, e StoreCallEvent)
}

// LoadOutcome is how the load of a presented token ended.
type LoadOutcome uint8

// The outcomes of SessionLoaded.
const (
	// LoadHit: a live session was found and is used.
	LoadHit LoadOutcome = iota + 1
	// LoadMiss: the token was malformed, unknown, retired by a renew, or
	// bound to another client address: the request gets a new session.
	LoadMiss
	// LoadExpired: the session had expired (Config.OnExpired is called).
	LoadExpired
	// LoadCorrupt: the stored record could not be read (the store reports
	// it corrupt, it does not decode, or it exceeds MaxRecordSize).
	LoadCorrupt
	// LoadError: the store failed; the request fails.
	LoadError
)

// String returns the outcome's lowercase name: "hit", "miss", "expired",
// "corrupt" or "error".
func (o LoadOutcome) String() string {
	switch o {
	case LoadHit:
		return "hit"
	case LoadMiss:
		return "miss"
	case LoadExpired:
		return "expired"
	case LoadCorrupt:
		return "corrupt"
	case LoadError:
		return "error"
	}
	return "unknown"
}

// CommitOutcome is what a commit did to the store.
type CommitOutcome uint8

// The outcomes of SessionCommitted.
const (
	// CommitNothing: nothing to store; no store call.
	CommitNothing CommitOutcome = iota + 1
	// CommitWritten: the session was written, renewed or destroyed (or
	// an unusable record deleted).
	CommitWritten
	// CommitTouched: only the idle deadline of an unchanged session was
	// pushed forward.
	CommitTouched
	// CommitDropped: a concurrent request ended the session (see
	// SessionGone), or the token was retired by a renew moments ago, so
	// this request's changes were dropped.
	CommitDropped
)

// String returns the outcome's lowercase name: "nothing", "written",
// "touched" or "dropped".
func (o CommitOutcome) String() string {
	switch o {
	case CommitNothing:
		return "nothing"
	case CommitWritten:
		return "written"
	case CommitTouched:
		return "touched"
	case CommitDropped:
		return "dropped"
	}
	return "unknown"
}

// CommitEvent describes a finished commit.
type CommitEvent struct {
	// Outcome is what the commit did, or was doing when it failed.
	Outcome CommitOutcome
	// Duration is the commit's wall time, store calls included; zero for
	// a commit that made no store call.
	Duration time.Duration
	// Err is the commit's error, nil on success. It never holds a token.
	Err error
}

// StoreOp names a store operation: the method of Store, ClientStore or a
// capability that the call used.
type StoreOp string

// The store operations.
const (
	OpLoad               StoreOp = "load"
	OpSave               StoreOp = "save"
	OpDelete             StoreOp = "delete"
	OpCompareAndSwap     StoreOp = "compare_and_swap"
	OpTouch              StoreOp = "touch"
	OpIterate            StoreOp = "iterate"
	OpDeleteExpired      StoreOp = "delete_expired"
	OpCompareAndSwapUser StoreOp = "compare_and_swap_user"
	OpUserKeys           StoreOp = "user_keys"
	OpPing               StoreOp = "ping"
	OpRenew              StoreOp = "renew"
	OpSeal               StoreOp = "seal"
	OpOpen               StoreOp = "open"
	OpRevoke             StoreOp = "revoke"
	OpRetire             StoreOp = "retire"
	OpRetired            StoreOp = "retired"
	OpRevokeUser         StoreOp = "revoke_user"
	OpUserRevoked        StoreOp = "user_revoked"
)

// StoreCallEvent describes a finished store call.
type StoreCallEvent struct {
	// Op is the operation.
	Op StoreOp
	// Store names the store: the name of its Go package ("memory",
	// "redisstore", "cookie", ...), looking through WrapStore.
	Store string
	// Duration is the call's wall time.
	Duration time.Duration
	// Err is the call's error, nil on success. Not-found is not an error
	// (see NotFound), nor is a Renew that the store declines (see
	// Declined); a conflict of CompareAndSwap or Renew is one (wrapping
	// ErrConflict).
	Err error
	// NotFound reports a Touch that found no live record (the store
	// returned ErrNotFound): the session expired or ended meanwhile.
	NotFound bool
	// Declined reports a Renew that the store declined with
	// ErrNotSupported: it changed nothing, and the core renews in
	// separate steps, each observed as a call of its own.
	Declined bool
}

// NopObserver is an Observer that ignores every event. Embed it in an
// Observer to implement only the events it needs.
type NopObserver struct{}

var _ Observer = NopObserver{}

// SessionLoaded implements Observer.
func (NopObserver) SessionLoaded(context.Context, LoadOutcome) {}

// SessionCreated implements Observer.
func (NopObserver) SessionCreated(context.Context) {}

// SessionRenewed implements Observer.
func (NopObserver) SessionRenewed(context.Context) {}

// SessionDestroyed implements Observer.
func (NopObserver) SessionDestroyed(context.Context) {}

// SessionGone implements Observer.
func (NopObserver) SessionGone(context.Context) {}

// ConflictRetried implements Observer.
func (NopObserver) ConflictRetried(context.Context, int) {}

// CommitStarted implements Observer; it returns ctx.
func (NopObserver) CommitStarted(ctx context.Context) context.Context { return ctx }

// SessionCommitted implements Observer.
func (NopObserver) SessionCommitted(context.Context, CommitEvent) {}

// StoreCallStarted implements Observer; it returns ctx.
func (NopObserver) StoreCallStarted(ctx context.Context, _ StoreOp, _ string) context.Context {
	return ctx
}

// StoreCallFinished implements Observer.
func (NopObserver) StoreCallFinished(context.Context, StoreCallEvent) {}
