package conformance

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// Op names a store operation for FaultyStore's faults and call counts.
type Op string

// The operations of core.Store and its optional capabilities.
const (
	OpLoad           Op = "Load"
	OpSave           Op = "Save"
	OpDelete         Op = "Delete"
	OpTouch          Op = "Touch"
	OpCompareAndSwap Op = "CompareAndSwap"
	OpIterate        Op = "Iterate"
	OpDeleteExpired  Op = "DeleteExpired"
	// OpCompareAndSwapUser and OpUserKeys are the calls of core.UserIndexer.
	OpCompareAndSwapUser Op = "CompareAndSwapUser"
	OpUserKeys           Op = "UserKeys"
	// OpPing is the call of core.Pinger, OpRenew that of core.Renewer.
	OpPing  Op = "Ping"
	OpRenew Op = "Renew"
)

// ErrInjected is the error a FaultyStore returns when a fault was set up
// without an error of its own.
var ErrInjected = errors.New("sessionkit: conformance: injected fault")

// FaultyStore wraps a core.Store to inject failures and latency and to count
// calls, for testing how code that uses a store copes with it. Its methods
// are safe for concurrent use, and faults can be changed while calls run.
//
// A FaultyStore itself implements only core.Store. Hand the value returned
// by Store to the code under test instead: it implements exactly the optional
// capabilities (core.Toucher, core.CompareAndSwapper, core.Iterator,
// core.ExpiredDeleter, core.UserIndexer, core.Pinger, core.Renewer and any
// added later) of the wrapped store, so that the code takes the same paths
// it would take with the wrapped store alone.
//
// Every call is counted, including calls that then fail. A call first
// waits out the configured latency (returning early with an error wrapping
// ctx.Err() when ctx is done), then fails if a fault applies, and otherwise
// forwards to the wrapped store. A failed call does not reach the wrapped
// store, so it changes nothing.
type FaultyStore struct {
	inner core.Store

	mu        sync.Mutex
	all       error        // FailAll
	after     int          // calls left before failAfter applies; -1: off
	afterErr  error        // FailAfter
	ops       map[Op]error // FailOp
	latency   time.Duration
	calls     map[Op]int
	callTotal int
}

// NewFaultyStore returns a FaultyStore forwarding to inner, with no faults
// and no latency.
func NewFaultyStore(inner core.Store) *FaultyStore {
	return &FaultyStore{inner: inner, after: -1, ops: make(map[Op]error), calls: make(map[Op]int)}
}

// orInjected returns err, or ErrInjected when err is nil.
func orInjected(err error) error {
	if err == nil {
		return ErrInjected
	}
	return err
}

// FailAll makes every later call fail with err (ErrInjected if nil).
func (f *FaultyStore) FailAll(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.all = orInjected(err)
}

// FailAfter lets the next n calls through and makes every call after them
// fail with err (ErrInjected if nil).
func (f *FaultyStore) FailAfter(n int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.after, f.afterErr = max(n, 0), orInjected(err)
}

// FailOp makes every later call of op fail with err (ErrInjected if nil);
// other operations are unaffected.
func (f *FaultyStore) FailOp(op Op, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops[op] = orInjected(err)
}

// SetLatency makes every later call wait d before doing anything, or less
// if its context is done first. Zero removes the latency.
func (f *FaultyStore) SetLatency(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latency = d
}

// Heal removes every fault and the latency. The call counts are kept.
func (f *FaultyStore) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.all, f.after, f.afterErr, f.latency = nil, -1, nil, 0
	clear(f.ops)
}

// Calls returns how many calls of op were made, failed ones included.
func (f *FaultyStore) Calls(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// TotalCalls returns how many calls of any operation were made.
func (f *FaultyStore) TotalCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.callTotal
}

// ResetCalls sets every call count back to zero.
func (f *FaultyStore) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.calls)
	f.callTotal = 0
}

// enter counts a call of op, waits out the latency and returns the fault
// that applies to it, if any.
func (f *FaultyStore) enter(ctx context.Context, op Op) error {
	f.mu.Lock()
	f.calls[op]++
	f.callTotal++
	latency := f.latency
	fault := f.all
	if fault == nil {
		fault = f.ops[op]
	}
	if f.after >= 0 {
		if f.after == 0 && fault == nil {
			fault = f.afterErr
		} else if f.after > 0 {
			f.after--
		}
	}
	f.mu.Unlock()

	if latency > 0 {
		t := time.NewTimer(latency)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("sessionkit: conformance: faulty %s: %w", op, ctx.Err())
		}
	}
	if fault != nil {
		return fmt.Errorf("sessionkit: conformance: faulty %s: %w", op, fault)
	}
	return nil
}

// Load forwards to the wrapped store unless a fault applies.
func (f *FaultyStore) Load(ctx context.Context, key string) (core.Record, bool, error) {
	if err := f.enter(ctx, OpLoad); err != nil {
		return core.Record{}, false, err
	}
	return f.inner.Load(ctx, key)
}

// Save forwards to the wrapped store unless a fault applies.
func (f *FaultyStore) Save(ctx context.Context, key string, data []byte, expiry time.Time) error {
	if err := f.enter(ctx, OpSave); err != nil {
		return err
	}
	return f.inner.Save(ctx, key, data, expiry)
}

// Delete forwards to the wrapped store unless a fault applies.
func (f *FaultyStore) Delete(ctx context.Context, key string) error {
	if err := f.enter(ctx, OpDelete); err != nil {
		return err
	}
	return f.inner.Delete(ctx, key)
}
