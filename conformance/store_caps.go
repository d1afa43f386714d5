package conformance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// Rules of the optional capabilities.
const (
	ruleTouchExpiry  = "Touch sets the expiry that Load reports"
	ruleTouchData    = "Touch does not change the record's data"
	ruleTouchMissing = "touching a missing record returns an error wrapping core.ErrNotFound and does not create it"
	ruleCASAbsent    = "CompareAndSwap with version 0 writes only when no live record exists"
	ruleCASVersion   = "a live record has a non-zero version, and a successful write returns a new one"
	ruleCASSave      = "Save gives the record a new version, so CompareAndSwap with the old one fails"
	ruleCASStale     = "CompareAndSwap with a stale version fails with ErrConflict and changes neither data nor expiry"
	ruleCASDeleted   = "CompareAndSwap on a deleted record fails with ErrConflict and does not re-create it"
	ruleCASPast      = "CompareAndSwap with an expiry in the past deletes the record when the version matches, and changes nothing when it does not"
	ruleCASLostWrite = "concurrent CompareAndSwap loops with retry lose no update"
	ruleIterLive     = "Iterate lists every live record exactly once and nothing else"
	ruleIterStop     = "Iterate stops when fn returns false"
	ruleIterLocks    = "Iterate holds no lock that fn's store calls need"
	ruleDelLive      = "DeleteExpired keeps live records"
	ruleDelExpired   = "DeleteExpired removes expired records and returns how many"
)

var storeToucherChecks = []storeCheck{
	{name: "ExtendsExpiry", run: storeCheckTouchExpiry},
	{name: "KeepsData", run: storeCheckTouchData},
	{name: "Missing", run: storeCheckTouchMissing},
	{name: "Cancelled", run: storeCheckTouchCancelled},
	{name: "Expired", slow: true, run: storeCheckTouchExpired},
	{name: "UnderWrites", run: storeCheckTouchUnderWrites},
}

var storeCASChecks = []storeCheck{
	{name: "CreateWhenAbsent", run: storeCheckCASAbsent},
	{name: "LoadedVersion", run: storeCheckCASLoaded},
	{name: "SaveChangesVersion", run: storeCheckCASAfterSave},
	{name: "Stale", run: storeCheckCASStale},
	{name: "Deleted", run: storeCheckCASDeleted},
	{name: "PastExpiryDeletes", run: storeCheckCASPast},
	{name: "Concurrent", run: storeCheckCASConcurrent},
	{name: "Cancelled", run: storeCheckCASCancelled},
	{name: "ReadOnly", run: storeCheckCASReadOnly},
	{name: "LoginSettles", run: storeCheckLoginSettles},
	{name: "Expired", slow: true, run: storeCheckCASExpired},
}

var storeIteratorChecks = []storeCheck{
	{name: "LiveKeys", run: storeCheckIterLive},
	{name: "Stop", run: storeCheckIterStop},
	{name: "Reentrant", run: storeCheckIterReentrant},
	{name: "Cancelled", run: storeCheckIterCancelled},
}

var storeDeleterChecks = []storeCheck{
	{name: "KeepsLive", run: storeCheckDelKeepsLive},
	{name: "RemovesExpired", slow: true, run: storeCheckDelRemoves},
	{name: "Cancelled", run: storeCheckDelCancelled},
}

// storeErrText renders an unexpected error.
func storeErrText(err error) string {
	if err == nil {
		return "nil error"
	}
	return fmt.Sprintf("error %q", err)
}

