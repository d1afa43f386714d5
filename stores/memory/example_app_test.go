package memory_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"time"

	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// Example_application wires the memory store into an application: the
// store, a Manager, the net/http middleware. Sessions live as long as the
// process; Close stops the expiry sweeper.
func Example_application() {
	store := memory.New(memory.Config{CleanupInterval: 5 * time.Minute})
	defer store.Close()
	m, err := core.New(core.Config{Store: store, IdleTimeout: 30 * time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	app := nethttp.Middleware(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := nethttp.Get(r)
		n, _ := core.Value[int](s, "visits")
		s.Set("visits", n+1)
		fmt.Fprintf(w, "visit %d", n+1)
	}))

	srv := httptest.NewServer(app)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: time.Minute}
	for range 2 {
		resp, err := browser.Get(srv.URL)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(body))
	}
	// Output:
	// visit 1
	// visit 2
}
