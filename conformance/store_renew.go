package conformance

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// Rules of core.Renewer.
const (
	ruleRenewMoves    = "Renew creates the new record with a new, non-zero version and replaces the old one by the retired record until its expiry"
	ruleRenewDeletes  = "Renew deletes the old record when Retired is nil or RetiredExpiry is not in the future"
	ruleRenewStale    = "Renew of a changed, deleted or expired old record fails with ErrConflict and changes nothing"
	ruleRenewTaken    = "Renew onto a key that holds a live record fails with ErrConflict and changes nothing"
	ruleRenewUsers    = "on a UserIndexer, Renew files the new record under User and takes the old one out of every user's set"
	ruleRenewAtomic   = "concurrent Renews and CompareAndSwaps of one old version: exactly one succeeds, and a failed Renew leaves no new record"
	ruleRenewContext  = "Renew with a done context fails with the context's error and changes nothing"
	ruleRenewNotAtAll = "a Renew that returns ErrNotSupported changes nothing"
	ruleRenewListed   = "on a UserIndexer, a Renew never leaves the session out of a UserKeys snapshot: the new key is filed before the old one leaves the set"
)

var storeRenewChecks = []storeCheck{
	{name: "Moves", run: storeCheckRenewMoves},
	{name: "DeletesOld", run: storeCheckRenewDeletes},
	{name: "Stale", run: storeCheckRenewStale},
	{name: "Deleted", run: storeCheckRenewDeleted},
	{name: "NewKeyTaken", run: storeCheckRenewTaken},
	{name: "Users", run: storeCheckRenewUsers},
	{name: "Snapshot", run: storeCheckRenewSnapshot},
	{name: "Concurrent", run: storeCheckRenewConcurrent},
	{name: "RacesSwap", run: storeCheckRenewRacesSwap},
	{name: "Cancelled", run: storeCheckRenewCancelled},
	{name: "ReadOnly", run: storeCheckRenewReadOnly},
	{name: "Expired", slow: true, run: storeCheckRenewExpired},
}

// errRenewUnsupported is returned by storeRenew when the store declined
// the renewal with ErrNotSupported and changed nothing: the check has
// nothing more to verify for this pair of keys.
var errRenewUnsupported = errors.New("conformance: renew not supported for these keys")

// storeRenewal returns a renewal of the record under old (at v) to a fresh
// key, with a retired record valid for an hour.
func storeRenewal(old string, v uint64, data []byte) core.Renewal {
	return core.Renewal{
		OldKey: old, OldVersion: v,
		Retired: []byte("retired"), RetiredExpiry: storeExpiry(time.Hour),
		NewKey: storeNewKey(), Data: data, Expiry: storeExpiry(2 * time.Hour),
	}
}

// storeSeed creates the record under a fresh key with data and returns
// the key and its version.
func storeSeed(ctx context.Context, s core.Store, data []byte, rule string) (string, uint64, error) {
	key := storeNewKey()
	v, err := storeCAS(ctx, s.(core.CompareAndSwapper), "absent old", key, 0, data, storeExpiry(time.Hour), rule)
	return key, v, err
}

// storeUnchanged requires the old record to hold data at version v and
// the new key to hold nothing.
func storeUnchanged(ctx context.Context, s core.Store, r core.Renewal, data []byte, v uint64, rule string) error {
	rec, err := storeLoadFound(ctx, s, "old", r.OldKey, data, rule)
	if err != nil {
		return err
	}
	if err := storeWantVersion("old", rec, v, rule); err != nil {
		return err
	}
	return storeLoadMissing(ctx, s, "new", r.NewKey, rule)
}