func storeCheckTouchExpiry(ctx context.Context, s core.Store, opts StoreOptions) error {
	t := s.(core.Toucher)
	key, data := storeNewKey(), []byte("touched")
	if err := storeSave(ctx, s, "k", key, data, storeExpiry(time.Hour), ruleTouchExpiry); err != nil {
		return err
	}
	for _, d := range []time.Duration{3 * time.Hour, 30 * time.Minute} { // later, then earlier
		exp := storeExpiry(d)
		if err := t.Touch(ctx, key, exp); err != nil {
			return storeViolation(fmt.Sprintf("Touch(k, now+%v)", d), storeErrText(err), "nil error", ruleTouchExpiry)
		}
		if _, err := storeLoadRecord(ctx, s, "k", key, data, exp, opts, ruleTouchExpiry); err != nil {
			return fmt.Errorf("after Touch(k, now+%v): %w", d, err)
		}
	}
	return nil
}

func storeCheckTouchData(ctx context.Context, s core.Store, _ StoreOptions) error {
	t := s.(core.Toucher)
	key, data := storeNewKey(), []byte("must survive a touch")
	if err := storeSave(ctx, s, "k", key, data, storeExpiry(time.Hour), ruleTouchData); err != nil {
		return err
	}
	if err := t.Touch(ctx, key, storeExpiry(2*time.Hour)); err != nil {
		return storeViolation("Touch(k)", storeErrText(err), "nil error", ruleTouchData)
	}
	if _, err := storeLoadFound(ctx, s, "k", key, data, ruleTouchData); err != nil {
		return fmt.Errorf("after Touch(k): %w", err)
	}
	return nil
}

func storeCheckTouchMissing(ctx context.Context, s core.Store, _ StoreOptions) error {
	t := s.(core.Toucher)
	unknown, deleted := storeNewKey(), storeNewKey()
	if err := storeSave(ctx, s, "deleted key", deleted, []byte("x"), storeExpiry(time.Hour), ruleTouchMissing); err != nil {
		return err
	}
	if err := s.Delete(ctx, deleted); err != nil {
		return storeViolation("Delete(deleted key)", storeErrText(err), "nil error", ruleDelete)
	}
	for _, k := range []struct{ label, key string }{{"never-saved key", unknown}, {"deleted key", deleted}} {
		if err := t.Touch(ctx, k.key, storeExpiry(time.Hour)); !errors.Is(err, core.ErrNotFound) {
			return storeViolation(fmt.Sprintf("Touch(%s)", k.label), storeErrText(err), "an error wrapping core.ErrNotFound", ruleTouchMissing)
		}
		if err := storeLoadMissing(ctx, s, k.label, k.key, ruleTouchMissing); err != nil {
			return fmt.Errorf("after Touch(%s): %w", k.label, err)
		}
	}
	return nil
}

func storeCheckTouchCancelled(ctx context.Context, s core.Store, opts StoreOptions) error {
	t := s.(core.Toucher)
	key, data, exp := storeNewKey(), []byte("kept"), storeExpiry(time.Hour)
	if err := storeSave(ctx, s, "k", key, data, exp, ruleCancelled); err != nil {
		return err
	}
	err := t.Touch(storeCancelled(ctx), key, storeExpiry(2*time.Hour))
	if err := storeWantErr("Touch(cancelled ctx, k)", err, context.Canceled, ruleCancelled); err != nil {
		return err
	}
	_, err = storeLoadRecord(ctx, s, "k", key, data, exp, opts, ruleCancelled)
	return err
}

// storeCAS calls CompareAndSwap and requires success with a new version.
func storeCAS(ctx context.Context, c core.CompareAndSwapper, label, key string, version uint64, data []byte, exp time.Time, rule string) (uint64, error) {
	call := fmt.Sprintf("CompareAndSwap(%s, version %d, %s)", label, version, storeDescribe(data))
	v, err := c.CompareAndSwap(ctx, key, version, data, exp)
	switch {
	case err != nil:
		return 0, storeViolation(call, storeErrText(err), "a new version", rule)
	case v == 0 || v == version:
		return 0, storeViolation(call, fmt.Sprintf("version %d", v), "a new, non-zero version", ruleCASVersion)
	}
	return v, nil
}

