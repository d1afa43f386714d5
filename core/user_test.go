package core_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// filingCounter wraps the memory store and counts the core's
// CompareAndSwapUser calls and the users they file under.
type filingCounter struct {
	*memory.Store
	mu    sync.Mutex
	calls []string // user of each CompareAndSwapUser, "" for a clear
}

func (f *filingCounter) CompareAndSwapUser(ctx context.Context, key string, version uint64, data []byte, exp time.Time, user string, until time.Time) (uint64, error) {
	f.mu.Lock()
	f.calls = append(f.calls, user)
	f.mu.Unlock()
	return f.Store.CompareAndSwapUser(ctx, key, version, data, exp, user, until)
}

// Renew records the filing of a renew in one step as "renew→user".
func (f *filingCounter) Renew(ctx context.Context, r core.Renewal) (uint64, error) {
	f.mu.Lock()
	f.calls = append(f.calls, "renew→"+r.User)
	f.mu.Unlock()
	return f.Store.Renew(ctx, r)
}

func (f *filingCounter) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

// TestSessionUserAndID: SetUser, User and ID across requests, Renew and
// Destroy; the metadata is invisible to Keys and Get and cannot be Set.
func TestSessionUserAndID(t *testing.T) {
	h := newHarness(t, core.Config{})
	var id0 string
	tok, _ := h.request(t, "", func(s *core.Session) {
		id0 = s.ID()
		if s.ID() != id0 || len(id0) != 26 {
			t.Errorf("ID() = %q then %q, want one 26-character id", id0, s.ID())
		}
		if s.User() != "" {
			t.Errorf("User() of a new session = %q, want \"\"", s.User())
		}
	})
	if tok != "" || h.store.Len() != 0 {
		t.Fatalf("asking a new session for its ID stored it (token %q, %d records), want nothing stored", tok, h.store.Len())
	}
	tok, _ = h.request(t, "", func(s *core.Session) {
		s.ID()
		s.Set("a", 1)
		s.Delete("a")
	})
	if tok != "" || h.store.Len() != 0 {
		t.Fatalf("a new session with an ID whose only value was set and deleted was stored (token %q, %d records), want nothing stored", tok, h.store.Len())
	}
	tok, _ = h.request(t, "", func(s *core.Session) {
		id0 = s.ID()
		s.Set("cart", 1)
	})
	login, _ := h.request(t, tok, func(s *core.Session) {
		if s.ID() != id0 {
			t.Errorf("ID() on the next request = %q, want %q (stable)", s.ID(), id0)
		}
		s.Renew()
		s.SetUser("ann")
		if s.User() != "ann" {
			t.Errorf("User() after SetUser(ann) = %q", s.User())
		}
	})
	h.request(t, login, func(s *core.Session) {
		if s.ID() != id0 || s.User() != "ann" {
			t.Errorf("after login: ID %q User %q, want %q ann (ID stable across Renew)", s.ID(), s.User(), id0)
		}
		if !slices.Equal(s.Keys(), []string{"cart"}) {
			t.Errorf("Keys() = %q, want [cart]: metadata must be invisible", s.Keys())
		}
		for _, k := range []string{"\x00sessionkit.user", "\x00sessionkit.id", "\x00sessionkit.written"} {
			if _, ok := s.Get(k); ok {
				t.Errorf("Get(%q) found the core's metadata", k)
			}
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("Set(%q) did not panic", k)
					}
				}()
				s.Set(k, "x")
			}()
		}
		s.Clear()
		if s.User() != "ann" || s.ID() != id0 {
			t.Errorf("after Clear: User %q ID %q, want ann %q", s.User(), s.ID(), id0)
		}
		s.Destroy()
		if s.User() != "" || s.ID() == id0 {
			t.Errorf("after Destroy: User %q ID %q, want \"\" and a new id", s.User(), s.ID())
		}
	})
}

// TestUserFilingCalls: the core files a key with CompareAndSwapUser only
// when its filing changes, and never on an untouched, read or ordinary
// write request.
func TestUserFilingCalls(t *testing.T) {
	for _, tc := range []struct {
		name string
		// store hides Renewer from the core when twoStep is set.
		twoStep bool
		// login and renew are the filings of a renew of a logged-in
		// session: with a Renewer one Renew files the new key and takes
		// the old one (now a retired marker) out of the set; without, two
		// compare-and-swaps do.
		login, renew []string
	}{
		{"Renewer", false, []string{"renew→ann"}, []string{"renew→ann"}},
		{"two steps", true, []string{"ann"}, []string{"ann", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &filingCounter{Store: memory.New(memory.Config{})}
			defer st.Close()
			var store core.Store = st
			if tc.twoStep {
				store = struct {
					core.Store
					core.UserIndexer
				}{st, st}
			}
			h := newHarness(t, core.Config{Store: store})
			step := func(name, tok string, fn func(s *core.Session), want ...string) string {
				t.Helper()
				tok, _ = h.request(t, tok, fn)
				if got := st.take(); !slices.Equal(got, want) {
					t.Errorf("%s: filing calls %q, want %q", name, got, want)
				}
				return tok
			}
			anon := step("anonymous write", "", func(s *core.Session) { s.Set("a", 1) })
			login := step("login", anon, func(s *core.Session) { s.Renew(); s.SetUser("ann") }, tc.login...)
			step("untouched", login, func(*core.Session) {})
			step("read", login, func(s *core.Session) { s.Get("a") })
			step("write", login, func(s *core.Session) { s.Set("a", 2) })
			step("same user again", login, func(s *core.Session) { s.SetUser("ann"); s.Set("a", 3) })
			renewed := step("renew", login, func(s *core.Session) { s.Renew() }, tc.renew...)
			switched := step("switch user", renewed, func(s *core.Session) { s.SetUser("bob") }, "bob")
			step("logout to anonymous", switched, func(s *core.Session) { s.SetUser("") }, "")
			step("new session logging in at once", "", func(s *core.Session) { s.SetUser("cy") }, "cy")
			if keys, err := st.UserKeys(t.Context(), "ann"); err != nil || len(keys) != 0 {
				t.Errorf("UserKeys(ann) after the switch to bob = %d keys, %v; want none", len(keys), err)
			}
		})
	}
}