// storeRenew calls Renew and requires success with a new version; an
// ErrNotSupported that changed nothing is errRenewUnsupported.
func storeRenew(ctx context.Context, s core.Store, r core.Renewal, oldData []byte, rule string) (uint64, error) {
	call := fmt.Sprintf("Renew(old at version %d, %s)", r.OldVersion, storeDescribe(r.Data))
	v, err := s.(core.Renewer).Renew(ctx, r)
	switch {
	case errors.Is(err, core.ErrNotSupported):
		if err := storeUnchanged(ctx, s, r, oldData, r.OldVersion, ruleRenewNotAtAll); err != nil {
			return 0, err
		}
		return 0, errRenewUnsupported
	case err != nil:
		return 0, storeViolation(call, storeErrText(err), "a new version", rule)
	case v == 0 || v == r.OldVersion:
		return 0, storeViolation(call, fmt.Sprintf("version %d", v), "a new, non-zero version", rule)
	}
	return v, nil
}

// storeRenewConflict calls Renew and requires ErrConflict (or
// ErrNotSupported) with nothing changed.
func storeRenewConflict(ctx context.Context, s core.Store, label string, r core.Renewal, oldData []byte, oldVersion uint64, rule string) error {
	_, err := s.(core.Renewer).Renew(ctx, r)
	if !errors.Is(err, core.ErrNotSupported) {
		if err := storeWantErr("Renew("+label+")", err, core.ErrConflict, rule); err != nil {
			return err
		}
	}
	if oldData == nil {
		return storeLoadMissing(ctx, s, "new", r.NewKey, rule)
	}
	return storeUnchanged(ctx, s, r, oldData, oldVersion, rule)
}

// skipUnsupported turns errRenewUnsupported into success.
func skipUnsupported(err error) error {
	if errors.Is(err, errRenewUnsupported) {
		return nil
	}
	return err
}

func storeCheckRenewMoves(ctx context.Context, s core.Store, opts StoreOptions) error {
	old, v1, err := storeSeed(ctx, s, []byte("anonymous cart"), ruleRenewMoves)
	if err != nil {
		return err
	}
	r := storeRenewal(old, v1, []byte("logged in"))
	v2, err := storeRenew(ctx, s, r, []byte("anonymous cart"), ruleRenewMoves)
	if err != nil {
		return skipUnsupported(err)
	}
	rec, err := storeLoadRecord(ctx, s, "new", r.NewKey, r.Data, r.Expiry, opts, ruleRenewMoves)
	if err != nil {
		return err
	}
	if err := storeWantVersion("new", rec, v2, ruleRenewMoves); err != nil {
		return err
	}
	if _, err := storeLoadRecord(ctx, s, "old", old, r.Retired, r.RetiredExpiry, opts, ruleRenewMoves); err != nil {
		return err
	}
	c := s.(core.CompareAndSwapper)
	if err := storeCASConflict(ctx, c, "old at its version before the renew", old, v1, []byte("revived"), storeExpiry(time.Hour), ruleRenewMoves); err != nil {
		return err
	}
	_, err = storeCAS(ctx, c, "new at the version Renew returned", r.NewKey, v2, []byte("next request"), storeExpiry(time.Hour), ruleRenewMoves)
	return err
}