// storeCASConflict calls CompareAndSwap and requires ErrConflict.
func storeCASConflict(ctx context.Context, c core.CompareAndSwapper, label, key string, version uint64, data []byte, exp time.Time, rule string) error {
	_, err := c.CompareAndSwap(ctx, key, version, data, exp)
	return storeWantErr(fmt.Sprintf("CompareAndSwap(%s, version %d, %s)", label, version, storeDescribe(data)), err, core.ErrConflict, rule)
}

// storeWantVersion requires rec to carry version v.
func storeWantVersion(label string, rec core.Record, v uint64, rule string) error {
	if rec.Version != v {
		return storeViolation(fmt.Sprintf("Load(%s).Version", label), strconv.FormatUint(rec.Version, 10), strconv.FormatUint(v, 10), rule)
	}
	return nil
}

// storeCheckCASReadOnly creates a short and a large record with
// CompareAndSwap, swaps it once more and once at a stale version (which
// conflicts), and requires every slice to be as it was (see ruleReadOnly).
func storeCheckCASReadOnly(ctx context.Context, s core.Store, opts StoreOptions) error {
	c := s.(core.CompareAndSwapper)
	for _, n := range storeAliasSizes(opts) {
		key := storeNewKey()
		var v, stale uint64
		for _, label := range []string{"absent k", "k"} {
			if err := storeWriteUntouched("CompareAndSwap", label, n, func(data []byte) (err error) {
				stale = v
				v, err = storeCAS(ctx, c, label, key, v, data, storeExpiry(time.Hour), ruleReadOnly)
				return err
			}); err != nil {
				return err
			}
		}
		const label = "k at a stale version"
		if err := storeWriteUntouched("CompareAndSwap", label, n, func(data []byte) error {
			return storeCASConflict(ctx, c, label, key, stale, data, storeExpiry(time.Hour), ruleReadOnly)
		}); err != nil {
			return err
		}
	}
	return nil
}

func storeCheckCASAbsent(ctx context.Context, s core.Store, opts StoreOptions) error {
	c := s.(core.CompareAndSwapper)
	key, d1, exp := storeNewKey(), []byte("created"), storeExpiry(time.Hour)
	v1, err := storeCAS(ctx, c, "absent k", key, 0, d1, exp, ruleCASAbsent)
	if err != nil {
		return err
	}
	rec, err := storeLoadRecord(ctx, s, "k", key, d1, exp, opts, ruleCASAbsent)
	if err != nil {
		return err
	}
	if err := storeWantVersion("k", rec, v1, ruleCASVersion); err != nil {
		return err
	}
	if err := storeCASConflict(ctx, c, "existing k", key, 0, []byte("second create"), storeExpiry(2*time.Hour), ruleCASAbsent); err != nil {
		return err
	}
	_, err = storeLoadRecord(ctx, s, "k", key, d1, exp, opts, ruleCASAbsent)
	return err
}

func storeCheckCASLoaded(ctx context.Context, s core.Store, opts StoreOptions) error {
	c := s.(core.CompareAndSwapper)
	key := storeNewKey()
	if err := storeSave(ctx, s, "k", key, []byte("saved"), storeExpiry(time.Hour), ruleCASVersion); err != nil {
		return err
	}
	rec, err := storeLoadFound(ctx, s, "k", key, []byte("saved"), ruleCASVersion)
	if err != nil {
		return err
	}
	if rec.Version == 0 {
		return storeViolation("Load(k).Version", "0", "non-zero", ruleCASVersion)
	}
	d2, e2 := []byte("swapped"), storeExpiry(2*time.Hour)
	v2, err := storeCAS(ctx, c, "k", key, rec.Version, d2, e2, ruleCASVersion)
	if err != nil {
		return err
	}
	rec, err = storeLoadRecord(ctx, s, "k", key, d2, e2, opts, ruleCASVersion)
	if err != nil {
		return err
	}
	return storeWantVersion("k", rec, v2, ruleCASVersion)
}

