package core_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/cookie"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// harness drives a Manager without an adapter: Begin, the handler's work,
// Commit with a header, Release.
type harness struct {
	m     *core.Manager
	store *memory.Store
	now   time.Time
	logs  bytes.Buffer
}

func newHarness(t *testing.T, cfg core.Config) *harness {
	t.Helper()
	h := &harness{now: time.Now().Truncate(time.Second)} // the memory store compares expiry with the real clock
	h.store = memory.New(memory.Config{})
	t.Cleanup(func() { h.store.Close() })
	if cfg.Store == nil && cfg.ClientStore == nil {
		cfg.Store = h.store
	}
	cfg.Now = func() time.Time { return h.now }
	cfg.Logger = slog.New(slog.NewTextHandler(&h.logs, nil))
	m, err := core.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.m = m
	return h
}

// request runs fn as the handler of a request carrying token (none if "")
// from addr, and returns the token the client holds afterwards and the
// response header.
func (h *harness) request(t *testing.T, token string, fn func(s *core.Session)) (string, http.Header) {
	t.Helper()
	s, hdr := h.begin(token, "192.0.2.1:1234")
	fn(s)
	return h.commit(t, s, token, hdr)
}

func (h *harness) begin(token, addr string) (*core.Session, http.Header) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = addr
	if token != "" {
		r.Header.Set("Cookie", "session="+token)
	}
	return h.m.Begin(r), http.Header{}
}

func (h *harness) commit(t *testing.T, s *core.Session, token string, hdr http.Header) (string, http.Header) {
	t.Helper()
	if err := h.m.Commit(s, hdr); err != nil {
		t.Fatalf("Commit = %v", err)
	}
	h.m.Release(s)
	for _, c := range (&http.Response{Header: hdr}).Cookies() {
		if c.Name == "session" {
			if c.MaxAge < 0 {
				return "", hdr
			}
			return c.Value, hdr
		}
	}
	return token, hdr
}

func TestSessionValues(t *testing.T) {
	h := newHarness(t, core.Config{})
	tok, hdr := h.request(t, "", func(s *core.Session) {
		if !s.IsNew() || s.Modified() {
			t.Errorf("fresh session: IsNew=%v Modified=%v, want true false", s.IsNew(), s.Modified())
		}
		s.Set("a", 1)
		s.Set("b", "two")
		s.Set("c", true)
		s.Delete("c")
		s.Delete("missing")
		if got := s.Keys(); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("Keys() = %v, want [a b]", got)
		}
		if !s.Modified() {
			t.Error("Modified() = false after Set")
		}
	})
	if tok == "" || hdr.Get("Set-Cookie") == "" {
		t.Fatalf("new session with values: token %q, Set-Cookie %q; want both", tok, hdr.Get("Set-Cookie"))
	}
	tok2, hdr := h.request(t, tok, func(s *core.Session) {
		if s.IsNew() {
			t.Error("IsNew() = true for a stored session")
		}
		if v, ok := core.Value[int](s, "a"); !ok || v != 1 {
			t.Errorf("Value[int](a) = %v, %v; want 1, true", v, ok)
		}
		if v, ok := s.Pop("b"); !ok || v != "two" {
			t.Errorf("Pop(b) = %v, %v; want two, true", v, ok)
		}
		if _, ok := s.Get("b"); ok {
			t.Error("Get(b) after Pop found it")
		}
		s.Set("z", 26)
		s.Revert()
		if _, ok := s.Get("z"); ok || s.Modified() {
			t.Errorf("after Revert: z present=%v Modified=%v, want false false", ok, s.Modified())
		}
		if v, _ := s.Get("b"); v != "two" {
			t.Errorf("Revert did not restore b: %v", v)
		}
		s.Clear()
		if s.Len() != 0 {
			t.Errorf("Len() after Clear = %d", s.Len())
		}
	})
	if tok2 != tok || hdr.Get("Set-Cookie") != "" {
		t.Errorf("update of existing session without idle timeout: token changed=%v, Set-Cookie %q; want same token, none", tok2 != tok, hdr.Get("Set-Cookie"))
	}
	h.request(t, tok, func(s *core.Session) {
		if s.IsNew() || s.Len() != 0 {
			t.Errorf("after Clear: IsNew=%v Len=%d, want an existing empty session", s.IsNew(), s.Len())
		}
	})
}

func TestInitValuesAreNotChanges(t *testing.T) {
	h := newHarness(t, core.Config{Init: func(s *core.Session) { s.Set("theme", "dark") }})
	tok, hdr := h.request(t, "", func(s *core.Session) {
		if v, _ := s.Get("theme"); v != "dark" {
			t.Errorf("Get(theme) = %v, want dark from Init", v)
		}
		if s.Modified() {
			t.Error("Modified() = true after Init only")
		}
		s.Destroy() // logout without a session
	})
	if tok != "" || hdr.Get("Set-Cookie") != "" || h.store.Len() != 0 {
		t.Fatalf("anonymous read and logout: token %q, Set-Cookie %q, records %d; want none", tok, hdr.Get("Set-Cookie"), h.store.Len())
	}
	tok, _ = h.request(t, "", func(s *core.Session) { s.Set("user", "ann") })
	h.request(t, tok, func(s *core.Session) {
		if v, _ := s.Get("theme"); v != "dark" {
			t.Errorf("stored session lost its Init value: %v", v)
		}
	})
}

