package conformance

import (
	"context"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// userStore is Store for a wrapped store with core.UserIndexer (and so
// core.CompareAndSwapper), with whichever of the other capabilities it has.
func (f *FaultyStore) userStore(u core.UserIndexer) core.Store {
	t, hasT := f.inner.(core.Toucher)
	i, hasI := f.inner.(core.Iterator)
	d, hasD := f.inner.(core.ExpiredDeleter)
	var fu core.UserIndexer = faultyUsers{faultyCAS{f, u}, u}
	var ft core.Toucher = faultyToucher{f, t}
	var fi core.Iterator = faultyIterator{f, i}
	var fd core.ExpiredDeleter = faultyDeleter{f, d}

	type (
		S = core.Store
		U = core.UserIndexer
		T = core.Toucher
		I = core.Iterator
		D = core.ExpiredDeleter
	)
	switch [3]bool{hasT, hasI, hasD} {
	case [3]bool{false, false, false}:
		return struct {
			S
			U
		}{f, fu}
	case [3]bool{true, false, false}:
		return struct {
			S
			U
			T
		}{f, fu, ft}
	case [3]bool{false, true, false}:
		return struct {
			S
			U
			I
		}{f, fu, fi}
	case [3]bool{true, true, false}:
		return struct {
			S
			U
			T
			I
		}{f, fu, ft, fi}
	case [3]bool{false, false, true}:
		return struct {
			S
			U
			D
		}{f, fu, fd}
	case [3]bool{true, false, true}:
		return struct {
			S
			U
			T
			D
		}{f, fu, ft, fd}
	case [3]bool{false, true, true}:
		return struct {
			S
			U
			I
			D
		}{f, fu, fi, fd}
	default:
		return struct {
			S
			U
			T
			I
			D
		}{f, fu, ft, fi, fd}
	}
}

// faultyUsers is f's core.UserIndexer (its CompareAndSwap included).
type faultyUsers struct {
	faultyCAS
	inner core.UserIndexer
}

// CompareAndSwapUser forwards to the wrapped store unless a fault applies.
func (x faultyUsers) CompareAndSwapUser(ctx context.Context, key string, version uint64, data []byte, expiry time.Time, user string, until time.Time) (uint64, error) {
	if err := x.f.enter(ctx, OpCompareAndSwapUser); err != nil {
		return 0, err
	}
	return x.inner.CompareAndSwapUser(ctx, key, version, data, expiry, user, until)
}

// UserKeys forwards to the wrapped store unless a fault applies.
func (x faultyUsers) UserKeys(ctx context.Context, user string) ([]string, error) {
	if err := x.f.enter(ctx, OpUserKeys); err != nil {
		return nil, err
	}
	return x.inner.UserKeys(ctx, user)
}
