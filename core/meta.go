package core

import (
	"context"
	"time"
)

// The core keeps its own metadata in the stored values under keys that
// begin with a NUL byte: the bound client address, the entries of flash
// messages, the marker of a token retired by Renew, and what Manager's
// UserSessions reports (the public id, the user, when the user was set,
// the last write, and the client information of Config.RecordClientInfo).
// Session.Set panics on such a key and Get, Delete, Pop and Keys do not
// see them, so an application key can neither read, overwrite nor collide
// with them.
const (
	ipKey        = "\x00sessionkit.ip"
	retiredKey   = "\x00sessionkit.retired"
	flashPrefix  = "\x00sessionkit.flash."
	idKey        = "\x00sessionkit.id"        // string: the public session id (Session.ID)
	userKey      = "\x00sessionkit.user"      // string: the user (Session.SetUser)
	userSinceKey = "\x00sessionkit.usersince" // time.Time: when SetUser filed the session under the user
	writtenKey   = "\x00sessionkit.written"   // time.Time: the last write of the session's data while filed under a user
	agentKey     = "\x00sessionkit.agent"     // string: User-Agent at creation (Config.RecordClientInfo)
	addrKey      = "\x00sessionkit.addr"      // string: client address at creation (Config.RecordClientInfo)
)

// maxAgentLen bounds the User-Agent kept by Config.RecordClientInfo.
const maxAgentLen = 256

// metaString returns the string stored under key in values, or "".
func metaString(values map[string]any, key string) string {
	s, _ := values[key].(string)
	return s
}

// metaTime returns the time stored under key in values, or the zero
// time. JSONCodec returns a time.Time as its RFC 3339 string.
func metaTime(values map[string]any, key string) time.Time {
	switch v := values[key].(type) {
	case time.Time:
		return v
	case string:
		t, err := time.Parse(time.RFC3339Nano, v)
		if err == nil {
			return t
		}
	}
	return time.Time{}
}

// ReservedKey reports whether key is reserved for the core's metadata: a
// key that begins with a NUL byte. Session.Set panics on it.
func ReservedKey(key string) bool { return len(key) > 0 && key[0] == 0 }

// callCtx bounds one store call by StoreTimeout, unless ctx already ends
// sooner. The caller must call release on the second result (which may
// be nil).
func (m *Manager) callCtx(ctx context.Context) (context.Context, *deadlineCtx) {
	return m.callCtxIn(ctx, nil, time.Time{}, false)
}

// realNow returns now, a reading of Config.Now, when that is the real
// clock, and else a reading of the real clock: deadlines are real time.
// It saves reading the clock again when the caller just has.
func (m *Manager) realNow(now time.Time) time.Time {
	if m.realClock {
		return now
	}
	return time.Now()
}

// callCtxIn is callCtx with the deadline context made in dc when dc is not
// nil: the load's, which lives in the session's state and serves no other
// call, instead of an allocation of its own. A commit's first store call
// takes the one allocated with the commit's context (see commitCtxs).
// StoreTimeout runs from start, a reading of the real clock taken just
// before (see realNow), or from now when start is zero. With detached set
// the call ignores ctx's cancellation and deadline (ctx serves only its
// values), as the commit's calls do: the load's (see Session.load).
func (m *Manager) callCtxIn(ctx context.Context, dc *deadlineCtx, start time.Time, detached bool) (context.Context, *deadlineCtx) {
	if start.IsZero() {
		start = time.Now()
	}
	deadline := start.Add(m.cfg.StoreTimeout)
	if d, ok := ctx.Deadline(); ok && !d.After(deadline) && !detached {
		return ctx, nil
	}
	if dc == nil {
		if p, ok := ctx.(*deadlineCtx); ok {
			dc = p.takeSpare()
		}
	}
	if dc == nil {
		dc = withDeadline(ctx, deadline, detached)
	} else {
		dc.parent, dc.deadline, dc.detached = ctx, deadline, detached
	}
	return dc, dc
}
