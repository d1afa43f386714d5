package conformance

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// Rules about expired records and Touch under contention.
const (
	ruleTouchExpired = "touching an expired record returns an error wrapping core.ErrNotFound and does not revive it"
	ruleTouchRace    = "a Touch that loses to a concurrent write returns nil or an error wrapping core.ErrConflict, never another error"
	ruleCASExpired   = "CompareAndSwap at the version of an expired record fails with ErrConflict and does not revive it; version 0 then creates it"
)

// storeTouchWriters is how many writers replace the record that
// Toucher/UnderWrites touches.
const storeTouchWriters = 16

// storeTouchCalls is how many times Toucher/UnderWrites touches the record
// while the writers run.
func storeTouchCalls() int {
	if testing.Short() {
		return 25
	}
	return 100
}

// storeSaveExpiring saves a record that expires shortly, checks that it
// loads, and waits until it has expired. It returns the loaded record.
func storeSaveExpiring(ctx context.Context, s core.Store, key string, data []byte, opts StoreOptions, rule string) (core.Record, error) {
	exp := time.Now().Add(storeLead(ctx, opts)).Round(0)
	if err := storeSave(ctx, s, "k", key, data, exp, rule); err != nil {
		return core.Record{}, err
	}
	rec, err := storeLoadFound(ctx, s, "k", key, data, ruleRoundTrip)
	if err != nil {
		return rec, storeLate(fmt.Errorf("before its expiry: %w", err), exp, opts)
	}
	return rec, storeSleepUntil(ctx, exp.Add(100*time.Millisecond))
}

func storeCheckTouchExpired(ctx context.Context, s core.Store, opts StoreOptions) error {
	t := s.(core.Toucher)
	key := storeNewKey()
	if _, err := storeSaveExpiring(ctx, s, key, []byte("expired"), opts, ruleTouchExpired); err != nil {
		return err
	}
	if err := t.Touch(ctx, key, storeExpiry(time.Hour)); !errors.Is(err, core.ErrNotFound) {
		return storeViolation("Touch(k) 100ms after k expired", storeErrText(err), "an error wrapping core.ErrNotFound", ruleTouchExpired)
	}
	if err := storeLoadMissing(ctx, s, "k", key, ruleTouchExpired); err != nil {
		return fmt.Errorf("after Touch(k) on the expired k: %w", err)
	}
	return nil
}

func storeCheckCASExpired(ctx context.Context, s core.Store, opts StoreOptions) error {
	c := s.(core.CompareAndSwapper)
	key := storeNewKey()
	rec, err := storeSaveExpiring(ctx, s, key, []byte("expired"), opts, ruleCASExpired)
	if err != nil {
		return err
	}
	call := fmt.Sprintf("CompareAndSwap(k, version %d it had before it expired)", rec.Version)
	if _, err := c.CompareAndSwap(ctx, key, rec.Version, []byte("revived"), storeExpiry(time.Hour)); !errors.Is(err, core.ErrConflict) {
		return storeViolation(call, storeErrText(err), "an error wrapping core.ErrConflict", ruleCASExpired)
	}
	if err := storeLoadMissing(ctx, s, "k", key, ruleCASExpired); err != nil {
		return fmt.Errorf("after %s: %w", call, err)
	}
	data, exp := []byte("created again"), storeExpiry(time.Hour)
	if _, err := storeCAS(ctx, c, "expired k", key, 0, data, exp, ruleCASExpired); err != nil {
		return err
	}
	_, err = storeLoadRecord(ctx, s, "k", key, data, exp, opts, ruleCASExpired)
	return err
}

func storeCheckTouchUnderWrites(ctx context.Context, s core.Store, _ StoreOptions) error {
	t := s.(core.Toucher)
	key := storeNewKey()
	value := func(w int) []byte { return []byte(fmt.Sprintf("written by writer %d", w)) }
	if err := storeSave(ctx, s, "k", key, value(0), storeExpiry(time.Hour), ruleTouchRace); err != nil {
		return err
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		wg       sync.WaitGroup
		writes   atomic.Int64
		writeErr = make([]error, storeTouchWriters)
	)
	for w := range storeTouchWriters {
		wg.Go(func() {
			for ctx.Err() == nil {
				err := s.Save(ctx, key, value(w), storeExpiry(2*time.Hour))
				if err != nil && ctx.Err() == nil {
					writeErr[w] = storeViolation("Save(k) by a writer", storeErrText(err), "nil error", ruleTouchRace)
					return
				}
				writes.Add(1)
			}
		})
	}
	var touchErr error
	calls, conflicts := storeTouchCalls(), 0
	for range calls {
		err := t.Touch(ctx, key, storeExpiry(3*time.Hour))
		if errors.Is(err, core.ErrConflict) {
			conflicts++
		} else if err != nil {
			touchErr = storeViolation(fmt.Sprintf("Touch(k) while %d writers replace k", storeTouchWriters), storeErrText(err), "nil or an error wrapping core.ErrConflict", ruleTouchRace)
			break
		}
	}
	stop()
	wg.Wait()
	if err := errors.Join(append(writeErr, touchErr)...); err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	rec, found, err := s.Load(ctx, key)
	if err != nil || !found || len(rec.Data) < len("written by writer") {
		return storeViolation(fmt.Sprintf("Load(k) after %d Touch calls (%d conflicts) and %d writes", calls, conflicts, writes.Load()),
			fmt.Sprintf("found %v, %s, error %v", found, storeDescribe(rec.Data), err), "one writer's data", ruleTouchRace)
	}
	return nil
}
