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
// allocation with the session and a response writer wrapper whose hook
// adds Vary: Cookie before the header leaves, as the floor-<framework>-hook
// benchmarks do (appended to a Vary the handler set; else the value is
// held in the session's allocation).
// When a handler first touches the session it finds the session cookie
// in the Cookie header (every part, no allocation), checks that its value
// is the 43 base64url characters of a 256-bit token, hashes it with
// SHA-256 (stores are keyed by the token's hash, never the token) and
// looks the values up under its shard's read lock (64 shards, as
// sessionkit's memory store). The store keeps every session's values
// decoded in a map that is never modified once stored, so a read shares
// it and needs no copy and no decoding. Changes are stored at the hook,
// and at the end of the request if any came after it, into a copy of the
// values stored at that moment, under the shard's write lock: no
// concurrent request's update is lost. No version, encoding, deadline,
// observer or expiry is kept at all. Anything a real session does beyond
// this is above the floor; the floor does less than sessionkit's contract
// asks in places (a cookie value in quotes, a signed token, several
// cookies of the name are not looked at), which only makes it cheaper.

// floorStore is the floor's store: per token hash, the session's values,
// in shards by the hash's first byte.
type floorStore struct {
	shards [64]floorShard
}

type floorShard struct {
	mu   sync.RWMutex
	recs map[[sha256.Size]byte]map[string]string
}

func newFloorStore() *floorStore {
	st := new(floorStore)
	for i := range st.shards {
		st.shards[i].recs = make(map[[sha256.Size]byte]map[string]string)
	}
	return st
}

// shard returns the shard of a token hash.
func (st *floorStore) shard(key *[sha256.Size]byte) *floorShard {
	return &st.shards[key[0]%uint8(len(st.shards))]
}

// floorKey is the context key of the floor's session.
type floorKey struct{}

// floorSession is one request's session on the floor server, with the
// request copy and the response writer wrapper in its allocation.
type floorSession struct {
	r   http.Request
	ctx floorCtx
	w   floorWriter
	st  *floorStore

	loaded, fresh bool
	key           [sha256.Size]byte
	vals          map[string]string // as stored (shared: never modified)
	changes       [10][2]string     // this request's changes: key, value
	nchanges      int
	saved         int       // how many of changes are stored
	issued        bool      // a fresh session's token was sent (at the hook)
	vary          [1]string // the Vary value the hook adds
}

// floorCtx is the request's context with the session as a value, in the
// session's allocation.
type floorCtx struct {
	context.Context
	f *floorSession
}

func (c *floorCtx) Value(key any) any {
	if key == (floorKey{}) {
		return c.f
	}
	return c.Context.Value(key)
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
		f.ctx = floorCtx{Context: r.Context(), f: f}
		f.r = *r.WithContext(&f.ctx)
		f.w = floorWriter{ResponseWriter: w, f: f, armed: true}
		next.ServeHTTP(&f.w, &f.r)
		f.w.hook() // when nothing was written
		f.save()   // changes after the header
	})
}

// load reads the request's token and its session's values, once.
func (f *floorSession) load() {
	if f.loaded {
		return
	}
	f.loaded, f.fresh = true, true
	tok := ""
	for _, line := range f.r.Header["Cookie"] {
		for len(line) > 0 && tok == "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			if n, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok && n == "session" {
				tok = v
			}
		}
	}
	if len(tok) != 43 {
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
	sh := f.st.shard(&f.key)
	sh.mu.RLock()
	vals, found := sh.recs[f.key]
	sh.mu.RUnlock()
	f.vals, f.fresh = vals, !found
}

// get returns the value under k.
func (f *floorSession) get(k string) string {
	f.load()
	for i := f.nchanges - 1; i >= 0; i-- { // the latest change of k wins
		if c := f.changes[i]; c[0] == k {
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

// hook adds Vary: Cookie and stores the request's changes; a session
// that had none stored gets a new token and its cookie.
func (w *floorWriter) hook() {
	if !w.armed {
		return
	}
	w.armed = false
	f, h := w.f, w.Header()
	if vary := h["Vary"]; len(vary) == 0 {
		f.vary[0] = "Cookie"
		h["Vary"] = f.vary[:1:1]
	} else {
		h["Vary"] = append(vary, "Cookie")
	}
	if f.nchanges == 0 {
		return
	}
	if f.fresh {
		var b [32]byte
		_, _ = rand.Read(b[:])
		tok := base64.RawURLEncoding.EncodeToString(b[:])
		f.key = sha256.Sum256([]byte(tok))
		h.Set("Set-Cookie", "session="+tok+"; Path=/; HttpOnly; SameSite=Lax")
		f.issued = true
	}
	f.save()
}

// save stores the changes not stored yet into a copy of the values
// stored now, under the shard's write lock.
func (f *floorSession) save() {
	if f.saved == f.nchanges || f.w.armed || f.fresh && !f.issued {
		return // nothing new; the hook has not run (it saves); no token was sent
	}
	sh := f.st.shard(&f.key)
	sh.mu.Lock()
	vals := maps.Clone(sh.recs[f.key])
	if vals == nil {
		vals = make(map[string]string, f.nchanges)
	}
	for _, c := range f.changes[f.saved:f.nchanges] {
		vals[c[0]] = c[1]
	}
	sh.recs[f.key] = vals
	sh.mu.Unlock()
	f.saved = f.nchanges
}
