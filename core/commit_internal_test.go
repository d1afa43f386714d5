package core

import (
	"context"
	"errors"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"
)

// casMap is fuzzStore with compare-and-swap, for the internal tests of
// the commit path.
type casMap struct{ fuzzStore }

func (c *casMap) CompareAndSwap(_ context.Context, key string, version uint64, data []byte, exp time.Time) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var current uint64 // the live record's version, 0 if none
	if r, ok := c.recs[key]; ok && time.Now().Before(r.Expiry) {
		current = r.Version
	}
	if current != version {
		return 0, ErrConflict
	}
	return c.put(key, data, exp), nil
}

// TestWhereSessionValuesLive pins where a session keeps its
// values. A new session's changes stay in the session state (no map); its
// commit writes them into a record of no entries (binLazy.merge), which
// the session keeps encoded once written: a failed write leaves it a new
// session with its changes, which Revert empties. A new session with a
// value that is not a scalar is written from the one map of its values,
// which becomes its base. A loaded plain record's update is not
// decoded: its commit writes the changes into the record kept encoded
// (binLazy.merge) and keeps the new record encoded, with no map. A loaded
// record that is not plain (here: it holds a public id) is decoded, and
// its commit merges into the map it loaded.
func TestWhereSessionValuesLive(t *testing.T) {
	st := &downCAS{casMap: &casMap{}}
	m, err := New(Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	id := func(m map[string]any) uintptr { return uintptr(reflect.ValueOf(m).UnsafePointer()) }

	s := m.Begin(httptest.NewRequest("GET", "/", nil))
	s.Set("a", 1)
	s.Set("b", 2)
	s.Delete("b")
	if s.base != nil || s.changes.len() != 2 {
		t.Fatalf("a new session after Set: base %v, changes %v; want no map, the two changes", s.base, s.changes.list)
	}
	st.down = true
	if err := m.Commit(s, httptest.NewRecorder().Header()); err == nil {
		t.Fatal("Commit with the store down succeeded")
	}
	if s.base != nil || s.changes.len() != 2 {
		t.Fatalf("after a failed write: base %v, changes %v; want no base and the two changes", s.base, s.changes.list)
	}
	s.Revert()
	if s.Len() != 0 {
		t.Fatalf("Revert after a failed write left keys %v", s.Keys())
	}
	s.Set("a", 1)
	s.Set("b", 2)
	s.Delete("b")
	st.down = false
	h := httptest.NewRecorder().Header()
	if err := m.Commit(s, h); err != nil {
		t.Fatal(err)
	}
	if s.base != nil || !s.raw.pending() || s.changes.len() != 0 {
		t.Fatalf("after the commit: base %v, kept encoded %v, changes %v; want no map, kept encoded, no changes", s.base, s.raw.pending(), s.changes.list)
	}
	if a, _ := s.Get("a"); a != 1 {
		t.Errorf("after the commit: a = %v, want 1", a)
	}
	if keys := s.Keys(); !reflect.DeepEqual(keys, []string{"a"}) {
		t.Errorf("after the commit: keys %v, want [a]", keys)
	}
	m.Release(s)

	// A value that would not decode to itself (a time.Time loses its
	// zone's name) is written from the map of the values, which becomes
	// the base.
	s = m.Begin(httptest.NewRequest("GET", "/", nil))
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600))
	s.Set("a", 1)
	s.Set("at", at)
	if err := m.Commit(s, httptest.NewRecorder().Header()); err != nil {
		t.Fatal(err)
	}
	if len(s.base) != 2 || s.base["a"] != 1 || s.base["at"] != at || s.raw.pending() || s.changes.len() != 0 {
		t.Fatalf("a new session with a time: base %v, kept encoded %v, changes %v; want base [a:1 at:%v], nothing encoded, no changes", s.base, s.raw.pending(), s.changes.list, at)
	}
	m.Release(s)

	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", h.Get("Set-Cookie"))
	s = m.Begin(r)
	s.Set("c", 3)
	if s.base != nil || !s.raw.pending() {
		t.Fatalf("a plain record after Set: base %v, kept encoded %v; want no map, kept encoded", s.base, s.raw.pending())
	}
	if err := m.Commit(s, httptest.NewRecorder().Header()); err != nil {
		t.Fatal(err)
	}
	if s.base != nil || !s.raw.pending() || s.changes.len() != 0 {
		t.Fatalf("a plain record's commit: base %v, kept encoded %v, changes %v; want no map, kept encoded, no changes", s.base, s.raw.pending(), s.changes.list)
	}
	if a, _ := s.Get("a"); a != 1 {
		t.Errorf("after the commit: a = %v, want 1", a)
	}
	if keys := s.Keys(); !reflect.DeepEqual(keys, []string{"a", "c"}) {
		t.Errorf("after the commit: keys %v, want [a c]", keys)
	}
	m.Release(s)

	s = m.Begin(httptest.NewRequest("GET", "/", nil))
	s.Set("a", 1)
	s.ID() // a public id: the record is not plain
	h = httptest.NewRecorder().Header()
	if err := m.Commit(s, h); err != nil {
		t.Fatal(err)
	}
	m.Release(s)
	r = httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", h.Get("Set-Cookie"))
	s = m.Begin(r)
	s.Set("c", 3)
	loaded := id(s.base)
	if s.base == nil || s.raw.pending() {
		t.Fatalf("a record with a public id after Set: base %v, kept encoded %v; want it decoded", s.base, s.raw.pending())
	}
	if err := m.Commit(s, httptest.NewRecorder().Header()); err != nil {
		t.Fatal(err)
	}
	if got := id(s.base); got != loaded || len(s.base) != 3 {
		t.Fatalf("a loaded session's commit: base %v (same map: %v), want [a c] and the id merged into the loaded map", s.base, got == loaded)
	}
	m.Release(s)
}

