package conformance

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// Rules of the shared-store checks.
const (
	ruleShared        = "instances over one backend see each other's writes and deletes"
	ruleSharedCAS     = "compare-and-swap holds across instances: no increment is lost"
	ruleSharedManager = "Managers on instances over one backend share sessions and lose no concurrent change"
)

// TestSharedStore checks what several application servers sharing one
// backend rely on. newInstances returns n distinct instances of the store
// (each with its own client, connection pool or file handles, as separate
// processes would have) over one fresh, empty backend namespace:
//
//	conformance.TestSharedStore(t, func(t *testing.T, n int) []core.Store {
//		prefix := uniquePrefix()
//		var out []core.Store
//		for range n {
//			out = append(out, mystore.New(newClient(t), mystore.Config{KeyPrefix: prefix}))
//		}
//		return out
//	})
//
// Subtests: "SeeEachOther" (a record saved through one instance loads,
// is replaced and is deleted through another), "ConcurrentIncrements" (for
// compare-and-swap stores: concurrent increments through different
// instances lose nothing) and "Managers" (two core.Managers on different
// instances share a session; for compare-and-swap stores, concurrent
// requests through several Managers each changing a different key lose
// none of them), "ContendedTwoManagers" and "ContendedFourManagers" (for
// compare-and-swap stores: 64 concurrent clients, spread over two or four
// Managers, each commit 16 distinct keys to one session, one request per
// key; 16 clients of 4 keys in -short mode: no commit may fail and no key
// may be lost).
func TestSharedStore(t *testing.T, newInstances func(t *testing.T, n int) []core.Store) {
	t.Helper()
	for _, c := range sharedChecks {
		t.Run(c.name, func(t *testing.T) {
			insts := newInstances(t, c.instances)
			if len(insts) != c.instances {
				t.Fatalf("conformance: TestSharedStore: newInstances(%d) returned %d stores", c.instances, len(insts))
			}
			if c.cas {
				for _, s := range insts {
					if _, ok := s.(core.CompareAndSwapper); !ok {
						t.Skip("the store does not implement core.CompareAndSwapper")
					}
				}
			}
			err := c.run(t.Context(), insts)
			if err != nil {
				t.Error(err)
			}
		})
	}
}

type sharedCheck struct {
	name      string
	instances int
	cas       bool
	run       func(ctx context.Context, insts []core.Store) error
}

var sharedChecks = []sharedCheck{
	{name: "SeeEachOther", instances: 2, run: sharedSeeEachOther},
	{name: "ConcurrentIncrements", instances: 4, cas: true, run: sharedIncrements},
	{name: "Managers", instances: 4, run: sharedManagers},
	{name: "ContendedTwoManagers", instances: 2, cas: true, run: sharedContended},
	{name: "ContendedFourManagers", instances: 4, cas: true, run: sharedContended},
}

func sharedSeeEachOther(ctx context.Context, insts []core.Store) error {
	a, b := insts[0], insts[1]
	key, exp := storeNewKey(), storeExpiry(time.Hour)
	if err := storeSave(ctx, a, "k through a", key, []byte("from a"), exp, ruleShared); err != nil {
		return err
	}
	rec, err := storeLoadFound(ctx, b, "k through b", key, []byte("from a"), ruleShared)
	if err != nil {
		return err
	}
	if ca, ok := a.(core.CompareAndSwapper); ok {
		cb := b.(core.CompareAndSwapper)
		if _, err := storeCAS(ctx, cb, "k through b at the version b loaded", key, rec.Version, []byte("from b"), exp, ruleShared); err != nil {
			return err
		}
		if err := storeCASConflict(ctx, ca, "k through a at the version b replaced", key, rec.Version, []byte("stale"), exp, ruleShared); err != nil {
			return err
		}
		if _, err := storeLoadFound(ctx, a, "k through a after b's swap", key, []byte("from b"), ruleShared); err != nil {
			return err
		}
	} else if err := storeSave(ctx, b, "k through b", key, []byte("from b"), exp, ruleShared); err != nil {
		return err
	} else if _, err := storeLoadFound(ctx, a, "k through a after b's save", key, []byte("from b"), ruleShared); err != nil {
		return err
	}
	if err := b.Delete(ctx, key); err != nil {
		return storeViolation("Delete(k) through b", storeErrText(err), "nil error", ruleShared)
	}
	return storeLoadMissing(ctx, a, "k through a after b deleted it", key, ruleShared)
}

