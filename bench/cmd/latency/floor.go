package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"maps"
	"net/http"
	"strings"
	"sync"
)

// The floor: the least a server-side session middleware that keeps
// sessionkit's contract does on a request, measured under the same load
// as sessionkit and the bare server, so that a latency row can say how
// much of its ratio no session middleware avoids.
//
// floorMiddleware is a net/http middleware around the bare server of each
// framework (Gin's and Echo's engines are http.Handlers; their handlers
// reach the session through the request's context). On every request it
// copies the request with a context holding the session, in one
// allocation with a response writer wrapper whose hook adds Vary: Cookie
// before the header leaves (as the floor-<framework>-hook benchmarks).
// When a handler first touches the session it reads the token from the
// Cookie header (no allocation), checks that it is the 43 base64url
// characters of a 256-bit token, hashes it with SHA-256 (stores are keyed
// by the token's hash, never the token) and looks the values up under a
// read lock. The store keeps every session's values decoded in a map that
// is never modified once stored, so a read shares it and needs no copy
// and no decoding. An update is applied, at the hook, to a copy of the
// values stored at that moment, under the write lock: no concurrent
// request's update is lost, and no version, encoding, deadline, observer
// or expiry is kept at all. Anything a real session does beyond this is
// above the floor.

// floorStore is the floor's store: per token hash, the session's values.
type floorStore struct {
	mu   sync.RWMutex
	recs map[[sha256.Size]byte]map[string]string
}

// floorKey is the context key of the floor's session.
type floorKey struct{}

// floorVary is the Vary header value the floor adds to every response
// (shared, never modified).
var floorVary = []string{"Cookie"}

// floorSession is one request's session on the floor server, with the
// request copy and the response writer wrapper in its allocation.
type floorSession struct {
	r  http.Request
	w  floorWriter
	st *floorStore

	loaded, fresh bool
	key           [sha256.Size]byte
	vals          map[string]string // as stored (shared: never modified)
	changes       [10][2]string     // this request's changes: key, value
	nchanges      int
}

// floorOf returns the floor session of a request's context.
func floorOf(ctx context.Context) *floorSession {
	f, _ := ctx.Value(floorKey{}).(*floorSession)
	return f
}

// floorMiddleware wraps next, a bare server, in the floor.
func floorMiddleware(st *floorStore, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := &floorSession{st: st}
		f.r = *r.WithContext(context.WithValue(r.Context(), floorKey{}, f))
		f.w = floorWriter{ResponseWriter: w, f: f, armed: true}
		next.ServeHTTP(&f.w, &f.r)
		f.w.hook() // when nothing was written
	})
}

// load reads the request's token and its session's values, once.
func (f *floorSession) load() {
	if f.loaded {
		return
	}
	f.loaded, f.fresh = true, true
	c := f.r.Header["Cookie"]
	if len(c) == 0 {
		return
	}
	tok, ok := strings.CutPrefix(c[0], "session=")
	if !ok || len(tok) != 43 {
		return
	}
	var in [43]byte
	for i := range len(in) {
		b := tok[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_') {
			return
		}
		in[i] = b
	}
	f.key = sha256.Sum256(in[:])
	f.st.mu.RLock()
	vals, found := f.st.recs[f.key]
	f.st.mu.RUnlock()
	f.vals, f.fresh = vals, !found
}

// get returns the value under k.
func (f *floorSession) get(k string) string {
	f.load()
	for _, c := range f.changes[:f.nchanges] {
		if c[0] == k {
			return c[1]
		}
	}
	return f.vals[k]
}

// set changes the value under k (the floor's routes change at most ten
// values a request).
func (f *floorSession) set(k, v string) {
	f.load()
	f.changes[f.nchanges] = [2]string{k, v}
	f.nchanges++
}

// floorWriter is the floor's response writer wrapper: the first Write or
// WriteHeader (or the end of the request) runs the hook.
type floorWriter struct {
	http.ResponseWriter
	f     *floorSession
	armed bool
}

func (w *floorWriter) WriteHeader(code int) {
	w.hook()
	w.ResponseWriter.WriteHeader(code)
}

func (w *floorWriter) Write(b []byte) (int, error) {
	w.hook()
	return w.ResponseWriter.Write(b)
}

// hook adds Vary: Cookie and stores the request's changes: into a copy of
// the values stored now, under the write lock; a session that had none
// gets a new token and its cookie.
func (w *floorWriter) hook() {
	if !w.armed {
		return
	}
	w.armed = false
	f, h := w.f, w.Header()
	h["Vary"] = floorVary
	if f.nchanges == 0 {
		return
	}
	if f.fresh {
		var b [32]byte
		_, _ = rand.Read(b[:])
		tok := base64.RawURLEncoding.EncodeToString(b[:])
		f.key = sha256.Sum256([]byte(tok))
		h.Set("Set-Cookie", "session="+tok+"; Path=/; HttpOnly; SameSite=Lax")
	}
	f.st.mu.Lock()
	vals := maps.Clone(f.st.recs[f.key])
	if vals == nil {
		vals = make(map[string]string, f.nchanges)
	}
	for _, c := range f.changes[:f.nchanges] {
		vals[c[0]] = c[1]
	}
	f.st.recs[f.key] = vals
	f.st.mu.Unlock()
}