// TestUserSessionsAPI: listing, ending one and ending all but one, with
// the information each session carries.
func TestUserSessionsAPI(t *testing.T) {
	for _, mode := range []string{"index", "iterator"} {
		t.Run(mode, func(t *testing.T) {
			st := memory.New(memory.Config{})
			defer st.Close()
			var store core.Store = st
			if mode == "iterator" {
				store = iterOnly{st}
			}
			h := newHarness(t, core.Config{Store: store, RecordClientInfo: true, IdleTimeout: time.Hour})
			ctx := t.Context()
			login := func(user, agent string) (tok, id string) {
				s, hdr := beginAgent(h, agent)
				s.SetUser(user)
				id = s.ID()
				tok, _ = h.commit(t, s, "", hdr)
				return tok, id
			}
			t1, a1 := login("ann", "Firefox")
			h.now = h.now.Add(time.Minute)
			_, a2 := login("ann", strings.Repeat("x", 300))
			h.now = h.now.Add(time.Minute)
			_, a3 := login("ann", "Safari")
			_, b1 := login("bob", "Chrome")
			h.request(t, "", func(s *core.Session) { s.Set("anon", true) })

			list, err := h.m.UserSessions(ctx, "ann")
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, si := range list {
				ids = append(ids, si.ID)
				if si.User != "ann" || si.ClientAddr != "198.51.100.7" || si.Created.IsZero() || !si.Expires.After(si.LastSeen) {
					t.Errorf("SessionInfo %+v: want user ann, address 198.51.100.7, created set, expiry after last seen", si)
				}
			}
			if want := []string{a3, a2, a1}; !slices.Equal(ids, want) {
				t.Fatalf("UserSessions(ann) ids = %q, want %q (newest last seen first)", ids, want)
			}
			if list[2].UserAgent != "Firefox" || len(list[1].UserAgent) != 256 {
				t.Errorf("UserAgent = %q and %d bytes, want Firefox and 256 (truncated)", list[2].UserAgent, len(list[1].UserAgent))
			}
			if !list[2].LastSeen.Equal(list[2].Created) {
				t.Errorf("LastSeen of an unused session = %v, want its creation %v", list[2].LastSeen, list[2].Created)
			}
			// A read after the idle refresh is due shows as last seen.
			h.now = h.now.Add(20 * time.Minute)
			h.request(t, t1, func(s *core.Session) { s.Get("x") })
			list, _ = h.m.UserSessions(ctx, "ann")
			if len(list) != 3 || list[0].ID != a1 || !list[0].LastSeen.Equal(h.now) {
				t.Errorf("after a read of %s: first listed %+v, want it with LastSeen %v", a1, list[0], h.now)
			}

			if ok, err := h.m.EndSession(ctx, "ann", b1); ok || err != nil {
				t.Errorf("EndSession(ann, bob's id) = %v, %v; want false, nil", ok, err)
			}
			if ok, err := h.m.EndSession(ctx, "ann", a2); !ok || err != nil {
				t.Errorf("EndSession(ann, a2) = %v, %v; want true, nil", ok, err)
			}
			if ok, _ := h.m.EndSession(ctx, "ann", a2); ok {
				t.Error("EndSession of an ended session = true, want false")
			}
			if n, err := h.m.EndUserSessions(ctx, "ann", a3); n != 1 || err != nil {
				t.Errorf("EndUserSessions(ann, except a3) = %d, %v; want 1, nil", n, err)
			}
			h.request(t, t1, func(s *core.Session) {
				if !s.IsNew() {
					t.Error("a request of an ended session loaded it")
				}
			})
			list, _ = h.m.UserSessions(ctx, "ann")
			if len(list) != 1 || list[0].ID != a3 {
				t.Errorf("UserSessions(ann) after ending = %+v, want only %s", list, a3)
			}
			if list, _ := h.m.UserSessions(ctx, "bob"); len(list) != 1 || list[0].ID != b1 {
				t.Errorf("UserSessions(bob) = %+v, want only %s (untouched)", list, b1)
			}
			if n, err := h.m.EndUserSessions(ctx, "ann", ""); n != 1 || err != nil {
				t.Errorf("EndUserSessions(ann, none) = %d, %v; want 1, nil", n, err)
			}
			if list, err := h.m.UserSessions(ctx, ""); len(list) != 0 || err != nil {
				t.Errorf("UserSessions(\"\") = %v, %v; want nothing", list, err)
			}
		})
	}
}

