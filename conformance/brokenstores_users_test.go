package conformance

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// The broken variants of core.UserIndexer, each caught by the checks
// listed.
func init() {
	brokenStores = append(brokenStores,
		brokenStore{name: "files no record under its user", new: mem(func(m *memory.Store) core.Store { return userIgnored{m} }),
			fails: []string{"UserIndexer/Files"}},
		brokenStore{name: "keeps users by their first three bytes", new: mem(func(m *memory.Store) core.Store { return userTrunc{m} }),
			fails: []string{"UserIndexer/OtherUsers"}},
		brokenStore{name: "matches users case-insensitively", new: mem(func(m *memory.Store) core.Store { return userFold{m} }),
			fails: []string{"UserIndexer/OtherUsers"}},
		brokenStore{name: "keeps the old filing when a record is refiled", new: mem(func(m *memory.Store) core.Store { return newSideUsers(m, sideKeepOld) }),
			fails: []string{"UserIndexer/Refile"}},
		brokenStore{name: "refiles a record even when the swap conflicts", new: mem(func(m *memory.Store) core.Store { return newSideUsers(m, sideRefileFirst) }),
			fails: []string{"UserIndexer/Conflict"}},
		brokenStore{name: "forgets the filing on CompareAndSwap", new: mem(func(m *memory.Store) core.Store { return userCASClears{m} }),
			fails: []string{"UserIndexer/KeepsFiling", "UserIndexer/EndUnderLoad"}},
		brokenStore{name: "keeps the filing of deleted records", new: mem(func(m *memory.Store) core.Store { return newSideUsers(m, sideKeepDeleted) }),
			fails: []string{"UserIndexer/EndsWithRecord"}},
		brokenStore{name: "ignores until", new: mem(func(m *memory.Store) core.Store { return userNoUntil{m} }),
			fails: []string{"UserIndexer/Until"}},
		brokenStore{name: "lists expired records until their until", new: mem(func(m *memory.Store) core.Store { return newSideUsers(m, 0) }),
			fails: []string{"UserIndexer/ManyExpired"}},
		brokenStore{name: "updates its user index without a lock", new: mem(func(m *memory.Store) core.Store { return newSideUsers(m, sideUnlocked) }),
			fails: []string{"UserIndexer/Concurrent"}},
		brokenStore{name: "re-creates ended sessions in CompareAndSwap", new: mem(func(m *memory.Store) core.Store { return casRecreates{m} }),
			fails: []string{"UserIndexer/EndUnderLoad"}},
		brokenStore{name: "keeps records a minute past their expiry", new: mem(func(m *memory.Store) core.Store { return lateExpiry{m} }),
			fails: []string{"UserIndexer/NoGhosts"}},
	)
}

// userIgnored writes but files nothing.
type userIgnored struct{ *memory.Store }

func (s userIgnored) CompareAndSwapUser(ctx context.Context, key string, v uint64, data []byte, exp time.Time, _ string, _ time.Time) (uint64, error) {
	return s.Store.CompareAndSwap(ctx, key, v, data, exp)
}

// userTrunc keeps users by their first three bytes.
type userTrunc struct{ *memory.Store }

func trunc3(user string) string { return user[:min(3, len(user))] }

func (s userTrunc) CompareAndSwapUser(ctx context.Context, key string, v uint64, data []byte, exp time.Time, user string, until time.Time) (uint64, error) {
	return s.Store.CompareAndSwapUser(ctx, key, v, data, exp, trunc3(user), until)
}

func (s userTrunc) UserKeys(ctx context.Context, user string) ([]string, error) {
	return s.Store.UserKeys(ctx, trunc3(user))
}

// userFold keeps users lowercased.
type userFold struct{ *memory.Store }

func (s userFold) CompareAndSwapUser(ctx context.Context, key string, v uint64, data []byte, exp time.Time, user string, until time.Time) (uint64, error) {
	return s.Store.CompareAndSwapUser(ctx, key, v, data, exp, strings.ToLower(user), until)
}

func (s userFold) UserKeys(ctx context.Context, user string) ([]string, error) {
	return s.Store.UserKeys(ctx, strings.ToLower(user))
}

// userCASClears files every record that CompareAndSwap writes under no user.
type userCASClears struct{ *memory.Store }

func (s userCASClears) CompareAndSwap(ctx context.Context, key string, v uint64, data []byte, exp time.Time) (uint64, error) {
	return s.Store.CompareAndSwapUser(ctx, key, v, data, exp, "", exp)
}

// userNoUntil files every record for a year, whatever until says.
type userNoUntil struct{ *memory.Store }