// storeCheckRenewReadOnly renews a record to a short and to a large
// successor, then renews it again from the version it no longer has
// (which conflicts), and requires the successor's data, the retired
// record and the old data of each to be as they were (see ruleReadOnly),
// also from a store that declines the renewal.
func storeCheckRenewReadOnly(ctx context.Context, s core.Store, opts StoreOptions) error {
	// renewal returns a renewal of old at v to n bytes, with its slices.
	renewal := func(old string, v uint64, n int) (core.Renewal, []storeSlice) {
		data, _ := storeAliasData(n)
		r := storeRenewal(old, v, data)
		r.OldData = []byte("anonymous cart")
		return r, []storeSlice{storeGiven("Data", r.Data), storeGiven("Retired", r.Retired), storeGiven("OldData", r.OldData)}
	}
	for _, n := range storeAliasSizes(opts) {
		old, v, err := storeSeed(ctx, s, []byte("anonymous cart"), ruleReadOnly)
		if err != nil {
			return err
		}
		// A store that declines the renewal (ErrNotSupported) must leave
		// the slices as they were too: the core then renews in steps from
		// the same bytes.
		r, given := renewal(old, v, n)
		_, err = storeRenew(ctx, s, r, []byte("anonymous cart"), ruleReadOnly)
		if err != nil && !errors.Is(err, errRenewUnsupported) {
			return err
		}
		if err := storeUntouched(fmt.Sprintf("Renew(old, %d bytes)", n), given...); err != nil {
			return err
		}
		// And one that conflicts: the old record is no longer at v.
		r, given = renewal(old, v, n)
		if errors.Is(err, errRenewUnsupported) {
			r.OldVersion = v + 1 // the old record is still at v
		}
		call := fmt.Sprintf("Renew(old at a stale version, %d bytes)", n)
		if _, err := s.(core.Renewer).Renew(ctx, r); !errors.Is(err, core.ErrNotSupported) {
			if err := storeWantErr(call, err, core.ErrConflict, ruleReadOnly); err != nil {
				return err
			}
		}
		if err := storeUntouched(call, given...); err != nil {
			return err
		}
	}
	return nil
}

func storeCheckRenewDeletes(ctx context.Context, s core.Store, _ StoreOptions) error {
	for _, tc := range []struct {
		label   string
		retired []byte
		expiry  time.Time
	}{
		{"Retired nil", nil, storeExpiry(time.Hour)},
		{"RetiredExpiry in the past", []byte("retired"), time.Now().Add(-time.Minute)},
	} {
		old, v1, err := storeSeed(ctx, s, []byte("cart"), ruleRenewDeletes)
		if err != nil {
			return err
		}
		r := storeRenewal(old, v1, []byte("logged in"))
		r.Retired, r.RetiredExpiry = tc.retired, tc.expiry
		if _, err := storeRenew(ctx, s, r, []byte("cart"), ruleRenewDeletes); err != nil {
			return skipUnsupported(err)
		}
		if _, err := storeLoadFound(ctx, s, "new", r.NewKey, r.Data, ruleRenewDeletes); err != nil {
			return err
		}
		if err := storeLoadMissing(ctx, s, "old after a renew with "+tc.label, old, ruleRenewDeletes); err != nil {
			return err
		}
	}
	return nil
}

func storeCheckRenewStale(ctx context.Context, s core.Store, _ StoreOptions) error {
	old, v1, err := storeSeed(ctx, s, []byte("v1"), ruleRenewStale)
	if err != nil {
		return err
	}
	v2, err := storeCAS(ctx, s.(core.CompareAndSwapper), "old", old, v1, []byte("v2"), storeExpiry(time.Hour), ruleRenewStale)
	if err != nil {
		return err
	}
	r := storeRenewal(old, v1, []byte("logged in"))
	if err := storeRenewConflict(ctx, s, "old at a stale version", r, []byte("v2"), v2, ruleRenewStale); err != nil {
		return err
	}
	r = storeRenewal(old, v2+1000, []byte("logged in"))
	return storeRenewConflict(ctx, s, "old at a version it never had", r, []byte("v2"), v2, ruleRenewStale)
}

func storeCheckRenewDeleted(ctx context.Context, s core.Store, _ StoreOptions) error {
	old, v1, err := storeSeed(ctx, s, []byte("cart"), ruleRenewStale)
	if err != nil {
		return err
	}
	if err := s.Delete(ctx, old); err != nil {
		return storeViolation("Delete(old)", storeErrText(err), "nil error", ruleRenewStale)
	}
	r := storeRenewal(old, v1, []byte("logged in"))
	if err := storeRenewConflict(ctx, s, "a deleted old record", r, nil, 0, ruleRenewStale); err != nil {
		return err
	}
	return storeLoadMissing(ctx, s, "old (deleted before the renew)", old, ruleRenewStale)
}

