package core

import (
	"crypto/rand"
	"strings"
	"time"
)

// SetUser files the session under the user id at commit, so that
// Manager.UserSessions lists it and Manager.EndUserSessions ends it; ""
// takes it out of its user's set. Call it at login, typically next to
// Renew:
//
//	s.Renew()
//	s.SetUser(userID)
//
// The filing travels with the session: Renew keeps it, Destroy ends it
// (the record is gone) and so does the session's expiry. Setting the user
// the session already has changes nothing. Clear keeps the user (it is
// not a value); Revert undoes SetUser. Like a value, the change is
// stored at commit, with ManualSave only when the handler calls Save.
func (s *Session) SetUser(id string) {
	s.lock()
	defer s.mu.Unlock()
	if s.user() == id {
		return
	}
	if id == "" {
		s.delMeta(userKey)
		s.delMeta(userSinceKey)
		return
	}
	s.changes.set(userKey, id)
	s.changes.set(userSinceKey, s.m.cfg.Now())
}

// User returns the user the session is filed under (see SetUser), or ""
// when none.
func (s *Session) User() string {
	s.lock()
	defer s.mu.Unlock()
	return s.user()
}

func (s *Session) user() string {
	v, _ := s.meta(userKey)
	u, _ := v.(string)
	return u
}

// ID returns the session's public id: 128 random bits in base32
// (crypto/rand.Text), which Manager.UserSessions reports and
// Manager.EndSession takes. It is not the token and not the store key,
// so a page may show it and a form may post it without leaking anything
// that could open the session. It stays the same across Renew; Destroy
// starts a new session with a new id. It is assigned when first asked
// for, or at the first write of the session under a user (SetUser), so a
// logged-in session always has one and an anonymous session that never
// asks pays nothing for it. Once assigned it is stored with the session:
// like a value, at commit (with ManualSave, when the handler calls
// Save); a session that is not written meanwhile keeps its id only for
// this request.
func (s *Session) ID() string {
	s.lock()
	defer s.mu.Unlock()
	v, _ := s.meta(idKey)
	if id, _ := v.(string); id != "" {
		return id
	}
	id := rand.Text()
	if s.found {
		// A record written before public ids existed: store this one so
		// that the next request sees the same.
		s.changes.set(idKey, id)
		return id
	}
	// A new session: the id waits in the initial values, which do not
	// count as a change (an empty session is still not stored), for the
	// session's first write.
	if s.base == nil {
		s.base = make(map[string]any, 1)
	}
	s.base[idKey] = id
	return id
}

// meta returns the core's metadata under key as of this request's
// changes. Metadata survives Clear, so s.cleared is not consulted.
// s.mu is held.
func (s *Session) meta(key string) (any, bool) {
	if c, ok := s.changes.get(key); ok {
		if isDeleted(c) {
			return nil, false
		}
		return c, true
	}
	v, ok := s.base[key]
	return v, ok
}

// delMeta records the removal of the core's metadata under key, if it
// is there. s.mu is held.
func (s *Session) delMeta(key string) {
	if _, ok := s.meta(key); !ok {
		return
	}
	s.changes.set(key, deleted)
}

// newMeta fills in w what a write of s needs to stamp the session's
// metadata (see stamp): the public id the state already holds (one that
// ID handed out), and for a new session (no record yet) the client
// information of Config.RecordClientInfo. s.mu is held.
func (m *Manager) newMeta(s *Session, w *writeOp, state map[string]any) {
	w.id = metaString(state, idKey)
	if m.cfg.RecordClientInfo && !s.found {
		ua := s.req.UserAgent()
		if len(ua) > maxAgentLen {
			ua = strings.ToValidUTF8(ua[:maxAgentLen], "")
		}
		w.agent, w.addr = ua, m.cfg.ClientIP(s.req)
	}
}

// stamp adds the session's metadata to w.state before it is encoded. A
// session filed under a user (what Manager.UserSessions lists) gets a
// public id when it has none yet (a new random one unless ID handed one
// out) and the time of this write; an anonymous session keeps an id that
// ID handed out and nothing else, so that its records stay as small
// and cheap as before public ids existed. A new session also gets the
// client information of Config.RecordClientInfo. w.state is owned by
// the write.
func stamp(w *writeOp, now time.Time) {
	filed := metaString(w.state, userKey) != ""
	if filed && w.id == "" {
		w.id = metaString(w.state, idKey)
		if w.id == "" {
			w.id = rand.Text() // the first write under a user of a session never asked for its id
		}
	}
	if !filed {
		delete(w.state, writtenKey) // left by a user logged out meanwhile, if any
		if w.id == "" && w.agent == "" && w.addr == "" {
			return
		}
	}
	if w.state == nil {
		w.state = make(map[string]any, 4)
	}
	if w.id != "" && metaString(w.state, idKey) == "" {
		w.state[idKey] = w.id
	}
	if w.agent != "" {
		w.state[agentKey] = w.agent
	}
	if w.addr != "" {
		w.state[addrKey] = w.addr
	}
	if filed {
		w.state[writtenKey] = now
	}
}
