package core

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sessionkit/sessionkit/internal/backoff"
)

// UserRevoker is implemented by client stores (see ClientStore) that can
// end every session of one user at once, with a server-side revocation
// list: Manager.EndUserSessions calls RevokeUser, and the core asks
// UserRevoked on every Open of a session that has a user (see
// Session.SetUser), so a session without one costs nothing extra.
// Listing a user's client-side sessions is impossible: nothing but the
// tokens themselves knows them.
//
// Clock skew: the core passes RevokeUser the time of the server that
// calls EndUserSessions, and UserRevoked the time at which the server
// that ran SetUser filed the session, so the two compare two clocks.
// When the login's server runs d ahead of the revoking one, a login up
// to d before the revocation is not ended by it; when it runs d behind,
// a login up to d after the revocation is ended too (its next request
// is a new, empty session). The kept session (keepID) is matched by id
// and not affected. Keep the servers' clocks synchronised (NTP keeps
// them within milliseconds); a single server has no such window.
type UserRevoker interface {
	ClientStore

	// RevokeUser records that every session of user sealed under name
	// that was filed under user (Session.SetUser) at or before at must
	// stop opening, except the session whose public id (Session.ID) is
	// keepID ("" keeps none). A later call for the same user adds to
	// the earlier ones rather than replacing them: a session an earlier
	// call ended stays ended even when a later call keeps its id (two
	// devices that each log out everywhere else at once end each other).
	// The entry may be forgotten
	// after until: every token it covers has expired by then.
	RevokeUser(ctx context.Context, name, user, keepID string, at, until time.Time) error

	// UserRevoked reports whether the session with public id id, filed
	// under user at since, was revoked by a RevokeUser call for user
	// whose at is not before since and whose keepID is not id. An error is a failure of the store
	// itself, as for Open.
	UserRevoked(ctx context.Context, name, user, id string, since time.Time) (revoked bool, err error)
}

// SessionInfo describes one of a user's live sessions, as
// Manager.UserSessions lists them.
type SessionInfo struct {
	// ID is the session's public id (Session.ID): neither its token nor
	// its store key.
	ID string
	// User is the user the session is filed under (Session.SetUser).
	User string
	// Created is when the session was created.
	Created time.Time
	// LastSeen is when the session was last used, as far as the record
	// tells without a write of its own: the latest of its last data write
	// and, with an IdleTimeout, the last refresh of its idle deadline (so
	// at the granularity of Config.IdleRefreshFraction).
	LastSeen time.Time
	// Expires is when the session ends if it is not used again.
	Expires time.Time
	// UserAgent is the User-Agent of the request that created the
	// session, with Config.RecordClientInfo; "" otherwise.
	UserAgent string
	// ClientAddr is the client address (Config.ClientIP) of the request
	// that created the session, with Config.RecordClientInfo; ""
	// otherwise.
	ClientAddr string
}

