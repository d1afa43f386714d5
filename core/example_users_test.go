package core_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// A user logs in on a laptop and a phone, lists their sessions from the
// laptop and logs out everywhere else.
func ExampleManager_EndUserSessions() {
	store := memory.New(memory.Config{}) // keeps a user index (core.UserIndexer)
	defer store.Close()
	m, err := core.New(core.Config{Store: store, RecordClientInfo: true})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := nethttp.Get(r)
		s.Renew() // a new token at every change of privilege
		s.SetUser(r.FormValue("user"))
	})
	mux.HandleFunc("GET /sessions", func(w http.ResponseWriter, r *http.Request) {
		s := nethttp.Get(r)
		list, err := m.UserSessions(r.Context(), s.User())
		if err != nil {
			http.Error(w, "cannot list sessions", http.StatusInternalServerError)
			return
		}
		for _, si := range list {
			fmt.Fprintf(w, "%s (this device: %t)\n", si.UserAgent, si.ID == s.ID())
		}
	})
	mux.HandleFunc("POST /logout-others", func(w http.ResponseWriter, r *http.Request) {
		s := nethttp.Get(r)
		n, err := m.EndUserSessions(r.Context(), s.User(), s.ID())
		if err != nil {
			http.Error(w, "cannot end sessions", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "ended %d\n", n)
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "user %q\n", nethttp.Get(r).User())
	})
	h := nethttp.Middleware(m)(mux)

	do := func(method, path, agent, cookie string) (body, setCookie string) {
		var form io.Reader
		if method == http.MethodPost {
			form = strings.NewReader(url.Values{"user": {"ann"}}.Encode())
		}
		req := httptest.NewRequest(method, path, form)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("User-Agent", agent)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		for _, c := range rec.Result().Cookies() {
			setCookie = c.Name + "=" + c.Value
		}
		return rec.Body.String(), setCookie
	}
	_, laptop := do(http.MethodPost, "/login", "Firefox on Linux", "")
	_, phone := do(http.MethodPost, "/login", "Safari on iPhone", "")

	out, _ := do(http.MethodGet, "/sessions", "Firefox on Linux", laptop)
	fmt.Print(out)
	out, _ = do(http.MethodPost, "/logout-others", "Firefox on Linux", laptop)
	fmt.Print(out)
	out, _ = do(http.MethodGet, "/sessions", "Firefox on Linux", laptop)
	fmt.Print(out)
	out, _ = do(http.MethodGet, "/whoami", "Safari on iPhone", phone)
	fmt.Print(out)
	// Output:
	// Safari on iPhone (this device: false)
	// Firefox on Linux (this device: true)
	// ended 1
	// Firefox on Linux (this device: true)
	// user ""
}