// beginAgent begins a request without a token from 198.51.100.7 with
// the User-Agent agent.
func beginAgent(h *harness, agent string) (*core.Session, http.Header) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "198.51.100.7:4000"
	r.Header.Set("User-Agent", agent)
	return h.m.Begin(r), http.Header{}
}

// TestClientInfoOfAnonymousStart: the client information is recorded by
// a new session's first write, here an anonymous one with a plain value,
// and shows once the session logs in on a later request.
func TestClientInfoOfAnonymousStart(t *testing.T) {
	h := newHarness(t, core.Config{RecordClientInfo: true})
	s, hdr := beginAgent(h, "Firefox")
	s.Set("cart", 3)
	tok, _ := h.commit(t, s, "", hdr)
	h.request(t, tok, func(s *core.Session) { s.SetUser("ann") })
	list, err := h.m.UserSessions(t.Context(), "ann")
	if err != nil || len(list) != 1 || list[0].UserAgent != "Firefox" || list[0].ClientAddr != "198.51.100.7" {
		t.Errorf("UserSessions = %+v, %v; want one session with agent Firefox and address 198.51.100.7", list, err)
	}
}

// TestClientInfoOff: without RecordClientInfo nothing of the client is kept.
func TestClientInfoOff(t *testing.T) {
	h := newHarness(t, core.Config{})
	s, hdr := beginAgent(h, "Firefox")
	s.SetUser("ann")
	h.commit(t, s, "", hdr)
	list, err := h.m.UserSessions(t.Context(), "ann")
	if err != nil || len(list) != 1 || list[0].UserAgent != "" || list[0].ClientAddr != "" {
		t.Errorf("UserSessions = %+v, %v; want one session without client information", list, err)
	}
}

// iterOnly hides every capability of the memory store but
// compare-and-swap and Iterator: the Manager must scan.
type iterOnly struct{ st *memory.Store }

func (i iterOnly) Load(ctx context.Context, key string) (core.Record, bool, error) {
	return i.st.Load(ctx, key)
}
func (i iterOnly) Save(ctx context.Context, key string, data []byte, exp time.Time) error {
	return i.st.Save(ctx, key, data, exp)
}
func (i iterOnly) Delete(ctx context.Context, key string) error { return i.st.Delete(ctx, key) }
func (i iterOnly) CompareAndSwap(ctx context.Context, key string, v uint64, data []byte, exp time.Time) (uint64, error) {
	return i.st.CompareAndSwap(ctx, key, v, data, exp)
}
func (i iterOnly) Iterate(ctx context.Context, fn func(string) bool) error {
	return i.st.Iterate(ctx, fn)
}

// TestUserSessionsNotSupported: a store without index or Iterator, and
// client-side sessions, say so with ErrNotSupported.
func TestUserSessionsNotSupported(t *testing.T) {
	st := memory.New(memory.Config{})
	defer st.Close()
	h := newHarness(t, core.Config{Store: struct{ core.Store }{st}})
	ctx := t.Context()
	if _, err := h.m.UserSessions(ctx, "ann"); !errors.Is(err, core.ErrNotSupported) {
		t.Errorf("UserSessions on a plain store: %v, want ErrNotSupported", err)
	}
	if _, err := h.m.EndUserSessions(ctx, "ann", ""); !errors.Is(err, core.ErrNotSupported) {
		t.Errorf("EndUserSessions on a plain store: %v, want ErrNotSupported", err)
	}
	c := newHarness(t, core.Config{ClientStore: &plainClientStore{}})
	if _, err := c.m.UserSessions(ctx, "ann"); !errors.Is(err, core.ErrNotSupported) {
		t.Errorf("UserSessions client-side: %v, want ErrNotSupported", err)
	}
	if _, err := c.m.EndSession(ctx, "ann", "x"); !errors.Is(err, core.ErrNotSupported) {
		t.Errorf("EndSession client-side: %v, want ErrNotSupported", err)
	}
	if _, err := c.m.EndUserSessions(ctx, "ann", ""); !errors.Is(err, core.ErrNotSupported) {
		t.Errorf("EndUserSessions without a revocation list: %v, want ErrNotSupported", err)
	}
}

// revokingClientStore adds core.UserRevoker to plainClientStore: the
// latest RevokeUser per user, and a count of the lookups.
type revokingClientStore struct {
	plainClientStore
	mu      sync.Mutex
	users   map[string]userRevocation
	lookups atomic.Int64
}

type userRevocation struct {
	keep string
	at   time.Time
}

func (r *revokingClientStore) RevokeUser(_ context.Context, _, user, keep string, at, _ time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.users == nil {
		r.users = map[string]userRevocation{}
	}
	r.users[user] = userRevocation{keep, at}
	return nil
}