func storeCheckRenewTaken(ctx context.Context, s core.Store, _ StoreOptions) error {
	old, v1, err := storeSeed(ctx, s, []byte("cart"), ruleRenewTaken)
	if err != nil {
		return err
	}
	r := storeRenewal(old, v1, []byte("logged in"))
	c := s.(core.CompareAndSwapper)
	vt, err := storeCAS(ctx, c, "absent new", r.NewKey, 0, []byte("someone else"), storeExpiry(time.Hour), ruleRenewTaken)
	if err != nil {
		return err
	}
	_, err = s.(core.Renewer).Renew(ctx, r)
	if !errors.Is(err, core.ErrNotSupported) {
		if err := storeWantErr("Renew(onto a live record)", err, core.ErrConflict, ruleRenewTaken); err != nil {
			return err
		}
	}
	rec, err := storeLoadFound(ctx, s, "old", old, []byte("cart"), ruleRenewTaken)
	if err != nil {
		return err
	}
	if err := storeWantVersion("old", rec, v1, ruleRenewTaken); err != nil {
		return err
	}
	rec, err = storeLoadFound(ctx, s, "new (taken)", r.NewKey, []byte("someone else"), ruleRenewTaken)
	if err != nil {
		return err
	}
	return storeWantVersion("new (taken)", rec, vt, ruleRenewTaken)
}

func storeCheckRenewUsers(ctx context.Context, s core.Store, _ StoreOptions) error {
	u, ok := s.(core.UserIndexer)
	if !ok {
		return nil // Renew files nothing on a store without a user index
	}
	ann, bob := "ann-"+storeNewKey()[:8], "bob-"+storeNewKey()[:8]
	until := storeExpiry(3 * time.Hour)
	old := storeNewKey()
	v1, err := storeCASUser(ctx, u, "old", old, 0, []byte("cart"), storeExpiry(time.Hour), ann, until, ruleRenewUsers)
	if err != nil {
		return err
	}
	names := map[string]string{old: "old"}
	// ann renews (a login's renew): the new key takes the old one's place.
	r := storeRenewal(old, v1, []byte("ann again"))
	r.User, r.Until = ann, until
	names[r.NewKey] = "new"
	v2, err := storeRenew(ctx, s, r, []byte("cart"), ruleRenewUsers)
	if err != nil {
		return skipUnsupported(err)
	}
	if err := storeUserKeys(ctx, u, ann, []string{r.NewKey}, names, ruleRenewUsers); err != nil {
		return err
	}
	// Renewing to bob moves the session to bob's set.
	r2 := storeRenewal(r.NewKey, v2, []byte("bob now"))
	r2.User, r2.Until = bob, until
	names[r2.NewKey] = "newer"
	v3, err := storeRenew(ctx, s, r2, []byte("ann again"), ruleRenewUsers)
	if err != nil {
		return skipUnsupported(err)
	}
	if err := storeUserKeys(ctx, u, ann, nil, names, ruleRenewUsers); err != nil {
		return err
	}
	if err := storeUserKeys(ctx, u, bob, []string{r2.NewKey}, names, ruleRenewUsers); err != nil {
		return err
	}
	// Renewing under no user takes it out of every set.
	r3 := storeRenewal(r2.NewKey, v3, []byte("anonymous"))
	names[r3.NewKey] = "newest"
	if _, err := storeRenew(ctx, s, r3, []byte("bob now"), ruleRenewUsers); err != nil {
		return skipUnsupported(err)
	}
	return storeUserKeys(ctx, u, bob, nil, names, ruleRenewUsers)
}

// storeRenewRacers is how many requests race for one old version.
const storeRenewRacers = 16

