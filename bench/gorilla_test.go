package bench

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/gorilla/sessions"
)

// Keys for the gorilla-based contenders. Cookie stores get a hash and a
// block key (authenticated encryption, as sessionkit's cookie store);
// server-side stores sign their session id with the hash key, as their
// documentation shows.
var (
	hashKey  = []byte("0123456789abcdef0123456789abcdef")
	blockKey = []byte("fedcba9876543210fedcba9876543210")
)

const gorillaName = "session"

// gorillaRenew is how a gorilla-based application gets a new session id:
// clearing the id makes Save issue a new one (server-side stores). The old
// record is left to expire: gorilla has no call that deletes it and issues
// a new id in one step. Cookie stores re-seal on every Save anyway.
func gorillaRenew(s *sessions.Session) {
	s.ID = ""
	s.Values["user"] = "alice"
}

// gorillaTarget mounts the scenario routes for store on net/http. gorilla
// has no middleware: a handler that never calls store.Get costs nothing.
func gorillaTarget(store sessions.Store, closeFn func()) *target {
	var n atomic.Uint64
	mux := http.NewServeMux()
	handle := func(path string, f func(s *sessions.Session) []byte) {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			s, err := store.Get(r, gorillaName)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			body := f(s)
			if body == nil {
				if err := s.Save(r, w); err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				body = okBody
			}
			_, _ = w.Write(body)
		})
	}
	mux.HandleFunc("GET /untouched", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(okBody) })
	handle("/new", func(s *sessions.Session) []byte { s.Values["user"] = "alice"; return nil })
	handle("/seed", func(s *sessions.Session) []byte {
		for i, k := range seedKeys {
			s.Values[k] = seedValues[i]
		}
		return nil
	})
	handle("/read", func(s *sessions.Session) []byte {
		v, _ := s.Values[readKey].(string)
		return readBody(v)
	})
	handle("/update", func(s *sessions.Session) []byte { s.Values[readKey] = nextUpdate(&n); return nil })
	handle("/renew", func(s *sessions.Session) []byte { gorillaRenew(s); return nil })
	return &target{h: mux, cookie: gorillaName, close: closeFn}
}

var gorillaContenders = []contender{
	{name: "gorilla-nethttp-cookie", framework: "nethttp", open: func(testing.TB) *target {
		return gorillaTarget(sessions.NewCookieStore(hashKey, blockKey), func() {})
	}},
	{name: "gorilla-nethttp-filesystem", framework: "nethttp", open: func(tb testing.TB) *target {
		return gorillaTarget(sessions.NewFilesystemStore(tb.TempDir(), hashKey), func() {})
	}},
}
