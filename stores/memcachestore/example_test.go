package memcachestore_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/testserver"
	"github.com/sessionkit/sessionkit/stores/memcachestore"
)

// The examples run against the server in SESSIONKIT_MEMCACHE_ADDR, or a
// throw-away redis-server the tests start.
func TestMain(m *testing.M) {
	os.Exit(testserver.RunWithServer(m, testserver.MemcachedEnv, testserver.Memcached))
}

// Example wires the memcache store into an application: a gomemcache
// client (one server or many: sessions spread over them by key), the store,
// a Manager, the net/http middleware.
func Example() {
	client := memcache.New(strings.Split(os.Getenv("SESSIONKIT_MEMCACHE_ADDR"), ",")...) // e.g. "10.0.0.1:11211", "10.0.0.2:11211"
	client.Timeout = 300 * time.Millisecond                                              // a dead server fails requests after this
	defer client.Close()
	store, err := memcachestore.New(client, memcachestore.Config{KeyPrefix: "myapp:session:"})
	if err != nil {
		log.Fatal(err)
	}
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
	browser := &http.Client{Jar: jar}
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

// ExampleStore_UserKeys shows the user lists the Manager's UserSessions
// and EndUserSessions use (best effort: see the package documentation):
// CompareAndSwapUser files a record under a user (the core calls it at
// login, after Session.SetUser), UserKeys lists the user's live records.
func ExampleStore_UserKeys() {
	client := memcache.New(strings.Split(os.Getenv("SESSIONKIT_MEMCACHE_ADDR"), ",")...)
	defer client.Close()
	store, err := memcachestore.New(client, memcachestore.Config{KeyPrefix: "example-users:"})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	key := strings.Repeat("ab", 32) // the core's keys are hex SHA-256 of a token
	expiry := time.Now().Add(time.Hour)
	if _, err := store.CompareAndSwapUser(ctx, key, 0, []byte("session data"), expiry, "ann@example.com", expiry); err != nil {
		log.Fatal(err)
	}
	defer store.Delete(ctx, key)
	keys, err := store.UserKeys(ctx, "ann@example.com")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(keys), keys[0] == key)
	// Output:
	// 1 true
}
