package conformance

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// TestObserver checks that the adapter behind mount reports every event of
// core.Observer exactly once per occurrence: a table of requests (new
// session, read, update, unknown and malformed tokens, untouched, renew,
// the retired token, destroy, expiry, idle refresh, a corrupt record, a
// logout racing an update, a conflict with another process) each followed
// by a comparison of the event counts with the expected ones. It runs on a
// fresh memory store; TestStore runs the same table on the store under
// test.
func TestObserver(t *testing.T, mount Mount) {
	t.Helper()
	checkObserved(t, mount, func(t *testing.T) core.Store {
		st := memory.New(memory.Config{CleanupInterval: -1})
		t.Cleanup(func() { _ = st.Close() })
		return st
	})
}

// managerMount drives the Manager as an adapter does, without one: the
// store suite's observer check uses it.
func managerMount(m *core.Manager, h Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, r2 := m.BeginRequest(r)
		defer m.Release(s)
		rec := httptest.NewRecorder()
		h(rec, r2, s)
		if err := m.Commit(s, w.Header()); err != nil {
			m.HandleError(w, r, err)
			return
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// observedEnv is one run of the observer table.
type observedEnv struct {
	t      *testing.T
	st     core.Store
	h, h2  http.Handler // h2: a second Manager, another process, unobserved
	ev     *EventCounter
	offset atomic.Int64 // the Managers' clock runs this far ahead
	calls  atomic.Int64 // store calls seen by a WrapStore outside the Manager
	cookie string       // the client's current token
	nested func()       // run by the "nested" handler between its read and its write
	cas    bool
}

const observedUnknown = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" // well-formed, never issued

// checkObserved runs the observer table with mount on a store from
// newStore.
func checkObserved(t *testing.T, mount Mount, newStore func(t *testing.T) core.Store) {
	t.Helper()
	for _, v := range observedViolations(t, mount, newStore) {
		t.Error(v)
	}
}

// observedViolations runs the observer table and returns the violations.
func observedViolations(t *testing.T, mount Mount, newStore func(t *testing.T) core.Store) []string {
	var out []string
	e := &observedEnv{t: t, st: newStore(t), ev: new(EventCounter)}
	_, e.cas = e.st.(core.CompareAndSwapper)
	counted := core.WrapStore(e.st, core.StoreWrapper{
		Around: func(ctx context.Context, _ core.StoreCall, next func(context.Context) error) error {
			e.calls.Add(1)
			return next(ctx)
		},
	})
	now := func() time.Time { return time.Now().Add(time.Duration(e.offset.Load())) }
	cfg := core.Config{
		Store: counted, Observer: e.ev, Now: now, Lifetime: 2 * time.Hour, IdleTimeout: time.Hour,
		Logger: slog.New(slog.DiscardHandler),
	}
	m1, err := core.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Observer, cfg.Store = nil, e.st
	m2, err := core.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.h, e.h2 = mount(m1, e.handle), mount(m2, e.handle)

	cas := func(n int) int { // n when the store has compare-and-swap
		if e.cas {
			return n
		}
		return 0
	}
	steps := []struct {
		name string
		run  func()
		want map[string]int
	}{
		{"new session", func() { e.do("/set?v=1", e.cookie) },
			map[string]int{"created": 1, "commit_started": 1, "committed/written": 1}},
		{"read", func() { e.do("/get", e.cookie) },
			map[string]int{"loaded/hit": 1, "committed/nothing": 1}},
		{"update", func() { e.do("/set?v=2", e.cookie) },
			map[string]int{"loaded/hit": 1, "commit_started": 1, "committed/written": 1}},
		{"untouched", func() { e.do("/none", e.cookie) }, map[string]int{}},
		{"no token, read", func() { e.doKeep("/get", "") }, map[string]int{"committed/nothing": 1}},
		{"unknown token", func() { e.doKeep("/get", observedUnknown) },
			map[string]int{"loaded/miss": 1, "committed/nothing": 1}},
		{"malformed token", func() { e.doKeep("/get", "not*a*token") },
			map[string]int{"loaded/miss": 1, "committed/nothing": 1}},
		{"idle refresh", func() { e.offset.Add(int64(10 * time.Minute)); e.do("/get", e.cookie) },
			map[string]int{"loaded/hit": 1, "commit_started": 1, "committed/touched": 1}},
		{"renew", func() { e.do("/renew", e.cookie) },
			map[string]int{"loaded/hit": 1, "commit_started": 1, "committed/written": 1, "renewed": 1}},
		{"destroy", func() { e.do("/destroy", e.cookie) },
			map[string]int{"loaded/hit": 1, "commit_started": 1, "committed/written": 1, "destroyed": 1}},
		{"new session again", func() { e.do("/set?v=3", "") },
			map[string]int{"created": 1, "commit_started": 1, "committed/written": 1}},
		{"expired", func() { e.offset.Add(int64(3 * time.Hour)); e.do("/get", e.cookie) },
			map[string]int{"loaded/expired": 1, "commit_started": 1, "committed/written": 1}},
		{"corrupt record", func() { e.corrupt() },
			map[string]int{"created": 1, "commit_started": 2, "committed/written": 2, "loaded/corrupt": 1}},
		{"logout racing an update", func() { e.race("/destroy") },
			map[string]int{
				"loaded/hit": 2, "destroyed": 1, "commit_started": 2, "committed/written": 2 - cas(1),
				"gone": cas(1), "committed/dropped": cas(1), "conflict": cas(1), "store_error": cas(1),
			}},
		{"conflict with another process", func() { e.conflict() },
			map[string]int{
				"created": 1, "loaded/hit": 1, "commit_started": 2, "committed/written": 2, "conflict": cas(1), "store_error": cas(1),
			}},
	}
	for _, step := range steps {
		e.ev.Reset()
		e.calls.Store(0)
		step.run()
		got := e.ev.Counts()
		stores := storeCallTotal(got)
		for k := range got {
			// Store calls are counted below. Whether a renew was declined
			// (a Cluster without a hash tag) is the store's business.
			if strings.HasPrefix(k, "store/") || k == "store_declined" || k == "store_not_found" {
				delete(got, k)
			}
		}
		want := maps.Clone(step.want)
		for k, v := range want {
			if v == 0 {
				delete(want, k)
			}
		}
		if !maps.Equal(got, want) {
			out = append(out, fmt.Sprintf("%s: events %s, want %s (rule: every event fires exactly once per occurrence)",
				step.name, fmtCounts(got), fmtCounts(want)))
		}
		if n := e.calls.Load(); int64(stores) != n {
			out = append(out, fmt.Sprintf("%s: %d StoreCallFinished events for %d store calls (rule: one event per store call)", step.name, stores, n))
		}
	}
	if p := e.ev.Problems(); len(p) > 0 {
		out = append(out, fmt.Sprintf("Observer contexts: %s (rule: the context a Started event returns reaches its Finished event, once)", strings.Join(p, "; ")))
	}
	return out
}

func fmtCounts(c map[string]int) string {
	keys := slices.Sorted(maps.Keys(c))
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s:%d", k, c[k])
	}
	b.WriteByte('}')
	return b.String()
}

// handle is the table's handler: the path says what it does.
func (e *observedEnv) handle(w http.ResponseWriter, r *http.Request, s *core.Session) {
	switch r.URL.Path {
	case "/set":
		s.Set("v", r.URL.Query().Get("v"))
	case "/get":
		_, _ = s.Get("v")
	case "/renew":
		s.Renew()
	case "/destroy":
		s.Destroy()
	case "/nested":
		_, _ = s.Get("v")
		e.nested()
		s.Set("nested", "1")
	}
	_, _ = io.WriteString(w, "ok")
}

// serve sends one request through h with token as the cookie and returns
// the token the response sets ("" for an expired cookie) and whether it
// set one.
func (e *observedEnv) serve(h http.Handler, path, token string) (string, bool) {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if token != "" {
		req.Header.Set("Cookie", core.DefaultCookieName+"="+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		e.t.Fatalf("GET %s = %d, want 200", path, rec.Code)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == core.DefaultCookieName {
			return c.Value, true
		}
	}
	return "", false
}

// do sends a request with token and keeps the token it sets.
func (e *observedEnv) do(path, token string) {
	if v, ok := e.serve(e.h, path, token); ok {
		e.cookie = v
	}
}

// doKeep sends a request and forgets any token it sets.
func (e *observedEnv) doKeep(path, token string) { e.serve(e.h, path, token) }

// corrupt stores a new session, overwrites its record with bytes no codec
// reads, and reads it.
func (e *observedEnv) corrupt() {
	e.offset.Store(0)
	e.do("/set?v=4", "")
	key := core.StoreKey(e.cookie)
	if err := e.st.Save(e.t.Context(), key, bytes.Repeat([]byte{0xff}, 16), time.Now().Add(time.Hour)); err != nil {
		e.t.Fatal(err)
	}
	e.do("/get", e.cookie)
}

// race runs a request that reads, lets path run (a logout, say) with the
// same token meanwhile, and then writes.
func (e *observedEnv) race(path string) {
	e.do("/set?v=5", "")
	e.ev.Reset()
	e.calls.Store(0)
	tok := e.cookie
	e.nested = func() { e.serve(e.h, path, tok) }
	e.doKeep("/nested", tok)
}

// conflict runs a request that reads, lets another process (a second
// Manager) update the session meanwhile, and then writes.
func (e *observedEnv) conflict() {
	e.do("/set?v=6", "")
	tok := e.cookie
	e.nested = func() { e.serve(e.h2, "/set?v=7", tok) }
	e.doKeep("/nested", tok)
}
