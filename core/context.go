package core

import "context"

// ctxKey is the context key under which a Session is found. A nil m
// matches the innermost session of any Manager.
type ctxKey struct{ m *Manager }

// sessionContext is the request context with the session added, without
// an allocation of its own: it lives inside the Session.
type sessionContext struct {
	context.Context
	s *Session
}

// Value implements context.Context.
func (c *sessionContext) Value(key any) any {
	if k, ok := key.(ctxKey); ok && (k.m == nil || k.m == c.s.m) {
		return c.s
	}
	return c.Context.Value(key)
}

// FromContext returns the session that the innermost sessionkit middleware
// put into ctx, and whether there was one.
func FromContext(ctx context.Context) (*Session, bool) {
	s, ok := ctx.Value(ctxKey{}).(*Session)
	return s, ok
}

// FromContext returns the session of this Manager carried by ctx, and
// whether there was one. Use it when several Managers serve one request.
func (m *Manager) FromContext(ctx context.Context) (*Session, bool) {
	s, ok := ctx.Value(ctxKey{m}).(*Session)
	return s, ok
}
