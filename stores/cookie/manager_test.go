package cookie_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/cookie"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// loadCounter wraps the revocation list to count its Loads and Saves.
type loadCounter struct {
	core.Store
	loads, saves atomic.Int64
}

func (l *loadCounter) Load(ctx context.Context, key string) (core.Record, bool, error) {
	l.loads.Add(1)
	return l.Store.Load(ctx, key)
}

func (l *loadCounter) Save(ctx context.Context, key string, data []byte, exp time.Time) error {
	l.saves.Add(1)
	return l.Store.Save(ctx, key, data, exp)
}

// app is a Manager with a cookie store behind the net/http adapter.
type app struct {
	h    http.Handler
	list *loadCounter
	logs bytes.Buffer
}

// newApp serves /login (Renew, user=ada), /logout (Destroy), /big (a
// value too large for a cookie) and / (prints the user).
func newApp(t *testing.T, mount conformance.Mount, cfg cookie.Config, mcfg core.Config) *app {
	t.Helper()
	a := &app{}
	if cfg.Keys == nil {
		cfg.Keys = [][]byte{fixedKey(1)}
	}
	if cfg.Revocations != nil {
		a.list = &loadCounter{Store: cfg.Revocations}
		cfg.Revocations = a.list
	}
	st, err := cookie.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mcfg.ClientStore = st
	mcfg.Logger = slog.New(slog.NewTextHandler(&a.logs, nil))
	m, err := core.New(mcfg)
	if err != nil {
		t.Fatal(err)
	}
	a.h = mount(m, func(w http.ResponseWriter, r *http.Request, s *core.Session) {
		switch r.URL.Path {
		case "/login":
			s.Renew()
			s.Set("user", "ada")
		case "/logout":
			s.Destroy()
		case "/big":
			s.Set("big", strings.Repeat("x", 5000))
		case "/flash":
			s.AddFlash("hello") // a change: a new token for the same session
		case "/late":
			s.Set("late", true) // a change, as a request racing the login makes
		case "/keys":
			io.WriteString(w, strings.Join(s.Keys(), ",")+":")
		}
		user, _ := core.Value[string](s, "user")
		io.WriteString(w, user)
	})
	return a
}

// get sends path with the raw Cookie header (none if "") from addr and
// returns the status, the body and the session cookie's value ("" if none
// was set, "-" if it was expired).
func (a *app) get(path, cookieHeader, addr string) (int, string, string) {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if addr != "" {
		r.RemoteAddr = addr
	}
	if cookieHeader != "" {
		r.Header.Set("Cookie", cookieHeader)
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	res := w.Result()
	val := ""
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 {
			val = "-"
		} else {
			val = c.Value
		}
	}
	return res.StatusCode, w.Body.String(), val
}

func (a *app) login(t *testing.T) string {
	t.Helper()
	code, body, tok := a.get("/login", "", "")
	if code != 200 || body != "ada" || tok == "" || tok == "-" {
		t.Fatalf("GET /login = %d %q, cookie %q; want 200 ada and a cookie", code, body, tok)
	}
	return tok
}

func TestLogoutWithoutRevocationList(t *testing.T) {
	forEachAdapter(t, func(t *testing.T, mount conformance.Mount) {
		a := newApp(t, mount, cookie.Config{}, core.Config{})
		tok := a.login(t)
		if _, _, c := a.get("/logout", "session="+tok, ""); c != "-" {
			t.Fatalf("logout cookie %q, want it expired", c)
		}
		// Documented limitation: a copy of the cookie stays valid until its deadline.
		if _, body, _ := a.get("/", "session="+tok, ""); body != "ada" {
			t.Errorf("without a revocation list a copied cookie loads %q after logout; the documented behaviour is that it still loads", body)
		}
	})
}

func TestLogoutAndRenewWithRevocationList(t *testing.T) {
	forEachAdapter(t, func(t *testing.T, mount conformance.Mount) {
		list := memory.New(memory.Config{CleanupInterval: -1})
		defer list.Close()
		a := newApp(t, mount, cookie.Config{Revocations: list}, core.Config{})
		pre := a.login(t)
		_, _, post := a.get("/login", "session="+pre, "")
		if post == "" || post == pre {
			t.Fatal("a second login (Renew) did not issue a new cookie")
		}
		if _, body, _ := a.get("/", "session="+pre, ""); body != "" {
			t.Errorf("the cookie from before Renew loads %q, want nothing (revoked)", body)
		}
		if _, body, _ := a.get("/", "session="+post, ""); body != "ada" {
			t.Fatalf("the current cookie loads %q, want ada", body)
		}
		_, _, changed := a.get("/flash", "session="+post, "")
		if changed == "" || changed == post {
			t.Fatal("a change did not issue a new cookie")
		}
		a.get("/logout", "session="+changed, "")
		for _, c := range []struct{ label, tok string }{{"the cookie presented at logout", changed}, {"an earlier cookie of the same login", post}} {
			if _, body, _ := a.get("/", "session="+c.tok, ""); body != "" {
				t.Errorf("%s, replayed after logout, loads %q; want nothing (revoked)", c.label, body)
			}
		}
		if strings.Contains(a.logs.String(), post) {
			t.Error("the log contains a token")
		}
	})
}