// lockSpy is a casMap that records, at each CompareAndSwap, whether the
// Manager held the key's lock (see Manager.locks).
type lockSpy struct {
	*casMap
	m      *Manager
	held   map[string]bool
	heldMu sync.Mutex
}

func (s *lockSpy) CompareAndSwap(ctx context.Context, key string, version uint64, data []byte, exp time.Time) (uint64, error) {
	held := s.m.locks.InUse(key)
	s.heldMu.Lock()
	s.held[key] = held
	s.heldMu.Unlock()
	return s.casMap.CompareAndSwap(ctx, key, version, data, exp)
}

// TestFreshKeyWrittenWithoutLock: the write of a key the commit has just
// made (a new session, a renew's successor) takes no key lock, since no
// other commit can know the key; a write to an existing session does.
func TestFreshKeyWrittenWithoutLock(t *testing.T) {
	spy := &lockSpy{casMap: &casMap{}, held: map[string]bool{}}
	m, err := New(Config{Store: spy})
	if err != nil {
		t.Fatal(err)
	}
	spy.m = m
	commit := func(cookie string, use func(*Session)) (token, key string) {
		r := httptest.NewRequest("GET", "/", nil)
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		s := m.Begin(r)
		use(s)
		h := httptest.NewRecorder().Header()
		if err := m.Commit(s, h); err != nil {
			t.Fatal(err)
		}
		token, key = h.Get("Set-Cookie"), s.key
		m.Release(s)
		return token, key
	}
	cookie, key := commit("", func(s *Session) { s.Set("a", 1) })
	if held, ok := spy.held[key]; !ok || held {
		t.Fatalf("new session: written %v, under its lock %v; want written without it", ok, held)
	}
	if _, again := commit(cookie, func(s *Session) { s.Set("a", 2) }); again != key || !spy.held[key] {
		t.Fatalf("update of the session: written under its lock %v, want true", spy.held[key])
	}
	clear(spy.held)
	_, renewed := commit(cookie, func(s *Session) { s.Renew() })
	if held, ok := spy.held[renewed]; renewed == key || !ok || held {
		t.Fatalf("renew: successor written %v, under its lock %v; want written without it", ok, held)
	}
	if !spy.held[key] {
		t.Fatal("renew: the old key was retired without its lock")
	}
}

// downCAS is a casMap whose writes fail while down is set.
type downCAS struct {
	*casMap
	down bool
}

func (d *downCAS) CompareAndSwap(ctx context.Context, key string, version uint64, data []byte, exp time.Time) (uint64, error) {
	if d.down {
		return 0, errors.New("store down")
	}
	return d.casMap.CompareAndSwap(ctx, key, version, data, exp)
}

// TestStampLeavesChangesAlone: a new session filed under a user gets its
// metadata (public id, time of writing) stamped at its write, into the
// map of its values, never into its changes (see mergeIntoBase): after a
// failed write its changes hold only what the request set. The change
// list is out of stamp's reach today; this guards against the values map
// and the changes ever being one again (as they once were, for a new
// session, to save a copy).
func TestStampLeavesChangesAlone(t *testing.T) {
	st := &downCAS{casMap: &casMap{}, down: true}
	m, err := New(Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	s := m.Begin(httptest.NewRequest("GET", "/", nil))
	s.SetUser("u")
	s.Set("a", 1)
	if err := m.Commit(s, httptest.NewRecorder().Header()); err == nil {
		t.Fatal("Commit with the store down succeeded")
	}
	for _, k := range []string{idKey, writtenKey} {
		if s.changes.has(k) {
			t.Errorf("after the failed write the changes hold the stamped %q", k)
		}
	}
	st.down = false
	h := httptest.NewRecorder().Header()
	if err := m.Commit(s, h); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.base[idKey]; !ok || s.changes.len() != 0 {
		t.Fatalf("after the write: base %v, changes %v; want the stamped id in base and no changes", s.base, s.changes.list)
	}
	m.Release(s)
}
