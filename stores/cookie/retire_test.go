package cookie_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/cookie"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// TestRetire: Retire ends every token of a session id as Revoke does, and
// Retired reports the grace window for those tokens only: never for a
// token that does not authenticate (and then without a store call), is
// sealed under another name or key, has expired, or whose id was revoked
// or is live.
func TestRetire(t *testing.T) {
	list := &loadCounter{Store: memory.New(memory.Config{CleanupInterval: -1})}
	defer list.Store.(*memory.Store).Close()
	st, err := cookie.New(cookie.Config{Keys: [][]byte{fixedKey(1)}, Revocations: list})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	exp, grace := now.Add(time.Hour), now.Add(30*time.Second)
	tok, _ := st.Seal(ctx, "session", "sid-a", []byte("data"), exp)
	earlier, _ := st.Seal(ctx, "session", "sid-a", []byte("before the last change"), exp)
	live, _ := st.Seal(ctx, "session", "sid-b", []byte("data"), exp)
	revoked, _ := st.Seal(ctx, "session", "sid-c", []byte("data"), exp)
	otherName, _ := st.Seal(ctx, "admin", "sid-a", []byte("data"), exp)
	otherKey, _ := testStore(t, fixedKey(2)).Seal(ctx, "session", "sid-a", []byte("data"), exp)
	expired, _ := st.Seal(ctx, "session", "sid-a", []byte("data"), now.Add(-time.Second))

	saves := list.saves.Load()
	if err := st.Retire(ctx, "session", "sid-a", grace, exp); err != nil {
		t.Fatal(err)
	}
	if err := st.Revoke(ctx, "session", "sid-c", exp); err != nil {
		t.Fatal(err)
	}
	if n := list.saves.Load() - saves; n != 2 {
		t.Errorf("Retire and Revoke made %d revocation-list Saves, want 2 (one each)", n)
	}
	rec, found, _ := list.Store.Load(ctx, core.StoreKey("sid-a"))
	if !found || !rec.Expiry.Equal(exp) {
		t.Errorf("retired marker: found %v, expiry %v; want true, %v (the token's deadline, not the grace window's end)", found, rec.Expiry, exp)
	}
	if strings.Contains(string(rec.Data), "sid-a") || strings.Contains(string(rec.Data), "data") {
		t.Errorf("retired marker %q holds the session id or data", rec.Data)
	}
	for _, c := range []struct{ label, tok string }{{"retired", tok}, {"an earlier token of the retired session", earlier}} {
		if _, _, _, ok, err := st.Open(ctx, "session", c.tok); ok || err != nil {
			t.Errorf("Open(%s) = %v, %v; want false, nil", c.label, ok, err)
		}
		if got, err := st.Retired(ctx, "session", c.tok); !got.Equal(grace) || err != nil {
			t.Errorf("Retired(%s) = %v, %v; want %v, nil", c.label, got, err, grace)
		}
	}
	tampered := []byte(tok)
	tampered[len(tampered)/2] ^= 1
	for _, c := range []struct{ label, name, tok string }{
		{"a live token", "session", live},
		{"a revoked token", "session", revoked},
		{"a token sealed under another name", "session", otherName},
		{"the retired token presented under another name", "admin", tok},
		{"a token of the retired id sealed with another key", "session", otherKey},
		{"an expired token of the retired id", "session", expired},
		{"a tampered retired token", "session", string(tampered)},
		{"junk", "session", "junk"},
	} {
		if got, err := st.Retired(ctx, c.name, c.tok); !got.IsZero() || err != nil {
			t.Errorf("Retired(%s) = %v, %v; want the zero time, nil", c.label, got, err)
		}
	}
	loads := list.loads.Load()
	for _, bad := range []string{string(tampered), otherKey, otherName, "junk"} {
		st.Retired(ctx, "session", bad)
	}
	if n := list.loads.Load() - loads; n != 0 {
		t.Errorf("Retired of tokens that do not authenticate made %d revocation-list Loads, want 0", n)
	}

	broken, _ := cookie.New(cookie.Config{Keys: [][]byte{fixedKey(1)}, Revocations: failStore{}})
	if err := broken.Retire(ctx, "session", "sid-b", grace, exp); !errors.Is(err, errDown) {
		t.Errorf("Retire with a failing revocation list = %v, want the store's error", err)
	}
	if _, err := broken.Retired(ctx, "session", live); !errors.Is(err, errDown) {
		t.Errorf("Retired with a failing revocation list = %v, want the store's error", err)
	}

	plain := testStore(t, fixedKey(1))
	if err := plain.Retire(ctx, "session", "sid-b", grace, exp); err != nil {
		t.Errorf("Retire without a revocation list = %v, want nil", err)
	}
	if got, err := plain.Retired(ctx, "session", live); !got.IsZero() || err != nil {
		t.Errorf("Retired without a revocation list = %v, %v; want the zero time, nil", got, err)
	}
	if _, _, _, ok, _ := plain.Open(ctx, "session", live); !ok {
		t.Error("without a revocation list, Retire made the token fail; it cannot (documented)")
	}
}

