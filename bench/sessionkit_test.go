package bench

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/gin-gonic/gin"
	"github.com/labstack/echo/v4"
	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/adapters/echosession"
	"github.com/sessionkit/sessionkit/adapters/ginsession"
	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memcachestore"
	"github.com/sessionkit/sessionkit/stores/memory"
	"github.com/sessionkit/sessionkit/stores/redisstore"
)

// skManager returns a Manager with the default configuration on store.
func skManager(tb testing.TB, cfg core.Config) *core.Manager {
	tb.Helper()
	m, err := core.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// skMemory returns a Manager on a fresh memory store.
func skMemory(tb testing.TB) (*core.Manager, func()) {
	st := memory.New(memory.Config{})
	return skManager(tb, core.Config{Store: st}), func() { _ = st.Close() }
}

func skRedis(tb testing.TB) (*core.Manager, func()) {
	client := goredis.NewClient(&goredis.Options{Addr: serverAddr(tb, "redis")})
	st, err := redisstore.New(client, redisstore.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	return skManager(tb, core.Config{Store: st}), func() { _ = client.Close() }
}

func skMemcache(tb testing.TB) (*core.Manager, func()) {
	st, err := memcachestore.New(memcache.New(serverAddr(tb, "memcached")), memcachestore.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	return skManager(tb, core.Config{Store: st}), func() {}
}

// Scenario handlers, written once against *core.Session.

func skSeed(s *core.Session) {
	for i, k := range seedKeys {
		s.Set(k, seedValues[i])
	}
}

func skRead(s *core.Session) []byte {
	v, _ := core.Value[string](s, readKey)
	return readBody(v)
}

func skRenew(s *core.Session) {
	s.Renew()
	s.Set("user", "alice")
}

// skNetHTTP mounts the scenario routes behind the net/http middleware.
func skNetHTTP(m *core.Manager, closeFn func()) *target {
	var n atomic.Uint64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /untouched", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(okBody) })
	mux.HandleFunc("GET /new", func(w http.ResponseWriter, r *http.Request) {
		nethttp.Get(r).Set("user", "alice")
		_, _ = w.Write(okBody)
	})
	mux.HandleFunc("GET /seed", func(w http.ResponseWriter, r *http.Request) {
		skSeed(nethttp.Get(r))
		_, _ = w.Write(okBody)
	})
	mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(skRead(nethttp.Get(r)))
	})
	mux.HandleFunc("GET /update", func(w http.ResponseWriter, r *http.Request) {
		nethttp.Get(r).Set(readKey, nextUpdate(&n))
		_, _ = w.Write(okBody)
	})
	mux.HandleFunc("GET /renew", func(w http.ResponseWriter, r *http.Request) {
		skRenew(nethttp.Get(r))
		_, _ = w.Write(okBody)
	})
	return &target{h: nethttp.Middleware(m)(mux), cookie: m.Config().Cookie.Name, close: closeFn}
}

// skGin mounts the scenario routes behind the Gin adapter.
func skGin(m *core.Manager, closeFn func()) *target {
	var n atomic.Uint64
	r := gin.New()
	r.Use(ginsession.Middleware(m))
	r.GET("/untouched", func(c *gin.Context) { _, _ = c.Writer.Write(okBody) })
	r.GET("/new", func(c *gin.Context) {
		ginsession.Get(c).Set("user", "alice")
		_, _ = c.Writer.Write(okBody)
	})
	r.GET("/seed", func(c *gin.Context) {
		skSeed(ginsession.Get(c))
		_, _ = c.Writer.Write(okBody)
	})
	r.GET("/read", func(c *gin.Context) { _, _ = c.Writer.Write(skRead(ginsession.Get(c))) })
	r.GET("/update", func(c *gin.Context) {
		ginsession.Get(c).Set(readKey, nextUpdate(&n))
		_, _ = c.Writer.Write(okBody)
	})
	r.GET("/renew", func(c *gin.Context) {
		skRenew(ginsession.Get(c))
		_, _ = c.Writer.Write(okBody)
	})
	return &target{h: r, cookie: m.Config().Cookie.Name, close: closeFn}
}

// skEcho mounts the scenario routes behind the Echo adapter.
func skEcho(m *core.Manager, closeFn func()) *target {
	var n atomic.Uint64
	e := echo.New()
	e.Use(echosession.Middleware(m))
	write := func(c echo.Context, body []byte) error {
		_, err := c.Response().Write(body)
		return err
	}
	e.GET("/untouched", func(c echo.Context) error { return write(c, okBody) })
	e.GET("/new", func(c echo.Context) error {
		echosession.Get(c).Set("user", "alice")
		return write(c, okBody)
	})
	e.GET("/seed", func(c echo.Context) error {
		skSeed(echosession.Get(c))
		return write(c, okBody)
	})
	e.GET("/read", func(c echo.Context) error { return write(c, skRead(echosession.Get(c))) })
	e.GET("/update", func(c echo.Context) error {
		echosession.Get(c).Set(readKey, nextUpdate(&n))
		return write(c, okBody)
	})
	e.GET("/renew", func(c echo.Context) error {
		skRenew(echosession.Get(c))
		return write(c, okBody)
	})
	return &target{h: e, cookie: m.Config().Cookie.Name, close: closeFn}
}

var sessionkitContenders = []contender{
	{name: "sessionkit-nethttp-memory", framework: "nethttp", memory: true,
		open: func(tb testing.TB) *target { return skNetHTTP(skMemory(tb)) }},
	{name: "sessionkit-gin-memory", framework: "gin", memory: true,
		open: func(tb testing.TB) *target { return skGin(skMemory(tb)) }},
	{name: "sessionkit-echo-memory", framework: "echo", memory: true,
		open: func(tb testing.TB) *target { return skEcho(skMemory(tb)) }},
	{name: "sessionkit-nethttp-cookie", framework: "nethttp",
		open: func(tb testing.TB) *target {
			return skNetHTTP(skManager(tb, core.Config{ClientStore: cookieStore(tb)}), func() {})
		}},
	{name: "sessionkit-nethttp-redis", framework: "nethttp",
		open: func(tb testing.TB) *target { return skNetHTTP(skRedis(tb)) }},
	{name: "sessionkit-nethttp-memcache", framework: "nethttp",
		open: func(tb testing.TB) *target { return skNetHTTP(skMemcache(tb)) }},
	{name: "sessionkit-gin-redis", framework: "gin",
		open: func(tb testing.TB) *target { return skGin(skRedis(tb)) }},
	{name: "sessionkit-gin-memcache", framework: "gin",
		open: func(tb testing.TB) *target { return skGin(skMemcache(tb)) }},
	{name: "sessionkit-gin-cookie", framework: "gin",
		open: func(tb testing.TB) *target {
			return skGin(skManager(tb, core.Config{ClientStore: cookieStore(tb)}), func() {})
		}},
	{name: "sessionkit-echo-cookie", framework: "echo",
		open: func(tb testing.TB) *target {
			return skEcho(skManager(tb, core.Config{ClientStore: cookieStore(tb)}), func() {})
		}},
}

// countingStore counts the calls that reach a store.
type countingStore struct {
	core.Store
	calls atomic.Int64
}

func (s *countingStore) Load(ctx context.Context, key string) (core.Record, bool, error) {
	s.calls.Add(1)
	return s.Store.Load(ctx, key)
}

func (s *countingStore) Save(ctx context.Context, key string, data []byte, exp time.Time) error {
	s.calls.Add(1)
	return s.Store.Save(ctx, key, data, exp)
}

func (s *countingStore) Delete(ctx context.Context, key string) error {
	s.calls.Add(1)
	return s.Store.Delete(ctx, key)
}

// TestUntouchedNoStoreCall checks issue 6's rule that a request whose
// handler never touches its session costs no store call, on every
// sessionkit adapter, while a read does reach the store.
func TestUntouchedNoStoreCall(t *testing.T) {
	mounts := map[string]func(*core.Manager, func()) *target{"nethttp": skNetHTTP, "gin": skGin, "echo": skEcho}
	for name, mount := range mounts {
		t.Run(name, func(t *testing.T) {
			mem := memory.New(memory.Config{})
			defer mem.Close()
			st := &countingStore{Store: mem}
			tg := mount(skManager(t, core.Config{Store: st}), func() {})
			cookie := seed(t, tg)
			before := st.calls.Load()
			newClient(tg, "/untouched", cookie).do()
			if n := st.calls.Load() - before; n != 0 {
				t.Errorf("GET /untouched made %d store calls, want 0", n)
			}
			newClient(tg, "/read", cookie).do()
			if n := st.calls.Load() - before; n != 1 {
				t.Errorf("GET /read made %d store calls, want 1 (a Load)", n)
			}
		})
	}
}
