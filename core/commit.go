package core

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	mrand "math/rand/v2"
	"net/http"
	"time"

	"github.com/sessionkit/sessionkit/internal/backoff"
	"github.com/sessionkit/sessionkit/internal/keylock"
)

// errGone reports that a concurrent request destroyed or renewed the
// session this request was about to write: the write is dropped so the
// logout or login stands.
var errGone = errors.New("sessionkit: session ended by a concurrent request")

// Commit stores what the request changed and sends the token to the client.
//
// Adapters call it once just before the response header is written, with
// that header (h), and once more after the handler returned with h == nil
// when the header had already gone out by then: changes made after the
// header left are still saved when the token did not change; a new token
// that can no longer reach the client is logged and its session not stored.
// Commit always adds Vary to h. It adds Set-Cookie (or the token header)
// only when the token or the cookie's expiry changed.
//
// The error is a load or store failure; the adapter answers it through
// HandleError when the header has not been sent.
//
// Adapter API: application code never calls Commit; the middleware does.
func (m *Manager) Commit(s *Session, h http.Header) error {
	if h != nil {
		m.addVary(h, s)
	}
	if !s.touched.Load() {
		// Never locked, so never loaded: nothing to store or send. A
		// goroutine of the handler that touches it later finds what it
		// would have found had Commit taken the lock first.
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loaded || s.released {
		return nil
	}
	if s.loadErr != nil {
		return s.loadErr
	}
	if s.retired {
		m.dropRetired(s)
		if h != nil {
			m.observeCommit(s.req.Context(), CommitDropped)
		}
		return nil
	}
	// The clock is read only when the commit writes, refreshes or sends
	// something: a request that only read its session needs no time.
	var now time.Time
	clock := func() time.Time {
		if now.IsZero() {
			now = m.cfg.Now()
		}
		return now
	}

	persist := (s.changes.len() != 0 || s.cleared) && (!m.cfg.ManualSave || s.saveReq)
	size := len(s.base)
	if persist {
		size = s.mergedLen()
	}
	write := persist || (s.renew && s.found)
	if _, pending := s.base[idKey]; pending && !s.found {
		size-- // the public id ID handed out is no content of its own
	}
	if !s.found && size == 0 {
		write = false // never create a record for an empty session
	}
	newToken := s.renew || s.token == "" || m.client != nil
	wasFound, oldToken, oldExpiry := s.found, s.token, s.expiry

	if write && newToken && h == nil {
		m.cfg.Logger.LogAttrs(s.req.Context(), slog.LevelError,
			"sessionkit: session changed after the response header was sent; its new token cannot reach the client, so the change was not saved")
		s.discardChanges()
		write = false
	}
	if write && !(persist && s.writableInPlace(newToken)) {
		// A record kept encoded is written in place when it can be (see
		// binLazy.merge), and otherwise decoded first.
		if err := s.decodeRaw(); err != nil {
			return err
		}
	}
	refresh := !write && m.refreshDue(s, clock)
	if write || refresh || s.drop != "" {
		if err := m.commitIO(s, write, persist, newToken, refresh, clock()); err != nil {
			return err
		}
	} else if h != nil {
		m.observeCommit(s.req.Context(), CommitNothing)
	}
	if h == nil {
		return nil
	}
	switch {
	case s.found && (s.token != oldToken || !wasFound):
		m.writeToken(h, s, s.token, s.expiry, clock())
	case s.found && s.expiry.Unix() != oldExpiry.Unix() && !m.cfg.BrowserSessionCookie && m.cfg.Header == "":
		// Compared in whole seconds, the precision of Max-Age: a store may
		// keep the expiry rounded down (PostgreSQL: microseconds).
		m.writeToken(h, s, s.token, s.expiry, clock())
	case !s.found && s.destroyed && s.presented:
		m.writeToken(h, s, "", time.Time{}, clock())
		s.presented = false
	}
	return nil
}

// commitIO makes the store calls of a commit, between the Observer's
// CommitStarted and SessionCommitted when there is one. s.mu is held.
func (m *Manager) commitIO(s *Session, write, persist, newToken, refresh bool, now time.Time) error {
	if m.obs == nil {
		_, err := m.commitStore(s.req.Context(), s, write, persist, newToken, refresh, now)
		return err
	}
	start := time.Now()
	ctx := m.obs.CommitStarted(s.req.Context())
	outcome, err := m.commitStore(ctx, s, write, persist, newToken, refresh, now)
	m.obs.SessionCommitted(ctx, CommitEvent{Outcome: outcome, Duration: time.Since(start), Err: err})
	return err
}

// commitStore makes the store calls of a commit, on a context detached
// from the request's cancellation (a client that went away must not lose
// what its request changed) and bounded by CommitTimeout, and returns
// what it did. s.mu is held.
func (m *Manager) commitStore(parent context.Context, s *Session, write, persist, newToken, refresh bool, now time.Time) (CommitOutcome, error) {
	outcome := CommitWritten
	dc := newCommitCtx(parent, m.realNow(now).Add(m.cfg.CommitTimeout))
	defer dc.release()
	var ctx context.Context = dc
	state := s.base
	filed := metaString(s.base, userKey) // the user the loaded record is filed under
	fresh := write && persist && s.encodableNew()
	if write && persist && !s.raw.pending() && !fresh {
		state = s.mergeIntoBase() // only now: nothing below reads the loaded state again
	}
	renewed := false
	switch {
	case write:
		wasFound, renewing := s.found, s.renew
		if err := m.commitWrite(ctx, s, state, filed, persist, newToken, fresh, now); err != nil {
			if !errors.Is(err, errGone) {
				return outcome, err
			}
			m.cfg.Logger.LogAttrs(ctx, slog.LevelInfo,
				"sessionkit: session was destroyed or renewed by a concurrent request; this request's changes were dropped")
			s.discardChanges()
			outcome = CommitDropped
			m.observeEvent(ctx, evGone)
		} else if !wasFound {
			m.observeEvent(ctx, evCreated)
		} else if renewing {
			renewed = true // reported once the old token has ended (s.drop below)
		}
	case refresh:
		outcome = CommitTouched
		if err := m.refresh(ctx, s, now); err != nil {
			if !errors.Is(err, errGone) {
				return outcome, err
			}
			outcome = CommitDropped
			m.observeEvent(ctx, evGone)
		}
	}
	if s.drop != "" {
		err := m.end(ctx, s.drop, s.dropUntil, s.dropRetire, now)
		if err != nil && s.dropRetire && unsettled(err) && ctx.Err() == nil {
			// The old token of a renew whose successor is written: once
			// more, since the first call may have taken effect (its reply
			// lost) and the client would then hold a token that loads
			// nothing. Ending a token again changes nothing.
			err = m.end(ctx, s.drop, s.dropUntil, s.dropRetire, now)
		}
		if err != nil {
			return outcome, err
		}
		s.drop, s.dropRetire = "", false
		if s.dropDestroy {
			s.dropDestroy = false
			m.observeEvent(ctx, evDestroyed)
		}
	}
	if renewed {
		m.observeEvent(ctx, evRenewed)
	}
	return outcome, nil
}

// dropRetired ends the request of a token that Renew retired moments ago
// (see Config.RenewGrace): nothing is stored and no token is sent, so that
// the renewed cookie the client got meanwhile stays. s.mu is held.
func (m *Manager) dropRetired(s *Session) {
	if s.modified() {
		m.cfg.Logger.LogAttrs(s.req.Context(), slog.LevelInfo,
			"sessionkit: the request presented a token that a renew (login) retired moments ago; its changes were dropped")
	}
	s.discardChanges()
	s.drop, s.dropRetire = "", false
}

// discardChanges forgets what this request changed. s.mu is held.
func (s *Session) discardChanges() {
	s.changes.reset()
	s.cleared, s.renew, s.saveReq = false, false, false
}

// commitWrite stores state, under a new token when newToken is set; with
// fresh, a new session's record is written from its changes instead (see
// Session.encodableNew) and state is nil. filed is the user the loaded
// record is filed under. s.mu is held.
func (m *Manager) commitWrite(ctx context.Context, s *Session, state map[string]any, filed string, rebase, newToken, fresh bool, now time.Time) error {
	if m.cfg.BindClientIP && s.ip == "" {
		s.ip = m.cfg.ClientIP(s.req)
	}
	if m.client != nil {
		return m.commitClient(ctx, s, state, now) // seals its own token
	}
	key, token, version, keyFiled := s.key, s.token, s.version, filed
	if newToken {
		var err error
		if token, err = m.cfg.Tokens.New(); err != nil {
			return err
		}
		key, version, keyFiled = StoreKey(token), 0, "" // a new key is filed under no user yet
	}
	w := writeOp{key: key, version: version, created: s.created, state: state, ip: s.ip, filed: keyFiled, fresh: newToken}
	m.newMeta(s, &w, state)
	if rebase {
		w.changes, w.cleared = s.changes.list, s.cleared
	}
	switch {
	case s.raw.pending():
		w.raw = s.raw // written in place (see Session.writableInPlace)
	case fresh:
		w.raw = &binNone
	}
	inPlace := w.raw != nil // a rebase drops w.raw: see below
	retire := s.found && s.renew && m.cas != nil
	renewed := false
	var old pendingRenew // the renew, when retire is set
	if retire {
		old = pendingRenew{oldKey: s.key, oldVersion: s.version, oldData: s.oldData(), oldExpiry: s.expiry, newKey: key}
		old.marker, old.markerExpiry = m.retiredMarker(now)
		// Hold the old key while its successor is written and it is
		// retired, so that this process's commits to the old session
		// wait and then see the marker instead of racing the retirement.
		l, err := m.locks.Lock(ctx, s.key)
		if err != nil {
			return fmt.Errorf("sessionkit: save: waiting for a concurrent commit: %w", err)
		}
		defer m.locks.Unlock(s.key, l)
		if m.renewer != nil && (l.Value == 0 || l.Value == s.version) {
			if renewed, err = m.renewInOne(ctx, &w, &old, now); err != nil {
				return err
			}
		}
	}
	if !renewed {
		if err := m.write(ctx, &w, now); err != nil {
			return err
		}
	}
	if retire && !renewed {
		// End the old record now, atomically with the check that it is
		// still the one this request loaded: a logout that deleted it
		// meanwhile must not live on under the new token.
		if err := m.retire(ctx, &old, filed, &w, now); err != nil {
			return err
		}
	} else if !retire && s.found && s.renew {
		s.drop, s.dropUntil, s.dropRetire = s.token, s.expiry, true // the old token must load nothing
	}
	s.token, s.key, s.found = token, key, true
	s.version, s.expiry, s.created, s.base, s.ip = w.version, w.expiry, w.created, w.state, w.ip
	if inPlace {
		// Written in place: the record written is kept encoded in turn
		// (base stays nil). Rebased on a conflict: base holds it all
		// (merged is empty).
		*s.raw = w.merged
	}
	s.discardChanges()
	return nil
}

// refresh pushes the idle deadline of an unchanged session forward: with
// a compare-and-swap of the record as loaded when the store has one and
// RenewGrace is on, otherwise with Touch when the store has it (New
// decides which: m.toucher). Touch is not guarded by the version: after a
// Renew that ran while this request
// was in flight, the record under the old key is the retired marker, a
// live record that Touch would extend to a whole idle timeout, and the
// commit would then send the retired token again, replacing the renewed
// cookie (the user logged out, and the old token's requests dropped until
// the marker ends). The compare-and-swap fails on the marker instead.
// Without RenewGrace, Renew deletes the old record and Touch reports it
// gone. A conflict is no failure: another request has just written the
// record, and so extended it, or ended it. s.mu is held.
func (m *Manager) refresh(ctx context.Context, s *Session, now time.Time) error {
	if m.client != nil {
		return m.commitClient(ctx, s, s.base, now)
	}
	exp := m.deadline(s.created, now)
	cctx, dl := m.callCtx(ctx)
	defer dl.release()
	if m.toucher != nil {
		switch err := m.toucher.Touch(cctx, s.key, exp); {
		case err == nil:
			s.expiry = exp
		case errors.Is(err, ErrNotFound):
			return errGone // ended meanwhile: no cookie for a dead token
		case errors.Is(err, ErrConflict):
			// Rewritten meanwhile, and so extended: keep the cookie.
		default:
			return fmt.Errorf("sessionkit: touch: %w", err)
		}
		return nil
	}
	// The record is written again, with every value: a request that
	// only read some has the others still encoded.
	if err := s.decodeRaw(); err != nil {
		return err
	}
	w := writeOp{key: s.key, version: s.version, created: s.created, state: s.base, ip: s.ip, expiry: exp}
	data, err := m.encode(&w)
	if err != nil {
		return err
	}
	if m.cas == nil {
		if err := m.cfg.Store.Save(cctx, s.key, data, exp); err != nil {
			return fmt.Errorf("sessionkit: save: %w", err)
		}
		s.expiry = exp
		return nil
	}
	v, err := m.cas.CompareAndSwap(cctx, s.key, s.version, data, exp)
	switch {
	case err == nil:
		s.version, s.expiry = v, exp
	case errors.Is(err, ErrConflict):
		// Rewritten (and so extended) or ended meanwhile: nothing to do.
	default:
		return fmt.Errorf("sessionkit: save: %w", err)
	}
	return nil
}

// commitClient seals state into a new client-side token. s.mu is held.
func (m *Manager) commitClient(ctx context.Context, s *Session, state map[string]any, now time.Time) error {
	w := writeOp{created: s.created, state: state, ip: s.ip, expiry: m.deadline(s.created, now)}
	m.newMeta(s, &w, state)
	stamp(&w, now)
	state = w.state
	data, err := m.encode(&w)
	if err != nil {
		return err
	}
	id := s.key
	if id == "" || s.found && s.renew {
		id = rand.Text() // 128 random bits naming this session's tokens
	}
	cctx, dl := m.callCtx(ctx)
	token, err := m.client.Seal(cctx, m.tokenName(), id, data, w.expiry)
	dl.release()
	if err != nil {
		return fmt.Errorf("sessionkit: seal: %w", err)
	}
	if err := m.tokenFits(token, w.expiry, now); err != nil {
		return err
	}
	if s.found && s.renew {
		s.drop, s.dropUntil, s.dropRetire = s.key, s.expiry, true // every token of the old id
	}
	s.token, s.key, s.found, s.expiry, s.base = token, id, true, w.expiry, state
	s.discardChanges()
	return nil
}

// end makes a token that was destroyed or renewed load nothing: its record
// is deleted, or replaced by a retired marker when retire is set (a
// renew, see Config.RenewGrace), or, for client-side sessions, the
// session id (token) retired (a renew, with a RetiringClientStore) or
// revoked.
func (m *Manager) end(ctx context.Context, token string, until time.Time, retire bool, now time.Time) error {
	cctx, dl := m.callCtx(ctx)
	defer dl.release()
	if m.client != nil {
		if retire && m.retirer != nil {
			if err := m.retirer.Retire(cctx, m.tokenName(), token, now.Add(m.cfg.RenewGrace), until); err != nil {
				return fmt.Errorf("sessionkit: retire: %w", err)
			}
			return nil
		}
		if err := m.client.Revoke(cctx, m.tokenName(), token, until); err != nil {
			return fmt.Errorf("sessionkit: revoke: %w", err)
		}
		return nil
	}
	if data, exp := m.retiredMarker(now); retire && data != nil {
		if err := m.cfg.Store.Save(cctx, StoreKey(token), data, exp); err != nil {
			return fmt.Errorf("sessionkit: save: %w", err)
		}
		return nil
	}
	if err := m.cfg.Store.Delete(cctx, StoreKey(token)); err != nil {
		return fmt.Errorf("sessionkit: delete: %w", err)
	}
	return nil
}

// retiredMarker returns the record that replaces the record of a token
// retired by Renew, and its expiry: the end of the grace window. It holds
// no session data and nothing of the new token; its value is random, so
// that a renew can tell its own marker from another renew's (see
// settle). With RenewGrace off it returns nil and a past expiry, which
// deletes the record.
func (m *Manager) retiredMarker(now time.Time) ([]byte, time.Time) {
	if m.cfg.RenewGrace < 0 {
		return nil, time.Unix(1, 0)
	}
	data, err := m.cfg.Codec.Encode(now, map[string]any{retiredKey: int64(mrand.Uint64())})
	if err != nil {
		return nil, time.Unix(1, 0)
	}
	return data, now.Add(m.cfg.RenewGrace)
}

// writeOp is one versioned write, rebased on conflict.
type writeOp struct {
	key     string
	version uint64
	created time.Time
	state   map[string]any
	ip      string
	changes []change // this request's changes, re-applied on conflict
	cleared bool
	expiry  time.Time // set by write
	// filed is the user the record under key at version is filed under
	// (see UserIndexer): a write whose state names another user files it
	// anew with CompareAndSwapUser.
	filed string
	// id is the public id stamp stores in a state that has none yet;
	// agent and addr the client information of a new session (see
	// stamp).
	id, agent, addr string
	// fresh says that key was made by this commit (a new token): no
	// other commit of this Manager can know it yet, so write takes no
	// lock for it.
	fresh bool
	// raw, when set, is the loaded record kept encoded, or binNone for
	// a new session's first record (see Session.encodableNew), and state
	// nil: encode writes changes into it in place (see binLazy.merge), and
	// merged is the record it wrote last, for the session to keep: the
	// very slice the store was given, which no store modifies (see
	// Store). A rebase drops both.
	raw    *binLazy
	merged binLazy
	// loaded and loadedExpiry are the data and expiry of the record a
	// rebase loaded last (at version, when the rebase succeeded).
	loaded       []byte
	loadedExpiry time.Time
}

// write stores w.state under w.key. With a compare-and-swap store the
// write holds w.key's lock in this Manager, so commits of one process to
// one session take turns; a conflict (another process wrote) reloads the
// record, re-applies this request's changes and tries again, after a
// jittered exponential backoff from the second conflict on, until ctx
// ends. A record that has disappeared meanwhile is not re-created. A
// fresh key (see writeOp.fresh) is written without its lock: no other
// commit can reach it before this one has sent its token.
func (m *Manager) write(ctx context.Context, w *writeOp, now time.Time) error {
	if m.cas == nil {
		data, err := m.prepare(w, now)
		if err != nil {
			return err
		}
		cctx, dl := m.callCtx(ctx)
		defer dl.release()
		if err := m.cfg.Store.Save(cctx, w.key, data, w.expiry); err != nil {
			return fmt.Errorf("sessionkit: save: %w", err)
		}
		return nil
	}
	var l *keylock.Lock[uint64] // nil for a fresh key
	if !w.fresh {
		var err error
		if l, err = m.locks.Lock(ctx, w.key); err != nil {
			return fmt.Errorf("sessionkit: save: waiting for a concurrent commit: %w", err)
		}
		defer m.locks.Unlock(w.key, l)
	}
	if l != nil && w.version != 0 && l.Value != 0 && l.Value != w.version {
		// This Manager wrote the record since the request loaded it: rebase
		// now rather than after a conflict.
		if err := m.rebase(ctx, w, now); err != nil {
			return err
		}
	}
	for attempt := 1; ; attempt++ {
		data, err := m.prepare(w, now)
		if err != nil {
			return err
		}
		cctx, dl := m.callCtx(ctx)
		v, err := m.swap(cctx, w, data)
		dl.release()
		if err == nil {
			w.version = v
			if l != nil {
				l.Value = v
			}
			return nil
		}
		if !errors.Is(err, ErrConflict) {
			return fmt.Errorf("sessionkit: save: %w", backoff.AfterConflicts(ctx, ErrConflict, attempt-1, err))
		}
		if err := backoff.Wait(ctx, attempt); err != nil {
			return fmt.Errorf("sessionkit: save: %w", backoff.AfterConflicts(ctx, ErrConflict, attempt, err))
		}
		m.observeConflict(ctx, attempt)
		if err := m.rebase(ctx, w, now); err != nil {
			return backoff.AfterConflicts(ctx, ErrConflict, attempt, err)
		}
		if l != nil {
			l.Value = w.version
		}
	}
}

// renewInOne moves the renewed session to w.key in one Renewer call: the
// successor is created and the record this request loaded is retired in
// one atomic step, which a concurrent logout or write makes fail as a
// whole. It reports false, having written nothing, when the old record
// changed meanwhile or the store cannot renew these keys in one step; the
// caller then takes the two-step path, which rebases on the old record's
// new values or finds it gone. The caller holds the old key's lock.
func (m *Manager) renewInOne(ctx context.Context, w *writeOp, old *pendingRenew, now time.Time) (bool, error) {
	data, err := m.prepare(w, now)
	if err != nil {
		return false, err
	}
	var user string
	if m.users != nil {
		user = metaString(w.state, userKey)
	}
	r := Renewal{
		OldKey: old.oldKey, OldVersion: old.oldVersion, OldData: old.oldData, Retired: old.marker, RetiredExpiry: old.markerExpiry,
		NewKey: w.key, Data: data, Expiry: w.expiry,
		User: user, Until: w.created.Add(m.cfg.Lifetime),
	}
	cctx, dl := m.callCtx(ctx)
	v, err := m.renewer.Renew(cctx, r)
	dl.release()
	switch {
	case err == nil:
		w.version, w.filed = v, user
		return true, nil
	case errors.Is(err, ErrConflict), errors.Is(err, ErrNotSupported):
		return false, nil
	}
	err = fmt.Errorf("sessionkit: save: %w", err)
	if !unsettled(err) {
		return false, err
	}
	p := *old
	p.inOne = true
	if v, err = m.settleRenew(ctx, &p, err); err != nil {
		return false, err
	}
	w.version, w.filed = v, user
	return true, nil
}

// retire ends the record a renewed session leaves behind (old.oldKey, at
// the version this request loaded, filed under oldFiled) after w, its
// successor, was written: it is replaced by the retired marker (or
// deleted, with RenewGrace off) in one compare-and-swap. When the old
// record changed meanwhile, its new values plus this request's changes
// are written to the successor and the retirement is tried again; when it
// is gone (a concurrent logout or renew), the successor is deleted too and
// errGone returned; when the swap fails without saying whether it took
// effect, settleRenew finds out. Only with a compare-and-swap store; the
// caller holds the old key's lock.
func (m *Manager) retire(ctx context.Context, old *pendingRenew, oldFiled string, w *writeOp, now time.Time) error {
	marker, until := old.marker, old.markerExpiry
	for attempt := 1; ; attempt++ {
		// The marker holds no user: it leaves the user's set with the
		// session (a deleted record leaves it anyway).
		op := writeOp{key: old.oldKey, version: old.oldVersion, filed: oldFiled, created: w.created, expiry: until}
		if marker == nil {
			op.filed = ""
		}
		cctx, dl := m.callCtx(ctx)
		_, err := m.swap(cctx, &op, marker)
		dl.release()
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrConflict) {
			err = fmt.Errorf("sessionkit: delete: %w", backoff.AfterConflicts(ctx, ErrConflict, attempt-1, err))
			if unsettled(err) {
				_, err = m.settleRenew(ctx, old, err)
			}
			return err
		}
		if err := backoff.Wait(ctx, attempt); err != nil {
			return fmt.Errorf("sessionkit: delete: %w", backoff.AfterConflicts(ctx, ErrConflict, attempt, err))
		}
		m.observeConflict(ctx, attempt)
		reb := writeOp{key: old.oldKey, version: old.oldVersion, created: w.created, ip: w.ip, changes: w.changes, cleared: w.cleared}
		err = m.rebase(ctx, &reb, now)
		if errors.Is(err, errGone) && marker != nil && bytes.Equal(reb.loaded, marker) {
			// Retired by this very renew: a write whose reply was lost and
			// that the store's client sent again (go-redis retries after a
			// read timeout), or the Renew that renewInOne was told conflicted.
			return nil
		}
		if err == nil && reb.version == old.oldVersion {
			err = errGone // loaded unchanged, yet the swap lost: it expired
		}
		if err == nil {
			// The old record changed: carry its values over and try again.
			old.oldVersion, old.oldData, old.oldExpiry, oldFiled = reb.version, reb.loaded, reb.loadedExpiry, reb.filed
			w.state, w.created, w.ip = reb.state, reb.created, reb.ip
			err = m.write(ctx, w, now)
			if err == nil {
				continue
			}
		}
		if !errors.Is(err, errGone) {
			return backoff.AfterConflicts(ctx, ErrConflict, attempt, err)
		}
		cctx, dl = m.callCtx(ctx)
		derr := m.cfg.Store.Delete(cctx, w.key)
		dl.release()
		if derr != nil {
			return fmt.Errorf("sessionkit: delete: %w", derr)
		}
		return errGone
	}
}

