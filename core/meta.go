package core

import (
	"context"
	"time"
)

// The core keeps its own metadata in the stored values under keys that
// begin with a NUL byte: the bound client address, the entries of flash
// messages and the marker of a token retired by Renew. Session.Set panics
// on such a key and Get, Delete, Pop and Keys do not see them, so an
// application key can neither read, overwrite nor collide with them.
const (
	ipKey       = "\x00sessionkit.ip"
	retiredKey  = "\x00sessionkit.retired"
	flashPrefix = "\x00sessionkit.flash."
)

// ReservedKey reports whether key is reserved for the core's metadata: a
// key that begins with a NUL byte. Session.Set panics on it.
func ReservedKey(key string) bool { return len(key) > 0 && key[0] == 0 }

// callCtx bounds one store call by StoreTimeout, unless ctx already ends
// sooner. The caller must call release on the second result (which may
// be nil).
func (m *Manager) callCtx(ctx context.Context) (context.Context, *deadlineCtx) {
	deadline := time.Now().Add(m.cfg.StoreTimeout)
	if d, ok := ctx.Deadline(); ok && !d.After(deadline) {
		return ctx, nil
	}
	c := withDeadline(ctx, deadline, false)
	return c, c
}
