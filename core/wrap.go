package core

import (
	"context"
	"time"
)

// StoreWrapper decorates the calls of a Store; WrapStore applies it. It is
// the way to add logging, metrics, fault injection or a read cache to a
// store: a hand-written wrapper type that embeds or forwards to a store
// offers only the methods it declares, and the core, which discovers
// CompareAndSwapper, Toucher and the other capabilities by type
// assertion, then silently falls back (to last-writer-wins for a wrapper
// that hides CompareAndSwap). WrapStore's result has every capability of
// the store inside and no other.
type StoreWrapper struct {
	// Around, when set, runs every call of the wrapped store, of every
	// operation, including those of capabilities added in later versions.
	// call describes the call; next makes it (with the context it is
	// given) and returns its error. Around returns the error the caller
	// gets: next's, or its own without calling next, to inject a fault.
	// The store key in call is a hash of the token, but still must not be
	// logged: it names a live session in the store.
	Around func(ctx context.Context, call StoreCall, next func(context.Context) error) error

	// Load, when set, replaces the inner store's Load (inside Around):
	// next is the inner store's Load. With Around invalidating the keys
	// of every write operation, it is where a read cache goes.
	Load func(ctx context.Context, key string, next func(context.Context, string) (Record, bool, error)) (Record, bool, error)
}

// StoreCall describes one call that a StoreWrapper's Around runs.
type StoreCall struct {
	// Op is the operation.
	Op StoreOp
	// Key is the store key the call reads or writes, "" for an operation
	// on no single key (Iterate, DeleteExpired, UserKeys, Ping).
	Key string
}

// Unwrapper is implemented by the stores WrapStore returns.
type Unwrapper interface {
	// Unwrap returns the store inside.
	Unwrap() Store
}

// WrapStore returns inner decorated by w. The result implements
// CompareAndSwapper, Toucher, Iterator, ExpiredDeleter, UserIndexer,
// Pinger and Renewer exactly when inner does, and Unwrapper. Wrapping twice is fine.
func WrapStore(inner Store, w StoreWrapper) Store {
	b := &wrapBase{inner: inner, w: w}
	var caps uint
	if _, ok := inner.(Toucher); ok {
		caps |= capToucher
	}
	if _, ok := inner.(CompareAndSwapper); ok {
		caps |= capCompareAndSwapper
	}
	if _, ok := inner.(Iterator); ok {
		caps |= capIterator
	}
	if _, ok := inner.(ExpiredDeleter); ok {
		caps |= capExpiredDeleter
	}
	if _, ok := inner.(UserIndexer); ok {
		caps |= capUserIndexer
	}
	if _, ok := inner.(Pinger); ok {
		caps |= capPinger
	}
	if _, ok := inner.(Renewer); ok {
		caps |= capRenewer
	}
	return wrapWithCaps(b, caps)
}

// The capability bits of wrapWithCaps (see wrap_gen.go).
const (
	capToucher uint = 1 << iota
	capCompareAndSwapper
	capIterator
	capExpiredDeleter
	capUserIndexer // implies capCompareAndSwapper
	capPinger
	capRenewer // implies capCompareAndSwapper
)

// wrapBase holds what every wrapped store shares and implements Store.
type wrapBase struct {
	inner Store
	w     StoreWrapper
}

// around runs next through w.Around.
func (b *wrapBase) around(ctx context.Context, op StoreOp, key string, next func(context.Context) error) error {
	if b.w.Around == nil {
		return next(ctx)
	}
	return b.w.Around(ctx, StoreCall{Op: op, Key: key}, next)
}

// Unwrap implements Unwrapper.
func (b *wrapBase) Unwrap() Store { return b.inner }

// Load implements Store.
func (b *wrapBase) Load(ctx context.Context, key string) (rec Record, found bool, err error) {
	err = b.around(ctx, OpLoad, key, func(ctx context.Context) error {
		var err error
		if b.w.Load != nil {
			rec, found, err = b.w.Load(ctx, key, b.inner.Load)
		} else {
			rec, found, err = b.inner.Load(ctx, key)
		}
		return err
	})
	if err != nil {
		return Record{}, false, err
	}
	return rec, found, nil
}