// rebase reloads the record of w after a conflict and re-applies w's
// changes. A record that ended meanwhile (deleted, expired, or retired by
// a renew) is errGone.
func (m *Manager) rebase(ctx context.Context, w *writeOp, now time.Time) error {
	cctx, dl := m.callCtx(ctx)
	rec, found, err := m.cfg.Store.Load(cctx, w.key)
	dl.release()
	if err != nil {
		return fmt.Errorf("sessionkit: load: %w", err)
	}
	if !found {
		if w.version == 0 {
			return nil // created and deleted meanwhile: try creating again
		}
		return errGone
	}
	w.loaded, w.loadedExpiry = rec.Data, rec.Expiry
	created, values, err := m.decode(rec.Data, true)
	if err != nil || !now.Before(rec.Expiry) || !now.Before(created.Add(m.cfg.Lifetime)) {
		return errGone
	}
	if _, retired := values[retiredKey]; retired {
		return errGone
	}
	if ip, ok := values[ipKey].(string); ok {
		w.ip = ip
		delete(values, ipKey)
	}
	w.version, w.created, w.filed = rec.Version, created, metaString(values, userKey)
	w.state = applyChanges(values, w.cleared, w.changes)
	w.raw, w.merged = nil, binLazy{} // the record loaded here replaces the one kept encoded
	return nil
}