func storeCheckCASAfterSave(ctx context.Context, s core.Store, opts StoreOptions) error {
	c := s.(core.CompareAndSwapper)
	key := storeNewKey()
	if err := storeSave(ctx, s, "k", key, []byte("one"), storeExpiry(time.Hour), ruleCASSave); err != nil {
		return err
	}
	r1, err := storeLoadFound(ctx, s, "k", key, []byte("one"), ruleCASSave)
	if err != nil {
		return err
	}
	d2, e2 := []byte("two"), storeExpiry(2*time.Hour)
	if err := storeSave(ctx, s, "k", key, d2, e2, ruleCASSave); err != nil {
		return err
	}
	r2, err := storeLoadFound(ctx, s, "k", key, d2, ruleCASSave)
	if err != nil {
		return err
	}
	if r2.Version == r1.Version {
		return storeViolation("Load(k).Version after a second Save", strconv.FormatUint(r2.Version, 10), "a version other than "+strconv.FormatUint(r1.Version, 10), ruleCASSave)
	}
	if err := storeCASConflict(ctx, c, "k", key, r1.Version, []byte("three"), storeExpiry(3*time.Hour), ruleCASSave); err != nil {
		return err
	}
	_, err = storeLoadRecord(ctx, s, "k", key, d2, e2, opts, ruleCASSave)
	return err
}

func storeCheckCASStale(ctx context.Context, s core.Store, opts StoreOptions) error {
	c := s.(core.CompareAndSwapper)
	key := storeNewKey()
	v1, err := storeCAS(ctx, c, "absent k", key, 0, []byte("one"), storeExpiry(time.Hour), ruleCASStale)
	if err != nil {
		return err
	}
	d2, e2 := []byte("two"), storeExpiry(2*time.Hour)
	v2, err := storeCAS(ctx, c, "k", key, v1, d2, e2, ruleCASStale)
	if err != nil {
		return err
	}
	if err := storeCASConflict(ctx, c, "k", key, v1, []byte("stale write"), storeExpiry(3*time.Hour), ruleCASStale); err != nil {
		return err
	}
	rec, err := storeLoadRecord(ctx, s, "k", key, d2, e2, opts, ruleCASStale)
	if err != nil {
		return fmt.Errorf("after a conflicting CompareAndSwap: %w", err)
	}
	return storeWantVersion("k", rec, v2, ruleCASStale)
}

func storeCheckCASDeleted(ctx context.Context, s core.Store, _ StoreOptions) error {
	c := s.(core.CompareAndSwapper)
	key := storeNewKey()
	if err := storeSave(ctx, s, "k", key, []byte("logged in"), storeExpiry(time.Hour), ruleCASDeleted); err != nil {
		return err
	}
	rec, err := storeLoadFound(ctx, s, "k", key, []byte("logged in"), ruleCASDeleted)
	if err != nil {
		return err
	}
	if err := s.Delete(ctx, key); err != nil {
		return storeViolation("Delete(k)", storeErrText(err), "nil error", ruleDelete)
	}
	if err := storeCASConflict(ctx, c, "deleted k", key, rec.Version, []byte("revived"), storeExpiry(time.Hour), ruleCASDeleted); err != nil {
		return err
	}
	return storeLoadMissing(ctx, s, "k", key, ruleCASDeleted)
}

