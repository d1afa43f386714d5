package core

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit/internal/backoff"
)

// FlashKey is the session key under which AddFlash kept flash messages
// before version 0.2 (a []string). Flashes still returns and removes the
// messages of records written then.
//
// Deprecated: each flash message now has an entry of its own in the
// core's metadata; no application needs this key.
const FlashKey = "_flash"

// AddFlash queues msg as a flash message, which Flashes returns and
// removes on a later request.
//
// Each message is an entry of its own in the record, so concurrent
// requests that each add a message keep all of them (on stores with
// compare-and-swap, as every bundled server-side store has).
func (s *Session) AddFlash(msg string) {
	s.lock()
	defer s.mu.Unlock()
	s.flashSeq++
	// Fixed-width hex, so that the keys sort in the order the messages
	// were added: the clock, then the order within this request, then
	// randomness that keeps concurrent requests' entries apart. The time
	// is later than every queued message's, so that a clock that stood
	// still or stepped back (NTP), or another server's clock that runs
	// ahead, cannot put a message before those queued earlier.
	t := uint64(s.m.cfg.Now().UnixNano())
	if last, ok := s.lastFlashTime(); ok && t <= last {
		t = last + 1
	}
	b := make([]byte, 0, len(flashPrefix)+16+1+8+1+16)
	b = append(b, flashPrefix...)
	b = appendHex(b, t, 16)
	b = append(b, '.')
	b = appendHex(b, uint64(s.flashSeq), 8)
	b = append(b, '.')
	b = appendHex(b, rand.Uint64(), 16)
	s.changes.set(string(b), msg)
}

// lastFlashTime returns the greatest time in the keys of the flash
// messages queued in s (stored, or added by this request), and whether
// there is one. s.mu is held.
func (s *Session) lastFlashTime() (uint64, bool) {
	var last uint64
	found := false
	see := func(k string) {
		if t, ok := flashTime(k); ok && (!found || t > last) {
			last, found = t, true
		}
	}
	for k := range s.base {
		see(k)
	}
	for _, c := range s.changes.list {
		if !isDeleted(c.v) {
			see(c.key)
		}
	}
	return last, found
}

// flashTime parses the time of a flash message's key (see AddFlash).
func flashTime(key string) (uint64, bool) {
	if len(key) < len(flashPrefix)+16 || !strings.HasPrefix(key, flashPrefix) {
		return 0, false
	}
	t, err := strconv.ParseUint(key[len(flashPrefix):len(flashPrefix)+16], 16, 64)
	return t, err == nil
}

