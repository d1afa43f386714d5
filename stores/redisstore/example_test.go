package redisstore_test

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

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/testserver"
	"github.com/sessionkit/sessionkit/stores/redisstore"
)

// The examples run against the server in SESSIONKIT_REDIS_ADDR, or a
// throw-away redis-server the tests start.
func TestMain(m *testing.M) {
	os.Exit(testserver.RunWithServer(m, testserver.RedisEnv, testserver.Redis))
}

// Example wires the Redis store into an application: a go-redis client,
// the store, a Manager, the net/http middleware.
func Example() {
	client := goredis.NewClient(&goredis.Options{
		Addr:        os.Getenv("SESSIONKIT_REDIS_ADDR"), // e.g. "127.0.0.1:6379"
		DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second,
		ContextTimeoutEnabled: true, // request deadlines cut Redis calls short
	})
	defer client.Close()
	store, err := redisstore.New(client, redisstore.Config{KeyPrefix: "myapp:session:"})
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

// Example_cluster uses Redis Cluster: the same store takes any
// goredis.UniversalClient; records spread over the masters by key, and
// Iterate scans every master.
func Example_cluster() {
	client := goredis.NewClusterClient(&goredis.ClusterOptions{
		Addrs:                 []string{"10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"},
		ContextTimeoutEnabled: true,
	})
	defer client.Close()
	store, err := redisstore.New(client, redisstore.Config{KeyPrefix: "myapp:session:"})
	if err != nil {
		log.Fatal(err)
	}
	m, err := core.New(core.Config{Store: store})
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("/", nethttp.Middleware(m)(http.NotFoundHandler()))
}

// ExampleStore_UserKeys shows the user index the Manager's UserSessions
// and EndUserSessions use: CompareAndSwapUser files a record under a user
// (the core calls it at login, after Session.SetUser), UserKeys lists the
// user's live records.
func ExampleStore_UserKeys() {
	client := goredis.NewClient(&goredis.Options{Addr: os.Getenv("SESSIONKIT_REDIS_ADDR"), ContextTimeoutEnabled: true})
	defer client.Close()
	store, err := redisstore.New(client, redisstore.Config{KeyPrefix: "example-users:"})
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