func (r *revokingClientStore) UserRevoked(_ context.Context, _, user, id string, since time.Time) (bool, error) {
	r.lookups.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	u, ok := r.users[user]
	return ok && !u.at.Before(since) && id != u.keep, nil
}

// TestClientSideEndUserSessions: with a UserRevoker, ending a user's
// client-side sessions stops every token of theirs but the kept session's,
// and only sessions with a user cost a lookup.
func TestClientSideEndUserSessions(t *testing.T) {
	cs := &revokingClientStore{}
	h := newHarness(t, core.Config{ClientStore: cs})
	ctx := t.Context()
	anon, _ := h.request(t, "", func(s *core.Session) { s.Set("a", 1) })
	h.request(t, anon, func(s *core.Session) { s.Get("a") })
	if n := cs.lookups.Load(); n != 0 {
		t.Errorf("UserRevoked lookups for a session without a user = %d, want 0", n)
	}
	var keepID string
	t1, _ := h.request(t, "", func(s *core.Session) { s.SetUser("ann"); s.Set("n", 1) })
	t2, _ := h.request(t, "", func(s *core.Session) { s.SetUser("ann"); keepID = s.ID() })
	h.now = h.now.Add(time.Second)
	n, err := h.m.EndUserSessions(ctx, "ann", keepID)
	if n != 0 || err != nil {
		t.Fatalf("EndUserSessions client-side = %d, %v; want 0 (uncountable), nil", n, err)
	}
	h.request(t, t1, func(s *core.Session) {
		if !s.IsNew() || s.User() != "" {
			t.Error("a revoked client-side session still opened")
		}
	})
	h.request(t, t2, func(s *core.Session) {
		if s.IsNew() || s.User() != "ann" {
			t.Error("the kept client-side session no longer opens")
		}
	})
	// A login after the revocation is not affected.
	h.now = h.now.Add(time.Second)
	t3, _ := h.request(t, "", func(s *core.Session) { s.SetUser("ann") })
	h.request(t, t3, func(s *core.Session) {
		if s.IsNew() {
			t.Error("a session logged in after EndUserSessions was revoked")
		}
	})
	if cs.lookups.Load() == 0 {
		t.Error("the core never asked UserRevoked")
	}
}

