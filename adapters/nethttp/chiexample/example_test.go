// Package chiexample_test shows sessionkit with the chi router. chi
// handlers are net/http handlers, so the net/http adapter serves them; this
// test-only module keeps chi out of sessionkit's own requirements.
package chiexample_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/go-chi/chi/v5"

	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

func Example() {
	store := memory.New(memory.Config{})
	defer store.Close()
	m, err := core.New(core.Config{Store: store})
	if err != nil {
		panic(err)
	}

	r := chi.NewRouter()
	r.Use(nethttp.Middleware(m))
	r.Get("/hello/{name}", func(w http.ResponseWriter, r *http.Request) {
		s := nethttp.Get(r)
		n, _ := core.Value[int](s, "visits")
		s.Set("visits", n+1) // no Save: committed before the header leaves
		fmt.Fprintf(w, "hello %s, visit %d", chi.URLParam(r, "name"), n+1)
	})
	srv := httptest.NewServer(r)
	defer srv.Close()

	var cookie *http.Cookie
	for _, name := range []string{"ann", "bob", "cy"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/hello/"+name, nil)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		for _, c := range resp.Cookies() {
			cookie = c
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.Status, string(body), "| Vary:", resp.Header.Get("Vary"))
	}
	// Output:
	// 200 OK hello ann, visit 1 | Vary: Cookie
	// 200 OK hello bob, visit 2 | Vary: Cookie
	// 200 OK hello cy, visit 3 | Vary: Cookie
}