func TestMalformedCookiesCostNoRevocationLookup(t *testing.T) {
	forEachAdapter(t, func(t *testing.T, mount conformance.Mount) {
		list := memory.New(memory.Config{CleanupInterval: -1})
		defer list.Close()
		a := newApp(t, mount, cookie.Config{Revocations: list}, core.Config{})
		tok := a.login(t)
		many := strings.Repeat("session=junk; ", 200)
		for _, c := range []string{
			"session=" + tok[:len(tok)-4],
			"session=" + tok + "A",
			"session=" + strings.Repeat("A", 64<<10),
			"session=" + tok[:30] + "\x00" + tok[31:],
			"session=../../etc/passwd",
			"session=%2e%2e%2f" + tok,
			"session=" + strings.Repeat("ü", 100),
			many,
		} {
			before := a.list.loads.Load()
			code, body, _ := a.get("/", c, "")
			if code != 200 || body != "" {
				t.Errorf("malformed cookie (%d bytes): %d %q, want 200 and a new session", len(c), code, body)
			}
			if n := a.list.loads.Load() - before; n != 0 {
				t.Errorf("malformed cookie (%d bytes) cost %d revocation lookups, want 0", len(c), n)
			}
		}
		if _, body, _ := a.get("/", many+"session="+tok, ""); body != "ada" {
			t.Errorf("the real cookie after 200 junk ones loads %q, want ada", body)
		}
	})
}

func TestOtherKeyOrCookieNameRejected(t *testing.T) {
	forEachAdapter(t, func(t *testing.T, mount conformance.Mount) {
		a := newApp(t, mount, cookie.Config{}, core.Config{})
		tok := a.login(t)
		otherKey := newApp(t, mount, cookie.Config{Keys: [][]byte{fixedKey(2)}}, core.Config{})
		if _, body, _ := otherKey.get("/", "session="+tok, ""); body != "" {
			t.Errorf("a cookie sealed with another key loads %q", body)
		}
		otherName := newApp(t, mount, cookie.Config{}, core.Config{Cookie: http.Cookie{Name: "admin"}})
		if _, body, _ := otherName.get("/", "admin="+tok, ""); body != "" {
			t.Errorf("a value sealed for cookie session loads %q under cookie admin", body)
		}
		header := newApp(t, mount, cookie.Config{}, core.Config{Header: "X-Session"})
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("X-Session", tok)
		w := httptest.NewRecorder()
		header.h.ServeHTTP(w, r)
		if w.Body.String() != "" {
			t.Errorf("a cookie value loads %q through the X-Session header", w.Body.String())
		}
	})
}

func TestTooLargeIsAnError(t *testing.T) {
	forEachAdapter(t, func(t *testing.T, mount conformance.Mount) {
		a := newApp(t, mount, cookie.Config{}, core.Config{})
		code, body, c := a.get("/big", "", "")
		if code != http.StatusInternalServerError || c != "" {
			t.Errorf("GET /big (5 kB session) = %d %q, cookie %d bytes; want 500 and no cookie", code, body, len(c))
		}
		if !strings.Contains(a.logs.String(), "record too large") {
			t.Errorf("no ErrTooLarge in the log: %q", a.logs.String())
		}
	})
}

func TestClientIPBindingClientSide(t *testing.T) {
	forEachAdapter(t, func(t *testing.T, mount conformance.Mount) {
		a := newApp(t, mount, cookie.Config{}, core.Config{BindClientIP: true})
		_, _, tok := a.get("/login", "", "198.51.100.1:1")
		if _, body, _ := a.get("/", "session="+tok, "198.51.100.1:2"); body != "ada" {
			t.Errorf("from the same address: %q, want ada", body)
		}
		if _, body, _ := a.get("/", "session="+tok, "203.0.113.9:1"); body != "" {
			t.Errorf("replayed from another address: %q, want nothing", body)
		}
	})
}

func TestExpiryInsideToken(t *testing.T) {
	forEachAdapter(t, func(t *testing.T, mount conformance.Mount) {
		now := time.Now()
		clock := func() time.Time { return now }
		a := newApp(t, mount, cookie.Config{Now: clock}, core.Config{Lifetime: time.Hour, Now: clock})
		tok := a.login(t)
		now = now.Add(59 * time.Minute)
		if _, body, _ := a.get("/", "session="+tok, ""); body != "ada" {
			t.Fatalf("before the deadline: %q, want ada", body)
		}
		now = now.Add(2 * time.Minute)
		if _, body, _ := a.get("/", "session="+tok, ""); body != "" {
			t.Errorf("after the deadline: %q, want nothing", body)
		}
	})
}
