package core_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// benchManager returns a Manager on a memory store and a request carrying
// the token of a stored session of ten values of mixed types.
func benchManager(b *testing.B) (*core.Manager, *http.Request) {
	b.Helper()
	st := memory.New(memory.Config{CleanupInterval: -1})
	b.Cleanup(func() { _ = st.Close() })
	m, err := core.New(core.Config{Store: st})
	if err != nil {
		b.Fatal(err)
	}
	seed := httptest.NewRequest(http.MethodGet, "/", nil)
	s := m.Begin(seed)
	for k, v := range map[string]any{
		"user": "gopher", "email": "gopher@example.com", "role": "admin", "theme": "dark",
		"id": 4711, "visits": 42, "cart": int64(3), "admin": true, "verified": false,
		"login": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	} {
		s.Set(k, v)
	}
	h := make(http.Header)
	if err := m.Commit(s, h); err != nil {
		b.Fatal(err)
	}
	m.Release(s)
	cookies := (&http.Response{Header: h}).Cookies()
	if len(cookies) != 1 {
		b.Fatalf("seeding: %d cookies, want 1", len(cookies))
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(cookies[0])
	return m, req
}

// benchCycle runs Begin, use, Commit and Release b.N times.
func benchCycle(b *testing.B, use func(s *core.Session)) {
	m, req := benchManager(b)
	h := make(http.Header)
	b.ReportAllocs()
	for b.Loop() {
		clear(h)
		s := m.Begin(req)
		use(s)
		if err := m.Commit(s, h); err != nil {
			b.Fatal(err)
		}
		m.Release(s)
	}
}

func BenchmarkManagerUntouched(b *testing.B) {
	benchCycle(b, func(*core.Session) {})
}

func BenchmarkManagerGet(b *testing.B) {
	benchCycle(b, func(s *core.Session) {
		if v, _ := s.Get("user"); v != "gopher" {
			b.Fatalf("Get(user) = %v, want gopher", v)
		}
	})
}

// BenchmarkManagerNew starts a session on a request without a token and
// stores one value: a new token, a create in the store, a Set-Cookie. The
// sessions stay in the store, as they would on a server.
func BenchmarkManagerNew(b *testing.B) {
	m, _ := benchManager(b)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	h := make(http.Header)
	b.ReportAllocs()
	for b.Loop() {
		clear(h)
		s := m.Begin(req)
		s.Set("user", "gopher")
		if err := m.Commit(s, h); err != nil {
			b.Fatal(err)
		}
		m.Release(s)
	}
	if len(h["Set-Cookie"]) != 1 {
		b.Fatalf("last response: %q, want one Set-Cookie", h["Set-Cookie"])
	}
}

func BenchmarkManagerUpdate(b *testing.B) {
	benchCycle(b, func(s *core.Session) {
		n, _ := core.Value[int](s, "visits")
		s.Set("visits", n+1)
	})
}

// BenchmarkManagerRenew renews a ten-value session on every request, on
// the memory store with its Renewer (one store call after the load) and
// with it hidden (the two-step path: the successor's write, then the old
// record's retirement).
func BenchmarkManagerRenew(b *testing.B) {
	for _, hide := range []bool{false, true} {
		name := "Renewer"
		if hide {
			name = "two-steps"
		}
		b.Run(name, func(b *testing.B) {
			m, req := benchManager(b)
			if hide {
				st := m.Config().Store.(*memory.Store)
				var err error
				if m, err = core.New(core.Config{Store: struct {
					core.Store
					core.UserIndexer
				}{st, st}}); err != nil {
					b.Fatal(err)
				}
			}
			h := make(http.Header)
			b.ReportAllocs()
			for b.Loop() {
				clear(h)
				s := m.Begin(req)
				s.Renew()
				if err := m.Commit(s, h); err != nil {
					b.Fatal(err)
				}
				m.Release(s)
				req.Header.Set("Cookie", h.Get("Set-Cookie"))
			}
		})
	}
}