func sharedIncrements(ctx context.Context, insts []core.Store) error {
	const perInstance = 15
	key := storeNewKey()
	var wg sync.WaitGroup
	errs := make([]error, len(insts))
	for i, s := range insts {
		wg.Go(func() {
			for range perInstance {
				if err := sharedIncrement(ctx, s, key); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return storeViolation("concurrent increments", storeErrText(err), "nil errors", ruleSharedCAS)
	}
	rec, found, err := insts[0].Load(ctx, key)
	want := uint64(len(insts) * perInstance)
	if err != nil || !found || len(rec.Data) != 8 || binary.BigEndian.Uint64(rec.Data) != want {
		got := "a record that is not a counter"
		if err != nil || !found {
			got = fmt.Sprintf("found %v, error %v", found, err)
		} else if len(rec.Data) == 8 {
			got = fmt.Sprint(binary.BigEndian.Uint64(rec.Data))
		}
		return storeViolation(fmt.Sprintf("counter after %d increments through %d instances", want, len(insts)), got, fmt.Sprint(want), ruleSharedCAS)
	}
	return nil
}

// sharedIncrement adds one to the 8-byte counter under key through s,
// retrying on conflicts (a bounded number of times).
func sharedIncrement(ctx context.Context, s core.Store, key string) error {
	cas := s.(core.CompareAndSwapper)
	for range 1000 {
		rec, found, err := s.Load(ctx, key)
		if err != nil {
			return err
		}
		var n uint64
		if found && len(rec.Data) == 8 {
			n = binary.BigEndian.Uint64(rec.Data)
		}
		_, err = cas.CompareAndSwap(ctx, key, rec.Version, binary.BigEndian.AppendUint64(nil, n+1), storeExpiry(time.Hour))
		if !errors.Is(err, core.ErrConflict) {
			return err
		}
	}
	return errors.New("1000 conflicts in a row")
}

// sharedManagers runs sessions through Managers on different instances.
func sharedManagers(_ context.Context, insts []core.Store) error {
	ms := make([]*core.Manager, len(insts))
	for i, s := range insts {
		m, err := core.New(core.Config{Store: s})
		if err != nil {
			return fmt.Errorf("conformance: core.New: %w", err)
		}
		ms[i] = m
	}
	cookie, err := sharedRequest(ms[0], "", func(s *core.Session) { s.Set("user", "ann") })
	if err != nil || cookie == "" {
		return storeViolation("a new session through Manager 0", fmt.Sprintf("cookie %q, error %v", cookie, err), "a session cookie", ruleSharedManager)
	}
	var user any
	if _, err := sharedRequest(ms[1], cookie, func(s *core.Session) { user, _ = s.Get("user") }); err != nil || user != "ann" {
		return storeViolation("Get(user) through Manager 1", fmt.Sprintf("%v, error %v", user, err), "ann", ruleSharedManager)
	}
	if _, ok := insts[0].(core.CompareAndSwapper); !ok {
		return nil
	}
	const perManager = 4
	var wg sync.WaitGroup
	errs := make([]error, len(ms)*perManager)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = sharedRequest(ms[i%len(ms)], cookie, func(s *core.Session) { s.Set(fmt.Sprintf("k%d", i), i) })
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return storeViolation("concurrent requests through several Managers", storeErrText(err), "nil errors", ruleSharedManager)
	}
	var missing []string
	_, err = sharedRequest(ms[0], cookie, func(s *core.Session) {
		for i := range errs {
			if _, ok := s.Get(fmt.Sprintf("k%d", i)); !ok {
				missing = append(missing, fmt.Sprintf("k%d", i))
			}
		}
	})
	if err != nil || len(missing) != 0 {
		return storeViolation(fmt.Sprintf("keys after %d concurrent requests through %d Managers", len(errs), len(ms)),
			fmt.Sprintf("missing %v, error %v", missing, err), "every key", ruleSharedManager)
	}
	return nil
}

// sharedRequest runs fn as one request through m, presenting cookie
// ("name=value", none if ""), and returns the session cookie the response
// sets (or "").
func sharedRequest(m *core.Manager, cookie string, fn func(*core.Session)) (string, error) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	s := m.Begin(r)
	defer m.Release(s)
	fn(s)
	if err := s.Err(); err != nil {
		return "", err
	}
	h := http.Header{}
	if err := m.Commit(s, h); err != nil {
		return "", err
	}
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == m.Config().Cookie.Name && c.Value != "" {
			return c.Name + "=" + c.Value, nil
		}
	}
	return "", nil
}

// sharedContendedSize is how many clients sharedContended runs, and how many
// keys each commits.
func sharedContendedSize() (clients, keys int) {
	if testing.Short() {
		return 16, 4
	}
	return 64, 16
}

// sharedContended has many clients, spread over the Managers on insts,
// commit distinct keys to one session concurrently, one request per key.
func sharedContended(_ context.Context, insts []core.Store) error {
	ms := make([]*core.Manager, len(insts))
	for i, s := range insts {
		m, err := core.New(core.Config{Store: s})
		if err != nil {
			return fmt.Errorf("conformance: core.New: %w", err)
		}
		ms[i] = m
	}
	cookie, err := sharedRequest(ms[0], "", func(s *core.Session) { s.Set("owner", "ann") })
	if err != nil || cookie == "" {
		return storeViolation("a new session through Manager 0", fmt.Sprintf("cookie %q, error %v", cookie, err), "a session cookie", ruleSharedManager)
	}
	clients, keys := sharedContendedSize()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed int
		first  error
	)
	for c := range clients {
		wg.Go(func() {
			for k := range keys {
				_, err := sharedRequest(ms[c%len(ms)], cookie, func(s *core.Session) { s.Set(fmt.Sprintf("c%d-k%d", c, k), k) })
				if err != nil {
					mu.Lock()
					if failed++; first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	var missing []string
	_, err = sharedRequest(ms[0], cookie, func(s *core.Session) {
		for c := range clients {
			for k := range keys {
				if _, ok := s.Get(fmt.Sprintf("c%d-k%d", c, k)); !ok {
					missing = append(missing, fmt.Sprintf("c%d-k%d", c, k))
				}
			}
		}
	})
	call := fmt.Sprintf("%d clients over %d Managers each committing %d keys to one session", clients, len(ms), keys)
	switch {
	case err != nil:
		return storeViolation(call+", then a request reading them", storeErrText(err), "nil error", ruleSharedManager)
	case failed > 0 || len(missing) > 0:
		got := fmt.Sprintf("%d of %d commits failed (first: %v), %d keys lost", failed, clients*keys, first, len(missing))
		return storeViolation(call, got, "no failed commit and every key", ruleSharedManager)
	}
	return nil
}