// swap writes data under w.key at w.version until w.expiry with
// compare-and-swap; with CompareAndSwapUser when the state names another
// user than the record is filed under (a new key of a logged-in session,
// or SetUser), so that the store's user index changes only then. The
// filing lasts until the session's absolute deadline.
func (m *Manager) swap(ctx context.Context, w *writeOp, data []byte) (uint64, error) {
	if user := metaString(w.state, userKey); m.users != nil && user != w.filed {
		v, err := m.users.CompareAndSwapUser(ctx, w.key, w.version, data, w.expiry, user, w.created.Add(m.cfg.Lifetime))
		if err == nil {
			w.filed = user
		}
		return v, err
	}
	return m.cas.CompareAndSwap(ctx, w.key, w.version, data, w.expiry)
}

// prepare sets w's expiry and metadata for a write at now and returns
// its encoded record.
func (m *Manager) prepare(w *writeOp, now time.Time) ([]byte, error) {
	w.expiry = m.deadline(w.created, now)
	stamp(w, now)
	return m.encode(w)
}

// decode decodes a record's data. A record a Store returned is owned: the
// core owns it and never modifies it (Record.Data), so the default
// BinaryCodec keeps its strings in it instead of in a copy. Client-side
// data (from ClientStore.Open, which promises no ownership) is not.
func (m *Manager) decode(data []byte, owned bool) (time.Time, map[string]any, error) {
	if _, ok := m.cfg.Codec.(BinaryCodec); ok && owned {
		return decodeBinary(data, true)
	}
	return m.cfg.Codec.Decode(data)
}