func storeCheckRenewConcurrent(ctx context.Context, s core.Store, _ StoreOptions) error {
	for round := range 5 {
		old, v1, err := storeSeed(ctx, s, []byte("cart"), ruleRenewAtomic)
		if err != nil {
			return err
		}
		rs := make([]core.Renewal, storeRenewRacers)
		errs := make([]error, storeRenewRacers)
		for i := range rs {
			rs[i] = storeRenewal(old, v1, []byte(fmt.Sprintf("racer %d", i)))
		}
		var start, wg sync.WaitGroup
		start.Add(1)
		for i := range rs {
			wg.Go(func() {
				start.Wait()
				_, errs[i] = s.(core.Renewer).Renew(ctx, rs[i])
			})
		}
		start.Done()
		wg.Wait()
		won, unsupported := 0, 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
				if _, err := storeLoadFound(ctx, s, fmt.Sprintf("new of the winning racer %d", i), rs[i].NewKey, rs[i].Data, ruleRenewAtomic); err != nil {
					return err
				}
			case errors.Is(err, core.ErrNotSupported):
				unsupported++
				fallthrough
			case errors.Is(err, core.ErrConflict):
				if err := storeLoadMissing(ctx, s, fmt.Sprintf("new of losing racer %d", i), rs[i].NewKey, ruleRenewAtomic); err != nil {
					return err
				}
			default:
				return storeViolation(fmt.Sprintf("Renew(racer %d)", i), storeErrText(err), "nil or an error wrapping core.ErrConflict", ruleRenewAtomic)
			}
		}
		if unsupported == storeRenewRacers {
			continue
		}
		if won != 1 {
			return storeViolation(fmt.Sprintf("round %d: %d concurrent Renews of one version", round, storeRenewRacers), fmt.Sprintf("%d succeeded", won), "exactly 1", ruleRenewAtomic)
		}
	}
	return nil
}

func storeCheckRenewRacesSwap(ctx context.Context, s core.Store, _ StoreOptions) error {
	c := s.(core.CompareAndSwapper)
	for round := range 50 {
		old, v1, err := storeSeed(ctx, s, []byte("cart"), ruleRenewAtomic)
		if err != nil {
			return err
		}
		r := storeRenewal(old, v1, []byte("logged in"))
		var renewErr, swapErr error
		var start, wg sync.WaitGroup
		start.Add(1)
		renew := func() { start.Wait(); _, renewErr = s.(core.Renewer).Renew(ctx, r) }
		swap := func() {
			start.Wait()
			_, swapErr = c.CompareAndSwap(ctx, old, v1, []byte("concurrent write"), storeExpiry(time.Hour))
		}
		if round%2 == 0 { // the scheduler tends to run the last one started first
			wg.Go(renew)
			wg.Go(swap)
		} else {
			wg.Go(swap)
			wg.Go(renew)
		}
		start.Done()
		wg.Wait()
		label := fmt.Sprintf("round %d: Renew and CompareAndSwap of one version", round)
		switch {
		case errors.Is(renewErr, core.ErrNotSupported):
			if swapErr != nil {
				return storeViolation(label, "the swap failed with "+storeErrText(swapErr)+" and the Renew was not supported", "the swap to succeed", ruleRenewAtomic)
			}
			if err := storeLoadMissing(ctx, s, "new (renew not supported)", r.NewKey, ruleRenewNotAtAll); err != nil {
				return err
			}
		case renewErr == nil && swapErr == nil:
			return storeViolation(label, "both succeeded", "exactly one", ruleRenewAtomic)
		case renewErr == nil:
			if !errors.Is(swapErr, core.ErrConflict) {
				return storeViolation("CompareAndSwap(old) losing to a Renew", storeErrText(swapErr), "an error wrapping core.ErrConflict", ruleRenewAtomic)
			}
			if _, err := storeLoadFound(ctx, s, "old after the renew won", old, r.Retired, ruleRenewAtomic); err != nil {
				return err
			}
		case swapErr == nil:
			if !errors.Is(renewErr, core.ErrConflict) {
				return storeViolation("Renew losing to a CompareAndSwap", storeErrText(renewErr), "an error wrapping core.ErrConflict", ruleRenewAtomic)
			}
			if err := storeLoadMissing(ctx, s, "new after the swap won", r.NewKey, ruleRenewAtomic); err != nil {
				return err
			}
			if _, err := storeLoadFound(ctx, s, "old after the swap won", old, []byte("concurrent write"), ruleRenewAtomic); err != nil {
				return err
			}
		default:
			return storeViolation(label, fmt.Sprintf("both failed (%s; %s)", storeErrText(renewErr), storeErrText(swapErr)), "exactly one to succeed", ruleRenewAtomic)
		}
	}
	return nil
}