// Save implements Store.
func (b *wrapBase) Save(ctx context.Context, key string, data []byte, expiry time.Time) error {
	return b.around(ctx, OpSave, key, func(ctx context.Context) error {
		return b.inner.Save(ctx, key, data, expiry)
	})
}

// Delete implements Store.
func (b *wrapBase) Delete(ctx context.Context, key string) error {
	return b.around(ctx, OpDelete, key, func(ctx context.Context) error {
		return b.inner.Delete(ctx, key)
	})
}

// The capability mixins: each forwards one capability's methods, and the
// combined types of wrap_gen.go embed those of the inner store.

type wrapToucher struct{ b *wrapBase }

// Touch implements Toucher.
func (m wrapToucher) Touch(ctx context.Context, key string, expiry time.Time) error {
	return m.b.around(ctx, OpTouch, key, func(ctx context.Context) error {
		return m.b.inner.(Toucher).Touch(ctx, key, expiry)
	})
}

type wrapCompareAndSwapper struct{ b *wrapBase }

// CompareAndSwap implements CompareAndSwapper.
func (m wrapCompareAndSwapper) CompareAndSwap(ctx context.Context, key string, version uint64, data []byte, expiry time.Time) (v uint64, err error) {
	err = m.b.around(ctx, OpCompareAndSwap, key, func(ctx context.Context) error {
		var err error
		v, err = m.b.inner.(CompareAndSwapper).CompareAndSwap(ctx, key, version, data, expiry)
		return err
	})
	if err != nil {
		return 0, err
	}
	return v, nil
}

type wrapIterator struct{ b *wrapBase }

// Iterate implements Iterator.
func (m wrapIterator) Iterate(ctx context.Context, fn func(key string) bool) error {
	return m.b.around(ctx, OpIterate, "", func(ctx context.Context) error {
		return m.b.inner.(Iterator).Iterate(ctx, fn)
	})
}

type wrapExpiredDeleter struct{ b *wrapBase }

// DeleteExpired implements ExpiredDeleter.
func (m wrapExpiredDeleter) DeleteExpired(ctx context.Context) (n int, err error) {
	err = m.b.around(ctx, OpDeleteExpired, "", func(ctx context.Context) error {
		var err error
		n, err = m.b.inner.(ExpiredDeleter).DeleteExpired(ctx)
		return err
	})
	return n, err
}

// wrapUserIndexer forwards UserIndexer's own methods; a combined type
// with it also embeds wrapCompareAndSwapper.
type wrapUserIndexer struct{ b *wrapBase }

// CompareAndSwapUser implements UserIndexer.
func (m wrapUserIndexer) CompareAndSwapUser(ctx context.Context, key string, version uint64, data []byte, expiry time.Time, user string, until time.Time) (v uint64, err error) {
	err = m.b.around(ctx, OpCompareAndSwapUser, key, func(ctx context.Context) error {
		var err error
		v, err = m.b.inner.(UserIndexer).CompareAndSwapUser(ctx, key, version, data, expiry, user, until)
		return err
	})
	if err != nil {
		return 0, err
	}
	return v, nil
}

// UserKeys implements UserIndexer.
func (m wrapUserIndexer) UserKeys(ctx context.Context, user string) (keys []string, err error) {
	err = m.b.around(ctx, OpUserKeys, "", func(ctx context.Context) error {
		var err error
		keys, err = m.b.inner.(UserIndexer).UserKeys(ctx, user)
		return err
	})
	if err != nil {
		return nil, err
	}
	return keys, nil
}

// wrapRenewer forwards Renewer's own method; a combined type with it
// also embeds wrapCompareAndSwapper.
type wrapRenewer struct{ b *wrapBase }

// Renew implements Renewer. The call's key is the old key.
func (m wrapRenewer) Renew(ctx context.Context, r Renewal) (v uint64, err error) {
	err = m.b.around(ctx, OpRenew, r.OldKey, func(ctx context.Context) error {
		var err error
		v, err = m.b.inner.(Renewer).Renew(ctx, r)
		return err
	})
	if err != nil {
		return 0, err
	}
	return v, nil
}

type wrapPinger struct{ b *wrapBase }

// Ping implements Pinger.
func (m wrapPinger) Ping(ctx context.Context) error {
	return m.b.around(ctx, OpPing, "", func(ctx context.Context) error {
		return m.b.inner.(Pinger).Ping(ctx)
	})
}
