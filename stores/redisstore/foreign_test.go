package redisstore_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/testserver"
	"github.com/sessionkit/sessionkit/stores/redisstore"
)

// plantForeign replaces what is under key with a value of kind kind (a
// hash, a list, a set or a sorted set), as another application sharing
// the prefix would write.
func plantForeign(t *testing.T, client goredis.UniversalClient, key, kind string) {
	t.Helper()
	ctx := context.Background()
	client.Del(ctx, key)
	var err error
	switch kind {
	case "hash":
		err = client.HSet(ctx, key, "field", "value").Err()
	case "list":
		err = client.RPush(ctx, key, "a", "b").Err()
	case "set":
		err = client.SAdd(ctx, key, "a").Err()
	case "zset":
		err = client.ZAdd(ctx, key, goredis.Z{Score: 1, Member: "a"}).Err()
	}
	if err != nil {
		t.Fatalf("planting a %s: %v", kind, err)
	}
	t.Cleanup(func() { client.Del(context.Background(), key) })
}

var foreignKinds = []string{"hash", "list", "set", "zset"}

// TestForeignTypeIsCorrupt: a value of another kind than a string under a
// record's key is a record the store cannot read (ErrCorrupt), as a string
// too short for one is (TestForeignValueIsCorrupt), and Delete removes it;
// before, Load and Delete failed with Redis's WRONGTYPE, and the request
// presenting that cookie answered through the error handler, every time.
func TestForeignTypeIsCorrupt(t *testing.T) {
	ctx := context.Background()
	client := newClient(t, testserver.Redis(t))
	prefix := uniquePrefix()
	s, _ := redisstore.New(client, redisstore.Config{KeyPrefix: prefix})
	for _, kind := range foreignKinds {
		t.Run(kind, func(t *testing.T) {
			key := newKey()
			plantForeign(t, client, prefix+key, kind)
			if _, found, err := s.Load(ctx, key); !errors.Is(err, core.ErrCorrupt) || found {
				t.Errorf("Load of a %s = found %v, error %v; want ErrCorrupt", kind, found, err)
			}
			if err := s.Delete(ctx, key); err != nil {
				t.Errorf("Delete of a %s: %v", kind, err)
			}
			if n, err := client.Exists(ctx, prefix+key).Result(); err != nil || n != 0 {
				t.Errorf("EXISTS after Delete = %d, %v; want 0", n, err)
			}
		})
	}
}

// TestForeignTypeRequestIsNewSession presents, through the net/http
// middleware, the cookie of a session whose key now holds a hash: the
// request gets a new session (200, a new cookie) and the hash is deleted.
func TestForeignTypeRequestIsNewSession(t *testing.T) {
	client := newClient(t, testserver.Redis(t))
	prefix := uniquePrefix()
	s, _ := redisstore.New(client, redisstore.Config{KeyPrefix: prefix})
	m, err := core.New(core.Config{Store: s, IdleTimeout: time.Minute, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	h := nethttp.Middleware(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := nethttp.Get(r)
		n, _ := core.Value[int](sess, "n")
		sess.Set("n", n+1)
	}))
	do := func(cookie string) *http.Response {
		req := httptest.NewRequest("GET", "/", nil)
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: core.DefaultCookieName, Value: cookie})
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Result()
	}
	first := do("")
	if len(first.Cookies()) != 1 {
		t.Fatalf("the first request set %d cookies, want 1", len(first.Cookies()))
	}
	tok := first.Cookies()[0].Value
	key := prefix + core.StoreKey(tok)
	plantForeign(t, client, key, "hash")
	resp := do(tok)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a request whose session key holds a hash: status %d, want 200", resp.StatusCode)
	}
	if c := resp.Cookies(); len(c) != 1 || c[0].Value == tok || c[0].Value == "" {
		t.Errorf("a request whose session key holds a hash set cookies %v, want one new session's", c)
	}
	if n, err := client.Exists(context.Background(), key).Result(); err != nil || n != 0 {
		t.Errorf("EXISTS of the hash after the request = %d, %v; want 0 (deleted as corrupt)", n, err)
	}
}

// TestForeignTypeInUserSet: a member of a user's set whose key now holds
// another kind of value is not listed, and the user's other sessions still
// are, on each deployment (the one-script listing and the Cluster's
// pipelined one); before, GETRANGE's WRONGTYPE failed UserKeys, and with
// it every listing and ending of the user's sessions.
func TestForeignTypeInUserSet(t *testing.T) {
	for _, m := range userModes(t) {
		t.Run(m.name, func(t *testing.T) {
			ctx := context.Background()
			s, prefix := m.store(t)
			exp, until := time.Now().Add(time.Minute), time.Now().Add(time.Hour)
			keys := make([]string, 1+len(foreignKinds))
			for i := range keys {
				keys[i] = newKey()
				if _, err := s.CompareAndSwapUser(ctx, keys[i], 0, []byte("data"), exp, "alice", until); err != nil {
					t.Fatal(err)
				}
			}
			for i, kind := range foreignKinds {
				plantForeign(t, m.client, prefix+keys[1+i], kind)
			}
			checkKeys(t, s, "alice", keys[0])
			// Pruned, or still skipped: a second reading agrees.
			checkKeys(t, s, "alice", keys[0])
		})
	}
}
