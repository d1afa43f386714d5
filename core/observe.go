package core

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"time"
)

// observeStores routes the Manager's store calls through its Observer:
// the Store is wrapped with WrapStore (keeping its capabilities), the
// ClientStore with observedClient. Without an Observer nothing is wrapped
// and the store calls cost nothing extra.
func (m *Manager) observeStores() {
	obs := m.obs
	if obs == nil {
		return
	}
	if st := m.cfg.Store; st != nil {
		name := storeName(st)
		m.cfg.Store = WrapStore(st, StoreWrapper{
			Around: func(ctx context.Context, call StoreCall, next func(context.Context) error) error {
				return observeCall(ctx, obs, call.Op, name, next)
			},
		})
	}
	if cs := m.cfg.ClientStore; cs != nil {
		m.cfg.ClientStore = &observedClient{inner: cs, obs: obs, name: storeName(cs)}
	}
}

// observeCall runs one store call between StoreCallStarted and
// StoreCallFinished. A Renew that the store declines (ErrNotSupported:
// it changed nothing, and the core renews in separate steps, each
// observed) is reported as Declined without its error, so that a store
// which can never renew in one step (a Redis Cluster without a hash tag)
// does not report a store error at every renew; a Touch that finds no
// record (ErrNotFound) is reported as NotFound, not as an error.
func observeCall(ctx context.Context, obs Observer, op StoreOp, name string, next func(context.Context) error) error {
	start := time.Now()
	ctx = obs.StoreCallStarted(ctx, op, name)
	err := next(ctx)
	e := StoreCallEvent{Op: op, Store: name, Duration: time.Since(start), Err: err}
	switch {
	case err == nil:
	case op == OpRenew && errors.Is(err, ErrNotSupported):
		e.Err, e.Declined = nil, true
	case errors.Is(err, ErrNotFound):
		e.Err, e.NotFound = nil, true
	}
	obs.StoreCallFinished(ctx, e)
	return err
}

// storeName names a store for the Observer: the last element of its Go
// package path, looking through WrapStore.
func storeName(st any) string {
	for {
		u, ok := st.(Unwrapper)
		if !ok {
			break
		}
		st = u.Unwrap()
	}
	t := reflect.TypeOf(st)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	p := t.PkgPath()
	if p == "" {
		return t.String()
	}
	return p[strings.LastIndexByte(p, '/')+1:]
}

// observedClient reports the calls of a ClientStore to an Observer. It
// has every method of RetiringClientStore, UserRevoker and Pinger; the Manager uses
// them only when inner has them.
type observedClient struct {
	inner ClientStore
	obs   Observer
	name  string
}

func (c *observedClient) Seal(ctx context.Context, name, id string, data []byte, expiry time.Time) (token string, err error) {
	err = observeCall(ctx, c.obs, OpSeal, c.name, func(ctx context.Context) error {
		var err error
		token, err = c.inner.Seal(ctx, name, id, data, expiry)
		return err
	})
	return token, err
}

func (c *observedClient) Open(ctx context.Context, name, token string) (id string, data []byte, expiry time.Time, ok bool, err error) {
	err = observeCall(ctx, c.obs, OpOpen, c.name, func(ctx context.Context) error {
		var err error
		id, data, expiry, ok, err = c.inner.Open(ctx, name, token)
		return err
	})
	return id, data, expiry, ok, err
}

func (c *observedClient) Revoke(ctx context.Context, name, id string, expiry time.Time) error {
	return observeCall(ctx, c.obs, OpRevoke, c.name, func(ctx context.Context) error {
		return c.inner.Revoke(ctx, name, id, expiry)
	})
}

func (c *observedClient) Retire(ctx context.Context, name, id string, graceUntil, expiry time.Time) error {
	return observeCall(ctx, c.obs, OpRetire, c.name, func(ctx context.Context) error {
		return c.inner.(RetiringClientStore).Retire(ctx, name, id, graceUntil, expiry)
	})
}

func (c *observedClient) Retired(ctx context.Context, name, token string) (until time.Time, err error) {
	err = observeCall(ctx, c.obs, OpRetired, c.name, func(ctx context.Context) error {
		var err error
		until, err = c.inner.(RetiringClientStore).Retired(ctx, name, token)
		return err
	})
	return until, err
}

func (c *observedClient) RevokeUser(ctx context.Context, name, user, keepID string, at, until time.Time) error {
	return observeCall(ctx, c.obs, OpRevokeUser, c.name, func(ctx context.Context) error {
		return c.inner.(UserRevoker).RevokeUser(ctx, name, user, keepID, at, until)
	})
}

func (c *observedClient) UserRevoked(ctx context.Context, name, user, id string, since time.Time) (revoked bool, err error) {
	err = observeCall(ctx, c.obs, OpUserRevoked, c.name, func(ctx context.Context) error {
		var err error
		revoked, err = c.inner.(UserRevoker).UserRevoked(ctx, name, user, id, since)
		return err
	})
	return revoked, err
}

// Ping pings inner when it is a Pinger; a ClientStore without one needs
// no server.
func (c *observedClient) Ping(ctx context.Context) error {
	p, ok := c.inner.(Pinger)
	if !ok {
		return nil
	}
	return observeCall(ctx, c.obs, OpPing, c.name, p.Ping)
}

// The session events, each a no-op without an Observer. s.mu is held.

func (s *Session) observeLoad(o LoadOutcome) {
	if obs := s.m.obs; obs != nil {
		obs.SessionLoaded(s.req.Context(), o)
	}
}

// The session events without arguments.
const (
	evCreated = iota
	evRenewed
	evDestroyed
	evGone
)

// observeEvent reports one of the ev* events, when there is an Observer.
func (m *Manager) observeEvent(ctx context.Context, ev int) {
	obs := m.obs
	if obs == nil {
		return
	}
	switch ev {
	case evCreated:
		obs.SessionCreated(ctx)
	case evRenewed:
		obs.SessionRenewed(ctx)
	case evDestroyed:
		obs.SessionDestroyed(ctx)
	case evGone:
		obs.SessionGone(ctx)
	}
}

// observeConflict reports a compare-and-swap conflict about to be retried.
func (m *Manager) observeConflict(ctx context.Context, attempt int) {
	if m.obs != nil {
		m.obs.ConflictRetried(ctx, attempt)
	}
}

// observeCommit reports a commit that made no store call.
func (m *Manager) observeCommit(ctx context.Context, o CommitOutcome) {
	if m.obs != nil {
		m.obs.SessionCommitted(ctx, CommitEvent{Outcome: o})
	}
}