func storeCheckCASPast(ctx context.Context, s core.Store, _ StoreOptions) error {
	c := s.(core.CompareAndSwapper)
	key := storeNewKey()
	if err := storeSave(ctx, s, "k", key, []byte("logged in"), storeExpiry(time.Hour), ruleCASPast); err != nil {
		return err
	}
	rec, err := storeLoadFound(ctx, s, "k", key, []byte("logged in"), ruleCASPast)
	if err != nil {
		return err
	}
	past := time.Now().Add(-time.Hour)
	if err := storeCASConflict(ctx, c, "k with a stale version and a past expiry", key, rec.Version+1, nil, past, ruleCASPast); err != nil {
		return err
	}
	if _, err := storeLoadFound(ctx, s, "k after a stale CompareAndSwap with a past expiry", key, []byte("logged in"), ruleCASPast); err != nil {
		return err
	}
	if _, err := storeCAS(ctx, c, "k with its version and a past expiry", key, rec.Version, nil, past, ruleCASPast); err != nil {
		return err
	}
	return storeLoadMissing(ctx, s, "k after CompareAndSwap with a past expiry", key, ruleCASPast)
}

func storeCheckCASConcurrent(ctx context.Context, s core.Store, _ StoreOptions) error {
	c := s.(core.CompareAndSwapper)
	const workers, increments = 8, 10
	key, exp := storeNewKey(), storeExpiry(time.Hour)
	if _, err := storeCAS(ctx, c, "absent counter", key, 0, []byte("0"), exp, ruleCASLostWrite); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() {
			for range increments {
				if err := storeIncrement(ctx, s, c, key, exp); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	want := []byte(strconv.Itoa(workers * increments))
	if _, err := storeLoadFound(ctx, s, "counter", key, want, ruleCASLostWrite); err != nil {
		return fmt.Errorf("after %d workers each added %d: %w", workers, increments, err)
	}
	return nil
}

// storeIncrement adds one to the decimal counter under key, retrying on
// conflict the way the core does.
func storeIncrement(ctx context.Context, s core.Store, c core.CompareAndSwapper, key string, exp time.Time) error {
	for range 10000 {
		rec, found, err := s.Load(ctx, key)
		if err != nil || !found {
			return storeViolation("Load(counter)", fmt.Sprintf("found=%t, err=%v", found, err), "the counter", ruleCASLostWrite)
		}
		n, err := strconv.Atoi(string(rec.Data))
		if err != nil {
			return storeViolation("Load(counter)", storeDescribe(rec.Data), "a decimal counter", ruleCASLostWrite)
		}
		_, err = c.CompareAndSwap(ctx, key, rec.Version, []byte(strconv.Itoa(n+1)), exp)
		if err == nil {
			return nil
		}
		if !errors.Is(err, core.ErrConflict) {
			return storeViolation("CompareAndSwap(counter)", storeErrText(err), "nil or ErrConflict", ruleCASLostWrite)
		}
	}
	return storeViolation("CompareAndSwap(counter)", "10000 conflicts in a row", "progress", ruleCASLostWrite)
}

func storeCheckCASCancelled(ctx context.Context, s core.Store, opts StoreOptions) error {
	c := s.(core.CompareAndSwapper)
	key, data, exp := storeNewKey(), []byte("kept"), storeExpiry(time.Hour)
	v, err := storeCAS(ctx, c, "absent k", key, 0, data, exp, ruleCancelled)
	if err != nil {
		return err
	}
	_, err = c.CompareAndSwap(storeCancelled(ctx), key, v, []byte("changed"), storeExpiry(2*time.Hour))
	if err := storeWantErr("CompareAndSwap(cancelled ctx, k, current version)", err, context.Canceled, ruleCancelled); err != nil {
		return err
	}
	fresh := storeNewKey()
	_, err = c.CompareAndSwap(storeCancelled(ctx), fresh, 0, []byte("created"), storeExpiry(2*time.Hour))
	if err := storeWantErr("CompareAndSwap(cancelled ctx, new key, 0)", err, context.Canceled, ruleCancelled); err != nil {
		return err
	}
	if err := storeLoadMissing(ctx, s, "new key", fresh, ruleCancelled); err != nil {
		return err
	}
	_, err = storeLoadRecord(ctx, s, "k", key, data, exp, opts, ruleCancelled)
	return err
}

// storeCollect iterates and returns the keys seen.
func storeCollect(ctx context.Context, it core.Iterator) ([]string, error) {
	var keys []string
	err := it.Iterate(ctx, func(key string) bool { keys = append(keys, key); return true })
	return keys, err
}

func storeCheckIterLive(ctx context.Context, s core.Store, _ StoreOptions) error {
	it := s.(core.Iterator)
	keys := storeNewKeys(5)
	for i, k := range keys {
		if err := storeSave(ctx, s, fmt.Sprintf("k%d", i), k, []byte("x"), storeExpiry(time.Hour), ruleIterLive); err != nil {
			return err
		}
	}
	if err := s.Delete(ctx, keys[1]); err != nil {
		return storeViolation("Delete(k1)", storeErrText(err), "nil error", ruleDelete)
	}
	if err := storeSave(ctx, s, "k3", keys[3], []byte("x"), time.Now().Add(-time.Second), ruleIterLive); err != nil {
		return err
	}
	got, err := storeCollect(ctx, it)
	if err != nil {
		return storeViolation("Iterate", storeErrText(err), "nil error", ruleIterLive)
	}
	want := []string{keys[0], keys[2], keys[4]}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		return storeViolation("Iterate after saving k0..k4, deleting k1 and saving k3 with a past expiry",
			fmt.Sprintf("%d keys (%s)", len(got), storeLabelKeys(got, keys)), "k0, k2, k4", ruleIterLive)
	}
	return nil
}

// storeLabelKeys names keys by their index in known, for messages.
func storeLabelKeys(got, known []string) string {
	labels := make([]string, len(got))
	for i, k := range got {
		labels[i] = "unknown key"
		if j := slices.Index(known, k); j >= 0 {
			labels[i] = fmt.Sprintf("k%d", j)
		}
	}
	return fmt.Sprint(labels)
}

func storeCheckIterStop(ctx context.Context, s core.Store, _ StoreOptions) error {
	it := s.(core.Iterator)
	for i, k := range storeNewKeys(5) {
		if err := storeSave(ctx, s, fmt.Sprintf("k%d", i), k, []byte("x"), storeExpiry(time.Hour), ruleIterStop); err != nil {
			return err
		}
	}
	calls := 0
	err := it.Iterate(ctx, func(string) bool { calls++; return false })
	if err != nil {
		return storeViolation("Iterate(fn returning false)", storeErrText(err), "nil error", ruleIterStop)
	}
	if calls != 1 {
		return storeViolation("Iterate(fn returning false) over 5 records", fmt.Sprintf("%d calls of fn", calls), "1 call", ruleIterStop)
	}
	return nil
}

func storeCheckIterReentrant(ctx context.Context, s core.Store, _ StoreOptions) error {
	it := s.(core.Iterator)
	keys := storeNewKeys(3)
	for i, k := range keys {
		if err := storeSave(ctx, s, fmt.Sprintf("k%d", i), k, []byte("x"), storeExpiry(time.Hour), ruleIterLocks); err != nil {
			return err
		}
	}
	done := make(chan error, 1)
	go func() {
		var firstErr error
		err := it.Iterate(ctx, func(key string) bool {
			if _, _, err := s.Load(ctx, key); err != nil && firstErr == nil {
				firstErr = storeViolation("Load(key) inside Iterate's fn", storeErrText(err), "nil error", ruleIterLocks)
			}
			if err := s.Delete(ctx, key); err != nil && firstErr == nil {
				firstErr = storeViolation("Delete(key) inside Iterate's fn", storeErrText(err), "nil error", ruleIterLocks)
			}
			return true
		})
		if err != nil {
			err = storeViolation("Iterate(fn calling Load and Delete)", storeErrText(err), "nil error", ruleIterLocks)
		}
		done <- errors.Join(firstErr, err)
	}()
	const limit = 5 * time.Second
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			return err
		}
	case <-timer.C:
		return storeViolation("Iterate(fn calling Load and Delete)", "no return within "+limit.String(), "no deadlock", ruleIterLocks)
	case <-ctx.Done():
		return ctx.Err()
	}
	for i, k := range keys {
		if err := storeLoadMissing(ctx, s, fmt.Sprintf("k%d", i), k, ruleDelete); err != nil {
			return fmt.Errorf("after fn deleted every key it was given: %w", err)
		}
	}
	return nil
}

