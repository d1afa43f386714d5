package conformance

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// Rules of core.UserIndexer.
const (
	ruleUserFile     = "CompareAndSwapUser writes like CompareAndSwap and files the record under user: UserKeys(user) lists it"
	ruleUserOthers   = "UserKeys(user) never lists a record filed under another user, or under none"
	ruleUserRefile   = "CompareAndSwapUser moves the record to the new user's set, and user \"\" takes it out of every set"
	ruleUserConflict = "a CompareAndSwapUser that fails with ErrConflict changes neither the record nor its filing"
	ruleUserKeep     = "CompareAndSwap, Save and Touch leave the record's filing as it was"
	ruleUserEnds     = "the filing ends with the record: UserKeys no longer lists a record that was deleted or ended by a swap with a past expiry"
	ruleUserUntil    = "UserKeys never lists a record past its until, whatever its expiry"
	ruleUserExpired  = "the index does not outlive the sessions: records that expired (and were swept by DeleteExpired, when the store has it) are no longer listed"
	ruleUserRace     = "concurrent CompareAndSwapUser calls leave each record filed under the user of its last successful write"
)

var storeUserChecks = []storeCheck{
	{name: "Files", run: storeCheckUserFiles},
	{name: "OtherUsers", run: storeCheckUserOthers},
	{name: "Refile", run: storeCheckUserRefile},
	{name: "Conflict", run: storeCheckUserConflict},
	{name: "KeepsFiling", run: storeCheckUserKeeps},
	{name: "EndsWithRecord", run: storeCheckUserEnds},
	{name: "Until", slow: true, run: storeCheckUserUntil},
	{name: "ManyExpired", slow: true, run: storeCheckUserManyExpired},
	{name: "Concurrent", run: storeCheckUserConcurrent},
	{name: "EndUnderLoad", run: storeCheckUserEndUnderLoad},
	{name: "NoGhosts", slow: true, run: storeCheckUserNoGhosts},
	{name: "ReadOnly", run: storeCheckUserReadOnly},
}

// storeCASUser calls CompareAndSwapUser and requires success with a new
// version.
func storeCASUser(ctx context.Context, u core.UserIndexer, label, key string, version uint64, data []byte, exp time.Time, user string, until time.Time, rule string) (uint64, error) {
	call := fmt.Sprintf("CompareAndSwapUser(%s, version %d, %s, user %q)", label, version, storeDescribe(data), user)
	v, err := u.CompareAndSwapUser(ctx, key, version, data, exp, user, until)
	switch {
	case err != nil:
		return 0, storeViolation(call, storeErrText(err), "a new version", rule)
	case v == 0 || v == version:
		return 0, storeViolation(call, fmt.Sprintf("version %d", v), "a new, non-zero version", ruleCASVersion)
	}
	return v, nil
}

// storeCheckUserReadOnly files a short and a large record with
// CompareAndSwapUser, swaps it once more and once at a version it never
// had (which conflicts), and requires every slice to be as it was (see
// ruleReadOnly).
func storeCheckUserReadOnly(ctx context.Context, s core.Store, opts StoreOptions) error {
	u := s.(core.UserIndexer)
	for _, n := range storeAliasSizes(opts) {
		key := storeNewKey()
		var v uint64
		for _, label := range []string{"absent k", "k"} {
			if err := storeWriteUntouched("CompareAndSwapUser", label, n, func(data []byte) (err error) {
				v, err = storeCASUser(ctx, u, label, key, v, data, storeExpiry(time.Hour), "alice", storeExpiry(2*time.Hour), ruleReadOnly)
				return err
			}); err != nil {
				return err
			}
		}
		const label = "k at a stale version"
		if err := storeWriteUntouched("CompareAndSwapUser", label, n, func(data []byte) error {
			_, err := u.CompareAndSwapUser(ctx, key, v+1, data, storeExpiry(time.Hour), "bob", storeExpiry(2*time.Hour))
			return storeWantErr(fmt.Sprintf("CompareAndSwapUser(%s, %d bytes)", label, n), err, core.ErrConflict, ruleReadOnly)
		}); err != nil {
			return err
		}
	}
	return nil
}

// storeUserKeys requires UserKeys(user) to list exactly want (in any
// order, each once).
func storeUserKeys(ctx context.Context, u core.UserIndexer, user string, want []string, names map[string]string, rule string) error {
	call := fmt.Sprintf("UserKeys(%q)", user)
	got, err := u.UserKeys(ctx, user)
	if err != nil {
		return storeViolation(call, storeErrText(err), "nil error", rule)
	}
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		return storeViolation(call, storeKeyNames(got, names), storeKeyNames(want, names), rule)
	}
	return nil
}