// TestLoginRace: a request that carries the pre-login cookie and is
// answered after the login gets no cookie, cannot see the logged-in
// session, and its changes are dropped with a log line; after the grace
// window the token is simply unknown. It costs one extra revocation-list
// Load only for the refused token; the login itself one Save, as before.
func TestLoginRace(t *testing.T) {
	forEachAdapter(t, func(t *testing.T, mount conformance.Mount) {
		list := memory.New(memory.Config{CleanupInterval: -1})
		defer list.Close()
		var mu sync.Mutex
		now := time.Now()
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		a := newApp(t, mount, cookie.Config{Revocations: list}, core.Config{Now: clock})
		_, _, anon := a.get("/flash", "", "")
		if anon == "" || anon == "-" {
			t.Fatal("no cookie for an anonymous session")
		}
		saves := a.list.saves.Load()
		_, _, login := a.get("/login", "session="+anon, "")
		if login == "" || login == anon {
			t.Fatal("the login (Renew) did not issue a new cookie")
		}
		if n := a.list.saves.Load() - saves; n != 1 {
			t.Errorf("the login made %d revocation-list Saves, want 1", n)
		}
		a.logs.Reset()
		loads := a.list.loads.Load()
		code, body, c := a.get("/late", "session="+anon, "")
		if code != 200 || c != "" {
			t.Errorf("request with the pre-login cookie after the login: %d, cookie %q; want 200 and no cookie (it would log the user out)", code, c)
		}
		if body != "" {
			t.Errorf("request with the pre-login cookie sees user %q, want nothing of the logged-in session", body)
		}
		if n := a.list.loads.Load() - loads; n != 2 {
			t.Errorf("a retired cookie cost %d revocation-list Loads, want 2 (Open and Retired)", n)
		}
		if !strings.Contains(a.logs.String(), "retired") || strings.Contains(a.logs.String(), anon) {
			t.Errorf("dropped changes: log %q, want a line about the retired token without the token", a.logs.String())
		}
		if _, _, c := a.get("/logout", "session="+anon, ""); c != "" {
			t.Errorf("Destroy with the pre-login cookie: cookie %q, want none", c)
		}
		loads = a.list.loads.Load()
		if _, body, _ := a.get("/keys", "session="+login, ""); body != "user:ada" {
			t.Errorf("the logged-in cookie loads %q, want user:ada (no change from the late request)", body)
		}
		if n := a.list.loads.Load() - loads; n != 1 {
			t.Errorf("a live cookie cost %d revocation-list Loads, want 1", n)
		}
		tampered := []byte(anon)
		tampered[len(tampered)/2] ^= 1
		if _, _, c := a.get("/late", "session="+string(tampered), ""); c == "" || c == "-" {
			t.Error("a tampered pre-login cookie was treated as retired; it must get a new session and cookie")
		}
		mu.Lock()
		now = now.Add(core.DefaultRenewGrace + time.Second)
		mu.Unlock()
		if _, body, c := a.get("/late", "session="+anon, ""); c == "" || c == "-" || c == anon || body != "" {
			t.Errorf("the pre-login cookie after the grace window: body %q, cookie %q; want a new session with a new cookie", body, c)
		}
	})
}

// TestLoginRaceWithoutRevocationList pins the documented limit: without a
// revocation list the pre-login token still opens the pre-login session,
// so a request that changes it answers with a cookie of its own.
func TestLoginRaceWithoutRevocationList(t *testing.T) {
	forEachAdapter(t, func(t *testing.T, mount conformance.Mount) {
		a := newApp(t, mount, cookie.Config{}, core.Config{})
		_, _, anon := a.get("/flash", "", "")
		a.get("/login", "session="+anon, "")
		if _, body, c := a.get("/late", "session="+anon, ""); c == "" || body != "" {
			t.Errorf("without a revocation list the pre-login cookie answers %q with cookie %q; the documented behaviour is the pre-login session and a new cookie", body, c)
		}
	})
}

// TestLoginRaceUnderPressure: many users log in, and many requests that
// still carry their pre-login cookies arrive concurrently afterwards; not
// one of them gets a cookie, and every user stays logged in.
func TestLoginRaceUnderPressure(t *testing.T) {
	users, late := 16, 32
	if testing.Short() {
		users, late = 4, 8
	}
	forEachAdapter(t, func(t *testing.T, mount conformance.Mount) {
		list := memory.New(memory.Config{CleanupInterval: -1})
		defer list.Close()
		a := newApp(t, mount, cookie.Config{Revocations: list}, core.Config{})
		anon, login := make([]string, users), make([]string, users)
		for u := range users {
			_, _, anon[u] = a.get("/flash", "", "")
			_, _, login[u] = a.get("/login", "session="+anon[u], "")
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var cookies int
		for u := range users {
			for range late {
				wg.Go(func() {
					if code, _, c := a.get("/late", "session="+anon[u], ""); code != 200 || c != "" {
						mu.Lock()
						cookies++
						mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		if cookies != 0 {
			t.Errorf("%d of %d requests with a pre-login cookie got a cookie (or failed), want none", cookies, users*late)
		}
		for u := range users {
			if _, body, _ := a.get("/keys", "session="+login[u], ""); body != "user:ada" {
				t.Errorf("user %d after the late requests: %q, want user:ada", u, body)
			}
		}
	})
}
