package core_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

func ExampleNew() {
	store := memory.New(memory.Config{})
	defer store.Close()
	m, err := core.New(core.Config{
		Store:       store,
		Cookie:      http.Cookie{Name: "sid"},
		IdleTimeout: 30 * time.Minute,
	})
	if err != nil {
		panic(err)
	}
	h := nethttp.Middleware(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := nethttp.Get(r)
		n, _ := core.Value[int](s, "visits")
		s.Set("visits", n+1)
		fmt.Fprintf(w, "visit %d", n+1)
	}))

	cookie := ""
	for range 3 {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if c := rec.Result().Cookies(); cookie == "" && len(c) == 1 {
			// The first response sets the cookie; later ones refresh its
			// Max-Age when the idle deadline moved by a second or more.
			cookie = c[0].Name + "=" + c[0].Value
			fmt.Printf("%s (cookie %s, HttpOnly %v, SameSite Lax %v)\n", rec.Body, c[0].Name, c[0].HttpOnly, c[0].SameSite == http.SameSiteLaxMode)
		} else {
			fmt.Println(rec.Body)
		}
	}
	// Output:
	// visit 1 (cookie sid, HttpOnly true, SameSite Lax true)
	// visit 2
	// visit 3
}

func ExampleValue() {
	store := memory.New(memory.Config{})
	defer store.Close()
	m, _ := core.New(core.Config{Store: store})
	s := m.Begin(httptest.NewRequest(http.MethodGet, "/", nil))
	defer m.Release(s)

	s.Set("cart", []string{"apple", "pear"})
	cart, ok := core.Value[[]string](s, "cart")
	fmt.Println(cart, ok)
	_, ok = core.Value[int](s, "cart") // wrong type
	fmt.Println(ok)
	// Output:
	// [apple pear] true
	// false
}

func ExampleSession_AddFlash() {
	store := memory.New(memory.Config{})
	defer store.Close()
	m, _ := core.New(core.Config{Store: store})
	s := m.Begin(httptest.NewRequest(http.MethodGet, "/", nil))
	defer m.Release(s)

	s.AddFlash("Saved.")
	s.AddFlash("Welcome back!")
	fmt.Println(s.Flashes())
	fmt.Println(s.Flashes())
	// Output:
	// [Saved. Welcome back!]
	// []
}

// ExampleBeginRequestWith is the core of an adapter: the middleware keeps
// its response writer wrapper (here nethttp.Writer, the hook that commits
// the session before the header leaves) in the same allocation as the
// session and the request copy, then commits and releases the session.
func ExampleBeginRequestWith() {
	store := memory.New(memory.Config{})
	defer store.Close()
	m, _ := core.New(core.Config{Store: store})
	middleware := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, sr, sw := core.BeginRequestWith[nethttp.Writer](m, r)
			defer m.Release(s)
			sw.Init(m, s, w, r, nil) // nil: failures go to Config.ErrorHandler
			next.ServeHTTP(sw, sr)
			sw.Finish()
		})
	}
	h := middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := core.FromContext(r.Context())
		s.Set("visits", 1)
		fmt.Fprintln(w, "hello")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	fmt.Println(rec.Code, len(rec.Result().Cookies()), rec.Header().Get("Vary"))
	// Output:
	// 200 1 Cookie
}