func storeCheckIterCancelled(ctx context.Context, s core.Store, _ StoreOptions) error {
	it := s.(core.Iterator)
	if err := storeSave(ctx, s, "k", storeNewKey(), []byte("x"), storeExpiry(time.Hour), ruleCancelled); err != nil {
		return err
	}
	calls := 0
	err := it.Iterate(storeCancelled(ctx), func(string) bool { calls++; return true })
	if err := storeWantErr("Iterate(cancelled ctx)", err, context.Canceled, ruleCancelled); err != nil {
		return err
	}
	if calls != 0 {
		return storeViolation("Iterate(cancelled ctx)", fmt.Sprintf("%d calls of fn", calls), "none", ruleCancelled)
	}
	return nil
}

func storeCheckDelKeepsLive(ctx context.Context, s core.Store, _ StoreOptions) error {
	d := s.(core.ExpiredDeleter)
	keys := storeNewKeys(3)
	for i, k := range keys {
		if err := storeSave(ctx, s, fmt.Sprintf("k%d", i), k, []byte("live"), storeExpiry(time.Hour), ruleDelLive); err != nil {
			return err
		}
	}
	n, err := d.DeleteExpired(ctx)
	if err != nil || n != 0 {
		return storeViolation("DeleteExpired with only live records", fmt.Sprintf("%d, %v", n, err), "0, nil", ruleDelLive)
	}
	for i, k := range keys {
		if _, err := storeLoadFound(ctx, s, fmt.Sprintf("k%d", i), k, []byte("live"), ruleDelLive); err != nil {
			return fmt.Errorf("after DeleteExpired: %w", err)
		}
	}
	return nil
}