func (s userNoUntil) CompareAndSwapUser(ctx context.Context, key string, v uint64, data []byte, exp time.Time, user string, _ time.Time) (uint64, error) {
	return s.Store.CompareAndSwapUser(ctx, key, v, data, exp, user, time.Now().Add(365*24*time.Hour))
}

// lateExpiry keeps every record a minute longer than asked, and says so.
type lateExpiry struct{ *memory.Store }

func (s lateExpiry) CompareAndSwap(ctx context.Context, key string, v uint64, data []byte, exp time.Time) (uint64, error) {
	return s.Store.CompareAndSwap(ctx, key, v, data, exp.Add(time.Minute))
}

func (s lateExpiry) CompareAndSwapUser(ctx context.Context, key string, v uint64, data []byte, exp time.Time, user string, until time.Time) (uint64, error) {
	return s.Store.CompareAndSwapUser(ctx, key, v, data, exp.Add(time.Minute), user, until.Add(time.Minute))
}

func (s lateExpiry) Touch(ctx context.Context, key string, exp time.Time) error {
	return s.Store.Touch(ctx, key, exp.Add(time.Minute))
}

// sideUsers keeps its own user index next to the memory store's records,
// with the flaws its flags select. Unflawed, it files and unfiles like
// the memory store but never forgets the filing of an expired record.
type sideUsers struct {
	*memory.Store
	flaws sideFlaw
	mu    sync.Mutex
	idx   map[string]map[string]bool // user -> keys
}

type sideFlaw uint8

const (
	sideKeepOld     sideFlaw = 1 << iota // a refile adds to the new user's set but leaves the old one
	sideRefileFirst                      // the index changes before the swap, whatever its outcome
	sideKeepDeleted                      // Delete and ending swaps leave the filing
	sideUnlocked                         // read, copy and replace the index without a lock
)

func newSideUsers(m *memory.Store, flaws sideFlaw) *sideUsers {
	return &sideUsers{Store: m, flaws: flaws, idx: map[string]map[string]bool{}}
}

// update applies fn to the index: under the lock, or, with sideUnlocked,
// to a copy that then replaces it (losing concurrent updates).
func (s *sideUsers) update(fn func(idx map[string]map[string]bool)) {
	if s.flaws&sideUnlocked == 0 {
		s.mu.Lock()
		defer s.mu.Unlock()
		fn(s.idx)
		return
	}
	s.mu.Lock()
	cp := make(map[string]map[string]bool, len(s.idx))
	for u, set := range s.idx {
		cp[u] = make(map[string]bool, len(set))
		for k := range set {
			cp[u][k] = true
		}
	}
	s.mu.Unlock()
	fn(cp)
	runtime.Gosched()
	s.mu.Lock()
	s.idx = cp
	s.mu.Unlock()
}

func (s *sideUsers) file(key, user string, ended bool) {
	s.update(func(idx map[string]map[string]bool) {
		if s.flaws&sideKeepOld == 0 || user == "" || ended {
			for _, set := range idx {
				delete(set, key)
			}
		}
		if user != "" && !ended {
			if idx[user] == nil {
				idx[user] = map[string]bool{}
			}
			idx[user][key] = true
		}
	})
}

func (s *sideUsers) unfile(key string) {
	if s.flaws&sideKeepDeleted == 0 {
		s.file(key, "", true)
	}
}

func (s *sideUsers) CompareAndSwapUser(ctx context.Context, key string, v uint64, data []byte, exp time.Time, user string, until time.Time) (uint64, error) {
	ended := !exp.After(time.Now())
	if s.flaws&sideRefileFirst != 0 {
		s.file(key, user, ended)
	}
	nv, err := s.Store.CompareAndSwap(ctx, key, v, data, exp)
	if err != nil {
		return 0, err
	}
	switch {
	case ended:
		s.unfile(key)
	case s.flaws&sideRefileFirst == 0:
		s.file(key, user, false)
	}
	return nv, nil
}

func (s *sideUsers) CompareAndSwap(ctx context.Context, key string, v uint64, data []byte, exp time.Time) (uint64, error) {
	nv, err := s.Store.CompareAndSwap(ctx, key, v, data, exp)
	if err == nil && !exp.After(time.Now()) {
		s.unfile(key)
	}
	return nv, err
}

func (s *sideUsers) Save(ctx context.Context, key string, data []byte, exp time.Time) error {
	err := s.Store.Save(ctx, key, data, exp)
	if err == nil && !exp.After(time.Now()) {
		s.unfile(key)
	}
	return err
}

func (s *sideUsers) Delete(ctx context.Context, key string) error {
	err := s.Store.Delete(ctx, key)
	if err == nil {
		s.unfile(key)
	}
	return err
}

func (s *sideUsers) UserKeys(_ context.Context, user string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k := range s.idx[user] {
		keys = append(keys, k)
	}
	return keys, nil
}