// UserSessions returns the live sessions filed under user (see
// Session.SetUser), the most recently seen first. It needs no request:
// an account page, an admin tool or a password-change handler may call
// it.
//
// A store that implements UserIndexer is asked for the user's keys, and
// each is loaded: one store call per session of the user. A store
// without it but with Iterator is scanned: one Load per stored session of
// every user, which is fine for thousands of sessions but not for
// millions. A listing that meets a session being renewed (its old key
// already retired) lists once more, so that the session is not missed. Any other store returns an error wrapping ErrNotSupported, as
// do client-side sessions (Config.ClientStore): nothing on the server
// knows them. An empty user has no sessions.
func (m *Manager) UserSessions(ctx context.Context, user string) ([]SessionInfo, error) {
	var recs []userRecord
	seenRetired := make(map[string]bool)
	for pass := 1; ; pass++ {
		p := userPass{display: true}
		if err := m.userRecords(ctx, "user sessions", user, &p); err != nil {
			return nil, err
		}
		recs = p.live
		// A retired marker is a renew in flight, whose new key the
		// listing may have missed: list again (once per marker).
		if pass == maxListPasses {
			break
		}
		again := false
		for _, k := range p.retired {
			if !seenRetired[k] {
				seenRetired[k], again = true, true
			}
		}
		if !again {
			break
		}
	}
	list := make([]SessionInfo, 0, len(recs))
	seen := make(map[string]bool, len(recs))
	for _, r := range recs {
		if !seen[r.info.ID] { // one session under two keys: a renew in flight
			seen[r.info.ID] = true
			list = append(list, r.info)
		}
	}
	slices.SortFunc(list, func(a, b SessionInfo) int {
		if c := b.LastSeen.Compare(a.LastSeen); c != 0 {
			return c
		}
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return list, nil
}

// EndSession ends the session of user whose public id is id, as Destroy
// would: its record is deleted, so its token loads nothing and a request
// of it still in flight cannot write it back (on a store with
// CompareAndSwapper). Because the id survives Renew, it deletes until no
// live record of user carries id, so a concurrent renew cannot carry the
// session to a new token. It reports false when no live session of user
// has id (another user's id included): a handler can answer "not found"
// without telling which.
//
// On a store with CompareAndSwapper a record is ended only in the state
// the listing loaded it in, and checked again when it changed since: a
// request that files the session under another user (SetUser) in the
// meantime keeps it. A store without compare-and-swap has no version to
// check, and the record is deleted whatever happened to it since.
//
// It finds the session as UserSessions does, at the same cost; for
// client-side sessions it returns an error wrapping ErrNotSupported.
func (m *Manager) EndSession(ctx context.Context, user, id string) (ended bool, err error) {
	if m.client != nil {
		return false, fmt.Errorf("sessionkit: end session: %w: a client-side session cannot be ended by id", ErrNotSupported)
	}
	if user == "" || id == "" {
		return false, nil
	}
	var p userPass
	for pass := 1; ; pass++ {
		if err := m.endPass(ctx, "end session", user, &p, pass); err != nil {
			return ended, err
		}
		n, again := 0, false
		for _, r := range p.live {
			if r.info.ID != id {
				continue
			}
			done, changed, err := m.endRecord(ctx, "end session", user, r, func(got string) bool { return got == id })
			if err != nil {
				return ended, err
			}
			if done {
				ended = true
				n++
			}
			again = again || changed
		}
		if n == 0 && !p.news && !again {
			return ended, nil
		}
	}
}

// EndUserSessions ends every session of user except the one whose public
// id is except ("" ends all), as Destroy would, and returns how many it
// ended: "log out everywhere (else)". Like EndSession it deletes until
// no live record of user but except's is left, so a concurrent renew
// cannot carry a session to a new token, and like EndSession it ends a
// record only in the state it listed it in (with CompareAndSwapper), so
// a session filed under another user meanwhile stays. A session of user
// created while it runs may or may not be ended: those created more than
// 2 seconds after the call began (by the clocks of the servers that
// created them and of this one) are left alone, so that a user who keeps
// logging in cannot keep the call from finishing; a renew keeps a
// session's creation time, so a session that existed when the call began
// is ended even when a renew carries it to a new token meanwhile. Each
// listing that meets a key ended since an earlier one (a renew in flight,
// or a record that expired or was deleted meanwhile) costs one more
// listing: with the Iterator
// fallback, one more scan of the store for every renew of any user in
// flight during a scan. After 100 listings in a row, 100 more follow,
// each after a short jittered delay growing up to 100ms, so that a burst
// of such churn can settle; the wait, like the whole call, ends with ctx.
//
// For client-side sessions it needs a ClientStore that implements
// UserRevoker: every token of user's sessions filed under user until now
// (by this server's clock against the login server's: see UserRevoker for
// the skew window) stops opening (the next request of each is a new, empty session), and
// n is 0 because nothing counts them. Without UserRevoker it returns an
// error wrapping ErrNotSupported.
func (m *Manager) EndUserSessions(ctx context.Context, user, except string) (n int, err error) {
	if m.client != nil {
		if m.revoker == nil {
			return 0, fmt.Errorf("sessionkit: end user sessions: %w: the client store keeps no revocation list (it does not implement core.UserRevoker)", ErrNotSupported)
		}
		if user == "" {
			return 0, nil
		}
		now := m.cfg.Now()
		cctx, dl := m.callCtx(ctx)
		defer dl.release()
		if err := m.revoker.RevokeUser(cctx, m.tokenName(), user, except, now, now.Add(m.cfg.Lifetime)); err != nil {
			return 0, fmt.Errorf("sessionkit: end user sessions: revoke: %w", err)
		}
		return 0, nil
	}
	if user == "" {
		return 0, nil
	}
	ended := make(map[string]bool)
	// Only the sessions that existed when the call began (see the doc).
	p := userPass{since: m.cfg.Now().Add(endNewMargin)}
	for pass := 1; ; pass++ {
		if err := m.endPass(ctx, "end user sessions", user, &p, pass); err != nil {
			return len(ended), err
		}
		deleted, again := 0, false
		for _, r := range p.live {
			if except != "" && r.info.ID == except {
				continue
			}
			done, changed, err := m.endRecord(ctx, "end user sessions", user, r, func(got string) bool { return except == "" || got != except })
			if err != nil {
				return len(ended), err
			}
			if done {
				ended[r.info.ID] = true
				deleted++
			}
			again = again || changed
		}
		if deleted == 0 && !p.news && !again {
			return len(ended), nil
		}
	}
}

// maxEndPasses bounds the listings of one EndSession or EndUserSessions
// made one right after the other: each pass deletes what it found and a
// pass that meets no ended key seen for the first time is the last, so
// only a store whose Delete does not delete, or renews without pause
// during every pass (a store scanned with Iterator while many users log
// in), need more. maxEndBackoffPasses more follow, each after a jittered
// backoff that grows to 100ms (see endPass), so that a burst of renews
// can pass: some seconds in all, unless ctx ends sooner.
const (
	maxEndPasses        = 100
	maxEndBackoffPasses = 100
)

// maxListPasses bounds the listings of one UserSessions: it is a
// display, which a renew in flight may at worst leave one session short.
const maxListPasses = 4

// endPass is pass number pass of an End* loop. The first maxEndPasses
// passes follow one another at once: under steady churn (renews of any
// user, met by a scan with Iterator) a pass converges when it is quick,
// and a wait would only let more renews in. Past them it waits first,
// with backoff (a jittered delay that grows with each pass, ended by
// ctx), so that a burst of renews can settle.
func (m *Manager) endPass(ctx context.Context, op, user string, p *userPass, pass int) error {
	if pass > maxEndPasses+maxEndBackoffPasses {
		return fmt.Errorf("sessionkit: %s: the user's sessions still changing after %d listings (a store whose Delete does not delete, or renews without pause)", op, maxEndPasses+maxEndBackoffPasses)
	}
	if pass > maxEndPasses {
		if err := backoff.Wait(ctx, pass-maxEndPasses+1); err != nil {
			return fmt.Errorf("sessionkit: %s: the user's sessions still changing after %d listings: %w", op, pass-1, err)
		}
	}
	return m.userRecords(ctx, op, user, p)
}

// userRecord is one live record filed under a user.
type userRecord struct {
	key     string
	version uint64 // as loaded: End* end the record only at this version
	info    SessionInfo
}

// userPass is one listing of a user's sessions. Listing the keys and
// loading each is no snapshot: a renew may move a session from a key
// that was listed (and is found ended by the time it is loaded) to one
// that was not. Because the core files the new key before it ends the
// old one, a listing that starts after the old key was found ended sees
// the new key: so End* list again until a pass meets no key it had not
// met ended before (each such key costs at most one more pass).
type userPass struct {
	live    []userRecord
	retired []string        // keys of retired markers met in this pass
	gone    map[string]bool // every key met ended (not found, expired, retired) so far
	news    bool            // this pass met a key ended that no earlier pass had
	// display: the listing is for display (UserSessions), so markers of
	// renews that ended before it began are ignored (see retiredBefore);
	// End* consider every marker, whatever the clocks say.
	display bool
	// since, when not zero, leaves out the live records of sessions
	// created after it: EndUserSessions ends the sessions that existed
	// when it began (see endNewMargin). Retired markers are not left
	// out: a marker's time is its renew's, so a session that existed
	// may leave one dated after since, and its successor must be found.
	since time.Time
}

// userRecords lists the live records of user's sessions into p: through
// the store's user index, else by scanning the store.
func (m *Manager) userRecords(ctx context.Context, op, user string, p *userPass) error {
	p.live, p.retired, p.news = p.live[:0], p.retired[:0], false
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sessionkit: %s: %w", op, err)
	}
	if m.client != nil {
		return fmt.Errorf("sessionkit: %s: %w: client-side sessions cannot be listed", op, ErrNotSupported)
	}
	if user == "" {
		return nil
	}
	now := m.cfg.Now() // before the listing: see retiredBefore
	var keys []string
	switch {
	case m.users != nil:
		cctx, dl := m.callCtx(ctx)
		var err error
		keys, err = m.users.UserKeys(cctx, user)
		dl.release()
		if err != nil {
			return fmt.Errorf("sessionkit: %s: user keys: %w", op, err)
		}
	case m.iter != nil:
		// No index: every record is a candidate (O(sessions)).
		if err := m.iter.Iterate(ctx, func(key string) bool {
			keys = append(keys, key)
			return true
		}); err != nil {
			return fmt.Errorf("sessionkit: %s: iterate: %w", op, err)
		}
	default:
		return fmt.Errorf("sessionkit: %s: %w: the store implements neither core.UserIndexer nor core.Iterator", op, ErrNotSupported)
	}
	for _, key := range keys {
		if !ValidKey(key) {
			continue
		}
		cctx, dl := m.callCtx(ctx)
		rec, found, err := m.cfg.Store.Load(cctx, key)
		dl.release()
		if errors.Is(err, ErrCorrupt) {
			continue // no session there; the next request of it deletes it
		}
		if err != nil {
			return fmt.Errorf("sessionkit: %s: load: %w", op, err)
		}
		var info SessionInfo
		st := sessionGone
		if found {
			info, st = m.sessionInfo(rec, user, now)
		}
		if st == sessionRetired && p.display && m.retiredBefore(rec, now) {
			st = sessionOther // its successor was filed before this listing began
		}
		if st == sessionLive && !p.since.IsZero() && info.Created.After(p.since) {
			// Created after the call began (a renew keeps the creation).
			// A retired marker is dated by its renew, not by the
			// session's creation: it always counts (see news).
			st = sessionOther
		}
		switch st {
		case sessionLive:
			p.live = append(p.live, userRecord{key: key, version: rec.Version, info: info})
		case sessionRetired, sessionGone:
			if st == sessionRetired {
				p.retired = append(p.retired, key)
			}
			if !p.gone[key] {
				if p.gone == nil {
					p.gone = make(map[string]bool)
				}
				p.gone[key], p.news = true, true
			}
		}
	}
	return nil
}

// endNewMargin allows for the clocks of several servers when
// EndUserSessions tells the sessions that existed when it began (which it
// ends) from those created later (which it leaves): a session's creation
// time is its first server's clock, the call's start this server's. A
// session created up to endNewMargin after the call began is ended too.
const endNewMargin = 2 * time.Second

// retireMargin allows for the clocks of several servers and for stores
// that round expiry down (to the second, say) when retiredBefore dates a
// marker.
const retireMargin = 2 * time.Second

// retiredBefore reports whether the retired marker rec was written
// (RenewGrace before its expiry) well before start: the renew that wrote
// it had filed its new key before a listing that began at start, which
// therefore holds that key, so the marker needs no second listing. With
// many renews (a store scanned with Iterator sees every user's) this
// keeps listings from repeating for markers of renews long done. Only
// UserSessions relies on it: a clock more than retireMargin behind would
// make it skip a renew in flight, which a display may, but End* must not.
func (m *Manager) retiredBefore(rec Record, start time.Time) bool {
	return rec.Expiry.Add(-m.cfg.RenewGrace).Before(start.Add(-retireMargin))
}

// userState is what sessionInfo found in a record.
type userState uint8

const (
	sessionGone    userState = iota // missing, expired or unreadable
	sessionLive                     // a live session of the user
	sessionRetired                  // a marker left by a renew
	sessionOther                    // a live session of another user, or of none
)

// sessionInfo describes rec when it is a live session of user.
func (m *Manager) sessionInfo(rec Record, user string, now time.Time) (SessionInfo, userState) {
	if m.cfg.MaxRecordSize > 0 && len(rec.Data) > m.cfg.MaxRecordSize {
		return SessionInfo{}, sessionGone
	}
	created, values, err := m.decode(rec.Data, true)
	if err != nil {
		return SessionInfo{}, sessionGone
	}
	end := created.Add(m.cfg.Lifetime)
	if _, retired := values[retiredKey]; retired {
		return SessionInfo{}, sessionRetired
	}
	if !now.Before(rec.Expiry) || !now.Before(end) {
		return SessionInfo{}, sessionGone
	}
	id := metaString(values, idKey)
	if metaString(values, userKey) != user || id == "" {
		return SessionInfo{}, sessionOther
	}
	info := SessionInfo{
		ID:         id,
		User:       user,
		Created:    created,
		LastSeen:   metaTime(values, writtenKey),
		Expires:    rec.Expiry,
		UserAgent:  metaString(values, agentKey),
		ClientAddr: metaString(values, addrKey),
	}
	if end.Before(info.Expires) {
		info.Expires = end
	}
	if info.LastSeen.Before(created) {
		info.LastSeen = created
	}
	if idle := m.cfg.IdleTimeout; idle > 0 {
		if t := rec.Expiry.Add(-idle); t.After(info.LastSeen) && !t.After(now) {
			info.LastSeen = t
		}
	}
	return info, sessionLive
}

// endRecord ends r, a live record of user that a listing loaded, as
// Destroy does, if it is still a session of user whose id match accepts.
// With a compare-and-swap store the record is ended (an expiry in the
// past) only at the version the listing loaded: a request that filed it
// under another user (SetUser) or renewed it between the listing and
// this call must not be undone. On a conflict the record is loaded again
// and checked again; changed reports that it no longer matched (it was
// refiled, renewed or ended meanwhile), so that the caller lists once
// more: a renew may have carried the session to a key the listing did
// not hold. A store without CompareAndSwapper has no version to check:
// the record is deleted.
func (m *Manager) endRecord(ctx context.Context, op, user string, r userRecord, match func(id string) bool) (ended, changed bool, err error) {
	if m.cas == nil {
		cctx, dl := m.callCtx(ctx)
		defer dl.release()
		if err := m.cfg.Store.Delete(cctx, r.key); err != nil {
			return false, false, fmt.Errorf("sessionkit: %s: delete: %w", op, err)
		}
		m.observeEvent(ctx, evDestroyed)
		return true, false, nil
	}
	version := r.version
	for attempt := 1; ; attempt++ {
		cctx, dl := m.callCtx(ctx)
		_, err := m.cas.CompareAndSwap(cctx, r.key, version, nil, time.Unix(1, 0))
		dl.release()
		if err == nil {
			m.observeEvent(ctx, evDestroyed)
			return true, false, nil
		}
		if !errors.Is(err, ErrConflict) {
			return false, false, fmt.Errorf("sessionkit: %s: delete: %w", op, backoff.AfterConflicts(ctx, ErrConflict, attempt-1, err))
		}
		if err := backoff.Wait(ctx, attempt); err != nil {
			return false, false, fmt.Errorf("sessionkit: %s: delete: %w", op, backoff.AfterConflicts(ctx, ErrConflict, attempt, err))
		}
		m.observeConflict(ctx, attempt)
		cctx, dl = m.callCtx(ctx)
		rec, found, err := m.cfg.Store.Load(cctx, r.key)
		dl.release()
		if err != nil && !errors.Is(err, ErrCorrupt) {
			return false, false, fmt.Errorf("sessionkit: %s: load: %w", op, backoff.AfterConflicts(ctx, ErrConflict, attempt, err))
		}
		if err != nil || !found {
			return false, true, nil // ended meanwhile
		}
		info, st := m.sessionInfo(rec, user, m.cfg.Now())
		if st != sessionLive || !match(info.ID) {
			return false, true, nil
		}
		version = rec.Version
	}
}

// checkUserRevoked asks the client store whether the session just
// opened, when it has a user, was ended by EndUserSessions; a revoked
// session is dropped (s.found false), as a revoked token is. s.mu is held.
func (s *Session) checkUserRevoked() error {
	m := s.m
	user := metaString(s.base, userKey)
	if m.revoker == nil || user == "" {
		return nil
	}
	ctx, dl := m.callCtx(s.req.Context())
	revoked, err := m.revoker.UserRevoked(ctx, m.tokenName(), user, metaString(s.base, idKey), metaTime(s.base, userSinceKey))
	dl.release()
	if err != nil {
		return fmt.Errorf("sessionkit: open: %w", err)
	}
	if revoked {
		s.found = false
	}
	return nil
}