// Flashes returns the session's flash messages, oldest first, and removes
// them. It returns nil, and changes nothing, when there are none.
//
// Unlike the other Session methods, Flashes may make store calls: on a
// store with compare-and-swap it claims the stored messages at once,
// removing exactly the ones it returns from the record in one
// compare-and-swap (reloading and trying again on a conflict). So each
// message is returned by exactly one Flashes call, whatever the number of
// concurrent requests, and no message is dropped by a conflict. A store
// failure of the claim is logged and the stored messages stay queued for
// a later request. The claim is stored before the response is: when the
// request fails after it (its commit fails and the error handler replaces
// the page that showed the messages), the messages it returned are not
// returned again; returning a message twice is what claiming it at once
// prevents. Messages added during this request are returned without a
// store call.
//
// On a store without compare-and-swap, and for client-side sessions
// (ClientStore), the messages are removed when the request commits, as
// any other change: concurrent requests may then each show the same
// message, and concurrent AddFlash calls may overwrite each other.
func (s *Session) Flashes() []string {
	s.lock()
	defer s.mu.Unlock()
	var out []flashMsg
	s.changes.filter(func(k string, c any) bool {
		if strings.HasPrefix(k, flashPrefix) && !isDeleted(c) {
			out = append(out, flashMsg{k, flashText(c)})
			return false // never stored: nothing to remove
		}
		return true
	})
	stored := false
	for k := range s.base {
		if strings.HasPrefix(k, flashPrefix) {
			if !s.changes.has(k) {
				stored = true
				break
			}
		}
	}
	if stored {
		if s.m.cas != nil && s.found && !s.released {
			out = append(out, s.m.claimFlashes(s)...)
		} else {
			for k, v := range s.base {
				if strings.HasPrefix(k, flashPrefix) && !s.changes.has(k) {
					out = append(out, flashMsg{k, flashText(v)})
					s.changes.set(k, deleted)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b flashMsg) int { return strings.Compare(a.key, b.key) })
	var list []string
	for _, f := range out {
		list = append(list, f.msg)
	}
	if legacy, ok := popLegacyFlashes(s); ok {
		list = append(legacy, list...)
	}
	return list
}

// popLegacyFlashes pops the messages kept under FlashKey by older
// versions. s.mu is held.
func popLegacyFlashes(s *Session) ([]string, bool) {
	v, ok := s.get(FlashKey)
	if !ok {
		return nil, false
	}
	var list []string
	switch old := v.(type) {
	case []string:
		list = old
	case []any: // decoded by JSONCodec
		for _, e := range old {
			if str, ok := e.(string); ok {
				list = append(list, str)
			}
		}
	default:
		return nil, false
	}
	s.del(FlashKey)
	return list, len(list) > 0
}

// appendHex appends the width lowest hex digits of v to b.
func appendHex(b []byte, v uint64, width int) []byte {
	for i := width - 1; i >= 0; i-- {
		b = append(b, "0123456789abcdef"[v>>(4*uint(i))&0xf])
	}
	return b
}

// flashMsg is one flash message and its entry's key, which orders it.
type flashMsg struct{ key, msg string }

func flashText(v any) string {
	str, _ := v.(string)
	return str
}

// claimFlashes removes the stored flash messages of s from its record
// with compare-and-swap and returns them: starting from the state the
// request loaded, then, on a conflict, from a fresh load. The session's
// loaded state becomes the claimed record's. It holds the key's lock, as
// a commit does. s.mu is held.
func (m *Manager) claimFlashes(s *Session) []flashMsg {
	ctx := s.req.Context()
	fail := func(err error) []flashMsg {
		m.cfg.Logger.LogAttrs(ctx, slog.LevelWarn,
			"sessionkit: flash messages could not be claimed; they stay queued", slog.Any("error", err))
		return nil
	}
	wctx, wdl := m.callCtx(ctx) // the wait for a commit in progress is a store call's worth
	l, err := m.locks.Lock(wctx, s.key)
	wdl.release()
	if err != nil {
		return fail(err)
	}
	defer m.locks.Unlock(s.key, l)
	now := m.cfg.Now()
	w := writeOp{key: s.key, version: s.version, created: s.created, state: s.base, ip: s.ip, expiry: s.expiry}
	reload := l.Value != 0 && l.Value != w.version
	for attempt := 1; ; attempt++ {
		if reload {
			gone, err := m.reloadForClaim(ctx, &w, now)
			if err != nil {
				return fail(err)
			}
			if gone {
				return nil // ended meanwhile: nothing left to claim
			}
			l.Value = w.version
		}
		var claimed []flashMsg
		rest := make(map[string]any, len(w.state))
		for k, v := range w.state {
			if strings.HasPrefix(k, flashPrefix) {
				claimed = append(claimed, flashMsg{k, flashText(v)})
			} else {
				rest[k] = v
			}
		}
		if len(claimed) == 0 {
			s.version, s.expiry, s.created, s.ip, s.base = w.version, w.expiry, w.created, w.ip, w.state
			return nil
		}
		data, err := m.encode(&writeOp{created: w.created, state: rest, ip: w.ip})
		if err != nil {
			return fail(err)
		}
		cctx, dl := m.callCtx(ctx)
		v, err := m.cas.CompareAndSwap(cctx, w.key, w.version, data, w.expiry)
		dl.release()
		if err == nil {
			l.Value = v
			s.version, s.expiry, s.created, s.ip, s.base = v, w.expiry, w.created, w.ip, rest
			return claimed
		}
		if !errors.Is(err, ErrConflict) {
			return fail(err)
		}
		if err := backoff.Wait(ctx, attempt); err != nil {
			return fail(err)
		}
		m.observeConflict(ctx, attempt)
		reload = true
	}
}

// reloadForClaim loads the current record of w for claimFlashes and
// reports whether it is gone (deleted, expired, retired).
func (m *Manager) reloadForClaim(ctx context.Context, w *writeOp, now time.Time) (gone bool, err error) {
	cctx, dl := m.callCtx(ctx)
	rec, found, err := m.cfg.Store.Load(cctx, w.key)
	dl.release()
	if err != nil {
		return false, err
	}
	if !found {
		return true, nil
	}
	created, values, err := m.decode(rec.Data, true)
	if err != nil || !now.Before(rec.Expiry) || !now.Before(created.Add(m.cfg.Lifetime)) {
		return true, nil
	}
	if _, retired := values[retiredKey]; retired {
		return true, nil
	}
	w.ip, _ = values[ipKey].(string)
	delete(values, ipKey)
	w.version, w.created, w.expiry, w.state = rec.Version, created, rec.Expiry, values
	return false, nil
}
