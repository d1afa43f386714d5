package conformance

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// The broken variants of core.Renewer, each caught by the checks listed.
func init() {
	brokenStores = append(brokenStores,
		brokenStore{name: "renews whatever version the old record has", new: mem(func(m *memory.Store) core.Store { return renewAnyVersion{m} }),
			fails: []string{"Renewer/Stale", "Renewer/RacesSwap"}},
		brokenStore{name: "writes the new record before it checks the old one", new: mem(func(m *memory.Store) core.Store { return renewNewFirst{m} }),
			fails: []string{"Renewer/Stale", "Renewer/Deleted", "Renewer/Concurrent", "Renewer/Expired"}},
		brokenStore{name: "leaves the old record live", new: mem(func(m *memory.Store) core.Store { return renewKeepsOld{m} }),
			fails: []string{"Renewer/Moves", "Renewer/DeletesOld"}},
		brokenStore{name: "keeps the old record when asked to delete it", new: mem(func(m *memory.Store) core.Store { return renewNoDelete{m} }),
			fails: []string{"Renewer/DeletesOld"}},
		brokenStore{name: "overwrites a live record under the new key", new: mem(func(m *memory.Store) core.Store { return renewOverwrites{m} }),
			fails: []string{"Renewer/NewKeyTaken"}},
		brokenStore{name: "files the renewed session under no user", new: mem(func(m *memory.Store) core.Store { return renewNoUser{m} }),
			fails: []string{"Renewer/Users"}},
		brokenStore{name: "checks the old version, then renews without a lock", new: mem(func(m *memory.Store) core.Store { return renewUnlocked{m} }),
			fails: []string{"Renewer/Concurrent", "Renewer/RacesSwap"}},
		brokenStore{name: "retires and unfiles the old key before it files the new one", new: mem(func(m *memory.Store) core.Store { return renewUnfileFirst{m} }),
			fails: []string{"Renewer/Snapshot"}},
		brokenStore{name: "ignores the context of Renew", new: mem(func(m *memory.Store) core.Store { return renewNoContext{m} }),
			fails: []string{"Renewer/Cancelled"}},
		brokenStore{name: "keeps the version when a compare-and-swap writes the same data", new: mem(func(m *memory.Store) core.Store { return casSameDataKeepsVersion{m} }),
			fails: []string{"CompareAndSwapper/LoginSettles"}},
	)
}

// renewAnyVersion renews the old record at whatever version it has now.
type renewAnyVersion struct{ *memory.Store }

func (s renewAnyVersion) Renew(ctx context.Context, r core.Renewal) (uint64, error) {
	if rec, ok, err := s.Load(ctx, r.OldKey); err == nil && ok {
		r.OldVersion = rec.Version
	}
	return s.Store.Renew(ctx, r)
}

// renewNewFirst creates the new record, then swaps the old one, and does
// not undo the first write when the second fails.
type renewNewFirst struct{ *memory.Store }

func (s renewNewFirst) Renew(ctx context.Context, r core.Renewal) (uint64, error) {
	v, err := s.CompareAndSwap(ctx, r.NewKey, 0, r.Data, r.Expiry)
	if err != nil {
		return 0, err
	}
	if _, err := s.CompareAndSwap(ctx, r.OldKey, r.OldVersion, r.Retired, r.RetiredExpiry); err != nil {
		return 0, err
	}
	return v, nil
}

// renewKeepsOld creates the new record and leaves the old one as it was.
type renewKeepsOld struct{ *memory.Store }

func (s renewKeepsOld) Renew(ctx context.Context, r core.Renewal) (uint64, error) {
	rec, ok, err := s.Load(ctx, r.OldKey)
	if err != nil || !ok || rec.Version != r.OldVersion {
		return 0, fmt.Errorf("broken: %w", core.ErrConflict)
	}
	return s.CompareAndSwap(ctx, r.NewKey, 0, r.Data, r.Expiry)
}

// renewNoDelete replaces a nil or expired retired record by a live one.
type renewNoDelete struct{ *memory.Store }

func (s renewNoDelete) Renew(ctx context.Context, r core.Renewal) (uint64, error) {
	if r.Retired == nil || !r.RetiredExpiry.After(time.Now()) {
		r.Retired, r.RetiredExpiry = []byte("retired"), time.Now().Add(time.Hour)
	}
	return s.Store.Renew(ctx, r)
}

// renewOverwrites clears the new key first, whatever it holds.
type renewOverwrites struct{ *memory.Store }

func (s renewOverwrites) Renew(ctx context.Context, r core.Renewal) (uint64, error) {
	_ = s.Delete(ctx, r.NewKey)
	return s.Store.Renew(ctx, r)
}

// renewNoUser renews without filing.
type renewNoUser struct{ *memory.Store }

func (s renewNoUser) Renew(ctx context.Context, r core.Renewal) (uint64, error) {
	r.User = ""
	return s.Store.Renew(ctx, r)
}

// renewUnlocked checks the old version, then writes both records with Save.
type renewUnlocked struct{ *memory.Store }

func (s renewUnlocked) Renew(ctx context.Context, r core.Renewal) (uint64, error) {
	rec, ok, err := s.Load(ctx, r.OldKey)
	if err != nil || !ok || rec.Version != r.OldVersion {
		return 0, fmt.Errorf("broken: %w", core.ErrConflict)
	}
	time.Sleep(2 * time.Millisecond) // the window between the check and the writes
	if err := s.Save(ctx, r.NewKey, r.Data, r.Expiry); err != nil {
		return 0, err
	}
	if err := s.Save(ctx, r.OldKey, r.Retired, r.RetiredExpiry); err != nil {
		return 0, err
	}
	rec, _, err = s.Load(ctx, r.NewKey)
	return rec.Version, err
}

// renewNoContext renews with a context that is never done.
type renewNoContext struct{ *memory.Store }

func (s renewNoContext) Renew(ctx context.Context, r core.Renewal) (uint64, error) {
	return s.Store.Renew(context.WithoutCancel(ctx), r)
}

// renewUnfileFirst retires the old record (taking it out of its user's
// set) and only then creates and files the new one: each call is right,
// but between them the session is filed under no key.
type renewUnfileFirst struct{ *memory.Store }

func (s renewUnfileFirst) Renew(ctx context.Context, r core.Renewal) (uint64, error) {
	if _, ok, err := s.Load(ctx, r.NewKey); err != nil || ok {
		return 0, fmt.Errorf("broken: %w", core.ErrConflict)
	}
	if _, err := s.CompareAndSwapUser(ctx, r.OldKey, r.OldVersion, r.Retired, r.RetiredExpiry, "", r.RetiredExpiry); err != nil {
		return 0, err
	}
	time.Sleep(200 * time.Microsecond) // the gap in which no key is filed
	return s.CompareAndSwapUser(ctx, r.NewKey, 0, r.Data, r.Expiry, r.User, r.Until)
}

// casSameDataKeepsVersion answers a CompareAndSwap that writes a record's
// own data again with its version, changing nothing: the core's
// rewrite of an untouched record after a login failed then fences off
// nothing, and the login's late write lands.
type casSameDataKeepsVersion struct{ *memory.Store }

func (s casSameDataKeepsVersion) CompareAndSwap(ctx context.Context, key string, version uint64, data []byte, expiry time.Time) (uint64, error) {
	if rec, ok, err := s.Load(ctx, key); err == nil && ok && version != 0 && rec.Version == version && bytes.Equal(rec.Data, data) {
		return version, nil
	}
	return s.Store.CompareAndSwap(ctx, key, version, data, expiry)
}