func storeCheckDelRemoves(ctx context.Context, s core.Store, opts StoreOptions) error {
	d := s.(core.ExpiredDeleter)
	short, long := storeNewKey(), storeNewKey()
	exp := time.Now().Add(storeLead(ctx, opts)).Round(0)
	if err := storeSave(ctx, s, "short-lived k", short, []byte("short"), exp, ruleDelExpired); err != nil {
		return err
	}
	if err := storeSave(ctx, s, "long-lived k", long, []byte("long"), storeExpiry(time.Hour), ruleDelExpired); err != nil {
		return err
	}
	if _, err := storeLoadFound(ctx, s, "short-lived k", short, []byte("short"), ruleRoundTrip); err != nil {
		return storeLate(fmt.Errorf("before its expiry: %w", err), exp, opts)
	}
	if err := storeSleepUntil(ctx, exp.Add(100*time.Millisecond)); err != nil {
		return err
	}
	n, err := d.DeleteExpired(ctx)
	if err != nil || n != 1 {
		return storeViolation("DeleteExpired with one expired and one live record", fmt.Sprintf("%d, %v", n, err), "1, nil", ruleDelExpired)
	}
	if err := storeLoadMissing(ctx, s, "short-lived k", short, ruleDelExpired); err != nil {
		return err
	}
	if _, err := storeLoadFound(ctx, s, "long-lived k", long, []byte("long"), ruleDelLive); err != nil {
		return fmt.Errorf("after DeleteExpired: %w", err)
	}
	return nil
}

func storeCheckDelCancelled(ctx context.Context, s core.Store, _ StoreOptions) error {
	d := s.(core.ExpiredDeleter)
	_, err := d.DeleteExpired(storeCancelled(ctx))
	return storeWantErr("DeleteExpired(cancelled ctx)", err, context.Canceled, ruleCancelled)
}