func TestConcurrentCommitsLoseNothing(t *testing.T) {
	h := newHarness(t, core.Config{})
	tok, _ := h.request(t, "", func(s *core.Session) { s.Set("base", 0) })
	s1, hdr1 := h.begin(tok, "192.0.2.1:1")
	s2, hdr2 := h.begin(tok, "192.0.2.1:2")
	s1.Set("one", 1) // both loaded before either commits
	s2.Set("two", 2)
	s2.Delete("base")
	h.commit(t, s1, tok, hdr1)
	h.commit(t, s2, tok, hdr2)
	h.request(t, tok, func(s *core.Session) {
		if got := s.Keys(); !slices.Equal(got, []string{"one", "two"}) {
			t.Errorf("Keys() after two concurrent commits = %v, want [one two]", got)
		}
	})
}

func TestInFlightRequestDoesNotReviveDestroyedOrRenewedSession(t *testing.T) {
	for _, op := range []string{"destroy", "renew"} {
		t.Run(op, func(t *testing.T) {
			h := newHarness(t, core.Config{})
			tok, _ := h.request(t, "", func(s *core.Session) { s.Set("user", "ann") })
			inflight, hdr := h.begin(tok, "192.0.2.1:1")
			inflight.Get("user") // loaded before the logout or login
			newTok, _ := h.request(t, tok, func(s *core.Session) {
				if op == "destroy" {
					s.Destroy()
				} else {
					s.Renew()
				}
			})
			inflight.Set("late", true)
			_, hdr = h.commit(t, inflight, tok, hdr)
			if hdr.Get("Set-Cookie") != "" {
				t.Errorf("in-flight commit set a cookie: %q", hdr.Get("Set-Cookie"))
			}
			h.request(t, tok, func(s *core.Session) {
				if !s.IsNew() {
					t.Errorf("old token loads a session after %s and an in-flight commit (keys %v)", op, s.Keys())
				}
			})
			wantRecords := 0
			if op == "renew" {
				wantRecords = 2 // the renewed session and the retired marker
				h.request(t, newTok, func(s *core.Session) {
					if v, _ := s.Get("user"); v != "ann" || s.IsNew() {
						t.Errorf("renewed session: user=%v IsNew=%v", v, s.IsNew())
					}
				})
			}
			if n := h.store.Len(); n != wantRecords {
				t.Errorf("records after %s = %d, want %d", op, n, wantRecords)
			}
			if !strings.Contains(h.logs.String(), "concurrent request") {
				t.Errorf("dropped changes were not logged: %s", h.logs.String())
			}
		})
	}
}

func TestRenewAndDestroy(t *testing.T) {
	h := newHarness(t, core.Config{})
	tok, _ := h.request(t, "", func(s *core.Session) { s.Set("n", 1) })
	newTok, hdr := h.request(t, tok, func(s *core.Session) { s.Renew(); s.Set("user", "bo") })
	if newTok == tok || newTok == "" || !strings.Contains(hdr.Get("Cache-Control"), "Set-Cookie") {
		t.Fatalf("Renew: token changed=%v Cache-Control=%q", newTok != tok, hdr.Get("Cache-Control"))
	}
	h.request(t, tok, func(s *core.Session) {
		if !s.IsNew() {
			t.Error("pre-renew token still loads")
		}
	})
	gone, hdr := h.request(t, newTok, func(s *core.Session) { s.Destroy() })
	// One record is left: the retired marker of the pre-renew token.
	if gone != "" || !strings.Contains(hdr.Get("Set-Cookie"), "Max-Age=0") || h.store.Len() != 1 {
		t.Fatalf("Destroy: token %q Set-Cookie %q records %d; want expired cookie and only the retired marker", gone, hdr.Get("Set-Cookie"), h.store.Len())
	}
	// Values set after Destroy start a new session under a new token.
	tok3, _ := h.request(t, "", func(s *core.Session) { s.Set("a", 1) })
	tok4, _ := h.request(t, tok3, func(s *core.Session) { s.Destroy(); s.Set("b", 2) })
	if tok4 == tok3 || tok4 == "" {
		t.Fatalf("Destroy then Set: token %q, want a new one", tok4)
	}
	h.request(t, tok4, func(s *core.Session) {
		if got := s.Keys(); !slices.Equal(got, []string{"b"}) {
			t.Errorf("session after Destroy+Set has keys %v, want [b]", got)
		}
	})
}

