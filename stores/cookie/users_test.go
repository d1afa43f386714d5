package cookie_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/cookie"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// clock is a settable clock shared by the Manager and the cookie store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// userApp is a Manager on a cookie store with a revocation list (counted)
// unless none is given.
type userApp struct {
	m     *core.Manager
	clock *clock
	list  *loadCounter
}

func newUserApp(t *testing.T, list core.Store) *userApp {
	t.Helper()
	a := &userApp{clock: &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}}
	cfg := cookie.Config{Keys: [][]byte{fixedKey(7)}, Now: a.clock.Now}
	if list != nil {
		a.list = &loadCounter{Store: list}
		cfg.Revocations = a.list
	}
	st, err := cookie.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a.m, err = core.New(core.Config{ClientStore: st, Now: a.clock.Now, Lifetime: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// do runs fn as one request carrying token ("" for none) and returns the
// token the client holds afterwards: a new one when the response sets it,
// "" when it expires it, token otherwise.
func (a *userApp) do(t *testing.T, token string, fn func(*core.Session)) string {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if token != "" {
		r.AddCookie(&http.Cookie{Name: a.m.Config().Cookie.Name, Value: token})
	}
	s := a.m.Begin(r)
	defer a.m.Release(s)
	fn(s)
	if err := s.Err(); err != nil {
		t.Fatalf("request: %v", err)
	}
	h := http.Header{}
	if err := a.m.Commit(s, h); err != nil {
		t.Fatalf("commit: %v", err)
	}
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == a.m.Config().Cookie.Name {
			if c.MaxAge < 0 {
				return ""
			}
			return c.Value
		}
	}
	return token
}

// login logs user in on a new session and returns its token.
func (a *userApp) login(t *testing.T, user string) string {
	t.Helper()
	tok := a.do(t, "", func(s *core.Session) {
		s.Renew()
		s.SetUser(user)
		s.Set("name", user)
	})
	if tok == "" {
		t.Fatal("login issued no token")
	}
	return tok
}

// whoami returns the user and the "name" value the session of token has
// ("", "" for a new, empty session) and its public id.
func (a *userApp) whoami(t *testing.T, token string) (user, name, id string) {
	t.Helper()
	a.do(t, token, func(s *core.Session) {
		user = s.User()
		name, _ = core.Value[string](s, "name")
		id = s.ID()
	})
	return user, name, id
}

// TestEndUserSessionsClientSide is "log out everywhere else" with
// client-side sessions: through the Manager, with real sealed tokens, the
// sessions of the user filed before the call stop opening except the one
// kept; other users and later logins are untouched; a tampered token is
// still just a new session; and listing stays impossible.
func TestEndUserSessionsClientSide(t *testing.T) {
	list := memory.New(memory.Config{CleanupInterval: -1})
	defer list.Close()
	a := newUserApp(t, list)
	phone, laptop, tablet := a.login(t, "ann@example.com"), a.login(t, "ann@example.com"), a.login(t, "ann@example.com")
	bob := a.login(t, "bob@example.com")
	_, _, laptopID := a.whoami(t, laptop)
	if laptopID == "" {
		t.Fatal("the laptop's session has no public id")
	}
	a.clock.Advance(time.Minute)

	// "Log out everywhere else", from the phone.
	var n int
	var err error
	phone = a.do(t, phone, func(s *core.Session) {
		n, err = a.m.EndUserSessions(s.Context(), s.User(), s.ID())
	})
	if err != nil || n != 0 {
		t.Fatalf("EndUserSessions = %d, %v; want 0 (client-side sessions are not counted), nil", n, err)
	}
	a.clock.Advance(time.Second)
	if u, name, _ := a.whoami(t, phone); u != "ann@example.com" || name != "ann@example.com" {
		t.Errorf("the kept session opens as %q/%q, want ann's", u, name)
	}
	for label, tok := range map[string]string{"laptop": laptop, "tablet": tablet} {
		if u, name, _ := a.whoami(t, tok); u != "" || name != "" {
			t.Errorf("the %s's token still opens ann's session (%q/%q) after EndUserSessions", label, u, name)
		}
	}
	if u, _, _ := a.whoami(t, bob); u != "bob@example.com" {
		t.Errorf("another user's session opens as %q, want bob's", u)
	}
	// A token tampered with is a new session, not an error.
	mid := len(phone) / 2
	flipped := byte('A')
	if phone[mid] == 'A' {
		flipped = 'B'
	}
	tampered := phone[:mid] + string(flipped) + phone[mid+1:]
	if u, name, _ := a.whoami(t, tampered); u != "" || name != "" {
		t.Errorf("a tampered token opens %q/%q, want a new session", u, name)
	}
	// A login after the call is not affected.
	a.clock.Advance(time.Second)
	desk := a.login(t, "ann@example.com")
	if u, _, _ := a.whoami(t, desk); u != "ann@example.com" {
		t.Errorf("a login after EndUserSessions opens as %q, want ann's", u)
	}

	// A later call adds to the first: naming the laptop, which the first
	// call ended, as the session to keep does not bring it back, and it
	// ends the phone and the desk.
	a.clock.Advance(time.Second)
	if _, err := a.m.EndUserSessions(ctx, "ann@example.com", laptopID); err != nil {
		t.Fatal(err)
	}
	a.clock.Advance(time.Second)
	for label, tok := range map[string]string{"phone": phone, "laptop": laptop, "desk": desk} {
		if u, _, _ := a.whoami(t, tok); u != "" {
			t.Errorf("second EndUserSessions (keeping the laptop, ended by the first): the %s still opens as %q", label, u)
		}
	}
	if u, _, _ := a.whoami(t, bob); u != "bob@example.com" {
		t.Errorf("another user's session opens as %q after ann's were ended, want bob's", u)
	}

	// Listing and ending by id are impossible for client-side sessions.
	if _, err := a.m.UserSessions(ctx, "ann@example.com"); !errors.Is(err, core.ErrNotSupported) {
		t.Errorf("UserSessions = %v, want an error wrapping ErrNotSupported", err)
	}
	if _, err := a.m.EndSession(ctx, "ann@example.com", "x"); !errors.Is(err, core.ErrNotSupported) {
		t.Errorf("EndSession = %v, want an error wrapping ErrNotSupported", err)
	}
}

// TestEndUserSessionsWithoutRevocationList: without a revocation list
// nothing can end a client-side session early, and EndUserSessions says so
// rather than pretending.
func TestEndUserSessionsWithoutRevocationList(t *testing.T) {
	a := newUserApp(t, nil)
	tok := a.login(t, "ann")
	if _, err := a.m.EndUserSessions(ctx, "ann", ""); !errors.Is(err, core.ErrNotSupported) {
		t.Errorf("EndUserSessions without a revocation list = %v, want an error wrapping ErrNotSupported", err)
	}
	a.clock.Advance(time.Second)
	if u, _, _ := a.whoami(t, tok); u != "ann" {
		t.Errorf("the session opens as %q, want it untouched", u)
	}
}

// TestUserRevocationCost checks what the check costs on Open: nothing
// for a session without a user, one revocation-list Load for one with.
func TestUserRevocationCost(t *testing.T) {
	list := memory.New(memory.Config{CleanupInterval: -1})
	defer list.Close()
	a := newUserApp(t, list)
	anon := a.do(t, "", func(s *core.Session) { s.Set("cart", 1) })
	user := a.login(t, "ann")
	count := func(tok string) int64 {
		before := a.list.loads.Load()
		a.whoami(t, tok)
		return a.list.loads.Load() - before
	}
	base := count(anon)
	if got := count(user); got != base+1 {
		t.Errorf("opening a session with a user costs %d revocation-list Loads, one without %d; want exactly one more", got, base)
	}
}

// TestUserRevocationRecord checks the record RevokeUser keeps: under a
// valid store key, not naming the user, separate per cookie name, kept
// until the latest deadline it was given.
func TestUserRevocationRecord(t *testing.T) {
	list := memory.New(memory.Config{CleanupInterval: -1})
	defer list.Close()
	st, err := cookie.New(cookie.Config{Keys: [][]byte{fixedKey(1)}, Revocations: list})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	if err := st.RevokeUser(ctx, "session", "ann@example.com", "keep", at, at.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.RevokeUser(ctx, "session", "ann@example.com", "", at.Add(time.Second), at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var keys []string
	list.Iterate(ctx, func(k string) bool { keys = append(keys, k); return true })
	if len(keys) != 1 || !core.ValidKey(keys[0]) {
		t.Fatalf("revocation list keys = %q, want one valid store key", keys)
	}
	rec, _, _ := list.Load(ctx, keys[0])
	if strings.Contains(string(rec.Data), "ann") {
		t.Errorf("the record names the user: %q", rec.Data)
	}
	if want := at.Add(2 * time.Hour); rec.Expiry.Before(want.Add(-time.Second)) {
		t.Errorf("record expires %v, want the later deadline %v", rec.Expiry, want)
	}
	for _, c := range []struct {
		name, user, id string
		since          time.Time
		want           bool
	}{
		{"session", "ann@example.com", "other", at, true},
		{"session", "ann@example.com", "keep", at, true}, // the second call kept none
		{"session", "ann@example.com", "other", at.Add(2 * time.Second), false},
		{"other-cookie", "ann@example.com", "other", at, false},
		{"session", "bob@example.com", "other", at, false},
	} {
		got, err := st.UserRevoked(ctx, c.name, c.user, c.id, c.since)
		if err != nil || got != c.want {
			t.Errorf("UserRevoked(%q, %q, %q, %v) = %v, %v; want %v", c.name, c.user, c.id, c.since.Sub(at), got, err, c.want)
		}
	}
	// A record under the user's key that is not a revocation is an error
	// of the list, not a silent "not revoked".
	if err := list.Save(ctx, keys[0], []byte("junk"), at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UserRevoked(ctx, "session", "ann@example.com", "x", at); !errors.Is(err, core.ErrCorrupt) {
		t.Errorf("UserRevoked over a malformed record = %v, want an error wrapping ErrCorrupt", err)
	}
	// RevokeUser heals it.
	if err := st.RevokeUser(ctx, "session", "ann@example.com", "", at, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, err := st.UserRevoked(ctx, "session", "ann@example.com", "x", at); err != nil || !got {
		t.Errorf("UserRevoked after RevokeUser over a malformed record = %v, %v; want true", got, err)
	}
}

// TestConcurrentRevokeUser calls RevokeUser from many goroutines at once,
// each keeping another session and at another time: with a
// compare-and-swap list no call is lost, so the record revokes exactly
// what the calls together revoke.
func TestConcurrentRevokeUser(t *testing.T) {
	list := memory.New(memory.Config{CleanupInterval: -1})
	defer list.Close()
	st, err := cookie.New(cookie.Config{Keys: [][]byte{fixedKey(1)}, Revocations: slowLoads{list}})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now()
	ids := []string{"a", "b", "c", "d", ""}
	type call struct {
		at   time.Time
		keep string
	}
	var calls []call
	for i := range 64 {
		calls = append(calls, call{at: base.Add(time.Duration(i*37%64) * time.Second), keep: ids[i%len(ids)]})
	}
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Go(func() {
			if err := st.RevokeUser(ctx, "session", "ann", c.keep, c.at, c.at.Add(time.Hour)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		for s := -1; s <= 65; s++ {
			since := base.Add(time.Duration(s) * time.Second)
			want := false
			for _, c := range calls {
				if !since.After(c.at) && id != c.keep {
					want = true
				}
			}
			got, err := st.UserRevoked(ctx, "session", "ann", id, since)
			if err != nil || got != want {
				t.Fatalf("after %d concurrent RevokeUser calls: UserRevoked(%q, base%+ds) = %v, %v; want %v", len(calls), id, s, got, err, want)
			}
		}
	}
}

// slowLoads delays every Load, widening the window between RevokeUser's
// read and its write in which another call can slip in.
type slowLoads struct{ *memory.Store }

func (s slowLoads) Load(ctx ctxT, key string) (core.Record, bool, error) {
	rec, found, err := s.Store.Load(ctx, key)
	time.Sleep(time.Millisecond)
	return rec, found, err
}

// revokeAgainstLosingList runs RevokeUser with ctx's deadline d on a
// revocation list whose compare-and-swap always loses; with slowReload,
// the reload after the first lost one outlasts the deadline. It returns
// the compare-and-swap attempts RevokeUser made, and its error.
func revokeAgainstLosingList(t *testing.T, d time.Duration, slowReload bool) (int64, error) {
	t.Helper()
	list := memory.New(memory.Config{CleanupInterval: -1})
	t.Cleanup(func() { list.Close() })
	var attempts atomic.Int64
	losing := core.WrapStore(list, core.StoreWrapper{
		Around: func(ctx context.Context, call core.StoreCall, next func(context.Context) error) error {
			switch {
			case call.Op == core.OpCompareAndSwap:
				attempts.Add(1)
				return fmt.Errorf("always another writer: %w", core.ErrConflict)
			case call.Op == core.OpLoad && slowReload && attempts.Load() > 0:
				<-ctx.Done() // the reload outlasts the deadline
				return ctx.Err()
			}
			return next(ctx)
		},
	})
	st, err := cookie.New(cookie.Config{Keys: [][]byte{fixedKey(1)}, Revocations: losing})
	if err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	now := time.Now()
	err = st.RevokeUser(c, "session", "ann", "", now, now.Add(time.Hour))
	return attempts.Load(), err
}

// TestRevokeUserBackoff: RevokeUser on a list whose compare-and-swap
// always loses waits between attempts, with a growing jittered backoff,
// and gives up with ctx, the error wrapping both core.ErrConflict and
// ctx's, rather than spin through thousands of attempts.
func TestRevokeUserBackoff(t *testing.T) {
	start := time.Now()
	n, err := revokeAgainstLosingList(t, 300*time.Millisecond, false)
	elapsed := time.Since(start)
	if !errors.Is(err, core.ErrConflict) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("RevokeUser on a list that always conflicts = %v after %d attempts in %v; want an error wrapping ErrConflict and context.DeadlineExceeded", err, n, elapsed)
	}
	if n < 3 || n >= 100 {
		t.Errorf("RevokeUser made %d compare-and-swap attempts in %v, want between 3 and 99 (a backoff between attempts)", n, elapsed)
	}
}

// TestRevokeUserDeadlineDuringReload: when ctx ends during the reload that
// follows a lost compare-and-swap (not during the backoff), RevokeUser's
// error still says that conflicts kept it from its write. A run of
// TestRevokeUserBackoff in a loaded make test ended that way.
func TestRevokeUserDeadlineDuringReload(t *testing.T) {
	_, err := revokeAgainstLosingList(t, 100*time.Millisecond, true)
	if !errors.Is(err, core.ErrConflict) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("RevokeUser whose reload after a conflict outlasts its deadline = %v; want an error wrapping ErrConflict and context.DeadlineExceeded", err)
	}
}
