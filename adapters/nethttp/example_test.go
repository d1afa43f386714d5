package nethttp_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

func ExampleMiddleware() {
	store := memory.New(memory.Config{})
	defer store.Close()
	m, err := core.New(core.Config{Store: store})
	if err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/visit", func(w http.ResponseWriter, r *http.Request) {
		s := nethttp.Get(r)
		n, _ := core.Value[int](s, "visits")
		s.Set("visits", n+1)
		fmt.Fprintf(w, "visit %d", n+1)
	})
	srv := httptest.NewServer(nethttp.Middleware(m)(mux))
	defer srv.Close()

	var cookie *http.Cookie
	for range 3 {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/visit", nil)
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
		fmt.Println(resp.Status, string(body), "| Vary:", resp.Header.Get("Vary"), "| HttpOnly:", cookie.HttpOnly)
	}
	// Output:
	// 200 OK visit 1 | Vary: Cookie | HttpOnly: true
	// 200 OK visit 2 | Vary: Cookie | HttpOnly: true
	// 200 OK visit 3 | Vary: Cookie | HttpOnly: true
}