func TestExpiry(t *testing.T) {
	var expired atomic.Int32
	h := newHarness(t, core.Config{
		Lifetime: 2 * time.Hour, IdleTimeout: 30 * time.Minute, IdleRefreshFraction: 0.5,
		OnExpired: func(r *http.Request, s *core.Session) { expired.Add(1); s.AddFlash("expired") },
	})
	tok, hdr := h.request(t, "", func(s *core.Session) { s.Set("n", 1) })
	if !strings.Contains(hdr.Get("Set-Cookie"), "Max-Age=1800") {
		t.Errorf("persistent cookie Max-Age: %q, want 1800 (idle timeout)", hdr.Get("Set-Cookie"))
	}
	// Reads within the refresh step do not refresh; after it they do.
	h.now = h.now.Add(10 * time.Minute)
	_, hdr = h.request(t, tok, func(s *core.Session) { s.Get("n") })
	if hdr.Get("Set-Cookie") != "" {
		t.Errorf("read 10 min into a 30 min idle timeout with fraction 0.5 refreshed: %q", hdr.Get("Set-Cookie"))
	}
	h.now = h.now.Add(10 * time.Minute)
	_, hdr = h.request(t, tok, func(s *core.Session) { s.Get("n") })
	if !strings.Contains(hdr.Get("Set-Cookie"), "Max-Age=1800") {
		t.Errorf("read 20 min in did not refresh the idle deadline: %q", hdr.Get("Set-Cookie"))
	}
	// 29 minutes after the refresh the session is alive; the absolute
	// lifetime is not extended by activity.
	for range 3 {
		h.now = h.now.Add(29 * time.Minute)
		h.request(t, tok, func(s *core.Session) {
			if s.IsNew() {
				t.Fatalf("session expired while in use at %v", h.now)
			}
			if d := s.Deadline(); d.After(h.now.Add(-20*time.Minute + 2*time.Hour)) {
				t.Errorf("Deadline() = %v beyond the absolute lifetime", d)
			}
		})
	}
	h.now = h.now.Add(29 * time.Minute) // 2h16m after creation
	h.request(t, tok, func(s *core.Session) {
		if !s.IsNew() {
			t.Error("session outlived its absolute lifetime")
		}
	})
	if expired.Load() != 1 {
		t.Errorf("OnExpired called %d times, want 1", expired.Load())
	}
	// Idle expiry.
	tok, _ = h.request(t, "", func(s *core.Session) { s.Set("n", 1) })
	h.now = h.now.Add(31 * time.Minute)
	h.request(t, tok, func(s *core.Session) {
		if !s.IsNew() {
			t.Error("session outlived its idle timeout")
		}
		if got := s.Flashes(); !slices.Equal(got, []string{"expired"}) {
			t.Errorf("OnExpired flash = %v", got)
		}
	})
}