// storeKeyNames renders keys by their labels in names, never the keys.
func storeKeyNames(keys []string, names map[string]string) string {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		n, ok := names[k]
		if !ok {
			n = "an unknown key"
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return fmt.Sprintf("%q", out)
}

func storeCheckUserFiles(ctx context.Context, s core.Store, opts StoreOptions) error {
	u := s.(core.UserIndexer)
	exp, until := storeExpiry(time.Hour), storeExpiry(2*time.Hour)
	k1, k2, k3 := storeNewKey(), storeNewKey(), storeNewKey()
	names := map[string]string{k1: "k1", k2: "k2", k3: "k3"}
	v1, err := storeCASUser(ctx, u, "absent k1", k1, 0, []byte("one"), exp, "ann", until, ruleUserFile)
	if err != nil {
		return err
	}
	if _, err := storeCASUser(ctx, u, "absent k2", k2, 0, []byte("two"), exp, "ann", until, ruleUserFile); err != nil {
		return err
	}
	if _, err := storeCAS(ctx, u, "absent k3", k3, 0, []byte("three"), exp, ruleUserFile); err != nil {
		return err
	}
	rec, err := storeLoadRecord(ctx, s, "k1", k1, []byte("one"), exp, opts, ruleUserFile)
	if err != nil {
		return err
	}
	if err := storeWantVersion("k1", rec, v1, ruleUserFile); err != nil {
		return err
	}
	if err := storeUserKeys(ctx, u, "ann", []string{k1, k2}, names, ruleUserFile); err != nil {
		return err
	}
	if err := storeUserKeys(ctx, u, "nobody", nil, names, ruleUserOthers); err != nil {
		return err
	}
	// Filing an existing record at its version, as a login does.
	rec3, err := storeLoadFound(ctx, s, "k3", k3, []byte("three"), ruleUserFile)
	if err != nil {
		return err
	}
	v3, err := storeCASUser(ctx, u, "k3", k3, rec3.Version, []byte("three"), exp, "ann", until, ruleUserFile)
	if err != nil {
		return err
	}
	if err := storeUserKeys(ctx, u, "ann", []string{k1, k2, k3}, names, ruleUserFile); err != nil {
		return err
	}
	// Filing it again under the same user (a renew's new key) keeps it once.
	if _, err := storeCASUser(ctx, u, "k3 again", k3, v3, []byte("3"), exp, "ann", until, ruleUserFile); err != nil {
		return err
	}
	return storeUserKeys(ctx, u, "ann", []string{k1, k2, k3}, names, ruleUserFile)
}

// storeUserNames are users whose names a careless index confuses: shared
// prefixes, case, separators and pattern characters of key-value stores,
// SQL wildcards, non-ASCII.
var storeUserNames = []string{"ann", "anna", "an", "Ann", "ANN", "ann ", "ann:1", "ann:", "ann*", "a*", "ann?", "ann%", "ann_", "a_n", "[ann]", "{ann}", "änn", "42", "4", "user@example.com", "user@example.co"}

func storeCheckUserOthers(ctx context.Context, s core.Store, _ StoreOptions) error {
	u := s.(core.UserIndexer)
	exp, until := storeExpiry(time.Hour), storeExpiry(2*time.Hour)
	keys := make(map[string][]string)
	names := make(map[string]string)
	for i, user := range storeUserNames {
		for j := range 2 {
			k := storeNewKey()
			names[k] = fmt.Sprintf("%q's key %d", user, j)
			if _, err := storeCASUser(ctx, u, names[k], k, 0, []byte(strconv.Itoa(i)), exp, user, until, ruleUserFile); err != nil {
				return err
			}
			keys[user] = append(keys[user], k)
		}
	}
	anon := storeNewKey()
	names[anon] = "a key filed under no user"
	if _, err := storeCASUser(ctx, u, names[anon], anon, 0, []byte("anon"), exp, "", until, ruleUserFile); err != nil {
		return err
	}
	for _, user := range storeUserNames {
		if err := storeUserKeys(ctx, u, user, keys[user], names, ruleUserOthers); err != nil {
			return err
		}
	}
	for _, user := range []string{"nobody", "a", "annann", "%", "*", "_"} {
		if err := storeUserKeys(ctx, u, user, nil, names, ruleUserOthers); err != nil {
			return err
		}
	}
	return nil
}

func storeCheckUserRefile(ctx context.Context, s core.Store, _ StoreOptions) error {
	u := s.(core.UserIndexer)
	exp, until := storeExpiry(time.Hour), storeExpiry(2*time.Hour)
	k, other := storeNewKey(), storeNewKey()
	names := map[string]string{k: "k", other: "ann's other key"}
	v, err := storeCASUser(ctx, u, "absent k", k, 0, []byte("ann's"), exp, "ann", until, ruleUserRefile)
	if err != nil {
		return err
	}
	if _, err := storeCASUser(ctx, u, "absent other", other, 0, []byte("ann's"), exp, "ann", until, ruleUserRefile); err != nil {
		return err
	}
	if v, err = storeCASUser(ctx, u, "k", k, v, []byte("bob's"), exp, "bob", until, ruleUserRefile); err != nil {
		return err
	}
	if err := storeUserKeys(ctx, u, "ann", []string{other}, names, ruleUserRefile); err != nil {
		return fmt.Errorf("after refiling k from ann to bob: %w", err)
	}
	if err := storeUserKeys(ctx, u, "bob", []string{k}, names, ruleUserRefile); err != nil {
		return fmt.Errorf("after refiling k from ann to bob: %w", err)
	}
	if _, err = storeCASUser(ctx, u, "k", k, v, []byte("nobody's"), exp, "", until, ruleUserRefile); err != nil {
		return err
	}
	for user, want := range map[string][]string{"ann": {other}, "bob": nil, "": nil} {
		if err := storeUserKeys(ctx, u, user, want, names, ruleUserRefile); err != nil {
			return fmt.Errorf("after CompareAndSwapUser(k, user \"\"): %w", err)
		}
	}
	_, err = storeLoadFound(ctx, s, "k", k, []byte("nobody's"), ruleUserRefile)
	return err
}

func storeCheckUserConflict(ctx context.Context, s core.Store, opts StoreOptions) error {
	u := s.(core.UserIndexer)
	exp, until := storeExpiry(time.Hour), storeExpiry(2*time.Hour)
	k, absent := storeNewKey(), storeNewKey()
	names := map[string]string{k: "k", absent: "absent key"}
	v, err := storeCASUser(ctx, u, "absent k", k, 0, []byte("ann's"), exp, "ann", until, ruleUserConflict)
	if err != nil {
		return err
	}
	for _, c := range []struct {
		label, key string
		version    uint64
	}{{"k at a stale version", k, v + 1000}, {"existing k at version 0", k, 0}, {"absent key at version 5", absent, 5}} {
		_, err := u.CompareAndSwapUser(ctx, c.key, c.version, []byte("bob's"), storeExpiry(3*time.Hour), "bob", until)
		if err := storeWantErr(fmt.Sprintf("CompareAndSwapUser(%s, user \"bob\")", c.label), err, core.ErrConflict, ruleUserConflict); err != nil {
			return err
		}
	}
	if err := storeUserKeys(ctx, u, "bob", nil, names, ruleUserConflict); err != nil {
		return err
	}
	if err := storeUserKeys(ctx, u, "ann", []string{k}, names, ruleUserConflict); err != nil {
		return err
	}
	if err := storeLoadMissing(ctx, s, "absent key", absent, ruleUserConflict); err != nil {
		return err
	}
	_, err = storeLoadRecord(ctx, s, "k", k, []byte("ann's"), exp, opts, ruleUserConflict)
	return err
}

func storeCheckUserKeeps(ctx context.Context, s core.Store, _ StoreOptions) error {
	u := s.(core.UserIndexer)
	until := storeExpiry(2 * time.Hour)
	k := storeNewKey()
	names := map[string]string{k: "k"}
	v, err := storeCASUser(ctx, u, "absent k", k, 0, []byte("ann's"), storeExpiry(time.Hour), "ann", until, ruleUserKeep)
	if err != nil {
		return err
	}
	if _, err := storeCAS(ctx, u, "k", k, v, []byte("written"), storeExpiry(time.Hour), ruleUserKeep); err != nil {
		return err
	}
	if err := storeUserKeys(ctx, u, "ann", []string{k}, names, ruleUserKeep); err != nil {
		return fmt.Errorf("after CompareAndSwap(k): %w", err)
	}
	if t, ok := s.(core.Toucher); ok {
		if err := t.Touch(ctx, k, storeExpiry(90*time.Minute)); err != nil {
			return storeViolation("Touch(k)", storeErrText(err), "nil error", ruleUserKeep)
		}
		if err := storeUserKeys(ctx, u, "ann", []string{k}, names, ruleUserKeep); err != nil {
			return fmt.Errorf("after Touch(k): %w", err)
		}
	}
	if err := storeSave(ctx, s, "k", k, []byte("saved"), storeExpiry(time.Hour), ruleUserKeep); err != nil {
		return err
	}
	if err := storeUserKeys(ctx, u, "ann", []string{k}, names, ruleUserKeep); err != nil {
		return fmt.Errorf("after Save(k): %w", err)
	}
	return nil
}

func storeCheckUserEnds(ctx context.Context, s core.Store, _ StoreOptions) error {
	u := s.(core.UserIndexer)
	exp, until := storeExpiry(time.Hour), storeExpiry(2*time.Hour)
	del, swapped, swappedUser, saved, kept := storeNewKey(), storeNewKey(), storeNewKey(), storeNewKey(), storeNewKey()
	names := map[string]string{del: "deleted k", swapped: "k ended by CompareAndSwap", swappedUser: "k ended by CompareAndSwapUser", saved: "k ended by Save", kept: "kept k"}
	versions := make(map[string]uint64)
	for _, k := range []string{del, swapped, swappedUser, saved, kept} {
		v, err := storeCASUser(ctx, u, names[k], k, 0, []byte("ann's"), exp, "ann", until, ruleUserEnds)
		if err != nil {
			return err
		}
		versions[k] = v
	}
	past := time.Now().Add(-time.Minute)
	if err := s.Delete(ctx, del); err != nil {
		return storeViolation("Delete(k)", storeErrText(err), "nil error", ruleDelete)
	}
	if _, err := u.CompareAndSwap(ctx, swapped, versions[swapped], []byte("gone"), past); err != nil {
		return storeViolation("CompareAndSwap(k, past expiry)", storeErrText(err), "nil error", ruleCASPast)
	}
	if _, err := u.CompareAndSwapUser(ctx, swappedUser, versions[swappedUser], []byte("gone"), past, "ann", until); err != nil {
		return storeViolation("CompareAndSwapUser(k, past expiry)", storeErrText(err), "nil error", ruleUserEnds)
	}
	if err := s.Save(ctx, saved, []byte("gone"), past); err != nil {
		return storeViolation("Save(k, past expiry)", storeErrText(err), "nil error", ruleUserEnds)
	}
	if err := storeUserKeys(ctx, u, "ann", []string{kept}, names, ruleUserEnds); err != nil {
		return err
	}
	// A record created anew under an ended key is filed under no user.
	if _, err := storeCAS(ctx, u, "deleted k", del, 0, []byte("new"), exp, ruleUserEnds); err != nil {
		return err
	}
	if err := storeSave(ctx, s, "k ended by Save", saved, []byte("new"), exp, ruleUserEnds); err != nil {
		return err
	}
	return storeUserKeys(ctx, u, "ann", []string{kept}, names, ruleUserEnds)
}

func storeCheckUserUntil(ctx context.Context, s core.Store, opts StoreOptions) error {
	u := s.(core.UserIndexer)
	lead := storeLead(ctx, opts)
	until := time.Now().Add(lead)
	k, long := storeNewKey(), storeNewKey()
	names := map[string]string{k: "k (until soon)", long: "k (until in an hour)"}
	v, err := storeCASUser(ctx, u, "absent k", k, 0, []byte("ann's"), storeExpiry(time.Hour), "ann", until, ruleUserUntil)
	if err != nil {
		return err
	}
	if _, err := storeCASUser(ctx, u, "absent k2", long, 0, []byte("ann's"), storeExpiry(time.Hour), "ann", storeExpiry(time.Hour), ruleUserUntil); err != nil {
		return err
	}
	if err := storeUserKeys(ctx, u, "ann", []string{k, long}, names, ruleUserFile); err != nil {
		return storeLate(err, until, opts)
	}
	// Neither a write nor a Touch moves the filing past until.
	if _, err := storeCAS(ctx, u, "k", k, v, []byte("written"), storeExpiry(2*time.Hour), ruleUserUntil); err != nil {
		return err
	}
	if t, ok := s.(core.Toucher); ok {
		if err := t.Touch(ctx, k, storeExpiry(3*time.Hour)); err != nil {
			return storeViolation("Touch(k)", storeErrText(err), "nil error", ruleUserUntil)
		}
	}
	if err := storeSleepUntil(ctx, until.Add(opts.ExpiryPrecision+50*time.Millisecond)); err != nil {
		return err
	}
	if err := storeUserKeys(ctx, u, "ann", []string{long}, names, ruleUserUntil); err != nil {
		return fmt.Errorf("after k's until passed (the record lives on): %w", err)
	}
	return nil
}

func storeCheckUserManyExpired(ctx context.Context, s core.Store, opts StoreOptions) error {
	u := s.(core.UserIndexer)
	const workers = 8
	sessions := storeVolume(ctx, 10000)
	lead := storeLead(ctx, opts) + time.Second
	until := storeExpiry(2 * time.Hour)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < sessions; i += workers {
				exp := time.Now().Add(lead)
				if _, err := storeCASUser(ctx, u, fmt.Sprintf("absent key %d", i), storeNewKey(), 0, []byte("x"), exp, "ann", until, ruleUserExpired); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	// Taken after every write, so later than every expiry written (a
	// worker stalled in its call may finish after one whose expiry is
	// later than its own).
	latest := time.Now().Add(lead)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := storeSleepUntil(ctx, latest.Add(opts.ExpiryPrecision+50*time.Millisecond)); err != nil {
		return err
	}
	if d, ok := s.(core.ExpiredDeleter); ok {
		if _, err := d.DeleteExpired(ctx); err != nil {
			return storeViolation("DeleteExpired()", storeErrText(err), "nil error", ruleUserExpired)
		}
	}
	keys, err := u.UserKeys(ctx, "ann")
	if err != nil {
		return storeViolation(`UserKeys("ann")`, storeErrText(err), "nil error", ruleUserExpired)
	}
	if len(keys) != 0 {
		return storeViolation(fmt.Sprintf(`UserKeys("ann") after %d sessions of ann expired`, sessions), fmt.Sprintf("%d keys", len(keys)), "none", ruleUserExpired)
	}
	return nil
}

func storeCheckUserConcurrent(ctx context.Context, s core.Store, _ StoreOptions) error {
	u := s.(core.UserIndexer)
	const workers, writes = 16, 40
	users := []string{"ann", "bob", "cy", ""}
	exp, until := storeExpiry(time.Hour), storeExpiry(2*time.Hour)
	shared := storeNewKey()
	if _, err := storeCASUser(ctx, u, "absent shared k", shared, 0, []byte("ann"), exp, "ann", until, ruleUserRace); err != nil {
		return err
	}
	own := storeNewKeys(workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 42))
			var ownV uint64
			for i := range writes {
				// The worker's own key moves between users; no one else writes it.
				user := users[r.IntN(len(users))]
				v, err := u.CompareAndSwapUser(ctx, own[w], ownV, []byte(user), exp, user, until)
				if err != nil {
					errs[w] = storeViolation(fmt.Sprintf("CompareAndSwapUser(worker %d's own key, write %d)", w, i), storeErrText(err), "a new version", ruleUserRace)
					return
				}
				ownV = v
				// The shared key: load, refile, retry on conflict.
				if err := storeRefileShared(ctx, s, shared, users[r.IntN(len(users))], exp, until); err != nil {
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
	want := make(map[string][]string)
	names := map[string]string{shared: "the shared key"}
	for w, k := range append(own, shared) {
		if w < len(own) {
			names[k] = fmt.Sprintf("worker %d's key", w)
		}
		rec, found, err := s.Load(ctx, k)
		if err != nil || !found {
			return storeViolation(fmt.Sprintf("Load(%s)", names[k]), fmt.Sprintf("found=%t, %s", found, storeErrText(err)), "the record", ruleUserRace)
		}
		want[string(rec.Data)] = append(want[string(rec.Data)], k)
	}
	for _, user := range users[:3] {
		if err := storeUserKeys(ctx, u, user, want[user], names, ruleUserRace); err != nil {
			return fmt.Errorf("after %d workers each refiled their key and a shared one %d times: %w", workers, writes, err)
		}
	}
	return nil
}

// storeRefileShared files key under user, with data user, retrying on
// conflict.
func storeRefileShared(ctx context.Context, s core.Store, key, user string, exp, until time.Time) error {
	u := s.(core.UserIndexer)
	for range 10000 {
		rec, found, err := s.Load(ctx, key)
		if err != nil || !found {
			return storeViolation("Load(shared k)", fmt.Sprintf("found=%t, %s", found, storeErrText(err)), "the record", ruleUserRace)
		}
		_, err = u.CompareAndSwapUser(ctx, key, rec.Version, []byte(user), exp, user, until)
		if err == nil {
			return nil
		}
		if !errors.Is(err, core.ErrConflict) {
			return storeViolation("CompareAndSwapUser(shared k)", storeErrText(err), "nil or ErrConflict", ruleUserRace)
		}
	}
	return storeViolation("CompareAndSwapUser(shared k)", "10000 conflicts in a row", "progress", ruleUserRace)
}