// TestUserSessionsConformance runs the Manager-level conformance checks
// with the memory store's index and with the Iterator fallback.
func TestUserSessionsConformance(t *testing.T) {
	newMem := func(t *testing.T) *memory.Store {
		st := memory.New(memory.Config{CleanupInterval: -1})
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	t.Run("index", func(t *testing.T) {
		conformance.TestUserSessions(t, func(t *testing.T) core.Store { return newMem(t) })
	})
	t.Run("iterator", func(t *testing.T) {
		conformance.TestUserSessions(t, func(t *testing.T) core.Store { return iterOnly{newMem(t)} })
	})
}

// TestClientSideEndUserSessionsUnderLoad: client-side sessions ended by
// EndUserSessions stay ended while 16 concurrent requests keep writing
// (each sealing a new cookie), and the kept one lives. (No renews: without
// a RetiringClientStore concurrent renews of one client-side session race
// for the cookie whatever EndUserSessions does.)
func TestClientSideEndUserSessionsUnderLoad(t *testing.T) {
	cs := &revokingClientStore{}
	m, err := core.New(core.Config{ClientStore: cs, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	request := func(tok string, fn func(s *core.Session)) string {
		next, err := serveOn(m, tok, fn)
		if err != nil {
			t.Error(err)
		}
		return next
	}
	const sessions, workers = 4, 16
	var (
		mu     sync.Mutex
		tokens [sessions]string
		keepID string
	)
	for i := range tokens {
		tokens[i] = request("", func(s *core.Session) {
			s.SetUser("ann")
			if i == 0 {
				keepID = s.ID()
			}
		})
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// Stop the workers on every way out of the test, t.Fatal included,
	// not only below.
	stopWorkers := sync.OnceFunc(func() {
		close(stop)
		wg.Wait()
	})
	defer stopWorkers()
	for w := range workers {
		wg.Go(func() {
			i := w % sessions
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				tok := tokens[i]
				mu.Unlock()
				next := request(tok, func(s *core.Session) {
					v, _ := core.Value[int](s, "n")
					time.Sleep(time.Duration(n%7) * 100 * time.Microsecond)
					s.Set("n", v+1)
				})
				mu.Lock()
				if tokens[i] == tok {
					tokens[i] = next
				}
				mu.Unlock()
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	before := tokens
	mu.Unlock()
	for i, tok := range before {
		request(tok, func(s *core.Session) {
			if s.User() != "ann" {
				t.Fatalf("session %d under load before the ending: user %q, want ann", i, s.User())
			}
		})
	}
	if _, err := m.EndUserSessions(t.Context(), "ann", keepID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	stopWorkers()
	for i, tok := range tokens {
		request(tok, func(s *core.Session) {
			switch user, id := s.User(), s.ID(); {
			case i == 0 && (user != "ann" || id != keepID):
				t.Errorf("the kept session's last cookie opens user %q, id kept %t; want the kept session", user, id == keepID)
			case i != 0 && user != "":
				t.Errorf("ended session %d's last cookie still opens a session of %q", i, user)
			}
		})
	}
}

// countingKeys counts UserKeys calls: one per listing.
type countingKeys struct {
	*memory.Store
	calls atomic.Int64
}

func (c *countingKeys) UserKeys(ctx context.Context, user string) ([]string, error) {
	c.calls.Add(1)
	return c.Store.UserKeys(ctx, user)
}

// TestUserSessionsRelists: a listing that meets the retired old key of a
// renew lists again (the new key may have been filed after the first
// listing took its keys), but not for a renew done well before it began;
// End* list again for any key met ended.
func TestUserSessionsRelists(t *testing.T) {
	st := &countingKeys{Store: memory.New(memory.Config{})}
	defer st.Close()
	h := newHarness(t, core.Config{Store: st})
	ctx := t.Context()
	tok, _ := h.request(t, "", func(s *core.Session) { s.SetUser("ann") })
	h.request(t, tok, func(s *core.Session) { s.Renew() }) // the old key is now a retired marker, still filed until retired
	listings := func(fn func()) int64 {
		st.calls.Store(0)
		fn()
		return st.calls.Load()
	}
	// The memory store unfiles the marker when it is written, so plant
	// one that UserKeys still lists: a retired record filed under ann.
	marker := core.StoreKey("planted")
	data, _ := core.BinaryCodec{}.Encode(h.now, map[string]any{"\x00sessionkit.retired": true})
	if _, err := st.CompareAndSwapUser(ctx, marker, 0, data, h.now.Add(30*time.Second), "ann", h.now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := listings(func() { h.m.UserSessions(ctx, "ann") }); n != 2 {
		t.Errorf("UserSessions meeting a fresh retired marker listed %d times, want 2", n)
	}
	h.now = h.now.Add(10 * time.Second)
	if n := listings(func() { h.m.UserSessions(ctx, "ann") }); n != 1 {
		t.Errorf("UserSessions meeting a marker retired 10 s before listed %d times, want 1", n)
	}
	if n := listings(func() { h.m.EndUserSessions(ctx, "bob", "") }); n != 1 {
		t.Errorf("EndUserSessions of a user without sessions listed %d times, want 1", n)
	}
	if n := listings(func() { h.m.EndSession(ctx, "ann", "nope") }); n != 2 {
		t.Errorf("EndSession meeting an old retired marker listed %d times, want 2 (End* trust no clock)", n)
	}
}

// TestUserFilingAcrossManagers: two Managers on one store (two processes)
// make real compare-and-swap conflicts; the rebase re-applies SetUser, and
// the filing follows the record's user whatever the interleaving.
func TestUserFilingAcrossManagers(t *testing.T) {
	h1 := newHarness(t, core.Config{})
	h2 := newHarness(t, core.Config{Store: h1.store})
	ctx := t.Context()
	tok, _ := h1.request(t, "", func(s *core.Session) { s.Set("seed", true) })
	for round, user := range []string{"ann", "bob", ""} {
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Go(func() {
				h := h1
				if w%2 == 1 {
					h = h2
				}
				s, hdr := h.begin(tok, "192.0.2.1:1234")
				s.Set(fmt.Sprintf("k%d.%d", round, w), w)
				if w == 5 {
					s.SetUser(user)
				}
				if err := h.m.Commit(s, hdr); err != nil {
					t.Error(err)
				}
				h.m.Release(s)
			})
		}
		wg.Wait()
		var id string
		h1.request(t, tok, func(s *core.Session) {
			id = s.ID()
			if s.User() != user {
				t.Errorf("round %d: User() = %q, want %q", round, s.User(), user)
			}
			for w := range 16 {
				if _, ok := s.Get(fmt.Sprintf("k%d.%d", round, w)); !ok {
					t.Errorf("round %d: the change of request %d was lost", round, w)
				}
			}
		})
		for _, u := range []string{"ann", "bob"} {
			list, err := h2.m.UserSessions(ctx, u)
			want := 0
			if u == user {
				want = 1
			}
			if err != nil || len(list) != want || (want == 1 && list[0].ID != id) {
				t.Errorf("round %d: UserSessions(%s) = %+v, %v; want %d session(s)", round, u, list, err, want)
			}
			keys, _ := h1.store.UserKeys(ctx, u)
			if len(keys) != want {
				t.Errorf("round %d: the store files %d keys under %s, want %d", round, len(keys), u, want)
			}
		}
	}
}

// TestUserSessionsJSONCodec: the metadata survives the JSON codec, which
// returns times as strings.
func TestUserSessionsJSONCodec(t *testing.T) {
	h := newHarness(t, core.Config{Codec: core.JSONCodec{}})
	var id string
	tok, _ := h.request(t, "", func(s *core.Session) { s.SetUser("ann"); id = s.ID() })
	h.now = h.now.Add(time.Minute)
	h.request(t, tok, func(s *core.Session) { s.Set("a", 1) })
	list, err := h.m.UserSessions(t.Context(), "ann")
	if err != nil || len(list) != 1 || list[0].ID != id || !list[0].LastSeen.Equal(h.now) || !list[0].Created.Equal(h.now.Add(-time.Minute)) {
		t.Fatalf("UserSessions = %+v, %v; want session %s created %v, last seen %v", list, err, id, h.now.Add(-time.Minute), h.now)
	}
}

// TestEndSessionsVersioned: End* end a record only at the version their
// listing loaded. A request that files the session under another user
// between the listing and the delete keeps it (the store wrapper runs
// that request, through a second Manager on the same store, just before
// End*'s first store call that would end it); one that merely writes it
// for the same user is reloaded and ended all the same, and one that
// renews it (so the listing holds only its retired old key) is found at
// its new key by one more listing and ended.
func TestEndSessionsVersioned(t *testing.T) {
	for _, mode := range []string{"index", "iterator"} {
		for _, op := range []string{"EndUserSessions", "EndSession"} {
			for _, meanwhile := range []string{"refiled to bob", "written by ann", "renewed by ann"} {
				t.Run(mode+"/"+op+"/"+meanwhile, func(t *testing.T) {
					testEndSessionsVersioned(t, mode, op, meanwhile)
				})
			}
		}
	}
}

func testEndSessionsVersioned(t *testing.T, mode, op, meanwhile string) {
	raw := memory.New(memory.Config{})
	defer raw.Close()
	var inner core.Store = raw
	if mode == "iterator" {
		inner = iterOnly{raw}
	}
	other := newHarness(t, core.Config{Store: raw}) // another process
	var (
		target string // the store key whose end is interleaved
		tok    string // its token
		newTok string // its token after the renew of "renewed by ann"
		armed  atomic.Bool
		fired  atomic.Bool
	)
	wrapped := core.WrapStore(inner, core.StoreWrapper{
		Around: func(ctx context.Context, call core.StoreCall, next func(context.Context) error) error {
			ending := call.Op == core.OpDelete || call.Op == core.OpCompareAndSwap
			if ending && call.Key == target && armed.CompareAndSwap(true, false) {
				newTok, _ = other.request(t, tok, func(s *core.Session) {
					switch meanwhile {
					case "refiled to bob":
						s.SetUser("bob")
					case "written by ann":
						s.Set("cart", 2)
					case "renewed by ann":
						s.Renew()
					}
				})
				fired.Store(true)
			}
			return next(ctx)
		},
	})
	h := newHarness(t, core.Config{Store: wrapped})
	ctx := t.Context()
	var id, keptID string
	tok, _ = h.request(t, "", func(s *core.Session) { s.SetUser("ann"); s.Set("cart", 1); id = s.ID() })
	h.request(t, "", func(s *core.Session) { s.SetUser("ann"); keptID = s.ID() })
	target = core.StoreKey(tok)
	armed.Store(true)

	var ended int
	switch op {
	case "EndUserSessions":
		n, err := h.m.EndUserSessions(ctx, "ann", keptID)
		if err != nil {
			t.Fatal(err)
		}
		ended = n
	case "EndSession":
		ok, err := h.m.EndSession(ctx, "ann", id)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			ended = 1
		}
	}
	if !fired.Load() {
		t.Fatal("End* made no store call that could end the session: the test interleaved nothing")
	}
	var user string
	var found bool
	h.request(t, tok, func(s *core.Session) { user, found = s.User(), !s.IsNew() })
	list, err := h.m.UserSessions(ctx, "ann")
	if err != nil || len(list) != 1 || list[0].ID != keptID {
		t.Errorf("UserSessions(ann) afterwards = %+v, %v; want only the kept session %s", list, err, keptID)
	}
	switch meanwhile {
	case "refiled to bob":
		if ended != 0 || !found || user != "bob" {
			t.Errorf("%s ended %d; the session refiled to bob meanwhile: found %t, user %q; want 0 ended and bob's session intact", op, ended, found, user)
		}
		if list, err := h.m.UserSessions(ctx, "bob"); err != nil || len(list) != 1 || list[0].ID != id {
			t.Errorf("UserSessions(bob) = %+v, %v; want the refiled session %s", list, err, id)
		}
	case "written by ann":
		if ended != 1 || found {
			t.Errorf("%s ended %d; the session written meanwhile still loads (%t); want it ended", op, ended, found)
		}
	case "renewed by ann":
		h.request(t, newTok, func(s *core.Session) { found = found || !s.IsNew() })
		if ended != 1 || found || newTok == tok {
			t.Errorf("%s ended %d; the session renewed meanwhile still loads under its old or new token (%t); want it ended", op, ended, found)
		}
	}
}

// TestEndSessionsBackoff: End* on a store whose ending calls end nothing
// (every pass finds the sessions again) run their 100 immediate listings,
// then wait between passes, with a growing jittered backoff, and stop
// when ctx ends, rather than give up after 100 listings back to back.
func TestEndSessionsBackoff(t *testing.T) {
	for _, op := range []string{"EndUserSessions", "EndSession"} {
		t.Run(op, func(t *testing.T) {
			var broken atomic.Bool
			var listings atomic.Int64
			st := memory.New(memory.Config{})
			defer st.Close()
			wrapped := core.WrapStore(st, core.StoreWrapper{
				Around: func(ctx context.Context, call core.StoreCall, next func(context.Context) error) error {
					switch {
					case call.Op == core.OpUserKeys:
						listings.Add(1)
					case broken.Load() && (call.Op == core.OpDelete || call.Op == core.OpCompareAndSwap):
						return nil // "ended", yet nothing changed
					}
					return next(ctx)
				},
			})
			h := newHarness(t, core.Config{Store: wrapped})
			var id string
			h.request(t, "", func(s *core.Session) { s.SetUser("ann"); id = s.ID() })
			broken.Store(true)
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			var err error
			if op == "EndUserSessions" {
				_, err = h.m.EndUserSessions(ctx, "ann", "")
			} else {
				_, err = h.m.EndSession(ctx, "ann", id)
			}
			elapsed, n := time.Since(start), listings.Load()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s on a store that never ends a session = %v after %d listings in %v; want an error wrapping context.DeadlineExceeded", op, err, n, elapsed)
			}
			if n <= 100 || n >= 150 || elapsed < 250*time.Millisecond {
				t.Errorf("%s listed %d times in %v, want between 101 and 149 listings in about 300ms (100 at once, then a backoff between passes)", op, n, elapsed)
			}
		})
	}
}

// TestAnonymousSessionMeta: an anonymous session's record holds no public
// id and no last-write time until ID is asked for (then the id only,
// stable across requests and Renew); the first write under a user stamps
// both, keeping an id handed out before.
func TestAnonymousSessionMeta(t *testing.T) {
	h := newHarness(t, core.Config{})
	ctx := t.Context()
	const idKey, writtenKey = "\x00sessionkit.id", "\x00sessionkit.written"
	stored := func(tok string) map[string]any {
		t.Helper()
		rec, found, err := h.store.Load(ctx, core.StoreKey(tok))
		if err != nil || !found {
			t.Fatalf("Load = %v, %v; want the record", found, err)
		}
		_, values, err := core.BinaryCodec{}.Decode(rec.Data)
		if err != nil {
			t.Fatal(err)
		}
		return values
	}
	tok, _ := h.request(t, "", func(s *core.Session) { s.Set("a", 1) })
	h.request(t, tok, func(s *core.Session) { s.Set("a", 2) })
	if v := stored(tok); len(v) != 1 {
		t.Errorf("anonymous session written twice stores %q, want only its value a", slices.Sorted(maps.Keys(v)))
	}
	var id string
	h.request(t, tok, func(s *core.Session) { id = s.ID() })
	if v := stored(tok); v[idKey] != id || v[writtenKey] != nil || len(v) != 2 {
		t.Errorf("after ID() on an anonymous session the record holds %v, want a and the id %s only", v, id)
	}
	renewed, _ := h.request(t, tok, func(s *core.Session) {
		if s.ID() != id {
			t.Errorf("ID() on the next request = %q, want %q", s.ID(), id)
		}
		s.Renew()
	})
	h.request(t, renewed, func(s *core.Session) {
		if s.ID() != id {
			t.Errorf("ID() after Renew = %q, want %q", s.ID(), id)
		}
	})
	h.now = h.now.Add(time.Minute)
	h.request(t, renewed, func(s *core.Session) { s.SetUser("ann") })
	if v := stored(renewed); v[idKey] != id || !v[writtenKey].(time.Time).Equal(h.now) {
		t.Errorf("after SetUser the record holds id %v, written %v; want %s and %v", v[idKey], v[writtenKey], id, h.now)
	}
	h.request(t, renewed, func(s *core.Session) { s.SetUser("") })
	if v := stored(renewed); v[idKey] != id || v[writtenKey] != nil {
		t.Errorf("after logging out to anonymous the record holds id %v, written %v; want %s and no write time", v[idKey], v[writtenKey], id)
	}

	login, _ := h.request(t, "", func(s *core.Session) { s.SetUser("bob") })
	v := stored(login)
	if id, _ := v[idKey].(string); len(id) != 26 || !v[writtenKey].(time.Time).Equal(h.now) {
		t.Errorf("a session logged in without asking ID stores id %v, written %v; want a 26-character id and %v", v[idKey], v[writtenKey], h.now)
	}
	list, err := h.m.UserSessions(ctx, "bob")
	if err != nil || len(list) != 1 || list[0].ID != v[idKey] || !list[0].LastSeen.Equal(h.now) {
		t.Errorf("UserSessions(bob) = %+v, %v; want its session, last seen %v", list, err, h.now)
	}
}

// TestEndUserSessionsUnderLoginStorm: clients keep logging in as the user
// while EndUserSessions runs, on a store whose writes take a while (as a
// database's commits do; its reads are quick), so that the logins (eight
// at once) outpace the call's own writes (one after the other). The call
// ends every session that existed when it began, and finishes: the sessions created since are not its to end
// (a user in a login loop would otherwise keep it listing and ending,
// each listing longer than the last, for ever). The clock jumps 10 s
// ahead at the call's first listing, so that the storm's later logins
// are more than the clock margin after its start without the test
// waiting for it.
func TestEndUserSessionsUnderLoginStorm(t *testing.T) {
	var offset atomic.Int64
	var jump atomic.Bool
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	st := memory.New(memory.Config{})
	defer st.Close()
	slow := core.WrapStore(st, core.StoreWrapper{
		Around: func(ctx context.Context, call core.StoreCall, next func(context.Context) error) error {
			if call.Op == core.OpUserKeys && jump.CompareAndSwap(true, false) {
				offset.Store(int64(10 * time.Second))
			}
			switch call.Op {
			case core.OpLoad, core.OpUserKeys:
			default:
				time.Sleep(time.Millisecond) // a write: a database's commit
			}
			return next(ctx)
		},
	})
	m, err := core.New(core.Config{Store: slow, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	login := func() (string, error) {
		tok, err := serveOn(m, "", func(s *core.Session) { s.Renew(); s.SetUser("ann") })
		if err == nil && tok == "" {
			err = errors.New("no cookie")
		}
		return tok, err
	}
	var before []string
	for range 50 {
		tok, err := login()
		if err != nil {
			t.Fatal(err)
		}
		before = append(before, tok)
	}

	var stop atomic.Bool
	var logins atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for !stop.Load() {
				if _, err := login(); err != nil {
					t.Errorf("login during the storm: %v", err)
					return
				}
				logins.Add(1)
			}
		})
	}
	time.Sleep(100 * time.Millisecond) // the storm is under way: some of its sessions exist too
	jump.Store(true)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	started := logins.Load()
	t0 := time.Now()
	n, err := m.EndUserSessions(ctx, "ann", "")
	during := logins.Load() - started
	t.Logf("EndUserSessions ended %d sessions in %v; %d logins before it, %d during it", n, time.Since(t0).Round(time.Millisecond), started, during)
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatalf("EndUserSessions under a login storm = %d, %v (%d logins during the call); want it to finish", n, err, during)
	}
	if n < len(before) {
		t.Errorf("EndUserSessions = %d, want at least the %d sessions that existed before", n, len(before))
	}
	if during < 50 {
		t.Errorf("only %d logins during the call: no storm", during)
	}
	for i, tok := range before {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Cookie", "session="+tok)
		s := m.Begin(r)
		if !s.IsNew() || s.User() != "" {
			t.Errorf("session %d of those before the call still opens (user %q)", i, s.User())
		}
		m.Release(s)
	}
}

// TestEndUserSessionsChasesALateRenew: a session that existed when
// EndUserSessions began is renewed between the call's listing of its key
// and the load of it, after the clock margin for new sessions has passed
// (the clock jumps 10 s at the listing): the load meets the retired
// marker, which is dated by the renew, and the call must list again and
// end the successor, which keeps the session's creation time.
func TestEndUserSessionsChasesALateRenew(t *testing.T) {
	var offset atomic.Int64
	var jump, renewAt atomic.Bool
	var victim string // the session's store key at the listing
	var m *core.Manager
	request := func(tok string, fn func(*core.Session)) string {
		next, err := serveOn(m, tok, fn)
		if err != nil {
			t.Errorf("Commit = %v", err)
		}
		return next
	}
	var tok string
	st := memory.New(memory.Config{})
	defer st.Close()
	wrapped := core.WrapStore(st, core.StoreWrapper{
		Around: func(ctx context.Context, call core.StoreCall, next func(context.Context) error) error {
			if call.Op == core.OpUserKeys && jump.CompareAndSwap(true, false) {
				offset.Store(int64(10 * time.Second))
			}
			if call.Op == core.OpLoad && call.Key == victim && renewAt.CompareAndSwap(true, false) {
				tok = request(tok, func(s *core.Session) { s.Renew() }) // a login elsewhere, just now
			}
			return next(ctx)
		},
	})
	var err error
	m, err = core.New(core.Config{Store: wrapped, Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
	if err != nil {
		t.Fatal(err)
	}
	tok = request("", func(s *core.Session) { s.SetUser("ann") })
	old := tok
	victim = core.StoreKey(tok)
	jump.Store(true)
	renewAt.Store(true)
	n, err := m.EndUserSessions(t.Context(), "ann", "")
	if tok == old {
		t.Fatal("the renew did not happen during the call")
	}
	if err != nil || n != 1 {
		t.Errorf("EndUserSessions = %d, %v; want 1, nil", n, err)
	}
	request(tok, func(s *core.Session) {
		if u := s.User(); u != "" {
			t.Errorf("the renewed session still opens as %q after EndUserSessions", u)
		}
	})
}

// serveOn runs fn as the handler of a request carrying the session token
// tok ("" none) through m, with m's own clock (the tests that need the
// real one, or one they move, where newHarness fixes it), and returns the
// token the client holds afterwards (a new cookie's, else tok) and
// Commit's error.
func serveOn(m *core.Manager, tok string, fn func(*core.Session)) (string, error) {
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	if tok != "" {
		r.AddCookie(&http.Cookie{Name: "session", Value: tok})
	}
	s := m.Begin(r)
	defer m.Release(s)
	fn(s)
	hdr := http.Header{}
	if err := m.Commit(s, hdr); err != nil {
		return tok, err
	}
	for _, c := range (&http.Response{Header: hdr}).Cookies() {
		if c.Name == "session" && c.MaxAge >= 0 {
			return c.Value, nil
		}
	}
	return tok, nil
}