func storeCheckRenewCancelled(ctx context.Context, s core.Store, _ StoreOptions) error {
	old, v1, err := storeSeed(ctx, s, []byte("cart"), ruleRenewContext)
	if err != nil {
		return err
	}
	r := storeRenewal(old, v1, []byte("logged in"))
	_, err = s.(core.Renewer).Renew(storeCancelled(ctx), r)
	if err := storeWantErr("Renew(cancelled context)", err, context.Canceled, ruleRenewContext); err != nil {
		return err
	}
	return storeUnchanged(ctx, s, r, []byte("cart"), v1, ruleRenewContext)
}

func storeCheckRenewExpired(ctx context.Context, s core.Store, opts StoreOptions) error {
	old := storeNewKey()
	exp := time.Now().Add(storeLead(ctx, opts))
	v1, err := storeCAS(ctx, s.(core.CompareAndSwapper), "absent old", old, 0, []byte("cart"), exp, ruleRenewStale)
	if err != nil {
		return err
	}
	if err := storeSleepUntil(ctx, exp.Add(opts.ExpiryPrecision+100*time.Millisecond)); err != nil {
		return err
	}
	r := storeRenewal(old, v1, []byte("logged in"))
	if err := storeRenewConflict(ctx, s, "an expired old record", r, nil, 0, ruleRenewStale); err != nil {
		return err
	}
	return storeLoadMissing(ctx, s, "old (expired before the renew)", old, ruleRenewStale)
}

func storeCheckRenewSnapshot(ctx context.Context, s core.Store, _ StoreOptions) error {
	u, ok := s.(core.UserIndexer)
	if !ok {
		return nil // Renew files nothing on a store without a user index
	}
	ann := "ann-" + storeNewKey()[:8]
	until := storeExpiry(3 * time.Hour)
	key := storeNewKey()
	v, err := storeCASUser(ctx, u, "first key", key, 0, []byte("cart"), storeExpiry(time.Hour), ann, until, ruleRenewListed)
	if err != nil {
		return err
	}
	// A listing runs in a loop while the session is renewed again and
	// again under the same user: every snapshot must hold one of its keys.
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	var empty, listings int
	var listErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		for lctx.Err() == nil {
			keys, err := u.UserKeys(lctx, ann)
			if err != nil {
				if lctx.Err() == nil {
					listErr = err
				}
				return
			}
			listings++
			if len(keys) == 0 {
				empty++
			}
		}
	})
	data := []byte("cart")
	for i := range 20 {
		r := storeRenewal(key, v, []byte(fmt.Sprintf("renewed %d", i)))
		r.User, r.Until = ann, until
		nv, err := storeRenew(ctx, s, r, data, ruleRenewListed)
		if err != nil {
			stop()
			wg.Wait()
			return skipUnsupported(err)
		}
		key, v, data = r.NewKey, nv, r.Data
	}
	stop()
	wg.Wait()
	switch {
	case listErr != nil:
		return storeViolation(fmt.Sprintf("UserKeys(%q) during renews", ann), storeErrText(listErr), "nil error", ruleRenewListed)
	case empty > 0:
		return storeViolation(fmt.Sprintf("UserKeys(%q) during 20 renews of the user's one session", ann),
			fmt.Sprintf("no key in %d of %d listings", empty, listings), "one of the session's keys in every listing", ruleRenewListed)
	}
	return storeUserKeys(ctx, u, ann, []string{key}, map[string]string{key: "the last new key"}, ruleRenewListed)
}
