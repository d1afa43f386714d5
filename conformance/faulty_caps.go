package conformance

import (
	"context"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// Store returns the store to hand to the code under test: it applies f's
// faults and counts, and implements exactly the optional capabilities of the
// store f wraps.
func (f *FaultyStore) Store() core.Store {
	if u, ok := f.inner.(core.UserIndexer); ok {
		return f.userStore(u)
	}
	t, hasT := f.inner.(core.Toucher)
	c, hasC := f.inner.(core.CompareAndSwapper)
	i, hasI := f.inner.(core.Iterator)
	d, hasD := f.inner.(core.ExpiredDeleter)
	var ft core.Toucher = faultyToucher{f, t}
	var fc core.CompareAndSwapper = faultyCAS{f, c}
	var fi core.Iterator = faultyIterator{f, i}
	var fd core.ExpiredDeleter = faultyDeleter{f, d}

	type (
		S = core.Store
		T = core.Toucher
		C = core.CompareAndSwapper
		I = core.Iterator
		D = core.ExpiredDeleter
	)
	switch [4]bool{hasT, hasC, hasI, hasD} {
	case [4]bool{false, false, false, false}:
		return struct{ S }{f}
	case [4]bool{true, false, false, false}:
		return struct {
			S
			T
		}{f, ft}
	case [4]bool{false, true, false, false}:
		return struct {
			S
			C
		}{f, fc}
	case [4]bool{true, true, false, false}:
		return struct {
			S
			T
			C
		}{f, ft, fc}
	case [4]bool{false, false, true, false}:
		return struct {
			S
			I
		}{f, fi}
	case [4]bool{true, false, true, false}:
		return struct {
			S
			T
			I
		}{f, ft, fi}
	case [4]bool{false, true, true, false}:
		return struct {
			S
			C
			I
		}{f, fc, fi}
	case [4]bool{true, true, true, false}:
		return struct {
			S
			T
			C
			I
		}{f, ft, fc, fi}
	case [4]bool{false, false, false, true}:
		return struct {
			S
			D
		}{f, fd}
	case [4]bool{true, false, false, true}:
		return struct {
			S
			T
			D
		}{f, ft, fd}
	case [4]bool{false, true, false, true}:
		return struct {
			S
			C
			D
		}{f, fc, fd}
	case [4]bool{true, true, false, true}:
		return struct {
			S
			T
			C
			D
		}{f, ft, fc, fd}
	case [4]bool{false, false, true, true}:
		return struct {
			S
			I
			D
		}{f, fi, fd}
	case [4]bool{true, false, true, true}:
		return struct {
			S
			T
			I
			D
		}{f, ft, fi, fd}
	case [4]bool{false, true, true, true}:
		return struct {
			S
			C
			I
			D
		}{f, fc, fi, fd}
	default:
		return struct {
			S
			T
			C
			I
			D
		}{f, ft, fc, fi, fd}
	}
}

// faultyToucher is f's core.Toucher, present only when the wrapped store
// has one.
type faultyToucher struct {
	f     *FaultyStore
	inner core.Toucher
}

// Touch forwards to the wrapped store unless a fault applies.
func (x faultyToucher) Touch(ctx context.Context, key string, expiry time.Time) error {
	if err := x.f.enter(ctx, OpTouch); err != nil {
		return err
	}
	return x.inner.Touch(ctx, key, expiry)
}

// faultyCAS is f's core.CompareAndSwapper.
type faultyCAS struct {
	f     *FaultyStore
	inner core.CompareAndSwapper
}

// CompareAndSwap forwards to the wrapped store unless a fault applies.
func (x faultyCAS) CompareAndSwap(ctx context.Context, key string, version uint64, data []byte, expiry time.Time) (uint64, error) {
	if err := x.f.enter(ctx, OpCompareAndSwap); err != nil {
		return 0, err
	}
	return x.inner.CompareAndSwap(ctx, key, version, data, expiry)
}

// faultyIterator is f's core.Iterator.
type faultyIterator struct {
	f     *FaultyStore
	inner core.Iterator
}

// Iterate forwards to the wrapped store unless a fault applies.
func (x faultyIterator) Iterate(ctx context.Context, fn func(key string) bool) error {
	if err := x.f.enter(ctx, OpIterate); err != nil {
		return err
	}
	return x.inner.Iterate(ctx, fn)
}

// faultyDeleter is f's core.ExpiredDeleter.
type faultyDeleter struct {
	f     *FaultyStore
	inner core.ExpiredDeleter
}

// DeleteExpired forwards to the wrapped store unless a fault applies.
func (x faultyDeleter) DeleteExpired(ctx context.Context) (int, error) {
	if err := x.f.enter(ctx, OpDeleteExpired); err != nil {
		return 0, err
	}
	return x.inner.DeleteExpired(ctx)
}