func TestCorruptRecordIsANewSession(t *testing.T) {
	h := newHarness(t, core.Config{})
	tok, _ := h.request(t, "", func(s *core.Session) { s.Set("n", 1) })
	if err := h.store.Save(context.Background(), core.StoreKey(tok), []byte("\xffgarbage"), h.now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	h.request(t, tok, func(s *core.Session) {
		if !s.IsNew() || s.Err() != nil {
			t.Errorf("corrupt record: IsNew=%v Err=%v; want a new session, no error", s.IsNew(), s.Err())
		}
	})
	if !strings.Contains(h.logs.String(), "cannot be decoded") {
		t.Errorf("no log line for the corrupt record: %q", h.logs.String())
	}
	if strings.Contains(h.logs.String(), tok) {
		t.Error("the log contains the token")
	}
}

func TestClientIPBinding(t *testing.T) {
	h := newHarness(t, core.Config{BindClientIP: true})
	tok, _ := h.request(t, "", func(s *core.Session) { s.Set("n", 1) })
	s, hdr := h.begin(tok, "198.51.100.7:999")
	if !s.IsNew() {
		t.Error("token replayed from another address loaded the session")
	}
	h.commit(t, s, tok, hdr)
	s, hdr = h.begin(tok, "192.0.2.1:5555") // same host, other port
	if s.IsNew() {
		t.Error("token from the binding address did not load")
	}
	h.commit(t, s, tok, hdr)
	// The same when the first call is a read, which keeps the record
	// encoded (the address is then read from it; found by review).
	s, hdr = h.begin(tok, "198.51.100.7:999")
	if v, ok := s.Get("n"); ok {
		t.Errorf("token replayed from another address: Get(n) = %v, true; want nothing", v)
	}
	h.commit(t, s, tok, hdr)
	s, hdr = h.begin(tok, "192.0.2.1:5555")
	if v, ok := s.Get("n"); !ok || v != 1 {
		t.Errorf("token from the binding address: Get(n) = %v, %v; want 1, true", v, ok)
	}
	h.commit(t, s, tok, hdr)
}

func TestRecordSizeLimit(t *testing.T) {
	h := newHarness(t, core.Config{MaxRecordSize: 100})
	s, hdr := h.begin("", "192.0.2.1:1")
	s.Set("big", strings.Repeat("x", 200))
	if err := h.m.Commit(s, hdr); !errors.Is(err, core.ErrTooLarge) {
		t.Errorf("Commit(oversized) = %v, want ErrTooLarge", err)
	}
	h.m.Release(s)
}

func TestLateCommit(t *testing.T) {
	h := newHarness(t, core.Config{})
	tok, _ := h.request(t, "", func(s *core.Session) { s.Set("n", 1) })
	// Existing session: a change after the header left is saved.
	s, hdr := h.begin(tok, "192.0.2.1:1")
	s.Get("n")
	if err := h.m.Commit(s, hdr); err != nil {
		t.Fatal(err)
	}
	s.Set("after", true)
	if err := h.m.Commit(s, nil); err != nil {
		t.Fatal(err)
	}
	h.m.Release(s)
	h.request(t, tok, func(s *core.Session) {
		if _, ok := s.Get("after"); !ok {
			t.Error("change after the header was not saved")
		}
	})
	// New session: the token cannot reach the client; nothing is stored.
	before := h.store.Len()
	s, hdr = h.begin("", "192.0.2.1:1")
	if err := h.m.Commit(s, hdr); err != nil {
		t.Fatal(err)
	}
	s.Set("x", 1)
	if err := h.m.Commit(s, nil); err != nil {
		t.Fatal(err)
	}
	h.m.Release(s)
	if h.store.Len() != before || !strings.Contains(h.logs.String(), "cannot reach the client") {
		t.Errorf("late new session: records %d→%d, log %q; want nothing stored and an error logged", before, h.store.Len(), h.logs.String())
	}
}

func TestManualSave(t *testing.T) {
	h := newHarness(t, core.Config{ManualSave: true})
	tok, _ := h.request(t, "", func(s *core.Session) { s.Set("n", 1) })
	if tok != "" || h.store.Len() != 0 {
		t.Fatalf("manual mode without Save stored a session")
	}
	tok, _ = h.request(t, "", func(s *core.Session) { s.Set("n", 1); s.Save() })
	h.request(t, tok, func(s *core.Session) {
		if v, _ := s.Get("n"); v != 1 {
			t.Errorf("manual mode with Save: n = %v, want 1", v)
		}
	})
}

func TestStrictMode(t *testing.T) {
	unknown, _ := core.RandomTokens{}.New()
	for _, adopt := range []bool{false, true} {
		h := newHarness(t, core.Config{AdoptUnknownTokens: adopt})
		tok, _ := h.request(t, unknown, func(s *core.Session) { s.Set("n", 1) })
		if adopted := tok == unknown; adopted != adopt {
			t.Errorf("AdoptUnknownTokens=%v: unknown token adopted=%v", adopt, adopted)
		}
	}
}

func TestLoadFailureIsReported(t *testing.T) {
	h := newHarness(t, core.Config{Store: failingStore{}})
	s, hdr := h.begin("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "192.0.2.1:1")
	if _, ok := s.Get("n"); ok || s.Err() == nil {
		t.Errorf("failed load: Get found=%v Err=%v; want empty and an error", ok, s.Err())
	}
	if err := h.m.Commit(s, hdr); err == nil || strings.Contains(err.Error(), "AAAAAAAA") {
		t.Errorf("Commit after failed load = %v; want an error without the token", err)
	}
	h.m.Release(s)
}

type failingStore struct{}

var errDown = errors.New("store down")

func (failingStore) Load(context.Context, string) (core.Record, bool, error) {
	return core.Record{}, false, errDown
}
func (failingStore) Save(context.Context, string, []byte, time.Time) error { return errDown }
func (failingStore) Delete(context.Context, string) error                  { return errDown }

func TestValueConversions(t *testing.T) {
	h := newHarness(t, core.Config{Codec: core.JSONCodec{}})
	tok, _ := h.request(t, "", func(s *core.Session) {
		s.Set("i", 42)
		s.Set("big", int64(1)<<40)
		s.Set("list", []string{"a", "b"})
		s.Set("m", map[string]string{"k": "v"})
		s.Set("t", h.now)
		s.Set("frac", 1.5)
	})
	h.request(t, tok, func(s *core.Session) {
		if v, ok := core.Value[int](s, "i"); !ok || v != 42 {
			t.Errorf("Value[int](i) = %v, %v", v, ok)
		}
		if v, ok := core.Value[int64](s, "big"); !ok || v != 1<<40 {
			t.Errorf("Value[int64](big) = %v, %v", v, ok)
		}
		if v, ok := core.Value[int32](s, "big"); ok {
			t.Errorf("Value[int32](big) = %v, true; want overflow refused", v)
		}
		if v, ok := core.Value[int](s, "frac"); ok {
			t.Errorf("Value[int](1.5) = %v, true; want inexact refused", v)
		}
		if v, ok := core.Value[[]string](s, "list"); !ok || !slices.Equal(v, []string{"a", "b"}) {
			t.Errorf("Value[[]string] = %v, %v", v, ok)
		}
		if v, ok := core.Value[map[string]string](s, "m"); !ok || v["k"] != "v" {
			t.Errorf("Value[map[string]string] = %v, %v", v, ok)
		}
		if v, ok := core.Value[time.Time](s, "t"); !ok || !v.Equal(h.now) {
			t.Errorf("Value[time.Time] = %v, %v", v, ok)
		}
		if _, ok := core.Value[string](s, "i"); ok {
			t.Error("Value[string] of a number = true")
		}
	})
}

// TestBeginRequest checks that the request BeginRequest (and
// BeginRequestWith) returns is r with a context that carries the session
// (and r's own context values), and that r itself is left as it was.
func TestBeginRequest(t *testing.T) {
	st := memory.New(memory.Config{})
	defer st.Close()
	m, err := core.New(core.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	type adapterState struct {
		w    http.ResponseWriter
		n    int
		done bool
	}
	begins := map[string]func(*http.Request) (*core.Session, *http.Request){
		"BeginRequest": m.BeginRequest,
		"BeginRequestWith": func(r *http.Request) (*core.Session, *http.Request) {
			s, sr, st := core.BeginRequestWith[adapterState](m, r)
			if *st != (adapterState{}) {
				t.Errorf("BeginRequestWith's state = %+v, want the zero value", *st)
			}
			st.w, st.n, st.done = httptest.NewRecorder(), 1, true // the next call's is zero all the same
			return s, sr
		},
	}
	for _, name := range []string{"BeginRequest", "BeginRequestWith", "BeginRequestWith"} {
		begin := begins[name]
		t.Run(name, func(t *testing.T) {
			type key struct{}
			r := httptest.NewRequest(http.MethodPost, "/path?q=1", strings.NewReader("body"))
			r = r.WithContext(context.WithValue(r.Context(), key{}, "outer"))
			s, sr := begin(r)
			defer m.Release(s)

			if sr == r {
				t.Fatal("returned r itself, want a copy")
			}
			if got, ok := core.FromContext(sr.Context()); !ok || got != s {
				t.Fatalf("FromContext(returned request) = %p, %v; want the session %p", got, ok, s)
			}
			if got, ok := m.FromContext(sr.Context()); !ok || got != s {
				t.Fatalf("m.FromContext(returned request) = %p, %v; want the session", got, ok)
			}
			if sr.Context().Value(key{}) != "outer" {
				t.Fatal("the returned request's context lost r's context values")
			}
			if _, ok := core.FromContext(r.Context()); ok {
				t.Fatal("r's own context carries the session; it must not change r")
			}
			if sr.Method != r.Method || sr.URL != r.URL || sr.Body != r.Body || sr.Header == nil {
				t.Fatal("the returned request differs from r in more than its context")
			}
		})
	}
}

// TestBeginRequestWithOneAllocation: the session, the request copy and the
// adapter's state are one allocation, new on every call (never reused).
func TestBeginRequestWithOneAllocation(t *testing.T) {
	st := memory.New(memory.Config{})
	defer st.Close()
	m, err := core.New(core.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	type adapterState struct{ w http.ResponseWriter }
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	seen := map[*adapterState]bool{}
	for range 100 {
		s, _, st := core.BeginRequestWith[adapterState](m, r)
		if seen[st] || st.w != nil {
			t.Fatal("BeginRequestWith returned a state it had returned before")
		}
		seen[st], st.w = true, httptest.NewRecorder()
		m.Release(s)
	}
	if n := testing.AllocsPerRun(100, func() {
		s, _, _ := core.BeginRequestWith[adapterState](m, r)
		m.Release(s)
	}); n != 1 {
		t.Errorf("BeginRequestWith allocates %v times, want 1", n)
	}
}

// TestInFlightRenewDoesNotReviveLogout: a request that loaded the session
// before a logout and then renews it (a login in another tab, say) must
// not carry the logged-out data over to a new token; one that renews after
// a concurrent change carries that change over.
func TestInFlightRenewDoesNotReviveLogout(t *testing.T) {
	h := newHarness(t, core.Config{})
	tok, _ := h.request(t, "", func(s *core.Session) { s.Set("user", "ann") })
	inflight, hdr := h.begin(tok, "192.0.2.1:1")
	inflight.Get("user") // loaded before the logout
	h.request(t, tok, func(s *core.Session) { s.Destroy() })
	inflight.Renew()
	inflight.Set("login", "again")
	newTok, hdr := h.commit(t, inflight, tok, hdr)
	if c := hdr.Get("Set-Cookie"); c != "" {
		t.Errorf("renew after a concurrent logout set a cookie: %q", c)
	}
	h.request(t, newTok, func(s *core.Session) {
		if v, ok := s.Get("user"); ok || !s.IsNew() {
			t.Errorf("the logged-out session lives on after an in-flight renew: user=%v", v)
		}
	})
	if n := h.store.Len(); n != 0 {
		t.Errorf("records after logout and an in-flight renew = %d, want 0", n)
	}

	tok, _ = h.request(t, "", func(s *core.Session) { s.Set("user", "bob") })
	inflight, hdr = h.begin(tok, "192.0.2.1:1")
	inflight.Get("user")
	h.request(t, tok, func(s *core.Session) { s.Set("cart", 3) }) // a concurrent change
	inflight.Renew()
	newTok, _ = h.commit(t, inflight, tok, hdr)
	if newTok == tok {
		t.Fatal("renew set no new token")
	}
	h.request(t, newTok, func(s *core.Session) {
		if u, _ := s.Get("user"); u != "bob" {
			t.Errorf("renewed session: user = %v, want bob", u)
		}
		if c, _ := core.Value[int](s, "cart"); c != 3 {
			t.Errorf("renewed session lost the concurrent change: cart = %v, want 3", c)
		}
	})
	h.request(t, tok, func(s *core.Session) {
		if !s.IsNew() {
			t.Error("the pre-renew token still loads a session")
		}
	})
	if n := h.store.Len(); n != 2 {
		t.Errorf("records after renew = %d, want 2 (the session and the retired marker)", n)
	}
}

// TestHeaderTokenResponseIsPrivate: a response that carries a new token in
// the token header must not be stored by shared caches, whatever the
// handler set; one without a token keeps the handler's Cache-Control.
func TestHeaderTokenResponseIsPrivate(t *testing.T) {
	st := memory.New(memory.Config{})
	defer st.Close()
	m, err := core.New(core.Config{Store: st, Header: "X-Session-Token"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ handler, want string }{
		{"", "private"},
		{"public, max-age=60", "max-age=60, private"},
		{"no-store", "no-store"},
		{"private, max-age=5", "private, max-age=5"},
	} {
		s := m.Begin(httptest.NewRequest(http.MethodGet, "/", nil))
		s.Set("user", "ann")
		h := http.Header{}
		if c.handler != "" {
			h.Set("Cache-Control", c.handler)
		}
		if err := m.Commit(s, h); err != nil {
			t.Fatal(err)
		}
		m.Release(s)
		if h.Get("X-Session-Token") == "" {
			t.Fatal("no token header on a new session")
		}
		if got := h.Get("Cache-Control"); got != c.want {
			t.Errorf("handler Cache-Control %q: got %q, want %q", c.handler, got, c.want)
		}
	}
	s := m.Begin(httptest.NewRequest(http.MethodGet, "/", nil))
	h := http.Header{"Cache-Control": {"public, max-age=60"}}
	if err := m.Commit(s, h); err != nil {
		t.Fatal(err)
	}
	m.Release(s)
	if got := h.Get("Cache-Control"); got != "public, max-age=60" {
		t.Errorf("response without a token: Cache-Control %q, want the handler's", got)
	}
}

// TestInFlightRefreshDoesNotResendEndedToken: a read-only request whose
// idle refresh falls due while a concurrent logout ends the session must
// not send the dead token back with a fresh Max-Age (which would overwrite
// the logout's, or a login's, cookie in the browser).
func TestInFlightRefreshDoesNotResendEndedToken(t *testing.T) {
	h := newHarness(t, core.Config{IdleTimeout: 10 * time.Minute})
	tok, _ := h.request(t, "", func(s *core.Session) { s.Set("user", "ann") })
	h.now = h.now.Add(2 * time.Minute) // past IdleRefreshFraction of the idle timeout
	inflight, hdr := h.begin(tok, "192.0.2.1:1")
	inflight.Get("user") // loaded before the logout
	h.request(t, tok, func(s *core.Session) { s.Destroy() })
	_, hdr = h.commit(t, inflight, tok, hdr)
	if c := hdr.Get("Set-Cookie"); c != "" {
		t.Errorf("in-flight refresh after a logout sent a cookie: %q", c)
	}

	// Without the logout the same refresh does send the cookie.
	tok, _ = h.request(t, "", func(s *core.Session) { s.Set("user", "bob") })
	h.now = h.now.Add(2 * time.Minute)
	_, hdr = h.request(t, tok, func(s *core.Session) { s.Get("user") })
	if c := hdr.Get("Set-Cookie"); !strings.Contains(c, tok) {
		t.Errorf("idle refresh did not re-send the cookie: %q", c)
	}
}

// TestSizeAfterChanges checks the record decisions that depend on how many
// values a session holds after this request's changes: a new session whose
// only value was set and deleted again stores nothing; a stored session
// cleared and refilled keeps exactly the new values.
func TestSizeAfterChanges(t *testing.T) {
	h := newHarness(t, core.Config{})
	tok, hdr := h.request(t, "", func(s *core.Session) {
		s.Set("a", 1)
		s.Delete("a")
	})
	if tok != "" || hdr.Get("Set-Cookie") != "" || h.store.Len() != 0 {
		t.Fatalf("set+delete on a new session: token %q, %d records; want none", tok, h.store.Len())
	}
	tok, _ = h.request(t, "", func(s *core.Session) { s.Set("a", 1); s.Set("b", 2) })
	h.request(t, tok, func(s *core.Session) {
		s.Clear()
		s.Set("c", 3)
		s.Delete("a") // already cleared: no effect
	})
	h.request(t, tok, func(s *core.Session) {
		if keys := s.Keys(); !slices.Equal(keys, []string{"c"}) {
			t.Errorf("after Clear and Set(c): keys %v, want [c]", keys)
		}
	})
}

// TestSetDuringInitIsAChange: a Set from another goroutine of the request
// while Init runs must wait for Init and count as a change (saved), not be
// taken for an initial value.
func TestSetDuringInitIsAChange(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	h := newHarness(t, core.Config{Init: func(s *core.Session) {
		close(started)
		<-release
		s.Set("theme", "dark")
	}})
	s, hdr := h.begin("", "192.0.2.1:1")
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Get("theme") // loads the session and runs Init
	}()
	core.WaitClosed(t, started, "Init did not start")
	setDone := make(chan struct{})
	go func() {
		defer close(setDone)
		s.Set("cart", 1) // while Init runs
	}()
	time.Sleep(20 * time.Millisecond) // let the Set reach the session
	close(release)
	core.WaitClosed(t, done, "the Get that runs Init did not return")
	core.WaitClosed(t, setDone, "the Set made during Init did not return")
	tok, _ := h.commit(t, s, "", hdr)
	if tok == "" {
		t.Fatal("the Set made during Init was not saved (no token)")
	}
	h.request(t, tok, func(s *core.Session) {
		if v, _ := core.Value[int](s, "cart"); v != 1 {
			t.Errorf("cart = %v, want 1", v)
		}
		if v, _ := s.Get("theme"); v != "dark" {
			t.Errorf("theme = %v, want dark (the initial value)", v)
		}
	})
}

// countingTokens counts the calls of Valid.
type countingTokens struct {
	core.RandomTokens
	valid atomic.Int64
}

func (c *countingTokens) Valid(token string) bool {
	c.valid.Add(1)
	return c.RandomTokens.Valid(token)
}

// loadCounter is a memory store that counts its Loads.
type loadCounter struct {
	*memory.Store
	loads atomic.Int64
}

func (l *loadCounter) Load(ctx context.Context, key string) (core.Record, bool, error) {
	l.loads.Add(1)
	return l.Store.Load(ctx, key)
}

// TestTokenValidatedOnce checks that a request's token is checked for
// well-formedness once, when it is read from the cookie or header, and
// that the load then trusts that verdict both ways: a well-formed token
// finds its session, a malformed one never reaches the store.
func TestTokenValidatedOnce(t *testing.T) {
	for _, header := range []string{"", "X-Session-Token"} {
		tokens := &countingTokens{}
		st := &loadCounter{Store: memory.New(memory.Config{})}
		t.Cleanup(func() { st.Close() })
		h := newHarness(t, core.Config{Store: st, Tokens: tokens, Header: header})
		send := func(token string) *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if header != "" {
				r.Header.Set(header, token)
			} else {
				r.Header.Set("Cookie", "session="+token)
			}
			return r
		}
		token, hdr := h.request(t, "", func(s *core.Session) { s.Set("k", "v") })
		if header != "" {
			token = hdr.Get(header)
		}
		if !tokens.RandomTokens.Valid(token) {
			t.Fatalf("header %q: the new session's token %.8q… is not well-formed", header, token)
		}
		for _, c := range []struct {
			token       string
			found       bool
			valid, load int64 // calls of Valid and of the store's Load
		}{
			{token, true, 1, 1},
			{token[:len(token)-1] + "!", false, 1, 0},
			{"", false, 1, 0},
		} {
			if c.token == "" && header != "" {
				c.valid = 0 // an empty header value: no token to check
			}
			tokens.valid.Store(0)
			st.loads.Store(0)
			s := h.m.Begin(send(c.token))
			v, _ := s.Get("k")
			if found := v == "v"; found != c.found {
				t.Errorf("header %q, token %.8q…: Get = %v, want the stored value: %v", header, c.token, v, c.found)
			}
			h.m.Release(s)
			if n := tokens.valid.Load(); n != c.valid {
				t.Errorf("header %q, token %.8q…: Valid called %d times in one request, want %d", header, c.token, n, c.valid)
			}
			if n := st.loads.Load(); n != c.load {
				t.Errorf("header %q, token %.8q…: the store loaded %d times, want %d", header, c.token, n, c.load)
			}
		}
	}
}

// emptyTokens calls "" well-formed, as a careless Tokens might.
type emptyTokens struct{ countingTokens }

func (e *emptyTokens) Valid(token string) bool {
	return token == "" || e.countingTokens.Valid(token)
}

// TestTokenCheckEdges covers the two cases where the load does not simply
// follow the token check: an empty token never reaches the store, whatever
// Tokens says of it, and a client-side store's header token is left to
// the store to open, unchecked by Tokens.
func TestTokenCheckEdges(t *testing.T) {
	t.Run("empty", func(t *testing.T) {
		st := &loadCounter{Store: memory.New(memory.Config{})}
		t.Cleanup(func() { st.Close() })
		h := newHarness(t, core.Config{Store: st, Tokens: &emptyTokens{}})
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Cookie", "session=")
		s := h.m.Begin(r)
		if !s.IsNew() {
			t.Error("an empty token loaded a session")
		}
		h.m.Release(s)
		if n := st.loads.Load(); n != 0 {
			t.Errorf("an empty token made %d store loads, want 0", n)
		}
	})
	t.Run("client store by header", func(t *testing.T) {
		cs, err := cookie.New(cookie.Config{Keys: [][]byte{bytes.Repeat([]byte{7}, 32)}})
		if err != nil {
			t.Fatal(err)
		}
		tokens := &countingTokens{}
		h := newHarness(t, core.Config{ClientStore: cs, Tokens: tokens, Header: "X-Session-Token"})
		_, hdr := h.request(t, "", func(s *core.Session) { s.Set("k", "v") })
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("X-Session-Token", hdr.Get("X-Session-Token"))
		tokens.valid.Store(0)
		s := h.m.Begin(r)
		if v, _ := s.Get("k"); v != "v" {
			t.Errorf("Get = %v, want the sealed value", v)
		}
		h.m.Release(s)
		if n := tokens.valid.Load(); n != 0 {
			t.Errorf("Tokens.Valid called %d times for a client-side store's header token, want 0", n)
		}
	})
}

// TestCommitReadsClockWhenNeeded: Commit reads the clock only when it may
// write, refresh or send something. A request that only read its session
// costs it no reading without an idle timeout, and one with an idle
// timeout, which may be due for a refresh, one.
func TestCommitReadsClockWhenNeeded(t *testing.T) {
	for _, idle := range []time.Duration{0, 30 * time.Minute} {
		h := newHarness(t, core.Config{})
		reads := 0
		m, err := core.New(core.Config{Store: h.store, IdleTimeout: idle,
			Now: func() time.Time { reads++; return h.now }})
		if err != nil {
			t.Fatal(err)
		}
		h.m = m
		tok, _ := h.request(t, "", func(s *core.Session) { s.Set("a", "b") })
		commitReads := func(use func(s *core.Session)) int {
			s, hdr := h.begin(tok, "192.0.2.1:1234")
			use(s)
			reads = 0
			if err := m.Commit(s, hdr); err != nil {
				t.Fatalf("Commit = %v", err)
			}
			m.Release(s)
			return reads
		}
		want := 0
		if idle > 0 {
			want = 1
		}
		if n := commitReads(func(s *core.Session) { s.Get("a") }); n != want {
			t.Errorf("idle timeout %v: Commit of a read read the clock %d times, want %d", idle, n, want)
		}
		if n := commitReads(func(s *core.Session) { s.Set("a", "c") }); n < 1 {
			t.Errorf("idle timeout %v: Commit of a write read the clock %d times, want at least 1", idle, n)
		}
	}
}

// TestInFlightReadDoesNotExtendRetiredToken: a request that loaded the
// session before a login in a parallel request (Renew, with RenewGrace on)
// and only read it commits after the login, with its idle refresh due. It
// gets no cookie, and the retired marker under the old token keeps its
// short expiry. Refreshing with Touch, which no version guards, extended
// the marker to a whole idle timeout and sent the retired token back: the
// browser was logged out, and for the idle timeout every request with that
// token was dropped, a new login included.
func TestInFlightReadDoesNotExtendRetiredToken(t *testing.T) {
	h := newHarness(t, core.Config{IdleTimeout: 10 * time.Minute, RenewGrace: 2 * time.Second})
	tok, _ := h.request(t, "", func(s *core.Session) { s.Set("cart", 1) })
	h.now = h.now.Add(2 * time.Minute) // the idle refresh is due
	inflight, hdr := h.begin(tok, "192.0.2.1:1")
	if v, _ := inflight.Get("cart"); v != 1 {
		t.Fatalf("cart = %v, want 1", v)
	}
	login, _ := h.request(t, tok, func(s *core.Session) { s.Renew(); s.Set("user", "ann") })
	if login == tok || login == "" {
		t.Fatal("Renew issued no new token")
	}
	if _, hdr = h.commit(t, inflight, tok, hdr); hdr.Get("Set-Cookie") != "" {
		t.Errorf("the pre-login read committed after the login set a cookie %q, want none (it would replace the renewed one)", hdr.Get("Set-Cookie"))
	}
	rec, found, err := h.store.Load(context.Background(), core.StoreKey(tok))
	if err != nil || !found {
		t.Fatalf("Load(retired key) = %v, %v; want the retired marker", found, err)
	}
	if left := rec.Expiry.Sub(h.now); left > 2*time.Second {
		t.Errorf("the retired marker ends %v after now, want within RenewGrace (2s)", left)
	}
	// Past the window the old token is a new session that a login renews.
	h.now = h.now.Add(3 * time.Second)
	again, hdr := h.request(t, tok, func(s *core.Session) {
		if !s.IsNew() {
			t.Errorf("the retired token after RenewGrace loads a session (keys %v)", s.Keys())
		}
		s.Renew()
		s.Set("user", "ann")
	})
	if again == tok || hdr.Get("Set-Cookie") == "" {
		t.Errorf("a login with the retired token after RenewGrace got no new cookie (Set-Cookie %q)", hdr.Get("Set-Cookie"))
	}
	h.request(t, login, func(s *core.Session) {
		if v, _ := s.Get("user"); v != "ann" {
			t.Errorf("the renewed session: user = %v, want ann", v)
		}
	})
}
