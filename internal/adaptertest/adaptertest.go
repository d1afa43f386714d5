// Package adaptertest holds the helpers the framework adapters' own tests
// share: a store that fails on demand, a Manager on it, and an HTTP client
// that reports redirects instead of following them.
package adaptertest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// ErrStore is the error FlakyStore fails with.
var ErrStore = errors.New("store down")

// FlakyStore fails Load or Save on demand and counts calls. It hides the
// optional capabilities of the wrapped store, so commits use Save.
type FlakyStore struct {
	core.Store
	FailLoad, FailSave atomic.Bool
	Loads, Saves       atomic.Int64
}

// Load implements core.Store.
func (f *FlakyStore) Load(ctx context.Context, key string) (core.Record, bool, error) {
	f.Loads.Add(1)
	if f.FailLoad.Load() {
		return core.Record{}, false, ErrStore
	}
	return f.Store.Load(ctx, key)
}

// Save implements core.Store.
func (f *FlakyStore) Save(ctx context.Context, key string, data []byte, exp time.Time) error {
	f.Saves.Add(1)
	if f.FailSave.Load() {
		return ErrStore
	}
	return f.Store.Save(ctx, key, data, exp)
}

// NewManager returns a Manager with the default configuration (and a
// silent logger) on a FlakyStore over a fresh memory store.
func NewManager(t testing.TB) (*core.Manager, *FlakyStore) {
	t.Helper()
	mem := memory.New(memory.Config{CleanupInterval: -1})
	t.Cleanup(func() { _ = mem.Close() })
	st := &FlakyStore{Store: mem}
	m, err := core.New(core.Config{Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return m, st
}

// noRedirect is a client that returns redirects instead of following them.
var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       time.Minute, // a hung handler fails the test instead of hanging it
}

// Do sends method url with the raw Cookie header cookie (none if "") and
// returns the response, whose body is read and closed, and the body.
func Do(t testing.TB, method, url, cookie string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return res, string(body)
}

// SessionCookie returns "session=<value>" from res, or "".
func SessionCookie(res *http.Response) string {
	for _, c := range res.Cookies() {
		if c.Name == core.DefaultCookieName && c.Value != "" {
			return c.Name + "=" + c.Value
		}
	}
	return ""
}

// CheckRenewAndDestroy drives a server whose GET /count increments and
// prints a counter in the session, POST /login renews the session and POST
// /logout destroys it: login issues a new cookie, the old one no longer
// reaches the session, and logout expires the cookie and ends the session.
func CheckRenewAndDestroy(t *testing.T, baseURL string) {
	t.Helper()
	res, _ := Do(t, "GET", baseURL+"/count", "")
	first := SessionCookie(res)
	res, _ = Do(t, "POST", baseURL+"/login", first)
	second := SessionCookie(res)
	if second == "" || second == first {
		t.Fatalf("login cookie = %q, want a new one (old %q)", second, first)
	}
	if _, body := Do(t, "GET", baseURL+"/count", first); body != "1" {
		t.Errorf("old cookie after login counts %q, want a fresh session (1)", body)
	}
	if _, body := Do(t, "GET", baseURL+"/count", second); body != "2" {
		t.Errorf("new cookie after login counts %q, want 2", body)
	}
	res, _ = Do(t, "POST", baseURL+"/logout", second)
	var expired bool
	for _, c := range res.Cookies() {
		expired = expired || (c.Name == core.DefaultCookieName && c.MaxAge < 0)
	}
	if !expired {
		t.Errorf("logout Set-Cookie = %q, want an expired session cookie", res.Header.Values("Set-Cookie"))
	}
	if _, body := Do(t, "GET", baseURL+"/count", second); body != "1" {
		t.Errorf("cookie after logout counts %q, want 1", body)
	}
}