// decodeLoaded decodes the data of a record a request loads, as decode
// does, except that with mode loadEncoded, or loadPlain and a plain
// record (see binPlainEntries), an owned record of the default
// BinaryCodec is only checked and kept encoded (raw, with values nil), to
// be decoded when its values are needed (see Session.decodeRaw).
func (m *Manager) decodeLoaded(data []byte, owned bool, mode loadMode) (created time.Time, values map[string]any, raw binLazy, err error) {
	if _, ok := m.cfg.Codec.(BinaryCodec); ok && owned && (mode == loadEncoded || mode == loadPlain && binPlain(data)) {
		created, raw, ok, err := openBinaryLazy(data)
		if err != nil || ok {
			return created, nil, raw, err
		}
		// It holds a gob value, which only decoding it checks.
	}
	created, values, err = m.decode(data, owned)
	return created, values, binLazy{}, err
}

// encode serialises w, enforcing MaxRecordSize.
func (m *Manager) encode(w *writeOp) ([]byte, error) {
	if w.raw != nil {
		merged, err := w.raw.merge(w.created, w.changes, w.ip)
		if err != nil {
			return nil, fmt.Errorf("sessionkit: encode: %w", err)
		}
		// The session keeps the record it writes in the slice the store
		// is given: stores never modify it (see Store).
		w.merged = merged
		return m.checkSize(merged.data)
	}
	state := w.state
	if w.ip != "" {
		state = maps.Clone(state)
		if state == nil {
			state = make(map[string]any, 1)
		}
		state[ipKey] = w.ip
	}
	if state == nil {
		state = map[string]any{}
	}
	data, err := m.cfg.Codec.Encode(w.created, state)
	if err != nil {
		return nil, fmt.Errorf("sessionkit: encode: %w", err)
	}
	return m.checkSize(data)
}

// checkSize returns data, an encoded record, or an error wrapping
// ErrTooLarge when it exceeds MaxRecordSize.
func (m *Manager) checkSize(data []byte) ([]byte, error) {
	if m.cfg.MaxRecordSize > 0 && len(data) > m.cfg.MaxRecordSize {
		return nil, fmt.Errorf("sessionkit: save: %w: %d bytes, MaxRecordSize is %d", ErrTooLarge, len(data), m.cfg.MaxRecordSize)
	}
	return data, nil
}
