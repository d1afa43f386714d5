package bench

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	goredis "github.com/redis/go-redis/v9"
)

// scsTarget mounts the scenario routes behind scs's LoadAndSave on store.
func scsTarget(store scs.Store, closeFn func()) *target {
	sm := scs.New()
	sm.Store = store
	var n atomic.Uint64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /untouched", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(okBody) })
	mux.HandleFunc("GET /new", func(w http.ResponseWriter, r *http.Request) {
		sm.Put(r.Context(), "user", "alice")
		_, _ = w.Write(okBody)
	})
	mux.HandleFunc("GET /seed", func(w http.ResponseWriter, r *http.Request) {
		for i, k := range seedKeys {
			sm.Put(r.Context(), k, seedValues[i])
		}
		_, _ = w.Write(okBody)
	})
	mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(readBody(sm.GetString(r.Context(), readKey)))
	})
	mux.HandleFunc("GET /update", func(w http.ResponseWriter, r *http.Request) {
		sm.Put(r.Context(), readKey, nextUpdate(&n))
		_, _ = w.Write(okBody)
	})
	mux.HandleFunc("GET /renew", func(w http.ResponseWriter, r *http.Request) {
		if err := sm.RenewToken(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		sm.Put(r.Context(), "user", "alice")
		_, _ = w.Write(okBody)
	})
	return &target{h: sm.LoadAndSave(mux), cookie: sm.Cookie.Name, close: closeFn}
}

var scsContenders = []contender{
	{name: "scs-nethttp-memstore", framework: "nethttp", memory: true, open: func(testing.TB) *target {
		st := memstore.NewWithCleanupInterval(time.Minute)
		return scsTarget(st, st.StopCleanup)
	}},
	{name: "scs-nethttp-redis", framework: "nethttp", open: func(tb testing.TB) *target {
		client := goredis.NewClient(&goredis.Options{Addr: serverAddr(tb, "redis")})
		return scsTarget(goredisstore.New(client), func() { _ = client.Close() })
	}},
}
