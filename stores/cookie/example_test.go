package cookie_test

import (
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/cookie"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// Example keeps sessions in an encrypted cookie, with a revocation list so
// that logout also ends copies of the cookie.
func Example() {
	key := make([]byte, cookie.KeySize)
	if _, err := rand.Read(key); err != nil { // in production: load from a secret store
		log.Fatal(err)
	}
	revoked := memory.New(memory.Config{})
	defer revoked.Close()
	st, err := cookie.New(cookie.Config{Keys: [][]byte{key}, Revocations: revoked})
	if err != nil {
		log.Fatal(err)
	}
	m, err := core.New(core.Config{ClientStore: st, Lifetime: time.Hour, IdleTimeout: 20 * time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	h := nethttp.Middleware(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := nethttp.Get(r)
		switch r.URL.Path {
		case "/login":
			s.Renew()
			s.Set("user", "ada")
		case "/logout":
			s.Destroy()
		}
		user, _ := core.Value[string](s, "user")
		fmt.Fprintf(w, "user=%q", user)
	}))

	get := func(path string, c *http.Cookie) *http.Response {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		if c != nil {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Result()
	}
	body := func(res *http.Response) string { b, _ := io.ReadAll(res.Body); return string(b) }

	login := get("/login", nil)
	c := login.Cookies()[0]
	fmt.Println(body(login), c.Name, c.HttpOnly)
	fmt.Println(body(get("/", c)))
	get("/logout", c)
	fmt.Println(body(get("/", c))) // the copied cookie was revoked
	// Output:
	// user="ada" session true
	// user="ada"
	// user=""
}

// ExampleClientStore_RevokeUser logs a user in on two devices and ends
// every session but the current one ("log out everywhere else") through
// Manager.EndUserSessions, which needs the revocation list.
func ExampleClientStore_RevokeUser() {
	key := make([]byte, cookie.KeySize)
	if _, err := rand.Read(key); err != nil {
		log.Fatal(err)
	}
	revoked := memory.New(memory.Config{})
	defer revoked.Close()
	st, err := cookie.New(cookie.Config{Keys: [][]byte{key}, Revocations: revoked})
	if err != nil {
		log.Fatal(err)
	}
	m, err := core.New(core.Config{ClientStore: st, Lifetime: time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	h := nethttp.Middleware(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := nethttp.Get(r)
		switch r.URL.Path {
		case "/login":
			s.Renew()
			s.SetUser("ada")
		case "/logout-others":
			if _, err := m.EndUserSessions(r.Context(), s.User(), s.ID()); err != nil {
				http.Error(w, "cannot end sessions", http.StatusInternalServerError)
				return
			}
		}
		fmt.Fprintf(w, "user=%q", s.User())
	}))
	get := func(path string, c *http.Cookie) (string, *http.Cookie) {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		if c != nil {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		b, _ := io.ReadAll(w.Result().Body)
		if cs := w.Result().Cookies(); len(cs) > 0 {
			c = cs[0]
		}
		return string(b), c
	}

	_, phone := get("/login", nil)
	_, laptop := get("/login", nil)
	body, phone := get("/logout-others", phone)
	fmt.Println(body)
	body, _ = get("/", phone)
	fmt.Println(body)
	body, _ = get("/", laptop) // a new, empty session
	fmt.Println(body)
	// Output:
	// user="ada"
	// user="ada"
	// user=""
}
